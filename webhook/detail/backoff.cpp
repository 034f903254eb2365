#include "webhook/detail/backoff.hpp"

#include <algorithm>

namespace pilot::webhook::detail {

std::chrono::milliseconds with_jitter(std::chrono::milliseconds pause,
                                      double jitter, std::mt19937_64& random) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> factor{1.0 - jitter, 1.0 + jitter};
  auto scaled = static_cast<double>(pause.count()) * factor(random);
  return std::chrono::milliseconds{static_cast<std::int64_t>(scaled)};
}

backoff::backoff(std::chrono::milliseconds initial,
                 std::chrono::milliseconds max, double jitter,
                 std::uint64_t seed)
    : initial_(initial), max_(std::max(initial, max)),
      jitter_(std::clamp(jitter, 0.0, 1.0)), base_(initial), random_(seed) {
  // nop
}

std::chrono::milliseconds backoff::next() {
  auto pause = with_jitter(base_, jitter_, random_);
  base_ = std::min(base_ * 2, max_);
  return std::clamp(pause, std::chrono::milliseconds{0}, max_);
}

void backoff::reset() noexcept {
  base_ = initial_;
}

} // namespace pilot::webhook::detail
