#include "protocol/utf8.hpp"

#include <cstddef>
#include <cstdint>

namespace pilot::protocol {

namespace {

// Returns the length of the well-formed sequence at `pos`, or 0 when it is
// ill-formed. Then `maximal_subpart` receives the length of the longest
// prefix that could start a well-formed sequence, at least 1. The byte
// ranges are those of the Unicode Standard, table 3-7.
std::size_t sequence_length(std::string_view text, std::size_t pos,
                            std::size_t& maximal_subpart) noexcept {
  auto byte = [&](std::size_t i) {
    return static_cast<std::uint8_t>(text[pos + i]);
  };
  auto lead = byte(0);
  maximal_subpart = 1;
  if (lead < 0x80)
    return 1;
  std::size_t length = 0;
  std::uint8_t second_min = 0x80;
  std::uint8_t second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      second_min = 0xA0; // overlong below U+0800
    else if (lead == 0xED)
      second_max = 0x9F; // surrogates U+D800..U+DFFF
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      second_min = 0x90; // overlong below U+10000
    else if (lead == 0xF4)
      second_max = 0x8F; // above U+10FFFF
  } else {
    return 0; // continuation byte, C0, C1 or F5..FF
  }
  for (std::size_t i = 1; i < length; ++i) {
    if (pos + i >= text.size())
      return 0;
    auto min = i == 1 ? second_min : std::uint8_t{0x80};
    auto max = i == 1 ? second_max : std::uint8_t{0xBF};
    if (byte(i) < min || byte(i) > max)
      return 0;
    maximal_subpart = i + 1;
  }
  return length;
}

} // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  std::size_t subpart = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto length = sequence_length(text, pos, subpart);
    if (length == 0)
      return false;
    pos += length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  if (is_valid_utf8(text))
    return std::string{text};
  std::string result;
  result.reserve(text.size() + text.size() / 2);
  std::size_t subpart = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto length = sequence_length(text, pos, subpart);
    if (length > 0) {
      result.append(text.substr(pos, length));
      pos += length;
    } else {
      result.append(replacement_character);
      pos += subpart;
    }
  }
  return result;
}

} // namespace pilot::protocol
