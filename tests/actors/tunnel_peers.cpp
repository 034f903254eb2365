#include "actors/detail/tunnel_peers.hpp"

#include "protocol/beacon_message.hpp"
#include "protocol/detail/big_endian.hpp"
#include "tests/actors/datagram_packet.hpp"
#include "tests/protocol/hex.hpp"
#include "tests/protocol/tunnel_vectors.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

using namespace pilot;
using namespace pilot::actors::detail;
using namespace std::chrono_literals;
using pilot::test::datagram_packet;
using pilot::test::from_hex;
using pilot::test::from_hex_array;
namespace vectors = pilot::test::vectors;
using bytes = std::vector<std::uint8_t>;

namespace {

const tunnel_time start{std::chrono::hours{1000}};

udp_endpoint at(std::string_view ip, std::uint16_t port) {
  return {boost::asio::ip::make_address(std::string{ip}), port};
}

const udp_endpoint endpoint_a = at("127.0.0.1", 4001);
const udp_endpoint endpoint_b = at("127.0.0.1", 4002);
const udp_endpoint beacon = at("127.0.0.1", 9001);
const udp_endpoint stranger = at("192.0.2.66", 5555);

protocol::identity identity_of(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed;
  seed.fill(fill);
  auto id = protocol::identity::from_seed(seed);
  REQUIRE(id.has_value());
  return *id;
}

// Node 1's identity is the RFC 8032 test key of the golden vectors.
protocol::identity node1_identity() {
  auto id = protocol::identity::from_seed(from_hex(vectors::ed25519_seed));
  REQUIRE(id.has_value());
  return *id;
}

protocol::x25519_key_pair x25519(std::string_view private_hex) {
  auto keys
      = protocol::x25519_key_pair::from_private_key(from_hex(private_hex));
  REQUIRE(keys.has_value());
  return *keys;
}

protocol::x25519_key_pair fresh_x25519() {
  auto keys = protocol::x25519_key_pair::generate();
  REQUIRE(keys.has_value());
  return *keys;
}

bytes datagram_bytes(const tunnel_datagram& datagram) {
  bytes out(datagram.head_bytes().begin(), datagram.head_bytes().end());
  out.insert(out.end(), datagram.body.begin(), datagram.body.end());
  return out;
}

std::string magic_of(const bytes& datagram) {
  return std::string(datagram.begin(), datagram.begin() + 4);
}

std::uint64_t counter_of(const bytes& pils) {
  return protocol::detail::load_big_endian<std::uint64_t>(
      std::span{pils}.subspan(12, 8));
}

template <class Event>
std::vector<Event> events_of(const std::vector<protocol::event>& events) {
  std::vector<Event> out;
  for (const auto& event : events)
    if (auto* e = std::get_if<Event>(&event))
      out.push_back(*e);
  return out;
}

/// One node under test with what it produced so far.
struct node {
  node(std::uint32_t id, udp_endpoint endpoint, protocol::identity identity,
       protocol::x25519_key_pair keys, tunnel_peers_config config = {})
      : id(id), endpoint(endpoint), identity(identity),
        peers(
            std::make_unique<tunnel_peers>(config, identity, std::move(keys))) {
    peers->set_node_id(id);
  }

  // Moves the contents of `out` into the records, except datagrams.
  void collect() {
    for (auto& event : out.events)
      events.push_back(std::move(event));
    for (auto& packet : out.packets)
      packets.push_back(std::move(packet));
    for (auto& dropped : out.drops)
      drops.push_back(dropped);
    out.events.clear();
    out.packets.clear();
    out.drops.clear();
  }

  std::size_t dropped(drop_reason reason) const {
    return static_cast<std::size_t>(
        std::count_if(drops.begin(), drops.end(),
                      [reason](const auto& d) { return d.reason == reason; }));
  }

  // Takes the datagrams sent so far.
  std::vector<tunnel_datagram> take_datagrams() {
    auto sent = std::move(out.datagrams);
    out.datagrams.clear();
    return sent;
  }

  void receive(const bytes& datagram, const udp_endpoint& source,
               tunnel_time now) {
    peers->receive(datagram, source, now, out);
    collect();
  }

  std::uint32_t id;
  udp_endpoint endpoint;
  protocol::identity identity;
  std::unique_ptr<tunnel_peers> peers;
  tunnel_output out;
  std::vector<protocol::event> events;
  std::vector<protocol::packet> packets;
  std::vector<dropped_frame> drops;
};

/// Two nodes on a lossless network and a registry of their keys. `pump`
/// carries datagrams between them and responds to key lookups until nothing
/// moves any more.
struct network {
  network(tunnel_peers_config config_a = {}, tunnel_peers_config config_b = {})
      : a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private),
          config_a),
        b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
          config_b) {
    registry[1] = a.identity.public_key();
    registry[2] = b.identity.public_key();
  }

  node* at_endpoint(const udp_endpoint& endpoint) {
    if (endpoint == a.endpoint)
      return &a;
    if (endpoint == b.endpoint)
      return &b;
    return nullptr;
  }

  void answer_lookups(node& n) {
    auto lookups = std::move(n.out.key_lookups);
    n.out.key_lookups.clear();
    for (auto id : lookups) {
      key_lookup_result result;
      if (auto key = registry.find(id); key != registry.end()) {
        result.status = key_lookup_status::found;
        result.key = key->second;
      } else {
        result.status = key_lookup_status::unknown_node;
      }
      n.peers->on_key_lookup(id, result, now, n.out);
    }
  }

  void pump() {
    for (int round = 0; round < 50; ++round) {
      bool moved = false;
      for (auto* from : {&a, &b}) {
        answer_lookups(*from);
        from->collect();
        for (auto& datagram : from->take_datagrams()) {
          auto wire = datagram_bytes(datagram);
          log.push_back({from->id, datagram.destination, wire});
          if (auto* to = at_endpoint(datagram.destination)) {
            to->peers->receive(wire, from->endpoint, now, to->out);
            moved = true;
          }
        }
      }
      if (!moved)
        return;
    }
    FAIL("the nodes never stopped sending");
  }

  // Brings up an authenticated tunnel from a to b.
  void connect() {
    a.peers->add_peer(b.id, b.endpoint, now, a.out);
    pump();
    REQUIRE(a.peers->peer(b.id)->encrypted);
    REQUIRE(b.peers->peer(a.id)->encrypted);
  }

  // Returns the datagrams a node sent, in order.
  std::vector<bytes> sent_by(std::uint32_t id) const {
    std::vector<bytes> out;
    for (const auto& entry : log)
      if (entry.from == id)
        out.push_back(entry.wire);
    return out;
  }

  struct log_entry {
    std::uint32_t from;
    udp_endpoint destination;
    bytes wire;
  };

  tunnel_time now = start;
  node a;
  node b;
  std::map<std::uint32_t, protocol::public_key> registry;
  std::vector<log_entry> log;
};

tunnel_peers_config with_beacon() {
  tunnel_peers_config config;
  config.beacon = beacon;
  return config;
}

} // namespace

// -- key exchange -------------------------------------------------------------

TEST_CASE("key exchange establishes an authenticated tunnel") {
  network net;
  net.connect();
  auto at_a = events_of<protocol::tunnel_established>(net.a.events);
  auto at_b = events_of<protocol::tunnel_established>(net.b.events);
  REQUIRE(at_a.size() == 1);
  CHECK(at_a[0].peer_node_id == 2);
  CHECK(at_a[0].authenticated);
  CHECK_FALSE(at_a[0].relay);
  CHECK_FALSE(at_a[0].rekeyed);
  // B accepts A's first key exchange and A's reply to B's.
  REQUIRE(at_b.size() == 2);
  CHECK(at_b[0].peer_node_id == 1);
  CHECK(at_b[0].authenticated);
  CHECK_FALSE(at_b[1].rekeyed);
  auto peer = net.b.peers->peer(1);
  REQUIRE(peer.has_value());
  CHECK(peer->authenticated);
  CHECK(peer->endpoint == "127.0.0.1:4001");
  // Only PILA frames went out.
  for (const auto& wire : net.sent_by(1))
    CHECK(magic_of(wire) == "PILA");
}

TEST_CASE("packets flow sealed once the tunnel is up") {
  network net;
  net.connect();
  auto packet = datagram_packet(1, 2, "hello");
  net.a.peers->send(2, packet, net.now, net.a.out);
  net.pump();
  REQUIRE(net.b.packets.size() == 1);
  CHECK(net.b.packets[0].header.src.node == 1);
  CHECK(net.b.packets[0].payload == bytes{'h', 'e', 'l', 'l', 'o'});
  CHECK(magic_of(net.sent_by(1).back()) == "PILS");
  net.b.peers->send(1, datagram_packet(2, 1, "back"), net.now, net.b.out);
  net.pump();
  REQUIRE(net.a.packets.size() == 1);
  CHECK(net.a.packets[0].header.src.node == 2);
}

TEST_CASE("the reference vectors establish a tunnel and open") {
  // Node 2 has Bob's X25519 key; node 1's frames are the golden vectors.
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  b.receive(from_hex(vectors::pila), endpoint_a, start);
  REQUIRE(b.out.key_lookups == std::vector<std::uint32_t>{1});
  key_lookup_result registered{key_lookup_status::found,
                               node1_identity().public_key()};
  b.peers->on_key_lookup(1, registered, start, b.out);
  b.collect();
  REQUIRE(events_of<protocol::tunnel_established>(b.events).size() == 1);
  // B replies to a new peer with its own key exchange.
  auto answer = b.take_datagrams();
  REQUIRE(answer.size() == 1);
  CHECK(answer[0].destination == endpoint_a);
  CHECK(magic_of(datagram_bytes(answer[0])) == "PILA");
  b.receive(from_hex(vectors::pils), endpoint_a, start);
  REQUIRE(b.packets.size() == 1);
  auto syn = protocol::decode_packet(from_hex(vectors::syn));
  REQUIRE(syn.has_value());
  CHECK(b.packets[0] == *syn);
}

TEST_CASE("a forged key exchange is rejected") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  key_lookup_result registered{key_lookup_status::found,
                               node1_identity().public_key()};
  b.peers->on_key_lookup(1, registered, start, b.out);
  SUBCASE("a bad signature") {
    auto forged = from_hex(vectors::pila);
    forged.back() ^= 0x01;
    b.receive(forged, stranger, start);
  }
  SUBCASE("another identity key") {
    auto other = identity_of(0x07);
    auto frame = protocol::sign_key_exchange(
        other, 1, x25519(vectors::alice_private).public_key());
    REQUIRE(frame.has_value());
    b.receive(protocol::encode_tunnel_frame(*frame), stranger, start);
    // The key was fetched just now, so it is not fetched again.
    CHECK(b.out.key_lookups.empty());
  }
  CHECK(b.dropped(drop_reason::forged) == 1);
  CHECK(b.events.empty());
  CHECK_FALSE(b.peers->peer(1).has_value());
  CHECK(b.take_datagrams().empty());
}

TEST_CASE("a rotated identity key is fetched again") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  key_lookup_result old_key{key_lookup_status::found,
                            identity_of(0x07).public_key()};
  b.peers->on_key_lookup(1, old_key, start, b.out);
  auto later = start + 61s;
  b.receive(from_hex(vectors::pila), endpoint_a, later);
  REQUIRE(b.out.key_lookups == std::vector<std::uint32_t>{1});
  key_lookup_result rotated{key_lookup_status::found,
                            node1_identity().public_key()};
  b.peers->on_key_lookup(1, rotated, later, b.out);
  b.collect();
  CHECK(events_of<protocol::tunnel_established>(b.events).size() == 1);
}

TEST_CASE("a repeated key exchange keeps the send counter") {
  network net;
  net.connect();
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  auto before = counter_of(net.sent_by(1).back());
  // B's key exchange arrives again, as a duplicate or a replay.
  auto b_pila = net.sent_by(2).front();
  net.a.receive(b_pila, net.b.endpoint, net.now + 1s);
  auto again = events_of<protocol::tunnel_established>(net.a.events);
  REQUIRE(again.size() == 2);
  CHECK_FALSE(again[1].rekeyed);
  // Nothing is sent back for an unchanged key.
  CHECK(net.a.take_datagrams().empty());
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  CHECK(counter_of(net.sent_by(1).back()) == before + 1);
  CHECK(net.b.packets.size() == 3);
  CHECK(net.b.dropped(drop_reason::replayed) == 0);
}

TEST_CASE("a repeated key exchange from elsewhere moves no endpoint") {
  network net;
  net.connect();
  auto b_pila = net.sent_by(2).front();
  net.a.receive(b_pila, stranger, net.now + 1s);
  CHECK(net.a.peers->peer(2)->endpoint == "127.0.0.1:4002");
}

TEST_CASE("the registry's endpoint replaces a stale learned one") {
  network net;
  net.connect();
  auto moved = udp_endpoint{boost::asio::ip::make_address("127.0.0.1"), 4999};
  // While B is heard from, the endpoint its frames came from wins.
  CHECK(net.a.peers->recently_heard(2, net.now + 1s));
  net.a.peers->add_peer(2, moved, net.now + 1s, net.a.out);
  CHECK(net.a.peers->peer(2)->endpoint == "127.0.0.1:4002");
  // After a silence B may have restarted elsewhere: the registry wins.
  auto later = net.now + 31s;
  CHECK_FALSE(net.a.peers->recently_heard(2, later));
  net.a.peers->add_peer(2, moved, later, net.a.out);
  CHECK(net.a.peers->peer(2)->endpoint == "127.0.0.1:4999");
}

TEST_CASE("a restarted peer rekeys and is answered") {
  network net;
  net.connect();
  auto old_b_pila = net.sent_by(2).front();
  // B restarts with a new X25519 key and the same identity.
  net.b.peers = std::make_unique<tunnel_peers>(tunnel_peers_config{},
                                               net.b.identity, fresh_x25519());
  net.b.peers->set_node_id(2);
  net.b.peers->add_peer(1, net.a.endpoint, net.now, net.b.out);
  net.pump();
  auto at_a = events_of<protocol::tunnel_established>(net.a.events);
  // The new key, then B's answer to ours, which repeats it.
  REQUIRE(at_a.size() == 3);
  CHECK(at_a[1].rekeyed);
  CHECK_FALSE(at_a[2].rekeyed);
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  CHECK(net.b.packets.size() == 1);
  // The key B used before its restart is retired for good.
  net.a.receive(old_b_pila, stranger, net.now + 1s);
  CHECK(net.a.dropped(drop_reason::retired_key) == 1);
}

TEST_CASE("a replayed key exchange cannot cut a tunnel") {
  network net;
  // Anyone can get A's key exchange (A sends it to every sender of a frame
  // it cannot open) and replay it to B before A and B have talked.
  net.a.peers->add_peer(2, net.b.endpoint, net.now, net.a.out);
  auto captured = net.a.take_datagrams();
  REQUIRE(captured.size() == 1);
  net.b.receive(datagram_bytes(captured[0]), stranger, net.now);
  net.answer_lookups(net.b);
  net.b.collect();
  REQUIRE(net.b.peers->peer(1)->encrypted);
  // B's answer went to the replayer, so A still lacks B's key. A's own key
  // exchange repeats the one B holds, and B must answer it.
  net.b.take_datagrams();
  net.now += 3s;
  net.a.peers->send(2, datagram_packet(1, 2, "through"), net.now, net.a.out);
  net.pump();
  REQUIRE(net.b.packets.size() == 1);
  CHECK(net.b.packets[0].payload == bytes({'t', 'h', 'r', 'o', 'u', 'g', 'h'}));
  CHECK(net.b.peers->peer(1)->endpoint == "127.0.0.1:4001");
}

TEST_CASE("repeated key exchanges get few answers") {
  network net;
  net.connect();
  auto a_pila = net.sent_by(1).front();
  // A peer whose sealed frames arrive has our key: no answer.
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  net.b.receive(a_pila, net.a.endpoint, net.now + 500ms);
  CHECK(net.b.take_datagrams().empty());
  // Later, one answer per interval however many repeats arrive.
  for (int i = 0; i < 5; ++i)
    net.b.receive(a_pila, net.a.endpoint, net.now + 3s);
  CHECK(net.b.take_datagrams().size() == 1);
}

TEST_CASE("PILK from a registered node gets PILA") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  key_lookup_result registered{key_lookup_status::found,
                               node1_identity().public_key()};
  b.peers->on_key_lookup(1, registered, start, b.out);
  b.receive(from_hex(vectors::pilk), endpoint_a, start);
  CHECK(b.dropped(drop_reason::unauthenticated_key_exchange) == 1);
  CHECK_FALSE(b.peers->peer(1).has_value());
  auto answer = b.take_datagrams();
  REQUIRE(answer.size() == 1);
  CHECK(magic_of(datagram_bytes(answer[0])) == "PILA");
}

TEST_CASE("PILK from an unregistered node is accepted") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  b.receive(from_hex(vectors::pilk), endpoint_a, start);
  b.peers->on_key_lookup(1, {key_lookup_status::unknown_node, {}}, start,
                         b.out);
  b.collect();
  auto established = events_of<protocol::tunnel_established>(b.events);
  REQUIRE(established.size() == 1);
  CHECK_FALSE(established[0].authenticated);
  CHECK_FALSE(b.peers->peer(1)->authenticated);
}

// -- lookups ------------------------------------------------------------------

TEST_CASE("a failed lookup is remembered for a while") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  auto pila = from_hex(vectors::pila);
  b.receive(pila, endpoint_a, start);
  REQUIRE(b.out.key_lookups.size() == 1);
  b.out.key_lookups.clear();
  b.peers->on_key_lookup(1, {key_lookup_status::unavailable, {}}, start, b.out);
  b.collect();
  CHECK(b.dropped(drop_reason::key_unavailable) == 1);
  b.receive(pila, endpoint_a, start + 1s);
  CHECK(b.out.key_lookups.empty());
  CHECK(b.dropped(drop_reason::key_unavailable) == 2);
  b.receive(pila, endpoint_a, start + 6s);
  CHECK(b.out.key_lookups.size() == 1);
}

TEST_CASE("lookups in flight are bounded") {
  tunnel_peers_config config;
  config.limits.max_key_lookups = 2;
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
         config);
  for (std::uint32_t id : {11u, 12u, 13u}) {
    auto frame = protocol::sign_key_exchange(identity_of(0x10), id,
                                             fresh_x25519().public_key());
    REQUIRE(frame.has_value());
    b.receive(protocol::encode_tunnel_frame(*frame), endpoint_a, start);
  }
  CHECK(b.out.key_lookups == std::vector<std::uint32_t>{11, 12});
  CHECK(b.dropped(drop_reason::lookup_busy) == 1);
  // A lookup that never gets an answer frees its place eventually.
  auto frame = protocol::sign_key_exchange(identity_of(0x10), 13,
                                           fresh_x25519().public_key());
  b.receive(protocol::encode_tunnel_frame(*frame), endpoint_a, start + 31s);
  CHECK(b.out.key_lookups.back() == 13);
}

TEST_CASE("key exchanges of one peer are rate-limited") {
  network net;
  net.connect();
  auto b_pila = net.sent_by(2).front();
  for (int i = 0; i < 20; ++i)
    net.a.receive(b_pila, net.b.endpoint, net.now);
  CHECK(net.a.dropped(drop_reason::rate_limited) > 0);
  CHECK(events_of<protocol::tunnel_established>(net.a.events).size() < 12);
}

TEST_CASE("forged key exchanges spend no peer's budget") {
  network net;
  net.connect();
  // Anyone may send frames that claim node 2 but carry another signature.
  auto forged = protocol::sign_key_exchange(identity_of(0x07), 2,
                                            fresh_x25519().public_key());
  REQUIRE(forged.has_value());
  auto wire = protocol::encode_tunnel_frame(*forged);
  for (int i = 0; i < 20; ++i)
    net.a.receive(wire, stranger, net.now);
  CHECK(net.a.dropped(drop_reason::forged) == 20);
  // B restarts with a new X25519 key, and A still takes it.
  net.b.peers = std::make_unique<tunnel_peers>(tunnel_peers_config{},
                                               net.b.identity, fresh_x25519());
  net.b.peers->set_node_id(2);
  net.b.peers->add_peer(1, net.a.endpoint, net.now, net.b.out);
  net.pump();
  CHECK(net.a.dropped(drop_reason::rate_limited) == 0);
  auto at_a = events_of<protocol::tunnel_established>(net.a.events);
  CHECK(std::any_of(at_a.begin(), at_a.end(),
                    [](const auto& e) { return e.rekeyed; }));
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  CHECK(net.b.packets.size() == 1);
}

// -- pending queue ------------------------------------------------------------

TEST_CASE("packets wait for the key exchange, never in plaintext") {
  network net;
  net.a.peers->add_peer(2, net.b.endpoint, net.now, net.a.out);
  net.a.peers->send(2, datagram_packet(1, 2, "early"), net.now, net.a.out);
  CHECK(net.a.peers->pending_packets(2) == 1);
  auto first = net.a.take_datagrams();
  // One key exchange: the second is within the minimum interval.
  REQUIRE(first.size() == 1);
  CHECK(magic_of(datagram_bytes(first[0])) == "PILA");
  net.a.out.datagrams = std::move(first);
  net.pump();
  CHECK(net.a.peers->pending_packets(2) == 0);
  REQUIRE(net.b.packets.size() == 1);
  CHECK(net.b.packets[0].payload == bytes{'e', 'a', 'r', 'l', 'y'});
  for (const auto& wire : net.sent_by(1))
    CHECK(magic_of(wire) != "PILT");
}

TEST_CASE("the pending queue keeps the newest 64 packets") {
  network net;
  net.a.peers->add_peer(2, net.b.endpoint, net.now, net.a.out);
  for (int i = 0; i < 70; ++i)
    net.a.peers->send(2, datagram_packet(1, 2, std::to_string(i)), net.now,
                      net.a.out);
  CHECK(net.a.peers->pending_packets(2) == 64);
  net.pump();
  CHECK(net.a.dropped(drop_reason::queue_full) == 6);
  REQUIRE(net.b.packets.size() == 64);
  CHECK(net.b.packets.front().payload == bytes{'6'});
  CHECK(net.b.packets.back().payload == bytes{'6', '9'});
}

TEST_CASE("only a bounded number of peers have queues") {
  tunnel_peers_config config;
  config.limits.max_pending_peers = 2;
  node a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private),
         config);
  for (std::uint32_t id : {2u, 3u, 4u}) {
    a.peers->add_peer(id,
                      at("127.0.0.1", static_cast<std::uint16_t>(5000 + id)),
                      start, a.out);
    a.peers->send(id, datagram_packet(1, id), start, a.out);
  }
  a.collect();
  CHECK(a.peers->pending_packets(2) == 1);
  CHECK(a.peers->pending_packets(3) == 1);
  CHECK(a.peers->pending_packets(4) == 0);
  CHECK(a.dropped(drop_reason::queue_full) == 1);
}

TEST_CASE("a packet to an unknown peer is dropped") {
  node a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private));
  a.peers->send(9, datagram_packet(1, 9), start, a.out);
  a.collect();
  CHECK(a.dropped(drop_reason::no_route) == 1);
  CHECK(a.take_datagrams().empty());
}

// -- replay protection --------------------------------------------------------

TEST_CASE("a replayed frame raises security.nonce_replay") {
  network net;
  net.connect();
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  auto frame = net.sent_by(1).back();
  net.b.receive(frame, net.a.endpoint, net.now);
  CHECK(net.b.packets.size() == 1);
  CHECK(net.b.dropped(drop_reason::replayed) == 1);
  auto replays = events_of<protocol::security_nonce_replay>(net.b.events);
  REQUIRE(replays.size() == 1);
  CHECK(replays[0].peer_node_id == 1);
  CHECK(replays[0].counter == counter_of(frame));
}

TEST_CASE("a forged frame with a huge counter moves no window") {
  network net;
  net.connect();
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  auto forged = net.sent_by(1).back();
  protocol::detail::store_big_endian(std::span{forged}.subspan(12, 8),
                                     std::uint64_t{1} << 40);
  net.b.receive(forged, net.a.endpoint, net.now);
  CHECK(net.b.dropped(drop_reason::forged) == 1);
  CHECK(events_of<protocol::security_nonce_replay>(net.b.events).empty());
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  CHECK(net.b.packets.size() == 2);
}

TEST_CASE("a forged replay raises no event") {
  network net;
  net.connect();
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  auto forged = net.sent_by(1).back();
  forged.back() ^= 0x01; // Same counter, broken tag.
  net.b.receive(forged, net.a.endpoint, net.now);
  CHECK(net.b.dropped(drop_reason::forged) == 1);
  CHECK(events_of<protocol::security_nonce_replay>(net.b.events).empty());
}

TEST_CASE("a new nonce prefix retires the old one") {
  // Node 1 seals with sessions of its own under the vectors' tunnel key, as
  // a reference peer does after each key exchange it accepts.
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  b.receive(from_hex(vectors::pila), endpoint_a, start);
  b.peers->on_key_lookup(
      1, {key_lookup_status::found, node1_identity().public_key()}, start,
      b.out);
  b.collect();
  protocol::secret_bytes key{
      from_hex_array<protocol::secret_bytes::size>(vectors::tunnel_key)};
  protocol::tunnel_session first{key, {1, 1, 1, 1}};
  protocol::tunnel_session second{key, {2, 2, 2, 2}};
  auto seal = [](protocol::tunnel_session& session) {
    auto frame = session.seal(1, datagram_packet(1, 2));
    REQUIRE(frame.has_value());
    return protocol::encode_tunnel_frame(*frame);
  };
  auto old_frames = std::vector{seal(first), seal(first), seal(first)};
  b.receive(old_frames[0], endpoint_a, start);
  b.receive(old_frames[1], endpoint_a, start);
  b.receive(seal(second), endpoint_a, start);
  CHECK(b.packets.size() == 3);
  // The rest of the first session is old: its counter 3 is above the new
  // window, yet its prefix is retired.
  b.receive(old_frames[2], endpoint_a, start);
  CHECK(b.packets.size() == 3);
  CHECK(b.dropped(drop_reason::replayed) == 1);
  auto replays = events_of<protocol::security_nonce_replay>(b.events);
  REQUIRE(replays.size() == 1);
  CHECK(replays[0].counter == 3);
  b.receive(seal(second), endpoint_a, start);
  CHECK(b.packets.size() == 4);
}

// -- packet checks ------------------------------------------------------------

TEST_CASE("a decrypted packet from another source is dropped") {
  network net;
  net.connect();
  net.a.peers->send(2, datagram_packet(3, 2), net.now, net.a.out);
  net.pump();
  CHECK(net.b.packets.empty());
  CHECK(net.b.dropped(drop_reason::sender_mismatch) == 1);
}

TEST_CASE("a packet for another node is dropped") {
  network net;
  net.connect();
  net.a.peers->send(2, datagram_packet(1, 5), net.now, net.a.out);
  net.pump();
  CHECK(net.b.packets.empty());
  CHECK(net.b.dropped(drop_reason::wrong_destination) == 1);
}

TEST_CASE("plaintext from a peer with a session is rejected") {
  network net;
  net.connect();
  auto plaintext = protocol::encode_plaintext_frame(datagram_packet(1, 2));
  net.b.receive(plaintext, net.a.endpoint, net.now);
  CHECK(net.b.packets.empty());
  CHECK(net.b.dropped(drop_reason::plaintext_rejected) == 1);
}

TEST_CASE("plaintext stays rejected after eviction") {
  tunnel_peers_config small;
  small.limits.max_peers = 1;
  network net{{}, small};
  net.connect();
  // A new peer evicts node 1 from B's table, session and all.
  net.b.peers->add_peer(3, at("127.0.0.1", 5003), net.now + 1s, net.b.out);
  REQUIRE_FALSE(net.b.peers->peer(1).has_value());
  net.b.receive(protocol::encode_plaintext_frame(datagram_packet(1, 2)),
                net.a.endpoint, net.now + 2s);
  CHECK(net.b.packets.empty());
  CHECK(net.b.dropped(drop_reason::plaintext_rejected) == 1);
}

TEST_CASE("plaintext from an unknown peer is rejected") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  b.receive(protocol::encode_plaintext_frame(datagram_packet(1, 2)), endpoint_a,
            start);
  CHECK(b.packets.empty());
  CHECK(b.dropped(drop_reason::plaintext_rejected) == 1);
  CHECK_FALSE(b.peers->peer(1).has_value());
  CHECK(b.events.empty());
}

TEST_CASE("plaintext mode raises peer_added once") {
  tunnel_peers_config plaintext;
  plaintext.encrypt = false;
  network net{plaintext, plaintext};
  net.a.peers->add_peer(2, net.b.endpoint, net.now, net.a.out);
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  net.pump();
  CHECK(magic_of(net.sent_by(1).front()) == "PILT");
  CHECK(net.b.packets.size() == 2);
  auto added = events_of<protocol::tunnel_peer_added>(net.b.events);
  REQUIRE(added.size() == 1);
  CHECK(added[0].peer_node_id == 1);
  CHECK(added[0].endpoint == "127.0.0.1:4001");
  // Key exchanges are ignored without encryption.
  net.b.receive(from_hex(vectors::pila), net.a.endpoint, net.now);
  CHECK(net.b.dropped(drop_reason::encryption_off) == 1);
}

TEST_CASE("garbage datagrams are counted and dropped") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  b.receive({}, stranger, start);
  b.receive({'P', 'I', 'L'}, stranger, start);
  b.receive({'X', 'Y', 'Z', 'W', 1, 2, 3}, stranger, start);
  b.receive({'P', 'I', 'L', 'S', 0, 0, 0, 1}, stranger, start);
  CHECK(b.dropped(drop_reason::empty) == 1);
  CHECK(b.dropped(drop_reason::malformed) == 3);
  CHECK(b.peers->stats().total_dropped() == 4);
  CHECK(b.peers->summary().frames_dropped == 4);
}

TEST_CASE("frames before our node ID is known are dropped") {
  tunnel_peers peers{{}, identity_of(0x42), x25519(vectors::bob_private)};
  tunnel_output out;
  peers.receive(from_hex(vectors::pila), endpoint_a, start, out);
  CHECK(out.key_lookups.empty());
  CHECK(peers.stats().dropped(drop_reason::not_ready) == 1);
}

// -- recovery -----------------------------------------------------------------

TEST_CASE("a sessionless frame gets our key exchange") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  auto pils = from_hex(vectors::pils);
  b.receive(pils, endpoint_a, start);
  CHECK(b.dropped(drop_reason::no_session) == 1);
  auto answer = b.take_datagrams();
  REQUIRE(answer.size() == 1);
  CHECK(answer[0].destination == endpoint_a);
  CHECK(magic_of(datagram_bytes(answer[0])) == "PILA");
  // At most one answer per node every two seconds.
  b.receive(pils, endpoint_a, start + 1s);
  CHECK(b.take_datagrams().empty());
  b.receive(pils, endpoint_a, start + 3s);
  CHECK(b.take_datagrams().size() == 1);
}

// -- beacon and relay ---------------------------------------------------------

TEST_CASE("beacon messages from another address are ignored") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
         with_beacon());
  auto deliver = protocol::encode_beacon_message(
      protocol::beacon_relay_deliver{1, from_hex(vectors::pila)});
  b.receive(deliver, stranger, start);
  auto command = protocol::encode_beacon_message(
      protocol::beacon_punch_command{{stranger.address(), stranger.port()}});
  b.receive(command, stranger, start);
  CHECK(b.dropped(drop_reason::beacon_impostor) == 2);
  CHECK(b.out.key_lookups.empty());
  CHECK(b.take_datagrams().empty());
  CHECK(b.events.empty());
}

TEST_CASE("beacon messages need a configured beacon") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private));
  auto command = protocol::encode_beacon_message(
      protocol::beacon_punch_command{{stranger.address(), stranger.port()}});
  b.receive(command, beacon, start);
  CHECK(b.dropped(drop_reason::beacon_impostor) == 1);
}

TEST_CASE("a punch command sends three punch packets") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
         with_beacon());
  auto command = protocol::encode_beacon_message(
      protocol::beacon_punch_command{{stranger.address(), stranger.port()}});
  b.receive(command, beacon, start);
  auto punches = b.take_datagrams();
  REQUIRE(punches.size() == 3);
  for (const auto& punch : punches) {
    CHECK(punch.destination == stranger);
    CHECK(datagram_bytes(punch) == bytes{'P', 'I', 'L', 'P'});
  }
}

TEST_CASE("a relayed key exchange activates the relay once") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
         with_beacon());
  b.peers->on_key_lookup(
      1, {key_lookup_status::found, node1_identity().public_key()}, start,
      b.out);
  auto relayed = [](const bytes& frame) {
    return protocol::encode_beacon_message(
        protocol::beacon_relay_deliver{1, frame});
  };
  b.receive(relayed(from_hex(vectors::pila)), beacon, start);
  REQUIRE(b.events.size() == 2);
  auto* activated = std::get_if<protocol::tunnel_relay_activated>(&b.events[0]);
  REQUIRE(activated != nullptr);
  CHECK(activated->peer_node_id == 1);
  auto* established = std::get_if<protocol::tunnel_established>(&b.events[1]);
  REQUIRE(established != nullptr);
  CHECK(established->relay);
  CHECK(b.peers->peer(1)->relay);
  // The answer goes through the beacon, wrapped as a Relay.
  auto answer = b.take_datagrams();
  REQUIRE(answer.size() == 1);
  CHECK(answer[0].destination == beacon);
  auto wire = datagram_bytes(answer[0]);
  auto decoded = protocol::decode_beacon_message(wire);
  REQUIRE(decoded.has_value());
  auto* relay = std::get_if<protocol::beacon_relay>(&*decoded);
  REQUIRE(relay != nullptr);
  CHECK(relay->sender_id == 2);
  CHECK(relay->dest_id == 1);
  CHECK(magic_of(relay->payload) == "PILA");
  // Data through the relay raises no second activation.
  b.receive(relayed(from_hex(vectors::pils)), beacon, start);
  CHECK(b.packets.size() == 1);
  CHECK(events_of<protocol::tunnel_relay_activated>(b.events).size() == 1);
}

TEST_CASE("a relayed frame from another sender is dropped") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
         with_beacon());
  auto deliver = protocol::encode_beacon_message(
      protocol::beacon_relay_deliver{7, from_hex(vectors::pila)});
  b.receive(deliver, beacon, start);
  CHECK(b.dropped(drop_reason::sender_mismatch) == 1);
  CHECK(b.events.empty());
  CHECK_FALSE(b.peers->peer(7).has_value());
}

TEST_CASE("an unauthenticated relayed frame activates no relay") {
  node b(2, endpoint_b, identity_of(0x42), x25519(vectors::bob_private),
         with_beacon());
  auto deliver = protocol::encode_beacon_message(
      protocol::beacon_relay_deliver{1, from_hex(vectors::pils)});
  b.receive(deliver, beacon, start);
  CHECK(b.dropped(drop_reason::no_session) == 1);
  CHECK(events_of<protocol::tunnel_relay_activated>(b.events).empty());
}

TEST_CASE("use_relay sends through the beacon without an event") {
  network net{with_beacon(), with_beacon()};
  net.connect();
  CHECK(net.a.peers->use_relay(2, net.now, net.a.out));
  net.a.peers->send(2, datagram_packet(1, 2), net.now, net.a.out);
  auto sent = net.a.take_datagrams();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].destination == beacon);
  CHECK(sent[0].head[0] == 0x05);
  net.a.collect();
  CHECK(net.a.events.size() == 1); // Only the earlier tunnel.established.
}

TEST_CASE("use_relay needs a beacon") {
  node a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private));
  CHECK_FALSE(a.peers->use_relay(2, start, a.out));
}

TEST_CASE("discover and punch requests carry our node ID") {
  node a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private),
         with_beacon());
  a.peers->discover(a.out);
  a.peers->request_punch(2, a.out);
  auto sent = a.take_datagrams();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].destination == beacon);
  CHECK(datagram_bytes(sent[0]) == bytes{0x01, 0, 0, 0, 1});
  CHECK(datagram_bytes(sent[1]) == bytes{0x03, 0, 0, 0, 1, 0, 0, 0, 2});
}

TEST_CASE("a discover reply records our observed endpoint") {
  node a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private),
         with_beacon());
  auto reply = protocol::encode_beacon_message(
      protocol::beacon_discover_reply{{stranger.address(), stranger.port()}});
  a.receive(reply, beacon, start);
  REQUIRE(a.peers->observed_endpoint().has_value());
  CHECK(*a.peers->observed_endpoint() == stranger);
  CHECK(a.peers->stats().observed_endpoint_changes == 1);
  // The same endpoint again is no change.
  a.receive(reply, beacon, start);
  CHECK(a.peers->stats().observed_endpoint_changes == 1);
}

// -- table bounds -------------------------------------------------------------

TEST_CASE("a full table evicts unauthenticated peers first") {
  tunnel_peers_config small;
  small.limits.max_peers = 2;
  network net{small, {}};
  net.connect();
  // PILKs from nodes the registry does not know install unauthenticated
  // sessions, which must not push out the authenticated peer B.
  auto later = net.now + 1s;
  for (std::uint32_t id : {7u, 8u, 9u}) {
    protocol::key_exchange_frame pilk{id, fresh_x25519().public_key()};
    net.a.receive(protocol::encode_tunnel_frame(pilk), stranger, later);
    net.a.peers->on_key_lookup(id, {key_lookup_status::unknown_node, {}}, later,
                               net.a.out);
    later += 1s;
  }
  CHECK(net.a.peers->size() == 2);
  CHECK(net.a.peers->peer(2).has_value());
  CHECK_FALSE(net.a.peers->peer(7).has_value());
  CHECK_FALSE(net.a.peers->peer(8).has_value());
  CHECK(net.a.peers->peer(9).has_value());
}

TEST_CASE("a full peer table evicts the idlest peer") {
  tunnel_peers_config config;
  config.limits.max_peers = 2;
  node a(1, endpoint_a, node1_identity(), x25519(vectors::alice_private),
         config);
  a.peers->add_peer(2, at("127.0.0.1", 5002), start, a.out);
  a.peers->add_peer(3, at("127.0.0.1", 5003), start + 1s, a.out);
  a.peers->send(2, datagram_packet(1, 2), start + 2s, a.out);
  a.peers->add_peer(4, at("127.0.0.1", 5004), start + 3s, a.out);
  CHECK(a.peers->size() == 2);
  CHECK(a.peers->peer(2).has_value());
  CHECK_FALSE(a.peers->peer(3).has_value());
  CHECK(a.peers->peer(4).has_value());
}
