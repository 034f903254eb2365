#include "actors/detail/port_table.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

using namespace pilot::actors::detail;

namespace {

bool never_in_use(std::uint16_t) {
  return false;
}

} // namespace

TEST_CASE("a bound port cannot be bound again") {
  port_table ports;
  CHECK(ports.bind(1000, 1));
  CHECK_FALSE(ports.bind(1000, 2));
  CHECK(ports.owner(1000) == 1u);
  CHECK(ports.size() == 1);
}

TEST_CASE("port 0 is bound literally") {
  port_table ports;
  CHECK(ports.bind(0, 3));
  CHECK(ports.is_bound(0));
  CHECK(ports.owner(0) == 3u);
}

TEST_CASE("unbind releases a port") {
  port_table ports;
  REQUIRE(ports.bind(80, 1));
  ports.unbind(80);
  CHECK_FALSE(ports.is_bound(80));
  CHECK_FALSE(ports.owner(80).has_value());
  CHECK(ports.bind(80, 2));
}

TEST_CASE("unbind_owner releases only that owner's ports") {
  port_table ports;
  REQUIRE(ports.bind(7, builtin_owner));
  REQUIRE(ports.bind(1000, 1));
  REQUIRE(ports.bind(1001, 1));
  REQUIRE(ports.bind(2000, 2));
  auto released = ports.unbind_owner(1);
  std::sort(released.begin(), released.end());
  CHECK(released == std::vector<std::uint16_t>{1000, 1001});
  CHECK(ports.is_bound(7));
  CHECK(ports.is_bound(2000));
  CHECK(ports.size() == 2);
}

TEST_CASE("ephemeral ports start at 49152 and go round-robin") {
  port_table ports;
  CHECK(ports.allocate_ephemeral(never_in_use) == 49152);
  CHECK(ports.allocate_ephemeral(never_in_use) == 49153);
  CHECK(ports.allocate_ephemeral(never_in_use) == 49154);
}

TEST_CASE("ephemeral allocation skips bound and busy ports") {
  port_table ports;
  REQUIRE(ports.bind(49152, 1));
  auto busy = [](std::uint16_t port) {
    return port == 49153;
  };
  CHECK(ports.allocate_ephemeral(busy) == 49154);
}

TEST_CASE("ephemeral allocation wraps to 49152, never below") {
  port_table ports;
  std::set<std::uint16_t> seen;
  // Three passes over the 16384 ports of the range.
  for (int i = 0; i < 3 * 16384; ++i) {
    auto port = ports.allocate_ephemeral(never_in_use);
    REQUIRE(port.has_value());
    REQUIRE(*port >= 49152);
    seen.insert(*port);
  }
  CHECK(seen.size() == 16384);
  CHECK(ports.allocate_ephemeral(never_in_use) == 49152);
}

TEST_CASE("ephemeral allocation fails when the range is exhausted") {
  port_table ports;
  auto all_busy = [](std::uint16_t) {
    return true;
  };
  CHECK_FALSE(ports.allocate_ephemeral(all_busy).has_value());
  // The one free port is found wherever the counter stands.
  auto one_free = [](std::uint16_t port) {
    return port != 50000;
  };
  CHECK(ports.allocate_ephemeral(one_free) == 50000);
  CHECK(ports.allocate_ephemeral(one_free) == 50000);
}

TEST_CASE("ephemeral allocation starts where the table is told") {
  port_table ports{60000};
  CHECK(ports.allocate_ephemeral(never_in_use) == 60000);
  CHECK(ports.allocate_ephemeral(never_in_use) == 60001);
  port_table low{80};
  CHECK(low.allocate_ephemeral(never_in_use) == 49152);
  port_table last{65535};
  CHECK(last.allocate_ephemeral(never_in_use) == 65535);
  CHECK(last.allocate_ephemeral(never_in_use) == 49152);
}
