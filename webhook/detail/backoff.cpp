#include "webhook/detail/backoff.hpp"

#include <algorithm>

namespace pilot::webhook::detail {

backoff::backoff(std::chrono::milliseconds initial,
                 std::chrono::milliseconds max, double jitter,
                 std::uint64_t seed)
    : initial_(initial), max_(std::max(initial, max)),
      jitter_(std::clamp(jitter, 0.0, 1.0)), base_(initial), random_(seed) {
  // nop
}

std::chrono::milliseconds backoff::next() {
  std::uniform_real_distribution<double> factor{1.0 - jitter_, 1.0 + jitter_};
  auto scaled = static_cast<double>(base_.count()) * factor(random_);
  auto pause = std::chrono::milliseconds{static_cast<std::int64_t>(scaled)};
  base_ = std::min(base_ * 2, max_);
  return std::clamp(pause, std::chrono::milliseconds{0}, max_);
}

void backoff::reset() noexcept {
  base_ = initial_;
}

} // namespace pilot::webhook::detail
