// Prints how fast the tunnel's peer table seals a packet on one side and
// opens it on the other, without sockets: the CPU cost of the encrypted
// tunnel per packet, on one thread. Payload sizes are the stream MSS (4096)
// and smaller packets. GB is 10^9 bytes of packet payload. Each row runs
// for about 0.5 s of wall time.

#include "actors/detail/tunnel_peers.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <vector>

namespace {

using namespace pilot;
using namespace pilot::actors::detail;
using clock_type = std::chrono::steady_clock;

constexpr auto min_duration = std::chrono::milliseconds{500};

udp_endpoint loopback(std::uint16_t port) {
  return {boost::asio::ip::make_address("127.0.0.1"), port};
}

template <class T>
T value_or_throw(protocol::result<T> result) {
  if (!result)
    throw std::runtime_error(result.error().message());
  return *result;
}

std::vector<std::uint8_t> wire_of(const tunnel_datagram& datagram) {
  std::vector<std::uint8_t> out(datagram.head_bytes().begin(),
                                datagram.head_bytes().end());
  out.insert(out.end(), datagram.body.begin(), datagram.body.end());
  return out;
}

// Brings up the tunnel from `a` (node 1) to `b` (node 2): carries the
// datagrams between them and resolves key lookups with the given keys.
void connect(tunnel_peers& a, const protocol::public_key& key_a,
             tunnel_peers& b, const protocol::public_key& key_b) {
  auto now = clock_type::now();
  tunnel_output out_a;
  tunnel_output out_b;
  a.add_peer(2, loopback(4002), now, out_a);
  for (int round = 0; round < 10; ++round) {
    for (auto& d : out_a.datagrams)
      b.receive(wire_of(d), loopback(4001), now, out_b);
    out_a.datagrams.clear();
    for (auto node : out_b.key_lookups)
      b.on_key_lookup(node, {key_lookup_status::found, key_a}, now, out_b);
    out_b.key_lookups.clear();
    for (auto& d : out_b.datagrams)
      a.receive(wire_of(d), loopback(4002), now, out_a);
    out_b.datagrams.clear();
    for (auto node : out_a.key_lookups)
      a.on_key_lookup(node, {key_lookup_status::found, key_b}, now, out_a);
    out_a.key_lookups.clear();
  }
  if (!a.peer(2) || !a.peer(2)->encrypted || !b.peer(1)
      || !b.peer(1)->encrypted)
    throw std::runtime_error("the tunnel did not come up");
}

std::vector<std::uint8_t> packet_of(std::size_t payload_size) {
  protocol::packet_header header;
  header.flags = protocol::flag_ack;
  header.src = {0, 1};
  header.dst = {0, 2};
  header.src_port = 49152;
  header.dst_port = 1000;
  std::vector<std::uint8_t> payload(payload_size, 0x5a);
  return value_or_throw(protocol::encode_packet(header, payload));
}

// Seals batches of 64 packets on `a` and opens them on `b` until
// `min_duration` has passed; returns packets per second.
double measure(tunnel_peers& a, tunnel_peers& b, std::size_t payload_size) {
  auto packet = packet_of(payload_size);
  tunnel_output out_a;
  tunnel_output out_b;
  std::size_t packets = 0;
  auto start = clock_type::now();
  auto elapsed = clock_type::duration{};
  std::vector<std::uint8_t> wire;
  while (elapsed < min_duration) {
    auto now = clock_type::now();
    for (int i = 0; i < 64; ++i)
      a.send(2, packet, now, out_a);
    for (const auto& d : out_a.datagrams) {
      wire.assign(d.head_bytes().begin(), d.head_bytes().end());
      wire.insert(wire.end(), d.body.begin(), d.body.end());
      b.receive(wire, loopback(4001), now, out_b);
    }
    if (out_b.packets.size() != out_a.datagrams.size())
      throw std::runtime_error("a packet did not arrive");
    packets += out_b.packets.size();
    out_a.clear();
    out_b.clear();
    elapsed = clock_type::now() - start;
  }
  return static_cast<double>(packets)
         / std::chrono::duration<double>(elapsed).count();
}

} // namespace

int main() {
  auto id_a = value_or_throw(protocol::identity::generate());
  auto id_b = value_or_throw(protocol::identity::generate());
  tunnel_peers a({}, id_a,
                 value_or_throw(protocol::x25519_key_pair::generate()));
  tunnel_peers b({}, id_b,
                 value_or_throw(protocol::x25519_key_pair::generate()));
  a.set_node_id(1);
  b.set_node_id(2);
  connect(a, id_a.public_key(), b, id_b.public_key());
  std::printf("%-14s %14s %12s\n", "payload bytes", "packets/s", "GB/s");
  for (std::size_t size : {64u, 512u, 1400u, 4096u}) {
    auto rate = measure(a, b, size);
    std::printf("%-14zu %14.0f %12.3f\n", size, rate,
                rate * static_cast<double>(size) / 1e9);
  }
}
