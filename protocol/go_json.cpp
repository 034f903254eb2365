#include "protocol/go_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace pilot::protocol {

namespace {

constexpr std::string_view hex_digits = "0123456789abcdef";

// Returns the length of the valid UTF-8 sequence at the start of `text`,
// or 0 when its first byte does not start one. Mirrors Go's
// utf8.DecodeRuneInString: no overlong forms, no surrogates, nothing above
// U+10FFFF.
std::size_t valid_sequence_length(std::string_view text) noexcept {
  auto byte = [&](std::size_t i) {
    return static_cast<unsigned char>(text[i]);
  };
  auto continuation = [&](std::size_t i) {
    return i < text.size() && (byte(i) & 0xC0) == 0x80;
  };
  auto lead = byte(0);
  if (lead < 0x80)
    return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2))
      return 0;
    auto second = byte(1);
    if (lead == 0xE0 && second < 0xA0)
      return 0; // overlong
    if (lead == 0xED && second > 0x9F)
      return 0; // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3))
      return 0;
    auto second = byte(1);
    if (lead == 0xF0 && second < 0x90)
      return 0; // overlong
    if (lead == 0xF4 && second > 0x8F)
      return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

void append_unicode_escape(std::string& out, unsigned code) {
  out += "\\u";
  out += hex_digits[code >> 12 & 0xF];
  out += hex_digits[code >> 8 & 0xF];
  out += hex_digits[code >> 4 & 0xF];
  out += hex_digits[code & 0xF];
}

void append_ascii(std::string& out, char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '<':
    case '>':
    case '&':
      append_unicode_escape(out, static_cast<unsigned>(c));
      return;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
        append_unicode_escape(out, static_cast<unsigned>(c));
      else
        out += c;
  }
}

// Go's strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json uses it.
void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  auto magnitude = std::fabs(value);
  bool exponent_form
      = magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21);
  char buf[64];
  auto format = exponent_form ? std::chars_format::scientific
                              : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, format);
  std::string_view text(buf, static_cast<std::size_t>(end - buf));
  // Go writes e-7 where printf-style formatting writes e-07.
  auto n = text.size();
  if (exponent_form && n >= 4 && text[n - 4] == 'e' && text[n - 3] == '-'
      && text[n - 2] == '0') {
    out.append(text.substr(0, n - 2));
    out += text[n - 1];
    return;
  }
  out.append(text);
}

void append_object(std::string& out, const boost::json::object& object) {
  std::vector<const boost::json::key_value_pair*> members;
  members.reserve(object.size());
  for (const auto& member : object)
    members.push_back(&member);
  std::sort(members.begin(), members.end(),
            [](auto* lhs, auto* rhs) { return lhs->key() < rhs->key(); });
  out += '{';
  bool first = true;
  for (auto* member : members) {
    if (!first)
      out += ',';
    first = false;
    append_go_json_string(out, member->key());
    out += ':';
    append_go_json(out, member->value());
  }
  out += '}';
}

void append_array(std::string& out, const boost::json::array& array) {
  out += '[';
  bool first = true;
  for (const auto& element : array) {
    if (!first)
      out += ',';
    first = false;
    append_go_json(out, element);
  }
  out += ']';
}

} // namespace

std::string to_go_json(const boost::json::value& value) {
  std::string out;
  append_go_json(out, value);
  return out;
}

void append_go_json(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      break;
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      out += std::to_string(value.get_int64());
      break;
    case boost::json::kind::uint64:
      out += std::to_string(value.get_uint64());
      break;
    case boost::json::kind::double_:
      append_double(out, value.get_double());
      break;
    case boost::json::kind::string:
      append_go_json_string(out, value.get_string());
      break;
    case boost::json::kind::array:
      append_array(out, value.get_array());
      break;
    case boost::json::kind::object:
      append_object(out, value.get_object());
      break;
  }
}

void append_go_json_string(std::string& out, std::string_view text) {
  out += '"';
  while (!text.empty()) {
    auto length = valid_sequence_length(text);
    if (length == 0) {
      out += "\\ufffd";
      text.remove_prefix(1);
      continue;
    }
    if (length == 1) {
      append_ascii(out, text[0]);
    } else if (text.substr(0, 3) == "\xE2\x80\xA8") {
      out += "\\u2028";
    } else if (text.substr(0, 3) == "\xE2\x80\xA9") {
      out += "\\u2029";
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  out += '"';
}

std::string go_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    auto length = valid_sequence_length(text);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, length));
      text.remove_prefix(length);
    }
  }
  return out;
}

} // namespace pilot::protocol
