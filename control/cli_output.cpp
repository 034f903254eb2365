#include "control/cli_output.hpp"

#include "control/json_text.hpp"
#include "protocol/go_json.hpp"
#include "protocol/webhook_signature.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

namespace pilot::control::cli {

namespace {

// Returns the size of the well-formed UTF-8 sequence at the start of
// `text` (not empty) and stores its code point. Returns 0 for a stray
// continuation byte, a truncated or overlong sequence, a surrogate or a
// value above U+10FFFF.
std::size_t utf8_sequence(std::string_view text, char32_t& code_point) {
  auto lead = static_cast<unsigned char>(text[0]);
  std::size_t size = 0;
  char32_t smallest = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    size = 2;
    code_point = lead & 0x1F;
    smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    size = 3;
    code_point = lead & 0x0F;
    smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    size = 4;
    code_point = lead & 0x07;
    smallest = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < size)
    return 0;
  for (std::size_t i = 1; i < size; ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if ((byte & 0xC0) != 0x80)
      return 0;
    code_point = code_point << 6 | (byte & 0x3F);
  }
  bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  if (code_point < smallest || code_point > 0x10FFFF || surrogate)
    return 0;
  return size;
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char text[8];
  std::snprintf(text, sizeof(text), format, value);
  out += text;
}

bool is_scalar(const boost::json::value& value) {
  return !value.is_object() && !value.is_array();
}

std::string scalar_text(const boost::json::value& value) {
  if (value.is_null())
    return "(none)";
  if (auto* text = value.if_string())
    return text->empty() ? "(none)" : escape_control(*text);
  return protocol::to_go_json(value);
}

std::vector<const boost::json::key_value_pair*>
sorted_members(const boost::json::object& object,
               std::initializer_list<std::string_view> skip) {
  std::vector<const boost::json::key_value_pair*> members;
  for (const auto& member : object)
    if (std::find(skip.begin(), skip.end(), member.key()) == skip.end())
      members.push_back(&member);
  std::sort(members.begin(), members.end(), [](auto* lhs, auto* rhs) {
    return std::string_view{lhs->key()} < std::string_view{rhs->key()};
  });
  return members;
}

// Formats a value on one line: `a, b` for an array, `k: v, k: v` for an
// object.
std::string inline_text(const boost::json::value& value) {
  std::string out;
  if (auto* array = value.if_array()) {
    for (const auto& item : *array)
      out += (out.empty() ? "" : ", ") + inline_text(item);
    return out.empty() ? "(none)" : out;
  }
  if (auto* object = value.if_object()) {
    for (const auto* member : sorted_members(*object, {}))
      out += (out.empty() ? "" : ", ") + escape_control(member->key()) + ": "
             + inline_text(member->value());
    return out.empty() ? "(none)" : out;
  }
  return scalar_text(value);
}

void append_members(std::string& out, const boost::json::object& object,
                    std::size_t indent,
                    std::initializer_list<std::string_view> skip) {
  auto members = sorted_members(object, skip);
  std::size_t width = 0;
  for (const auto* member : members)
    width = std::max(width, escape_control(member->key()).size() + 1);
  for (const auto* member : members) {
    const auto& value = member->value();
    std::string label = escape_control(member->key()) + ":";
    out.append(indent, ' ');
    out += label;
    if (auto* nested = value.if_object(); nested && !nested->empty()) {
      out += '\n';
      append_members(out, *nested, indent + 2, {});
      continue;
    }
    auto* array = value.if_array();
    if (array && !std::all_of(array->begin(), array->end(), is_scalar)) {
      out += '\n';
      for (const auto& item : *array) {
        out.append(indent + 2, ' ');
        out += "- " + inline_text(item) + '\n';
      }
      continue;
    }
    out.append(width - label.size() + 1, ' ');
    out += inline_text(value) + '\n';
  }
}

} // namespace

std::string escape_control(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    char32_t code_point = 0;
    auto size = utf8_sequence(text, code_point);
    if (size == 0) {
      append_escape(out, "\\x%02x", static_cast<unsigned char>(text[0]));
      text.remove_prefix(1);
      continue;
    }
    if (keep_newlines && (code_point == '\n' || code_point == '\t'))
      out += static_cast<char>(code_point);
    else if (code_point == '\n')
      out += "\\n";
    else if (code_point == '\r')
      out += "\\r";
    else if (code_point == '\t')
      out += "\\t";
    else if (code_point < 0x20 || code_point == 0x7F)
      append_escape(out, "\\x%02x", static_cast<unsigned>(code_point));
    else if (code_point >= 0x80 && code_point <= 0x9F)
      append_escape(out, "\\u%04x", static_cast<unsigned>(code_point));
    else
      out += text.substr(0, size);
    text.remove_prefix(size);
  }
  return out;
}

std::string plain_text(const boost::json::value& value) {
  if (auto* text = value.if_string())
    return escape_control(*text);
  return protocol::to_go_json(value);
}

std::string key_value_text(const boost::json::object& object,
                           std::initializer_list<std::string_view> skip) {
  std::string out;
  append_members(out, object, 0, skip);
  if (out.ends_with('\n'))
    out.pop_back();
  return out;
}

void print_success(const success& result, bool json) {
  if (json) {
    boost::json::object envelope{{"data", result.data}, {"status", "ok"}};
    std::cout << protocol::to_go_json(envelope) << '\n';
  } else if (!result.text.empty()) {
    // The commands escape what the daemon sent; this catches anything
    // they missed.
    std::cout << escape_control(result.text, true);
    if (!result.text.ends_with('\n'))
      std::cout << '\n';
  } else {
    std::cout << to_indented_json(result.data) << '\n';
  }
  std::cout.flush();
}

void print_error(const error& err, bool json) {
  // Messages may quote what the user typed, such as an unknown option that
  // carries a secret.
  auto message = protocol::hide_webhook_secrets(err.what());
  auto hint = protocol::hide_webhook_secrets(err.hint());
  if (json) {
    boost::json::object envelope{
        {"code", err.code()}, {"message", message}, {"status", "error"}};
    if (!hint.empty())
      envelope["hint"] = hint;
    std::cerr << protocol::to_go_json(envelope) << '\n';
  } else {
    std::cerr << "error: " << escape_control(message) << '\n';
    if (!hint.empty())
      std::cerr << "hint:  " << escape_control(hint) << '\n';
  }
  std::cerr.flush();
}

std::string table_text(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i)
    widths[i] = header[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  auto format_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size())
        line.append(widths[i] - cells[i].size() + 2, ' ');
    }
    return line + "\n";
  };
  std::string text = format_row(header);
  for (const auto& row : rows)
    text += format_row(row);
  return text;
}

std::string member_text(const boost::json::value& entry, std::string_view key) {
  const auto* object = entry.if_object();
  const auto* value = object ? object->if_contains(key) : nullptr;
  return value ? plain_text(*value) : std::string{"-"};
}

std::string yes_no(const boost::json::value& entry, std::string_view key) {
  const auto* object = entry.if_object();
  const auto* value = object ? object->if_contains(key) : nullptr;
  return value && value->is_bool() && value->get_bool() ? "yes" : "no";
}

} // namespace pilot::control::cli
