#include "actors/detail/syn_limiter.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

using namespace std::chrono_literals;
using pilot::actors::detail::syn_bucket;
using pilot::actors::detail::syn_limiter;
using verdict = syn_limiter::verdict;

namespace {

const auto start = std::chrono::steady_clock::time_point{} + 1000s;

// Takes every token of a full bucket of rate `rate` at `start`.
void drain(syn_bucket& bucket, int rate) {
  for (int i = 0; i < rate; ++i)
    REQUIRE(bucket.take(start));
  REQUIRE_FALSE(bucket.take(start));
}

} // namespace

TEST_CASE("a token bucket starts full and empties") {
  syn_bucket bucket{3, start};
  CHECK(bucket.take(start));
  CHECK(bucket.take(start));
  CHECK(bucket.take(start));
  CHECK_FALSE(bucket.take(start));
}

TEST_CASE("a token bucket refills whole tokens only") {
  syn_bucket bucket{10, start};
  drain(bucket, 10);
  // 99 ms at 10/s earns no whole token.
  CHECK_FALSE(bucket.take(start + 99ms));
  CHECK(bucket.take(start + 100ms));
  CHECK_FALSE(bucket.take(start + 100ms));
}

TEST_CASE("a token bucket keeps the fraction of a refill") {
  syn_bucket bucket{10, start};
  drain(bucket, 10);
  // 150 ms earns one token and keeps 50 ms, so 50 ms later one more is due.
  CHECK(bucket.take(start + 150ms));
  CHECK(bucket.take(start + 200ms));
  CHECK_FALSE(bucket.take(start + 200ms));
}

TEST_CASE("a token bucket never holds more than its capacity") {
  syn_bucket bucket{5, start};
  REQUIRE(bucket.take(start));
  for (int i = 0; i < 5; ++i)
    CHECK(bucket.take(start + 1h));
  CHECK_FALSE(bucket.take(start + 1h));
}

TEST_CASE("a token bucket of rate 0 rejects everything") {
  syn_bucket bucket{0, start};
  CHECK_FALSE(bucket.take(start));
  CHECK_FALSE(bucket.take(start + 1h));
}

TEST_CASE("the global bucket limits before the source bucket") {
  syn_limiter limiter{3, start};
  CHECK(limiter.admit(1, start) == verdict::admitted);
  CHECK(limiter.admit(2, start) == verdict::admitted);
  CHECK(limiter.admit(3, start) == verdict::admitted);
  CHECK(limiter.admit(4, start) == verdict::global_limited);
  // A rejected SYN creates no source entry.
  CHECK(limiter.sources() == 3);
}

TEST_CASE("one source gets 10 SYNs per second") {
  syn_limiter limiter{100, start};
  for (int i = 0; i < 10; ++i)
    CHECK(limiter.admit(7, start) == verdict::admitted);
  CHECK(limiter.admit(7, start) == verdict::source_limited);
  // Another source is unaffected.
  CHECK(limiter.admit(8, start) == verdict::admitted);
  // 100 ms later the first source has one token again.
  CHECK(limiter.admit(7, start + 100ms) == verdict::admitted);
  CHECK(limiter.admit(7, start + 100ms) == verdict::source_limited);
}

TEST_CASE("a SYN dropped per source still spends a global token") {
  syn_limiter limiter{12, start};
  for (int i = 0; i < 10; ++i)
    REQUIRE(limiter.admit(7, start) == verdict::admitted);
  CHECK(limiter.admit(7, start) == verdict::source_limited);
  CHECK(limiter.admit(8, start) == verdict::admitted);
  CHECK(limiter.admit(9, start) == verdict::global_limited);
}

TEST_CASE("a full source table rejects new sources") {
  syn_limiter limiter{1'000'000, start};
  for (std::uint32_t node = 1; node <= syn_limiter::max_sources; ++node)
    REQUIRE(limiter.admit(node, start) == verdict::admitted);
  CHECK(limiter.sources() == syn_limiter::max_sources);
  CHECK(limiter.admit(99'999, start) == verdict::source_limited);
  // A known source still gets through.
  CHECK(limiter.admit(1, start) == verdict::admitted);
}

TEST_CASE("reap forgets sources idle for over 10 seconds") {
  syn_limiter limiter{100, start};
  REQUIRE(limiter.admit(1, start) == verdict::admitted);
  REQUIRE(limiter.admit(2, start + 5s) == verdict::admitted);
  limiter.reap(start + 10s);
  CHECK(limiter.sources() == 2);
  limiter.reap(start + 11s);
  CHECK(limiter.sources() == 1);
  limiter.reap(start + 16s);
  CHECK(limiter.sources() == 0);
}

TEST_CASE("reap makes room for new sources") {
  syn_limiter limiter{1'000'000, start};
  for (std::uint32_t node = 1; node <= syn_limiter::max_sources; ++node)
    REQUIRE(limiter.admit(node, start) == verdict::admitted);
  REQUIRE(limiter.admit(99'999, start) == verdict::source_limited);
  limiter.reap(start + 11s);
  CHECK(limiter.admit(99'999, start + 11s) == verdict::admitted);
}
