#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pilot::test {

/// Feeds `wire` to a new `Reader` in pieces of `chunk_size` bytes and returns
/// every frame it reads, in order. `Reader` is one of the incremental frame
/// readers of `protocol` (`feed`, `next`, `buffered`). The test fails when a
/// frame is invalid or when bytes remain buffered at the end.
template <class Reader>
auto read_frames(std::string_view wire, std::size_t chunk_size) {
  using frame_type
      = std::remove_cvref_t<decltype(**std::declval<Reader&>().next())>;
  Reader reader;
  std::vector<frame_type> frames;
  for (std::size_t offset = 0; offset < wire.size(); offset += chunk_size) {
    reader.feed(wire.substr(offset, chunk_size));
    for (;;) {
      auto frame = reader.next();
      REQUIRE(frame.has_value());
      if (!*frame)
        break;
      frames.push_back(std::move(**frame));
    }
  }
  CHECK(reader.buffered() == 0);
  return frames;
}

} // namespace pilot::test
