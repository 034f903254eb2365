#include "actors/detail/frame_budget.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace std::chrono_literals;
using pilot::actors::detail::slowest_frame;
using pilot::actors::detail::unfinished_frame;

namespace {

const auto start = std::chrono::steady_clock::time_point{} + 1h;

} // namespace

TEST_CASE("no unfinished frame gives no connection") {
  CHECK_FALSE(slowest_frame({}, start).has_value());
}

TEST_CASE("a trickling sender is closed before a streaming one") {
  // 15 MiB that arrived over a minute, against 8 MiB in the last second.
  std::vector<unfinished_frame> frames{
      {1, 15u << 20, start},
      {2, 8u << 20, start + 59s},
  };
  CHECK(slowest_frame(frames, start + 60s) == 1u);
}

TEST_CASE("a new frame is never the slowest by its age alone") {
  std::vector<unfinished_frame> frames{
      {1, 1000, start},
      {2, 10, start + 10s},
  };
  CHECK(slowest_frame(frames, start + 10s) == 1u);
}

TEST_CASE("equal rates close the oldest frame") {
  std::vector<unfinished_frame> frames{
      {7, 2000, start + 1s},
      {3, 1000, start + 2s},
  };
  // Both gained 1000 bytes per second; frame 7 began first.
  CHECK(slowest_frame(frames, start + 3s) == 7u);
}
