#include "actors/detail/syn_limiter.hpp"

namespace pilot::actors::detail {

void syn_bucket::refill(clock::time_point now) noexcept {
  if (rate_ == 0 || now <= last_fill_)
    return;
  using std::chrono::nanoseconds;
  constexpr std::int64_t ns_per_second = 1'000'000'000;
  auto elapsed = std::chrono::duration_cast<nanoseconds>(now - last_fill_);
  // Compute in long double: elapsed × rate overflows 64 bits after ~3 days
  // at high rates.
  auto earned
      = static_cast<long double>(elapsed.count()) * rate_ / ns_per_second;
  if (earned < 1)
    return;
  auto room = rate_ - tokens_;
  if (earned >= room) {
    // A full bucket keeps no fraction: the time spent full earns nothing.
    tokens_ = rate_;
    last_fill_ = now;
    return;
  }
  auto added = static_cast<std::uint32_t>(earned);
  tokens_ += added;
  // Move forward by the time the whole tokens took, keeping the remainder.
  last_fill_
      += nanoseconds{static_cast<std::int64_t>(added) * ns_per_second / rate_};
}

bool syn_bucket::take(clock::time_point now) noexcept {
  refill(now);
  if (tokens_ == 0)
    return false;
  --tokens_;
  return true;
}

syn_limiter::syn_limiter(std::uint32_t global_rate, clock::time_point now)
    : global_(global_rate, now) {}

syn_limiter::verdict syn_limiter::admit(std::uint32_t source,
                                        clock::time_point now) {
  if (!global_.take(now))
    return verdict::global_limited;
  auto i = sources_.find(source);
  if (i == sources_.end()) {
    if (sources_.size() >= max_sources)
      return verdict::source_limited;
    i = sources_.emplace(source, syn_bucket{source_rate, now}).first;
  }
  return i->second.take(now) ? verdict::admitted : verdict::source_limited;
}

void syn_limiter::reap(clock::time_point now) {
  std::erase_if(sources_, [now](const auto& entry) {
    return now - entry.second.last_fill() > source_idle_time;
  });
}

} // namespace pilot::actors::detail
