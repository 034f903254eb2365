#include "protocol/base64.hpp"

#include <array>

namespace pilot::protocol {

namespace {

constexpr std::string_view alphabet
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::uint8_t invalid_symbol = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table)
    entry = invalid_symbol;
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    table[static_cast<std::uint8_t>(alphabet[i])]
        = static_cast<std::uint8_t>(i);
  return table;
}

constexpr auto decode_table = make_decode_table();

// Drops the line breaks that Go's decoder skips wherever they appear.
std::string strip_line_breaks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text)
    if (c != '\r' && c != '\n')
      out += c;
  return out;
}

} // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t group = std::uint32_t{bytes[i]} << 16
                          | std::uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    out += alphabet[group >> 18 & 0x3F];
    out += alphabet[group >> 12 & 0x3F];
    out += alphabet[group >> 6 & 0x3F];
    out += alphabet[group & 0x3F];
  }
  auto rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    out += alphabet[group >> 18 & 0x3F];
    out += alphabet[group >> 12 & 0x3F];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t group
        = std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8;
    out += alphabet[group >> 18 & 0x3F];
    out += alphabet[group >> 12 & 0x3F];
    out += alphabet[group >> 6 & 0x3F];
    out += '=';
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  return base64_encode(std::span{
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

result<std::vector<std::uint8_t>> base64_decode(std::string_view input) {
  auto text = strip_line_breaks(input);
  if (text.size() % 4 != 0)
    return errc::invalid_base64;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last_group = i + 4 == text.size();
    // Padding may only close the last group, as "xx==" or "xxx=".
    std::size_t symbols = 4;
    if (last_group && text[i + 3] == '=')
      symbols = text[i + 2] == '=' ? 2 : 3;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      std::uint8_t value = 0;
      if (j < symbols) {
        value = decode_table[static_cast<std::uint8_t>(text[i + j])];
        if (value == invalid_symbol)
          return errc::invalid_base64;
      }
      group = group << 6 | value;
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (symbols >= 3)
      out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (symbols == 4)
      out.push_back(static_cast<std::uint8_t>(group));
  }
  return out;
}

result<std::vector<std::uint8_t>> base64_decode_exact(std::string_view text,
                                                      std::size_t size) {
  auto bytes = base64_decode(text);
  if (!bytes)
    return bytes.error();
  if (bytes->size() != size)
    return errc::invalid_base64;
  return bytes;
}

bool is_canonical_base64(std::string_view text) {
  auto bytes = base64_decode(text);
  return bytes && base64_encode(*bytes) == text;
}

} // namespace pilot::protocol
