#pragma once

#include <chrono>
#include <cstdint>

namespace pilot::webhook::detail {

/// Rate limit of one repeated log line: the first occurrence is written at
/// once, later ones at most once per interval with the count of what
/// happened since the last line.
class log_limiter {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit log_limiter(std::chrono::milliseconds interval
                       = std::chrono::seconds{10});

  /// Counts one occurrence at `now`. Returns the number of occurrences that
  /// a line written now reports, this one included, or 0 when no line is
  /// due yet.
  std::uint64_t count(time_point now) noexcept;

  /// Returns the occurrences that no line reported yet and resets the count.
  std::uint64_t flush() noexcept;

private:
  std::chrono::milliseconds interval_;
  time_point next_line_{};
  std::uint64_t pending_ = 0;
};

} // namespace pilot::webhook::detail
