#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

/// Small helpers shared by the fuzz targets.
namespace pilot::fuzz {

/// Aborts naming `property` when `condition` is false, so that libFuzzer saves
/// the input as a crash. Used instead of `assert`, which NDEBUG removes.
inline void check(bool condition, const char* property) {
  if (condition)
    return;
  std::fprintf(stderr, "fuzz check failed: %s\n", property);
  std::abort();
}

/// Returns the fuzz input as bytes.
inline std::span<const std::uint8_t> bytes_of(const std::uint8_t* data,
                                              std::size_t size) {
  return {data, size};
}

/// Returns the fuzz input as text.
inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Returns whether `prefix` is the start of `whole`.
inline bool starts_with(std::span<const std::uint8_t> whole,
                        std::span<const std::uint8_t> prefix) {
  return prefix.size() <= whole.size()
         && std::equal(prefix.begin(), prefix.end(), whole.begin());
}

/// Splits `bytes` into chunks whose sizes cycle through 1 to `max_chunk`,
/// so a stream decoder receives its input cut at many different places.
template <class Consumer>
void feed_in_chunks(std::string_view bytes, std::size_t max_chunk,
                    Consumer&& consume) {
  std::size_t size = 1;
  while (!bytes.empty()) {
    auto chunk = bytes.substr(0, size);
    bytes.remove_prefix(chunk.size());
    consume(chunk);
    size = size % max_chunk + 1;
  }
}

} // namespace pilot::fuzz
