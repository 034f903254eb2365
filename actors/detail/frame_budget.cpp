#include "actors/detail/frame_budget.hpp"

#include <algorithm>

namespace pilot::actors::detail {

namespace {

// Returns the frame's bytes per second so far. Frames younger than a
// millisecond count as a millisecond old, so a new frame is never slowest
// by a division by zero.
double arrival_rate(const unfinished_frame& frame,
                    std::chrono::steady_clock::time_point now) {
  using seconds = std::chrono::duration<double>;
  auto elapsed = std::max(seconds{now - frame.started}, seconds{1e-3});
  return static_cast<double>(frame.buffered_bytes) / elapsed.count();
}

} // namespace

std::optional<std::uint32_t>
slowest_frame(std::span<const unfinished_frame> frames,
              std::chrono::steady_clock::time_point now) {
  auto slower
      = [now](const unfinished_frame& lhs, const unfinished_frame& rhs) {
          auto lhs_rate = arrival_rate(lhs, now);
          auto rhs_rate = arrival_rate(rhs, now);
          if (lhs_rate != rhs_rate)
            return lhs_rate < rhs_rate;
          return lhs.started < rhs.started;
        };
  auto slowest = std::min_element(frames.begin(), frames.end(), slower);
  if (slowest == frames.end())
    return std::nullopt;
  return slowest->conn_id;
}

} // namespace pilot::actors::detail
