#include "actors/beacon_service.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace pilot;
using namespace pilot::protocol;
using actors::beacon_config;
using actors::beacon_service;
using actors::outgoing_datagram;
using boost::asio::ip::udp;
using namespace std::chrono_literals;
using bytes = std::vector<std::uint8_t>;

namespace {

const beacon_service::time_point start{std::chrono::hours{1000}};

udp::endpoint at(std::string_view ip, std::uint16_t port) {
  return {boost::asio::ip::make_address(std::string{ip}), port};
}

bytes text_bytes(std::string_view text) {
  return bytes(text.begin(), text.end());
}

bytes discover(std::uint32_t node_id) {
  return encode_beacon_message(beacon_discover{node_id});
}

bytes punch_request(std::uint32_t requester, std::uint32_t target) {
  return encode_beacon_message(beacon_punch_request{requester, target});
}

bytes relay(std::uint32_t sender, std::uint32_t dest, std::string_view text) {
  return encode_beacon_message(beacon_relay{sender, dest, text_bytes(text)});
}

// Decodes a datagram the service sent, failing the test unless it is a T.
template <class T>
T decoded_as(const outgoing_datagram& datagram) {
  auto decoded = decode_beacon_message(datagram.bytes);
  REQUIRE(decoded.has_value());
  REQUIRE(std::holds_alternative<T>(*decoded));
  return std::get<T>(*decoded);
}

beacon_endpoint beacon_endpoint_of(const udp::endpoint& endpoint) {
  return {endpoint.address(), endpoint.port()};
}

// Sends a Discover for `node_id` from `source` and checks that it got a
// reply and that the node is recorded.
void register_node(beacon_service& beacon, std::uint32_t node_id,
                   const udp::endpoint& source,
                   beacon_service::time_point now = start) {
  auto out = beacon.handle(discover(node_id), source, now);
  REQUIRE_EQ(out.size(), 1);
  REQUIRE_EQ(beacon.endpoint_of(node_id, now), source);
}

} // namespace

TEST_CASE("beacon Discover replies with the observed endpoint") {
  beacon_service beacon;
  auto source = at("203.0.113.7", 4000);
  auto out = beacon.handle(discover(1), source, start);
  REQUIRE_EQ(out.size(), 1);
  CHECK_EQ(out[0].destination, source);
  CHECK_EQ(out[0].bytes, bytes{0x02, 0x04, 0xcb, 0x00, 0x71, 0x07, 0x0f, 0xa0});
  CHECK_EQ(beacon.endpoint_of(1, start), source);
  CHECK_EQ(beacon.stats().discovers, 1);
}

TEST_CASE("beacon Discover reply to IPv6 carries 16 bytes") {
  beacon_service beacon;
  auto source = at("2001:db8::1", 4000);
  auto out = beacon.handle(discover(1), source, start);
  REQUIRE_EQ(out.size(), 1);
  CHECK_EQ(decoded_as<beacon_discover_reply>(out[0]).observed,
           beacon_endpoint_of(source));
  CHECK_EQ(out[0].bytes.size(), 20);
}

TEST_CASE("beacon treats an IPv4-mapped source as IPv4") {
  beacon_service beacon;
  auto out = beacon.handle(discover(1), at("::ffff:203.0.113.7", 4000), start);
  REQUIRE_EQ(out.size(), 1);
  CHECK_EQ(out[0].destination, at("203.0.113.7", 4000));
  CHECK_EQ(out[0].bytes.size(), 8);
  CHECK_EQ(beacon.endpoint_of(1, start), at("203.0.113.7", 4000));
}

TEST_CASE("beacon start-up probe of node 0 is answered, not recorded") {
  beacon_service beacon;
  auto out = beacon.handle(discover(0), at("198.51.100.1", 5000), start);
  REQUIRE_EQ(out.size(), 1);
  CHECK_EQ(decoded_as<beacon_discover_reply>(out[0]).observed.port, 5000);
  CHECK_EQ(beacon.node_count(), 0);
  CHECK_FALSE(beacon.endpoint_of(0, start));
}

TEST_CASE("beacon PunchRequest sends PunchCommand to both nodes") {
  beacon_service beacon;
  auto a = at("127.0.0.1", 40100);
  auto b = at("127.0.0.1", 40200);
  register_node(beacon, 100, a);
  register_node(beacon, 200, b);
  auto out = beacon.handle(punch_request(100, 200), a, start);
  REQUIRE_EQ(out.size(), 2);
  CHECK_EQ(out[0].destination, a);
  CHECK_EQ(decoded_as<beacon_punch_command>(out[0]).target,
           beacon_endpoint_of(b));
  CHECK_EQ(out[1].destination, b);
  CHECK_EQ(decoded_as<beacon_punch_command>(out[1]).target,
           beacon_endpoint_of(a));
  CHECK_EQ(out[0].bytes[0], 0x04);
  CHECK_EQ(out[1].bytes[0], 0x04);
  CHECK_EQ(beacon.stats().punches, 1);
}

TEST_CASE("beacon PunchRequest records the requester like Discover") {
  beacon_service beacon;
  auto b = at("127.0.0.1", 40200);
  register_node(beacon, 200, b);
  auto a = at("127.0.0.1", 40100);
  auto out = beacon.handle(punch_request(100, 200), a, start);
  CHECK_EQ(out.size(), 2);
  CHECK_EQ(beacon.endpoint_of(100, start), a);
}

TEST_CASE("beacon PunchRequest to an unknown target sends nothing") {
  beacon_service beacon;
  auto a = at("127.0.0.1", 40100);
  register_node(beacon, 100, a);
  CHECK(beacon.handle(punch_request(100, 200), a, start).empty());
  CHECK(beacon.handle(punch_request(100, 100), a, start).empty());
  CHECK(beacon.handle(punch_request(0, 100), a, start).empty());
  CHECK_EQ(beacon.stats().punches_dropped, 3);
  CHECK_EQ(beacon.stats().punches, 0);
}

TEST_CASE("beacon Relay reaches the destination as RelayDeliver") {
  beacon_service beacon;
  auto a = at("127.0.0.1", 40300);
  auto b = at("127.0.0.1", 40400);
  register_node(beacon, 300, a);
  register_node(beacon, 400, b);
  auto out = beacon.handle(relay(300, 400, "test relay payload"), a, start);
  REQUIRE_EQ(out.size(), 1);
  CHECK_EQ(out[0].destination, b);
  auto expected = bytes{0x06, 0x00, 0x00, 0x01, 0x2c};
  auto payload = text_bytes("test relay payload");
  expected.insert(expected.end(), payload.begin(), payload.end());
  CHECK_EQ(out[0].bytes, expected);
  CHECK_EQ(beacon.stats().relays_delivered, 1);
}

TEST_CASE("beacon Relay needs the sender's recorded endpoint") {
  beacon_service beacon;
  auto a = at("127.0.0.1", 40300);
  auto b = at("127.0.0.1", 40400);
  auto stranger = at("127.0.0.1", 40500);
  register_node(beacon, 300, a);
  register_node(beacon, 400, b);
  // Unknown sender ID, then a known sender ID from another endpoint.
  CHECK(beacon.handle(relay(999, 400, "x"), stranger, start).empty());
  CHECK(beacon.handle(relay(300, 400, "x"), stranger, start).empty());
  CHECK_EQ(beacon.stats().relays_dropped, 2);
  CHECK_EQ(beacon.stats().relays_delivered, 0);
}

TEST_CASE("beacon Relay to an unknown destination is dropped") {
  beacon_service beacon;
  auto a = at("127.0.0.1", 40300);
  register_node(beacon, 300, a);
  CHECK(beacon.handle(relay(300, 400, "x"), a, start).empty());
  CHECK_EQ(beacon.stats().relays_dropped, 1);
}

TEST_CASE("beacon Relay payload size is bounded") {
  beacon_config config;
  config.max_relay_payload = 16;
  beacon_service beacon{config};
  auto a = at("127.0.0.1", 40300);
  auto b = at("127.0.0.1", 40400);
  register_node(beacon, 300, a);
  register_node(beacon, 400, b);
  CHECK_EQ(
      beacon.handle(relay(300, 400, std::string(16, 'x')), a, start).size(), 1);
  CHECK(beacon.handle(relay(300, 400, std::string(17, 'x')), a, start).empty());
  CHECK(beacon.handle(relay(300, 400, ""), a, start).empty());
  CHECK_EQ(beacon.stats().relays_dropped, 2);
}

TEST_CASE("beacon Relay refreshes the sender's entry") {
  beacon_config config;
  config.entry_ttl = 60s;
  beacon_service beacon{config};
  auto a = at("127.0.0.1", 40300);
  auto b = at("127.0.0.1", 40400);
  register_node(beacon, 300, a);
  register_node(beacon, 400, b, start + 50s);
  CHECK_EQ(beacon.handle(relay(300, 400, "x"), a, start + 50s).size(), 1);
  CHECK_EQ(beacon.endpoint_of(300, start + 100s), a);
}

TEST_CASE("beacon relays across two synced beacons") {
  auto beacon1_at = at("127.0.0.1", 9101);
  auto beacon2_at = at("127.0.0.1", 9102);
  beacon_config config1;
  config1.beacon_id = 1;
  config1.peers = {beacon2_at};
  beacon_config config2;
  config2.beacon_id = 2;
  config2.peers = {beacon1_at};
  beacon_service beacon1{config1};
  beacon_service beacon2{config2};
  auto node10 = at("127.0.0.1", 40010);
  auto node20 = at("127.0.0.1", 40020);
  register_node(beacon1, 10, node10);
  register_node(beacon2, 20, node20);
  // Step 1: beacon 2's Sync lists node 20 for beacon 1.
  auto syncs = beacon2.sync_datagrams(start);
  REQUIRE_EQ(syncs.size(), 1);
  CHECK_EQ(syncs[0].destination, beacon1_at);
  CHECK_EQ(decoded_as<beacon_sync>(syncs[0]),
           beacon_sync{2, std::vector<std::uint32_t>{20}});
  CHECK(beacon1.handle(syncs[0].bytes, beacon2_at, start).empty());
  CHECK_EQ(beacon1.peer_node_count(), 1);
  // Step 2: node 10 relays to node 20 through beacon 1.
  auto datagram = relay(10, 20, "PILT");
  auto forwarded = beacon1.handle(datagram, node10, start);
  REQUIRE_EQ(forwarded.size(), 1);
  CHECK_EQ(forwarded[0].destination, beacon2_at);
  CHECK_EQ(forwarded[0].bytes, datagram);
  // Step 3: beacon 2 delivers it to node 20.
  auto delivered = beacon2.handle(forwarded[0].bytes, beacon1_at, start);
  REQUIRE_EQ(delivered.size(), 1);
  CHECK_EQ(delivered[0].destination, node20);
  CHECK_EQ(decoded_as<beacon_relay_deliver>(delivered[0]),
           beacon_relay_deliver{10, text_bytes("PILT")});
  CHECK_EQ(beacon1.stats().relays_forwarded, 1);
  CHECK_EQ(beacon2.stats().relays_delivered, 1);
}

TEST_CASE("beacon never forwards a relay from a peer again") {
  // Each beacon believes the other has node 30, which would loop a relay
  // between them forever if forwarded relays were forwarded again.
  auto beacon1_at = at("127.0.0.1", 9101);
  auto beacon2_at = at("127.0.0.1", 9102);
  beacon_config config1;
  config1.peers = {beacon2_at};
  beacon_config config2;
  config2.peers = {beacon1_at};
  beacon_service beacon1{config1};
  beacon_service beacon2{config2};
  auto claims_30 = encode_beacon_message(beacon_sync{9, {30}});
  beacon1.handle(claims_30, beacon2_at, start);
  beacon2.handle(claims_30, beacon1_at, start);
  auto node10 = at("127.0.0.1", 40010);
  register_node(beacon1, 10, node10);
  auto forwarded = beacon1.handle(relay(10, 30, "x"), node10, start);
  REQUIRE_EQ(forwarded.size(), 1);
  CHECK(beacon2.handle(forwarded[0].bytes, beacon1_at, start).empty());
  CHECK_EQ(beacon2.stats().relays_forwarded, 0);
  CHECK_EQ(beacon2.stats().relays_dropped, 1);
}

TEST_CASE("beacon rejects Sync from a source that is no peer") {
  beacon_config config;
  config.peers = {at("127.0.0.1", 9102)};
  beacon_service beacon{config};
  auto sync = encode_beacon_message(beacon_sync{2, {20, 21}});
  CHECK(beacon.handle(sync, at("127.0.0.1", 9103), start).empty());
  CHECK(beacon.handle(sync, at("127.0.0.2", 9102), start).empty());
  CHECK_EQ(beacon.stats().syncs_rejected, 2);
  CHECK_EQ(beacon.peer_node_count(), 0);
  beacon.handle(sync, at("::ffff:127.0.0.1", 9102), start);
  CHECK_EQ(beacon.stats().syncs_accepted, 1);
  CHECK_EQ(beacon.peer_node_count(), 2);
}

TEST_CASE("beacon Sync replaces what the peer listed before") {
  auto peer = at("127.0.0.1", 9102);
  beacon_config config;
  config.peers = {peer};
  beacon_service beacon{config};
  auto node10 = at("127.0.0.1", 40010);
  register_node(beacon, 10, node10);
  beacon.handle(encode_beacon_message(beacon_sync{2, {20, 21, 0}}), peer,
                start);
  CHECK_EQ(beacon.peer_node_count(), 2);
  beacon.handle(encode_beacon_message(beacon_sync{2, {22}}), peer, start);
  CHECK_EQ(beacon.peer_node_count(), 1);
  CHECK(beacon.handle(relay(10, 20, "x"), node10, start).empty());
  CHECK_EQ(beacon.handle(relay(10, 22, "x"), node10, start).size(), 1);
}

TEST_CASE("beacon peer node table is bounded") {
  auto peer = at("127.0.0.1", 9102);
  beacon_config config;
  config.peers = {peer};
  config.max_peer_nodes = 3;
  beacon_service beacon{config};
  beacon.handle(encode_beacon_message(beacon_sync{2, {1, 2, 3, 4, 5}}), peer,
                start);
  CHECK_EQ(beacon.peer_node_count(), 3);
}

TEST_CASE("beacon peer Sync expires") {
  auto peer = at("127.0.0.1", 9102);
  beacon_config config;
  config.peers = {peer};
  config.peer_ttl = 30s;
  beacon_service beacon{config};
  auto node10 = at("127.0.0.1", 40010);
  register_node(beacon, 10, node10, start + 30s);
  beacon.handle(encode_beacon_message(beacon_sync{2, {20}}), peer, start);
  CHECK(beacon.handle(relay(10, 20, "x"), node10, start + 30s).empty());
  beacon.expire(start + 30s);
  CHECK_EQ(beacon.peer_node_count(), 0);
}

TEST_CASE("beacon sends Syncs listing live local nodes to every peer") {
  beacon_config config;
  config.beacon_id = 7;
  config.entry_ttl = 60s;
  config.peers = {at("127.0.0.1", 9102), at("::1", 9103)};
  beacon_service beacon{config};
  register_node(beacon, 1, at("127.0.0.1", 40001));
  register_node(beacon, 2, at("127.0.0.1", 40002), start + 30s);
  auto syncs = beacon.sync_datagrams(start + 60s);
  REQUIRE_EQ(syncs.size(), 2);
  CHECK_EQ(syncs[0].destination, at("127.0.0.1", 9102));
  CHECK_EQ(syncs[1].destination, at("::1", 9103));
  CHECK_EQ(decoded_as<beacon_sync>(syncs[0]), beacon_sync{7, {2}});
  CHECK_EQ(syncs[1].bytes, syncs[0].bytes);
}

TEST_CASE("beacon without peers sends no Sync") {
  beacon_service beacon;
  register_node(beacon, 1, at("127.0.0.1", 40001));
  CHECK(beacon.sync_datagrams(start).empty());
}

TEST_CASE("beacon node entries expire after the TTL") {
  beacon_config config;
  config.entry_ttl = 60s;
  beacon_service beacon{config};
  auto a = at("127.0.0.1", 40100);
  auto b = at("127.0.0.1", 40200);
  register_node(beacon, 100, a);
  register_node(beacon, 200, b, start + 30s);
  CHECK_EQ(beacon.endpoint_of(100, start + 59s), a);
  CHECK_FALSE(beacon.endpoint_of(100, start + 60s));
  // An expired target is unknown even before `expire` runs.
  CHECK(beacon.handle(punch_request(200, 100), b, start + 60s).empty());
  CHECK_EQ(beacon.expire(start + 60s), 1);
  CHECK_EQ(beacon.node_count(), 1);
  CHECK_EQ(beacon.stats().expired, 1);
  // The PunchRequest refreshed node 200 at +60 s.
  CHECK_EQ(beacon.expire(start + 119s), 0);
  CHECK_EQ(beacon.expire(start + 120s), 1);
  CHECK_EQ(beacon.node_count(), 0);
}

TEST_CASE("beacon Discover refreshes the entry") {
  beacon_config config;
  config.entry_ttl = 60s;
  beacon_service beacon{config};
  auto a = at("127.0.0.1", 40100);
  register_node(beacon, 100, a);
  register_node(beacon, 100, a, start + 50s);
  CHECK_EQ(beacon.expire(start + 100s), 0);
  CHECK_EQ(beacon.endpoint_of(100, start + 100s), a);
}

TEST_CASE("beacon keeps a live node at its IP address") {
  beacon_config config;
  config.takeover_after = 45s;
  beacon_service beacon{config};
  auto victim = at("198.51.100.1", 4000);
  auto attacker = at("203.0.113.66", 4000);
  register_node(beacon, 100, victim);
  // The reply still goes out, but the entry stays.
  CHECK_EQ(beacon.handle(discover(100), attacker, start + 44s).size(), 1);
  CHECK_EQ(beacon.endpoint_of(100, start + 44s), victim);
  CHECK(beacon.handle(punch_request(100, 200), attacker, start + 44s).empty());
  CHECK_EQ(beacon.stats().takeovers_rejected, 2);
}

TEST_CASE("beacon moves a quiet node to a new IP address") {
  beacon_config config;
  config.takeover_after = 45s;
  beacon_service beacon{config};
  auto old_network = at("198.51.100.1", 4000);
  auto new_network = at("203.0.113.9", 4000);
  register_node(beacon, 100, old_network);
  register_node(beacon, 100, new_network, start + 45s);
  CHECK_EQ(beacon.stats().moves, 1);
}

TEST_CASE("beacon moves a node to a new port at once") {
  beacon_service beacon;
  auto before = at("198.51.100.1", 4000);
  auto rebound = at("198.51.100.1", 4001);
  register_node(beacon, 100, before);
  register_node(beacon, 100, rebound, start + 1s);
  CHECK_EQ(beacon.stats().moves, 1);
  CHECK_EQ(beacon.stats().takeovers_rejected, 0);
}

TEST_CASE("beacon node table is bounded") {
  beacon_config config;
  config.max_nodes = 2;
  beacon_service beacon{config};
  register_node(beacon, 1, at("127.0.0.1", 40001));
  register_node(beacon, 2, at("127.0.0.2", 40002));
  // The reply still goes out, but the node is not recorded.
  CHECK_EQ(beacon.handle(discover(3), at("127.0.0.3", 40003), start).size(), 1);
  CHECK_FALSE(beacon.endpoint_of(3, start));
  CHECK_EQ(beacon.node_count(), 2);
  CHECK_EQ(beacon.stats().table_full, 1);
  // Known nodes still refresh, and expiry makes room.
  register_node(beacon, 2, at("127.0.0.2", 40002), start + 1s);
  beacon.expire(start + config.entry_ttl);
  register_node(beacon, 3, at("127.0.0.3", 40003), start + config.entry_ttl);
}

TEST_CASE("beacon node entries per source address are bounded") {
  beacon_config config;
  config.max_nodes_per_source = 2;
  beacon_service beacon{config};
  register_node(beacon, 1, at("127.0.0.1", 40001));
  register_node(beacon, 2, at("127.0.0.1", 40002));
  beacon.handle(discover(3), at("127.0.0.1", 40003), start);
  CHECK_FALSE(beacon.endpoint_of(3, start));
  // One IPv6 host owns its /64, so its addresses share the bound.
  register_node(beacon, 4, at("2001:db8::1", 40004));
  register_node(beacon, 5, at("2001:db8::2", 40005));
  beacon.handle(discover(6), at("2001:db8::3", 40006), start);
  CHECK_FALSE(beacon.endpoint_of(6, start));
  register_node(beacon, 7, at("127.0.0.2", 40007));
  CHECK_EQ(beacon.stats().table_full, 2);
}

TEST_CASE("beacon rate-limits Discovers per source address") {
  beacon_config config;
  config.max_requests_per_second = 3;
  beacon_service beacon{config};
  auto source = at("127.0.0.1", 40001);
  for (std::uint32_t id = 1; id <= 3; ++id)
    CHECK_EQ(beacon.handle(discover(id), source, start).size(), 1);
  CHECK(beacon.handle(discover(4), source, start + 999ms).empty());
  CHECK(beacon.handle(punch_request(1, 2), source, start + 999ms).empty());
  CHECK_EQ(beacon.stats().rate_limited, 2);
  CHECK_FALSE(beacon.endpoint_of(4, start));
  // Another source, and the next second, are not limited.
  CHECK_EQ(beacon.handle(discover(4), at("127.0.0.2", 1), start).size(), 1);
  CHECK_EQ(beacon.handle(discover(5), source, start + 1s).size(), 1);
}

TEST_CASE("beacon rate-limit table is bounded") {
  beacon_config config;
  config.max_rate_sources = 2;
  beacon_service beacon{config};
  CHECK_EQ(beacon.handle(discover(1), at("127.0.0.1", 1), start).size(), 1);
  CHECK_EQ(beacon.handle(discover(2), at("127.0.0.2", 1), start).size(), 1);
  CHECK(beacon.handle(discover(3), at("127.0.0.3", 1), start).empty());
  CHECK_EQ(beacon.handle(discover(3), at("127.0.0.3", 1), start + 1s).size(),
           1);
}

TEST_CASE("beacon counts and drops invalid datagrams") {
  beacon_service beacon;
  auto source = at("127.0.0.1", 40001);
  CHECK(beacon.handle(bytes{}, source, start).empty());
  CHECK(beacon.handle(bytes{0x01, 0x00}, source, start).empty());
  CHECK(beacon.handle(bytes{0x02, 0x07, 0x00}, source, start).empty());
  CHECK_EQ(beacon.stats().malformed, 3);
  CHECK(beacon.handle(bytes{0x50, 0x49, 0x4c, 0x50}, source, start).empty());
  CHECK(beacon.handle(bytes{0x09}, source, start).empty());
  CHECK(beacon
            .handle(encode_beacon_message(beacon_relay_deliver{1, {1}}), source,
                    start)
            .empty());
  CHECK_EQ(beacon.stats().unexpected, 3);
  CHECK_EQ(beacon.stats().datagrams, 6);
  CHECK_EQ(beacon.node_count(), 0);
}

TEST_CASE("beacon survives random datagrams") {
  beacon_config config;
  config.peers = {at("127.0.0.1", 9102)};
  beacon_service beacon{config};
  std::uint32_t state = 0xC0FFEE;
  auto next = [&] {
    state = state * 1664525 + 1013904223;
    return static_cast<std::uint8_t>(state >> 24);
  };
  for (int i = 0; i < 5000; ++i) {
    bytes datagram(next() % 40);
    for (auto& byte : datagram)
      byte = next();
    if (!datagram.empty())
      datagram[0] %= 9;
    auto source = at(i % 2 ? "127.0.0.1" : "127.0.0.2", 9102);
    for (const auto& out : beacon.handle(datagram, source, start + i * 1ms))
      CHECK_FALSE(out.bytes.empty());
  }
  CHECK_EQ(beacon.stats().datagrams, 5000);
  CHECK(beacon.node_count() <= config.max_nodes);
}

TEST_CASE("beacon rejects more peers than the maximum") {
  beacon_config config;
  config.max_peers = 1;
  config.peers = {at("127.0.0.1", 9102), at("127.0.0.1", 9103)};
  CHECK_THROWS_AS(beacon_service{config}, std::invalid_argument);
}
