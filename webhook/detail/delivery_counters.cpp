#include "webhook/detail/delivery_counters.hpp"

#include <algorithm>
#include <cmath>

namespace pilot::webhook::detail {

std::string_view to_string(drop_reason reason) noexcept {
  switch (reason) {
    case drop_reason::full:
      return "full";
    case drop_reason::down:
      return "down";
    case drop_reason::disabled:
      return "disabled";
    case drop_reason::filtered:
      return "filtered";
    case drop_reason::oversize:
      return "oversize";
  }
  return "unknown";
}

latency_sample::latency_sample(std::size_t capacity) : capacity_(capacity) {
  values_.reserve(capacity);
}

void latency_sample::add(std::chrono::microseconds latency) {
  if (capacity_ == 0)
    return;
  if (values_.size() < capacity_) {
    values_.push_back(latency.count());
    return;
  }
  values_[next_] = latency.count();
  next_ = (next_ + 1) % capacity_;
}

double latency_sample::percentile_ms(double p) const {
  if (values_.empty())
    return 0;
  auto sorted = values_;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest value with at least p percent at or below.
  auto rank = static_cast<std::size_t>(
      std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  auto index = std::clamp<std::size_t>(rank, 1, sorted.size()) - 1;
  return static_cast<double>(sorted[index]) / 1000.0;
}

delivery_counters::delivery_counters() : latencies_(latency_capacity) {
  // nop
}

void delivery_counters::count_emitted() noexcept {
  ++totals_.emitted;
}

void delivery_counters::count_dropped(drop_reason reason,
                                      std::uint64_t count) noexcept {
  totals_.dropped += count;
  switch (reason) {
    case drop_reason::full:
      totals_.dropped_full += count;
      break;
    case drop_reason::down:
      totals_.dropped_down += count;
      break;
    case drop_reason::disabled:
      totals_.dropped_disabled += count;
      break;
    case drop_reason::filtered:
      totals_.dropped_filtered += count;
      break;
    case drop_reason::oversize:
      totals_.dropped_oversize += count;
      break;
  }
}

void delivery_counters::count_delivered(std::chrono::microseconds latency,
                                        std::string delivered_at) {
  ++totals_.delivered;
  totals_.last_delivered_at = std::move(delivered_at);
  latencies_.add(latency);
}

void delivery_counters::count_failed(const attempt_result& result,
                                     std::string error) {
  ++totals_.failed;
  totals_.last_error = std::move(error);
  if (result.responded() && result.status >= 300 && result.status < 400)
    ++totals_.failed_status_3xx;
  else if (result.responded() && result.status >= 400 && result.status < 500)
    ++totals_.failed_status_4xx;
  else if (result.responded())
    // 5xx, and every status that `is_standard_final_status` rejects.
    ++totals_.failed_status_5xx;
  else if (result.failure_class == "timeout")
    ++totals_.failed_timeout;
  else if (result.failure_class == "dns")
    ++totals_.failed_dns;
  else if (result.failure_class == "tls")
    ++totals_.failed_tls;
  else
    ++totals_.failed_connect;
}

void delivery_counters::count_retried() noexcept {
  ++totals_.retried;
}

webhook_stats delivery_counters::snapshot(std::string url, std::string state,
                                          std::uint64_t in_flight,
                                          std::uint64_t buffered) const {
  auto result = totals_;
  result.url = std::move(url);
  result.state = std::move(state);
  result.in_flight = in_flight;
  result.buffered = buffered;
  result.latency_p50_ms = latencies_.percentile_ms(50);
  result.latency_p99_ms = latencies_.percentile_ms(99);
  return result;
}

} // namespace pilot::webhook::detail
