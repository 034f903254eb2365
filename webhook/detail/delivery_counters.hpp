#pragma once

#include "webhook/fwd.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pilot::webhook::detail {

/// The reason an event left without a delivery attempt.
enum class drop_reason { full, down, disabled, filtered, oversize };

/// Returns the counter name of `reason`, such as `full`.
std::string_view to_string(drop_reason reason) noexcept;

/// Returns whether HTTP defines `status` for a final response: 200 to 599.
/// A receiver that sends any other final status, such as 0, 101 or 600, is
/// alive but broken, so its events fail and count as `status_5xx`.
constexpr bool is_standard_final_status(int status) noexcept {
  return status >= 200 && status < 600;
}

/// The latencies of the most recent deliveries, at most `capacity` of them.
class latency_sample {
public:
  explicit latency_sample(std::size_t capacity);

  /// Adds one latency, replacing the oldest when full.
  void add(std::chrono::microseconds latency);

  /// Returns the nearest-rank percentile `p` (0 to 100) in milliseconds, or
  /// 0 when the sample is empty.
  double percentile_ms(double p) const;

private:
  std::vector<std::int64_t> values_;
  std::size_t capacity_;
  std::size_t next_ = 0;
};

/// The webhook counters of one daemon run. `in_flight` and `buffered` are
/// not stored here: the actor passes them to `snapshot`, taken from its
/// queues, so that the invariant of `webhook_stats` is true by construction.
class delivery_counters {
public:
  /// Number of latencies kept for the percentiles.
  static constexpr std::size_t latency_capacity = 1024;

  delivery_counters();

  /// Counts a newly raised event.
  void count_emitted() noexcept;

  /// Counts `count` events dropped for `reason`.
  void count_dropped(drop_reason reason, std::uint64_t count = 1) noexcept;

  /// Counts one event that received a 2xx response.
  void count_delivered(std::chrono::microseconds latency,
                       std::string delivered_at);

  /// Counts one failed attempt: by its status class when a response
  /// arrived, by its failure class otherwise. `error`, which must not be
  /// empty, becomes `last_error`.
  void count_failed(const attempt_result& result, std::string error);

  /// Counts one attempt sent again under `webhook_retries`.
  void count_retried() noexcept;

  /// Returns the counters together with the actor's current view.
  webhook_stats snapshot(std::string url, std::string state,
                         std::uint64_t in_flight, std::uint64_t buffered) const;

private:
  webhook_stats totals_;
  latency_sample latencies_;
};

} // namespace pilot::webhook::detail
