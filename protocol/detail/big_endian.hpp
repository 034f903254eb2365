#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

/// Big-endian integer access for the binary wire formats of `protocol/`.
namespace pilot::protocol::detail {

/// Writes `value` into the first `sizeof(T)` bytes of `out`, most
/// significant byte first. The caller guarantees the size.
template <std::unsigned_integral T>
void store_big_endian(std::span<std::uint8_t> out, T value) noexcept {
  for (std::size_t i = sizeof(T); i-- > 0;) {
    out[i] = static_cast<std::uint8_t>(value);
    value = static_cast<T>(value >> 8);
  }
}

/// Appends `value` to `out`, most significant byte first.
template <std::unsigned_integral T>
void append_big_endian(std::vector<std::uint8_t>& out, T value) {
  out.resize(out.size() + sizeof(T));
  store_big_endian(std::span{out}.last(sizeof(T)), value);
}

/// Reads a `T` from the first `sizeof(T)` bytes of `in`. The caller
/// guarantees the size.
template <std::unsigned_integral T>
T load_big_endian(std::span<const std::uint8_t> in) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value = static_cast<T>(value << 8 | in[i]);
  return value;
}

} // namespace pilot::protocol::detail
