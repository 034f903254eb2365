#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/// Hex and byte-string helpers for the golden vectors of the binary wire
/// formats.
namespace pilot::test {

/// Decodes hex digits of either case, skipping spaces. Throws
/// `std::invalid_argument` for any other character or an odd digit count.
inline std::vector<std::uint8_t> from_hex(std::string_view text) {
  auto digit = [](char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    throw std::invalid_argument{"invalid hex digit"};
  };
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : text) {
    if (c == ' ')
      continue;
    if (high < 0) {
      high = digit(c);
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(high << 4 | digit(c)));
    high = -1;
  }
  if (high >= 0)
    throw std::invalid_argument{"odd number of hex digits"};
  return out;
}

/// Decodes hex text of exactly `N` bytes. Throws `std::invalid_argument`
/// for invalid hex or another length.
template <std::size_t N>
std::array<std::uint8_t, N> from_hex_array(std::string_view text) {
  auto bytes = from_hex(text);
  if (bytes.size() != N)
    throw std::invalid_argument{"hex text has the wrong length"};
  std::array<std::uint8_t, N> out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

/// Encodes `bytes` as lower-case hex without separators.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

/// Rewrites hex text in the form `to_hex` produces, so that doctest prints
/// both sides of a comparison readably.
inline std::string normalize_hex(std::string_view text) {
  return to_hex(from_hex(text));
}

/// Decodes hex text as `from_hex` does and returns the bytes as a string.
inline std::string string_from_hex(std::string_view text) {
  auto bytes = from_hex(text);
  return {bytes.begin(), bytes.end()};
}

/// Returns a string of the given byte values, written as numbers or
/// character literals.
inline std::string byte_string(std::initializer_list<int> values) {
  std::string out;
  for (auto value : values)
    out += static_cast<char>(value);
  return out;
}

} // namespace pilot::test
