#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

/// The two token buckets that limit incoming SYNs: one for the whole node
/// and one for each source node.
namespace pilot::actors::detail {

/// A token bucket of whole tokens. Its capacity equals its rate per second,
/// and it starts full. Refilling adds `floor(elapsed × rate)` tokens; the
/// time that has not yet earned a whole token is kept for the next refill.
class syn_bucket {
public:
  using clock = std::chrono::steady_clock;

  syn_bucket(std::uint32_t rate, clock::time_point now) noexcept
      : rate_(rate), tokens_(rate), last_fill_(now) {}

  /// Refills, then takes one token. Returns false when none is left.
  bool take(clock::time_point now) noexcept;

  /// Returns the time of the last refill that added a token, or of the
  /// creation.
  clock::time_point last_fill() const noexcept { return last_fill_; }

  /// Returns the tokens left, as of the last `take`.
  std::uint32_t tokens() const noexcept { return tokens_; }

private:
  void refill(clock::time_point now) noexcept;

  std::uint32_t rate_;
  std::uint32_t tokens_;
  clock::time_point last_fill_;
};

/// Decides whether a new incoming SYN may create a connection. The global
/// bucket is asked first, so a SYN that the per-source bucket then drops
/// still spends a global token.
class syn_limiter {
public:
  using clock = std::chrono::steady_clock;

  /// The outcome of `admit`.
  enum class verdict {
    admitted,
    /// The global bucket is empty; the caller raises
    /// `security.syn_rate_limited`.
    global_limited,
    /// The source's bucket is empty, or the source table is full and this
    /// source is new.
    source_limited,
  };

  /// Rate and capacity of each source's bucket, per second.
  static constexpr std::uint32_t source_rate = 10;

  /// Maximum number of sources tracked at once.
  static constexpr std::size_t max_sources = 4096;

  /// Idle time after which `reap` removes a source.
  static constexpr std::chrono::seconds source_idle_time{10};

  /// Creates the limiter with a global rate (and capacity) of `global_rate`
  /// SYNs per second. A rate of 0 rejects every SYN.
  syn_limiter(std::uint32_t global_rate, clock::time_point now);

  /// Takes a token for a SYN from the node `source` (the network is not part
  /// of the key).
  verdict admit(std::uint32_t source, clock::time_point now);

  /// Removes every source whose bucket was last refilled more than
  /// `source_idle_time` before `now`.
  void reap(clock::time_point now);

  /// Returns the number of sources tracked.
  std::size_t sources() const noexcept { return sources_.size(); }

private:
  syn_bucket global_;
  std::unordered_map<std::uint32_t, syn_bucket> sources_;
};

} // namespace pilot::actors::detail
