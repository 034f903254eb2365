#include "actors/error.hpp"

#include "protocol/utf8.hpp"

#include <caf/make_message.hpp>

#include <cstdio>
#include <utility>

namespace pilot::actors {

namespace {

// Returns the size of the well-formed UTF-8 character at the start of
// `text`, or 0 when it starts with an ill-formed sequence.
std::size_t leading_char_size(std::string_view text) {
  auto lead = static_cast<unsigned char>(text.front());
  std::size_t size = 4;
  if (lead < 0x80)
    size = 1;
  else if (lead < 0xE0)
    size = 2;
  else if (lead < 0xF0)
    size = 3;
  if (size > text.size() || !protocol::is_valid_utf8(text.substr(0, size)))
    return 0;
  return size;
}

// Appends `ch`, one well-formed UTF-8 character, escaped for a quoted text.
void append_escaped(std::string& out, std::string_view ch) {
  auto byte = static_cast<unsigned char>(ch.front());
  // U+0080 to U+009F, the C1 controls, are encoded as C2 80 to C2 9F.
  bool c1_control = byte == 0xC2 && ch.size() == 2
                    && static_cast<unsigned char>(ch[1]) < 0xA0;
  char escape[16];
  if (ch == "\n")
    out += "\\n";
  else if (ch == "\r")
    out += "\\r";
  else if (ch == "\t")
    out += "\\t";
  else if (ch == "\"" || ch == "\\")
    out.append(1, '\\').append(ch);
  else if (byte < 0x20 || byte == 0x7F) {
    std::snprintf(escape, sizeof(escape), "\\x%02X", byte);
    out += escape;
  } else if (c1_control) {
    std::snprintf(escape, sizeof(escape), "\\u%04X",
                  static_cast<unsigned char>(ch[1]));
    out += escape;
  } else
    out += ch;
}

// Shortens `value` to `max_chars` characters, escaping each one when
// `escape` is set, and returns the text and whether it was cut.
std::pair<std::string, bool> excerpt(std::string_view value,
                                     std::size_t max_chars, bool escape) {
  std::string out;
  std::size_t chars = 0;
  while (!value.empty() && chars < max_chars) {
    auto size = leading_char_size(value);
    auto ch
        = size == 0 ? protocol::replacement_character : value.substr(0, size);
    value.remove_prefix(size == 0 ? 1 : size);
    if (escape)
      append_escaped(out, ch);
    else
      out += ch;
    ++chars;
  }
  return {std::move(out), !value.empty()};
}

std::string size_note(std::size_t size) {
  return "... (" + std::to_string(size) + " bytes)";
}

} // namespace

std::string to_string(errc code) {
  switch (code) {
    case errc::registry_unavailable:
      return "registry_unavailable";
    case errc::registry_rejected:
      return "registry_rejected";
    case errc::malformed_reply:
      return "malformed_reply";
    case errc::not_registered:
      return "not_registered";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::timeout:
      return "timeout";
    case errc::busy:
      return "busy";
    case errc::stopping:
      return "stopping";
    case errc::connection_refused:
      return "connection_refused";
    case errc::not_found:
      return "not_found";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string text) {
  return caf::error{static_cast<std::uint8_t>(code), error_category,
                    caf::make_message(std::move(text))};
}

caf::error make_error(errc code) {
  return make_error(code, to_string(code));
}

std::string render_error(std::uint8_t code, caf::atom_value,
                         const caf::message& context) {
  if (context.match_elements<std::string>())
    return context.get_as<std::string>(0);
  return to_string(static_cast<errc>(code));
}

void add_error_renderer(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category, render_error);
}

std::string shorten_value(std::string_view value, std::size_t max_chars) {
  auto [text, cut] = excerpt(value, max_chars, false);
  if (cut)
    text += size_note(value.size());
  return text;
}

std::string quote_value(std::string_view value, std::size_t max_chars) {
  auto [text, cut] = excerpt(value, max_chars, true);
  auto quoted = "\"" + text + "\"";
  if (cut)
    quoted += size_note(value.size());
  return quoted;
}

std::string error_text(const caf::error& err) {
  if (err.category() == error_category)
    return render_error(err.code(), err.category(), err.context());
  if (err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return to_string(err);
}

} // namespace pilot::actors
