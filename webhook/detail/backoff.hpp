#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace pilot::webhook::detail {

/// Returns `pause` scaled by a random factor in [1 - jitter, 1 + jitter],
/// with `jitter` clamped to [0, 1].
std::chrono::milliseconds with_jitter(std::chrono::milliseconds pause,
                                      double jitter, std::mt19937_64& random);

/// The pauses before probing a down endpoint: `initial`, then doubling up
/// to `max`. Each pause is scaled by a random factor in [1 - jitter,
/// 1 + jitter], so that many daemons do not probe in step, and is never
/// above `max`.
class backoff {
public:
  backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          double jitter, std::uint64_t seed);

  /// Returns the next pause and doubles the base of the one after.
  std::chrono::milliseconds next();

  /// Starts again from `initial`.
  void reset() noexcept;

private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double jitter_;
  std::chrono::milliseconds base_;
  std::mt19937_64 random_;
};

} // namespace pilot::webhook::detail
