#include "control/json_text.hpp"

#include "protocol/go_json.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace pilot::control {

namespace {

void append_indent(std::string& out, int depth) {
  out += '\n';
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

void append_indented(std::string& out, const boost::json::value& value,
                     int depth);

void append_object(std::string& out, const boost::json::object& object,
                   int depth) {
  if (object.empty()) {
    out += "{}";
    return;
  }
  std::vector<const boost::json::key_value_pair*> members;
  members.reserve(object.size());
  for (const auto& member : object)
    members.push_back(&member);
  std::sort(members.begin(), members.end(), [](auto* lhs, auto* rhs) {
    return std::string_view{lhs->key()} < std::string_view{rhs->key()};
  });
  out += '{';
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0)
      out += ',';
    append_indent(out, depth + 1);
    protocol::append_go_json_string(out, members[i]->key());
    out += ": ";
    append_indented(out, members[i]->value(), depth + 1);
  }
  append_indent(out, depth);
  out += '}';
}

void append_array(std::string& out, const boost::json::array& array,
                  int depth) {
  if (array.empty()) {
    out += "[]";
    return;
  }
  out += '[';
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (i > 0)
      out += ',';
    append_indent(out, depth + 1);
    append_indented(out, array[i], depth + 1);
  }
  append_indent(out, depth);
  out += ']';
}

void append_indented(std::string& out, const boost::json::value& value,
                     int depth) {
  if (auto* object = value.if_object())
    append_object(out, *object, depth);
  else if (auto* array = value.if_array())
    append_array(out, *array, depth);
  else
    protocol::append_go_json(out, value);
}

} // namespace

boost::json::value to_json_value(simdjson::dom::element element) {
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::OBJECT: {
      boost::json::object object;
      for (auto field : simdjson::dom::object(element))
        object[field.key] = to_json_value(field.value);
      return object;
    }
    case element_type::ARRAY: {
      boost::json::array array;
      for (auto item : simdjson::dom::array(element))
        array.push_back(to_json_value(item));
      return array;
    }
    case element_type::STRING:
      return boost::json::string{std::string_view(element)};
    case element_type::INT64:
      return std::int64_t(element);
    case element_type::UINT64:
      return std::uint64_t(element);
    case element_type::DOUBLE:
      return double(element);
    case element_type::BOOL:
      return bool(element);
    case element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

std::optional<boost::json::value> parse_json(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS)
    return std::nullopt;
  return to_json_value(root);
}

std::string string_member(const boost::json::object& object,
                          std::string_view key) {
  auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string())
    return {};
  return std::string{value->get_string()};
}

std::string to_indented_json(const boost::json::value& value) {
  std::string out;
  append_indented(out, value, 0);
  return out;
}

} // namespace pilot::control
