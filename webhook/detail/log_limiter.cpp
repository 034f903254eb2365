#include "webhook/detail/log_limiter.hpp"

namespace pilot::webhook::detail {

log_limiter::log_limiter(std::chrono::milliseconds interval)
    : interval_(interval) {
  // nop
}

std::uint64_t log_limiter::count(time_point now) noexcept {
  ++pending_;
  if (now < next_line_)
    return 0;
  next_line_ = now + interval_;
  return flush();
}

std::uint64_t log_limiter::flush() noexcept {
  auto result = pending_;
  pending_ = 0;
  return result;
}

} // namespace pilot::webhook::detail
