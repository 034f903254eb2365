#include "actors/connection_actor.hpp"

#include "actors/detail/stream_connection.hpp"
#include "actors/error.hpp"
#include "protocol/address.hpp"
#include "protocol/events.hpp"
#include "protocol/ipc.hpp"
#include "protocol/packet.hpp"
#include "tests/actors/actor_test_support.hpp"

#include <doctest/doctest.h>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using namespace pilot::actors;
using namespace pilot::test;
namespace protocol = pilot::protocol;

namespace {

constexpr protocol::address node_a{0, 1};
constexpr protocol::address node_b{0, 2};

// -- the packet path ----------------------------------------------------------

/// What the test relay does and saw. It replaces the tunnels of both
/// nodes: each packet goes to the connection actor of its destination node.
struct relay_record {
  std::map<std::uint32_t, connection_actor> nodes;
  /// Every packet handed to the relay, decoded, in order.
  std::vector<protocol::packet> sent;
  /// Number of `transmit` messages.
  std::size_t batches = 0;
  std::vector<std::uint32_t> relay_requests;
  std::set<std::uint32_t> unreachable;
  /// Packets for which this returns true are lost.
  std::function<bool(const protocol::packet&)> lose;
};

using relay_pointer = std::shared_ptr<relay_record>;

packet_transmit_actor::behavior_type test_relay(relay_pointer record) {
  return {
      [record](transmit_atom, std::vector<outbound_packet>& batch) {
        ++record->batches;
        std::map<std::uint32_t, std::vector<protocol::packet>> by_node;
        for (auto& out : batch) {
          auto pkt = protocol::decode_packet(out.bytes);
          CHECK(pkt.has_value());
          if (!pkt)
            continue;
          CHECK(pkt->header.dst.node == out.node);
          record->sent.push_back(*pkt);
          if (record->lose && record->lose(*pkt))
            continue;
          by_node[out.node].push_back(std::move(*pkt));
        }
        for (auto& [node, packets] : by_node)
          if (auto i = record->nodes.find(node); i != record->nodes.end())
            caf::anon_send(i->second, deliver_atom_v, std::move(packets));
      },
      [record](ensure_peer_atom, std::uint32_t node) -> caf::result<bool> {
        if (record->unreachable.contains(node))
          return make_error(errc::registry_unavailable,
                            "resolve node " + std::to_string(node)
                                + ": node not found");
        return true;
      },
      [record](use_relay_atom, std::uint32_t node) {
        record->relay_requests.push_back(node);
      },
  };
}

// -- IPC clients --------------------------------------------------------------

/// The frames pushed to one IPC client. While `hold` is set, the `written`
/// callbacks wait in `unwritten`, as if the client did not read.
struct client_record {
  std::uint64_t id = 0;
  std::vector<protocol::ipc_frame> frames;
  bool hold = false;
  std::vector<std::function<void()>> unwritten;

  std::vector<protocol::ipc_frame> of(protocol::ipc_command command) const {
    std::vector<protocol::ipc_frame> result;
    for (auto& frame : frames)
      if (frame.command == command)
        result.push_back(frame);
    return result;
  }

  /// Returns the data of every Recv push of connection `conn_id`, joined.
  std::string received(std::uint32_t conn_id) const {
    std::string data;
    for (auto& frame : of(protocol::ipc_command::recv)) {
      auto decoded = protocol::decode_conn_data(frame.payload);
      REQUIRE(decoded.has_value());
      if (decoded->conn_id == conn_id)
        data += decoded->data;
    }
    return data;
  }

  std::vector<protocol::accept_push> accepts() const {
    std::vector<protocol::accept_push> result;
    for (auto& frame : of(protocol::ipc_command::accept)) {
      auto decoded = protocol::decode_accept(frame.payload);
      REQUIRE(decoded.has_value());
      result.push_back(*decoded);
    }
    return result;
  }

  std::vector<std::uint32_t> close_oks() const {
    std::vector<std::uint32_t> result;
    for (auto& frame : of(protocol::ipc_command::close_ok))
      result.push_back(protocol::decode_conn_id(frame.payload).value());
    return result;
  }
};

using client_pointer = std::shared_ptr<client_record>;

client_pointer new_client(std::uint64_t id) {
  auto record = std::make_shared<client_record>();
  record->id = id;
  return record;
}

ipc_client make_client(const client_pointer& record) {
  return {record->id, [record](std::string frame, std::function<void()> done) {
            protocol::ipc_frame_decoder decoder;
            decoder.feed(frame);
            auto decoded = decoder.next();
            REQUIRE(decoded.has_value());
            REQUIRE(decoded->has_value());
            CHECK(decoder.buffered() == 0);
            record->frames.push_back(std::move(**decoded));
            if (!done)
              return;
            if (record->hold)
              record->unwritten.push_back(std::move(done));
            else
              done();
          }};
}

// -- fixture ------------------------------------------------------------------

template <class T>
using answer_slot = std::shared_ptr<std::optional<caf::expected<T>>>;

node_info registered_as(protocol::address addr) {
  node_info info;
  info.registered = true;
  info.node_id = addr.node;
  info.address = protocol::to_string(addr);
  return info;
}

std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

struct fixture : deterministic_system {
  fixture() {
    relay = sys.spawn(test_relay, record);
    sink_a = sys.spawn(recording_sink, events_a);
    sink_b = sys.spawn(recording_sink, events_b);
  }

  ~fixture() {
    for (auto& hdl : {a, b})
      if (hdl)
        caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    sched.run();
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink_a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink_b, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Spawns both nodes' connection actors with `options` and registers them.
  void start(connection_options options = {}) {
    a = spawn_connections(sys, options, relay, sink_a);
    b = spawn_connections(sys, options, relay, sink_b);
    record->nodes = {{node_a.node, a}, {node_b.node, b}};
    caf::anon_send(a, registered_as(node_a));
    caf::anon_send(b, registered_as(node_b));
    caf::anon_send(a, client_opened_atom_v, make_client(client_a));
    caf::anon_send(b, client_opened_atom_v, make_client(client_b));
    sched.run();
  }

  /// Sends a request to `target` from a helper actor and returns the slot
  /// where its response lands once the scheduler ran.
  template <class T, class... Ts>
  answer_slot<T> ask(connection_actor target, Ts... xs) {
    auto slot = std::make_shared<std::optional<caf::expected<T>>>();
    sys.spawn([slot, target, xs...](caf::event_based_actor* self) {
      self->request(target, caf::infinite, xs...)
          .then([slot](T& value) { *slot = std::move(value); },
                [slot](caf::error& err) {
                  *slot = caf::expected<T>{std::move(err)};
                });
    });
    sched.run();
    return slot;
  }

  /// Returns the value of a request that succeeded and fails the test
  /// otherwise.
  template <class T>
  T value_of(const answer_slot<T>& slot) {
    REQUIRE(slot->has_value());
    if (!**slot)
      FAIL("request failed: " << error_text((*slot)->error()));
    return ***slot;
  }

  /// Returns the error text of a request that failed.
  template <class T>
  std::string error_of(const answer_slot<T>& slot) {
    REQUIRE(slot->has_value());
    REQUIRE_FALSE(**slot);
    return error_text((*slot)->error());
  }

  std::uint16_t bind(connection_actor node, const client_pointer& client,
                     std::uint16_t port) {
    return value_of(ask<std::uint16_t>(node, bind_atom_v, client->id, port));
  }

  answer_slot<std::uint32_t> dial(protocol::address remote,
                                  std::uint16_t port) {
    return ask<std::uint32_t>(a, dial_atom_v, client_a->id, remote, port);
  }

  /// Dials `port` of node B from node A and returns the connection ID.
  std::uint32_t connect(std::uint16_t port) {
    return value_of(dial(node_b, port));
  }

  answer_slot<bool> write(connection_actor node, const client_pointer& client,
                          std::uint32_t conn_id, std::string data) {
    return ask<bool>(node, write_atom_v, client->id, conn_id, std::move(data));
  }

  std::uint32_t close(connection_actor node, const client_pointer& client,
                      std::uint32_t conn_id) {
    return value_of(
        ask<std::uint32_t>(node, close_atom_v, client->id, conn_id));
  }

  /// Lets `total` pass in steps, running every timer that falls due.
  void advance(caf::timespan total, caf::timespan step = 10ms) {
    for (caf::timespan passed{0}; passed < total; passed += step) {
      sched.advance_time(step);
      sched.run();
    }
  }

  /// Lets `client` read again and writes every push it held back, while
  /// the data that follows arrives.
  void read_held_pushes(const client_pointer& client) {
    client->hold = false;
    for (int round = 0; round < 200 && !client->unwritten.empty(); ++round) {
      auto pending = std::move(client->unwritten);
      client->unwritten.clear();
      for (auto& done : pending)
        done();
      advance(50ms);
    }
  }

  /// Hands `packets` to node B's connection actor as if they came from its
  /// tunnel.
  void inject_into_b(std::vector<protocol::packet> packets) {
    caf::anon_send(b, deliver_atom_v, std::move(packets));
    sched.run();
  }

  /// Returns the packets node B sent since `first`.
  std::vector<protocol::packet> sent_by_b(std::size_t first = 0) const {
    std::vector<protocol::packet> result;
    for (auto i = first; i < record->sent.size(); ++i)
      if (record->sent[i].header.src == node_b)
        result.push_back(record->sent[i]);
    return result;
  }

  relay_pointer record = std::make_shared<relay_record>();
  event_list events_a = std::make_shared<std::vector<protocol::event>>();
  event_list events_b = std::make_shared<std::vector<protocol::event>>();
  client_pointer client_a = new_client(1);
  client_pointer client_b = new_client(1);
  packet_transmit_actor relay;
  event_sink_actor sink_a;
  event_sink_actor sink_b;
  connection_actor a;
  connection_actor b;
};

/// A SYN to node B from `src`:`src_port` for `dst_port`.
protocol::packet syn_packet(protocol::address src, std::uint16_t src_port,
                            std::uint16_t dst_port) {
  protocol::packet pkt;
  pkt.header.flags = protocol::flag_syn;
  pkt.header.src = src;
  pkt.header.dst = node_b;
  pkt.header.src_port = src_port;
  pkt.header.dst_port = dst_port;
  pkt.header.window = 512;
  return pkt;
}

protocol::packet datagram_packet(std::uint16_t dst_port,
                                 std::string_view payload) {
  protocol::packet pkt;
  pkt.header.protocol = protocol::packet_protocol::datagram;
  pkt.header.src = node_a;
  pkt.header.dst = node_b;
  pkt.header.src_port = 50000;
  pkt.header.dst_port = dst_port;
  pkt.payload = bytes_of(payload);
  return pkt;
}

protocol::packet ping_packet(std::uint16_t src_port) {
  protocol::packet pkt;
  pkt.header.protocol = protocol::packet_protocol::control;
  pkt.header.src = node_a;
  pkt.header.dst = node_b;
  pkt.header.src_port = src_port;
  pkt.header.dst_port = 0;
  pkt.header.seq = 41;
  pkt.payload = bytes_of("are you there");
  return pkt;
}

} // namespace

// -- handshake, data and teardown ---------------------------------------------

TEST_CASE_FIXTURE(fixture, "dial reaches a bound port and data flows") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  CHECK(id == 1);
  // Node B pushed an Accept with the dialer's address and ephemeral port.
  auto accepts = client_b->accepts();
  REQUIRE(accepts.size() == 1);
  CHECK(accepts[0].local_port == 1000);
  CHECK(accepts[0].conn_id == 1);
  CHECK(accepts[0].remote_address == protocol::ipc_address{0, 1});
  CHECK(accepts[0].remote_port >= 49152);
  // Data both ways.
  CHECK(value_of(write(a, client_a, id, "hello")));
  CHECK(client_b->received(accepts[0].conn_id) == "hello");
  CHECK(value_of(write(b, client_b, accepts[0].conn_id, "world")));
  advance(100ms);
  CHECK(client_a->received(id) == "world");
}

TEST_CASE_FIXTURE(fixture, "responder raises syn_received then established") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  auto port = client_b->accepts().at(0).remote_port;
  REQUIRE(events_b->size() == 2);
  auto* received = std::get_if<protocol::conn_syn_received>(&(*events_b)[0]);
  REQUIRE(received != nullptr);
  CHECK(received->src_addr == "0:0000.0000.0001");
  CHECK(received->src_port == port);
  CHECK(received->dst_port == 1000);
  CHECK(received->conn_id == 1);
  auto* established = std::get_if<protocol::conn_established>(&(*events_b)[1]);
  REQUIRE(established != nullptr);
  CHECK(established->src_addr == "0:0000.0000.0001");
  CHECK(established->src_port == port);
  CHECK(established->dst_port == 1000);
  CHECK(established->conn_id == 1);
  // The dialer raises neither.
  CHECK(id == 1);
  CHECK(events_a->empty());
}

TEST_CASE_FIXTURE(fixture, "each transmit carries a whole batch") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  auto batches = record->batches;
  auto packets = record->sent.size();
  // One write of 64 KiB makes many segments; A sends them in one batch.
  CHECK(value_of(write(a, client_a, id, std::string(65536, 'x'))));
  REQUIRE(record->sent.size() > packets + 1);
  CHECK(record->batches > batches);
  CHECK(record->batches - batches < record->sent.size() - packets);
}

TEST_CASE_FIXTURE(fixture, "echo port writes every chunk back") {
  start();
  auto id = connect(7);
  CHECK(value_of(write(a, client_a, id, "ping")));
  advance(100ms);
  CHECK(client_a->received(id) == "ping");
  std::string big(20000, 'e');
  CHECK(value_of(write(a, client_a, id, big)));
  advance(500ms);
  CHECK(client_a->received(id) == "ping" + big);
}

TEST_CASE_FIXTURE(fixture, "echo closes once the dialer closes") {
  start();
  auto id = connect(7);
  CHECK(close(a, client_a, id) == id);
  advance(1s);
  auto fins = events_of<protocol::conn_fin>(events_b);
  REQUIRE(fins.size() == 1);
  CHECK(fins[0].local_port == 7);
  // Both sides let the connection go after TIME_WAIT and a sweep.
  advance(30s, 100ms);
  auto info = value_of(ask<transport_summary>(b, info_atom_v));
  CHECK(info.conn_list.empty());
}

TEST_CASE_FIXTURE(fixture, "echo can be switched off") {
  connection_options options;
  options.echo = false;
  start(options);
  CHECK(error_of(dial(node_b, 7)) == "connection refused");
  auto info = value_of(ask<transport_summary>(b, info_atom_v));
  CHECK(info.ports == 0);
}

TEST_CASE_FIXTURE(fixture, "dial to an unbound port is refused with an RST") {
  start();
  auto first = record->sent.size();
  auto slot = dial(node_b, 1234);
  CHECK(error_of(slot) == "connection refused");
  auto replies = sent_by_b(first);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].header.flags == protocol::flag_rst);
  CHECK(replies[0].header.src_port == 1234);
  CHECK(replies[0].header.seq == 0);
  CHECK(replies[0].header.ack == 0);
  // The refusing side raises nothing, the dialer conn.rst.
  CHECK(events_b->empty());
  auto resets = events_of<protocol::conn_rst>(events_a);
  REQUIRE(resets.size() == 1);
  CHECK(resets[0].remote_addr == "0:0000.0000.0002");
  CHECK(resets[0].remote_port == 1234);
  CHECK(resets[0].local_port >= 49152);
  CHECK(resets[0].conn_id == 1);
  // The client never learned of the connection, so it gets no CloseOK.
  CHECK(client_a->close_oks().empty());
}

TEST_CASE_FIXTURE(fixture, "a FIN raises conn.fin and pushes CloseOK") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  auto accepted = client_b->accepts().at(0);
  CHECK(close(a, client_a, id) == id);
  advance(100ms);
  auto fins = events_of<protocol::conn_fin>(events_b);
  REQUIRE(fins.size() == 1);
  CHECK(fins[0].remote_addr == "0:0000.0000.0001");
  CHECK(fins[0].remote_port == accepted.remote_port);
  CHECK(fins[0].local_port == 1000);
  CHECK(fins[0].conn_id == accepted.conn_id);
  CHECK(client_b->close_oks() == std::vector<std::uint32_t>{accepted.conn_id});
  // The closing side raises nothing and gets no push: Close got its reply.
  CHECK(events_of<protocol::conn_fin>(events_a).empty());
  CHECK(client_a->close_oks().empty());
}

TEST_CASE_FIXTURE(fixture, "an RST raises conn.rst") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  auto accepted = client_b->accepts().at(0);
  protocol::packet rst;
  rst.header.flags = protocol::flag_rst;
  rst.header.src = node_a;
  rst.header.dst = node_b;
  rst.header.src_port = accepted.remote_port;
  rst.header.dst_port = 1000;
  inject_into_b({rst});
  auto resets = events_of<protocol::conn_rst>(events_b);
  REQUIRE(resets.size() == 1);
  CHECK(resets[0].remote_addr == "0:0000.0000.0001");
  CHECK(resets[0].remote_port == accepted.remote_port);
  CHECK(resets[0].local_port == 1000);
  CHECK(resets[0].conn_id == accepted.conn_id);
  CHECK(client_b->close_oks() == std::vector<std::uint32_t>{accepted.conn_id});
  CHECK(id == 1);
}

TEST_CASE_FIXTURE(fixture, "connection IDs start at 1 and increase") {
  start();
  bind(b, client_b, 1000);
  auto first = connect(1000);
  auto second = connect(7);
  CHECK(close(a, client_a, first) == first);
  auto third = connect(1000);
  CHECK(first == 1);
  CHECK(second == 2);
  CHECK(third == 3);
  auto accepts = client_b->accepts();
  REQUIRE(accepts.size() == 2);
  CHECK(accepts[0].conn_id == 1);
  // Node B's echo connection took ID 2.
  CHECK(accepts[1].conn_id == 3);
}

// -- responder checks ---------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a SYN flood trips the node-wide limit") {
  connection_options options;
  options.syn_rate_limit = 3;
  start(options);
  bind(b, client_b, 1000);
  std::vector<protocol::packet> syns;
  for (std::uint16_t i = 0; i < 5; ++i)
    syns.push_back(syn_packet({0, 100u + i}, 40000 + i, 1000));
  inject_into_b(syns);
  CHECK(events_of<protocol::conn_established>(events_b).size() == 3);
  auto limited = events_of<protocol::security_syn_rate_limited>(events_b);
  REQUIRE(limited.size() == 2);
  CHECK(limited[0].src_addr == "0:0000.0000.0067");
  CHECK(limited[0].src_port == 40003);
  CHECK(limited[1].src_addr == "0:0000.0000.0068");
  CHECK(limited[1].src_port == 40004);
  // A dropped SYN gets no RST.
  for (auto& pkt : sent_by_b())
    CHECK_FALSE(pkt.header.has(protocol::flag_rst));
  // A second later the bucket is full again.
  advance(1s, 100ms);
  inject_into_b({syn_packet({0, 200}, 40100, 1000)});
  CHECK(events_of<protocol::conn_established>(events_b).size() == 4);
}

TEST_CASE_FIXTURE(fixture, "one source gets 10 SYNs a second") {
  start();
  bind(b, client_b, 1000);
  std::vector<protocol::packet> syns;
  for (std::uint16_t i = 0; i < 12; ++i)
    syns.push_back(syn_packet({0, 100}, 40000 + i, 1000));
  inject_into_b(syns);
  CHECK(events_of<protocol::conn_established>(events_b).size() == 10);
  CHECK(events_of<protocol::security_syn_rate_limited>(events_b).empty());
}

TEST_CASE_FIXTURE(fixture, "a repeated SYN gets the SYN-ACK again") {
  start();
  bind(b, client_b, 1000);
  inject_into_b({syn_packet({0, 100}, 40000, 1000)});
  auto first = record->sent.size();
  inject_into_b({syn_packet({0, 100}, 40000, 1000)});
  auto replies = sent_by_b(first);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].header.flags == (protocol::flag_syn | protocol::flag_ack));
  CHECK(replies[0].header.ack == 1);
  CHECK(events_of<protocol::conn_syn_received>(events_b).size() == 1);
  CHECK(client_b->accepts().size() == 1);
}

TEST_CASE_FIXTURE(fixture, "the per-port limit answers with an RST") {
  connection_options options;
  options.max_conns_per_port = 2;
  start(options);
  bind(b, client_b, 1000);
  inject_into_b({syn_packet({0, 100}, 40000, 1000),
                 syn_packet({0, 101}, 40000, 1000),
                 syn_packet({0, 102}, 40000, 1000)});
  CHECK(events_of<protocol::conn_syn_received>(events_b).size() == 2);
  auto replies = sent_by_b();
  REQUIRE(replies.size() == 3);
  CHECK(replies[2].header.flags == protocol::flag_rst);
  CHECK(replies[2].header.dst == protocol::address{0, 102});
}

TEST_CASE_FIXTURE(fixture, "finished connections count against no limit") {
  connection_options options;
  options.max_conns_total = 2;
  start(options);
  bind(b, client_b, 1000);
  auto first = connect(1000);
  auto second = connect(1000);
  CHECK(error_of(dial(node_b, 1000)) == "connection refused");
  CHECK(close(a, client_a, first) == first);
  CHECK(close(a, client_a, second) == second);
  advance(1s, 100ms);
  // Both connections linger in TIME_WAIT, and new ones are accepted.
  auto third = connect(1000);
  CHECK(third > second);
  auto info = value_of(ask<transport_summary>(b, info_atom_v));
  CHECK(info.connections == 1);
  CHECK(info.conn_list.size() == 3);
}

TEST_CASE_FIXTURE(fixture, "a full accept queue rejects before any event") {
  start();
  bind(b, client_b, 1000);
  // The client reads nothing, so the Accept pushes stay queued.
  client_b->hold = true;
  std::vector<protocol::packet> syns;
  for (std::uint32_t source = 0; source < 7; ++source)
    for (std::uint16_t i = 0; i < 10; ++i)
      syns.push_back(syn_packet({0, 100 + source}, 40000 + i, 1000));
  inject_into_b(syns);
  CHECK(client_b->accepts().size() == 64);
  CHECK(events_of<protocol::conn_established>(events_b).size() == 64);
  CHECK(events_of<protocol::conn_syn_received>(events_b).size() == 64);
  std::size_t resets = 0;
  for (auto& pkt : sent_by_b())
    if (pkt.header.flags == protocol::flag_rst)
      ++resets;
  CHECK(resets == 6);
  // Once the client reads, the port takes connections again.
  for (auto& done : client_b->unwritten)
    done();
  client_b->unwritten.clear();
  sched.run();
  inject_into_b({syn_packet({0, 300}, 40000, 1000)});
  CHECK(client_b->accepts().size() == 65);
}

// -- datagrams and control ----------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a datagram reaches every client of the node") {
  start();
  auto second = new_client(2);
  caf::anon_send(b, client_opened_atom_v, make_client(second));
  sched.run();
  auto sent = ask<bool>(a, send_to_atom_v, client_a->id, node_b,
                        std::uint16_t{5000}, std::string{"ping"});
  CHECK(value_of(sent));
  auto datagrams = events_of<protocol::data_datagram>(events_b);
  REQUIRE(datagrams.size() == 1);
  CHECK(datagrams[0].src_addr == "0:0000.0000.0001");
  CHECK(datagrams[0].src_port >= 49152);
  CHECK(datagrams[0].dst_port == 5000);
  CHECK(datagrams[0].size == 4);
  for (auto& client : {client_b, second}) {
    auto frames = client->of(protocol::ipc_command::recv_from);
    REQUIRE(frames.size() == 1);
    auto push = protocol::decode_recv_from(frames[0].payload);
    REQUIRE(push.has_value());
    CHECK(push->src_address == protocol::ipc_address{0, 1});
    CHECK(push->src_port == datagrams[0].src_port);
    CHECK(push->dst_port == 5000);
    CHECK(push->data == "ping");
  }
}

TEST_CASE_FIXTURE(fixture, "each datagram takes a fresh source port") {
  start();
  for (int i = 0; i < 2; ++i)
    CHECK(value_of(ask<bool>(a, send_to_atom_v, client_a->id, node_b,
                             std::uint16_t{5000}, std::string{"x"})));
  auto datagrams = events_of<protocol::data_datagram>(events_b);
  REQUIRE(datagrams.size() == 2);
  CHECK(datagrams[0].src_port != datagrams[1].src_port);
}

TEST_CASE_FIXTURE(fixture, "an empty datagram is dropped silently") {
  start();
  inject_into_b({datagram_packet(5000, "")});
  CHECK(events_b->empty());
  CHECK(client_b->frames.empty());
}

TEST_CASE_FIXTURE(fixture, "datagrams to broadcast are rejected") {
  start();
  auto sent = ask<bool>(a, send_to_atom_v, client_a->id,
                        protocol::address{0, protocol::broadcast_node},
                        std::uint16_t{5000}, std::string{"all"});
  CHECK(error_of(sent)
        == "broadcast is not available \xE2\x80\x94 custom networks are WIP");
}

TEST_CASE_FIXTURE(fixture, "a client that stops reading loses datagrams") {
  start();
  client_b->hold = true;
  std::vector<protocol::packet> datagrams;
  for (int i = 0; i < 300; ++i)
    datagrams.push_back(datagram_packet(5000, "d"));
  inject_into_b(datagrams);
  CHECK(events_of<protocol::data_datagram>(events_b).size() == 300);
  CHECK(client_b->of(protocol::ipc_command::recv_from).size() == 256);
}

TEST_CASE_FIXTURE(fixture, "a ping to port 0 gets a pong") {
  start();
  inject_into_b({ping_packet(5)});
  auto replies = sent_by_b();
  REQUIRE(replies.size() == 1);
  const auto& pong = replies[0].header;
  CHECK(pong.protocol == protocol::packet_protocol::control);
  CHECK(pong.flags == protocol::flag_ack);
  CHECK(pong.dst == node_a);
  CHECK(pong.src_port == 0);
  CHECK(pong.dst_port == 5);
  CHECK(pong.seq == 41);
  CHECK(pong.ack == 42);
  CHECK(pong.window == 0);
  CHECK(replies[0].payload == bytes_of("are you there"));
}

TEST_CASE_FIXTURE(fixture, "a ping from port 0 gets no pong") {
  start();
  inject_into_b({ping_packet(0)});
  CHECK(sent_by_b().empty());
}

TEST_CASE_FIXTURE(fixture, "packets for another node are dropped") {
  start();
  bind(b, client_b, 1000);
  auto syn = syn_packet(node_a, 40000, 1000);
  syn.header.dst = protocol::address{0, 77};
  inject_into_b({syn});
  CHECK(sent_by_b().empty());
  CHECK(events_b->empty());
}

// -- timers -------------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a silent connection times out idle") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  // From now on nothing arrives at node A.
  record->lose = [](const protocol::packet& pkt) {
    return pkt.header.dst == node_a;
  };
  advance(100s, 500ms);
  CHECK(events_of<protocol::conn_idle_timeout>(events_a).empty());
  advance(40s, 500ms);
  auto timeouts = events_of<protocol::conn_idle_timeout>(events_a);
  REQUIRE(timeouts.size() == 1);
  CHECK(timeouts[0].remote_addr == "0:0000.0000.0002");
  CHECK(timeouts[0].remote_port == 1000);
  CHECK(timeouts[0].local_port >= 49152);
  CHECK(timeouts[0].conn_id == id);
  CHECK(client_a->close_oks() == std::vector<std::uint32_t>{id});
  // Keepalives went out meanwhile.
  std::size_t keepalives = 0;
  for (auto& pkt : record->sent)
    if (pkt.header.src == node_a && pkt.header.flags == protocol::flag_ack
        && pkt.payload.empty())
      ++keepalives;
  CHECK(keepalives >= 3);
}

TEST_CASE_FIXTURE(fixture, "a dial that gets no answer times out") {
  start();
  bind(b, client_b, 1000);
  record->lose = [](const protocol::packet&) {
    return true;
  };
  auto slot = dial(node_b, 1000);
  advance(45s, 100ms);
  CHECK(error_of(slot) == "dial timeout");
  // The third SYN timeout switched the peer to the relay.
  CHECK(record->relay_requests == std::vector<std::uint32_t>{node_b.node});
}

TEST_CASE_FIXTURE(fixture, "a dial to an unreachable node fails") {
  start();
  record->unreachable.insert(9);
  auto slot = dial({0, 9}, 1000);
  CHECK(error_of(slot) == "resolve node 9: node not found");
}

TEST_CASE_FIXTURE(fixture, "a SYN that nothing confirms is reset") {
  start();
  bind(b, client_b, 1000);
  // A spoofed SYN: its SYN-ACK goes to a node that never asked.
  inject_into_b({syn_packet({0, 100}, 40000, 1000)});
  REQUIRE(client_b->accepts().size() == 1);
  advance(31s, 500ms);
  auto info = value_of(ask<transport_summary>(b, info_atom_v));
  CHECK(info.connections == 0);
  CHECK(client_b->close_oks() == std::vector<std::uint32_t>{1});
  CHECK(events_of<protocol::conn_idle_timeout>(events_b).empty());
}

// -- IPC semantics ------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a port cannot be bound twice") {
  start();
  bind(b, client_b, 1000);
  auto again
      = ask<std::uint16_t>(b, bind_atom_v, client_b->id, std::uint16_t{1000});
  CHECK(error_of(again) == "port 1000 already bound");
  auto echo
      = ask<std::uint16_t>(b, bind_atom_v, client_b->id, std::uint16_t{7});
  CHECK(error_of(echo) == "port 7 already bound");
}

TEST_CASE_FIXTURE(fixture, "writes to unknown connections fail") {
  start();
  CHECK(error_of(write(a, client_a, 99, "x")) == "connection 99 not found");
  auto id = connect(7);
  // Another client cannot write to client A's connection.
  auto other = new_client(5);
  caf::anon_send(a, client_opened_atom_v, make_client(other));
  sched.run();
  CHECK(error_of(write(a, other, id, "x"))
        == "connection " + std::to_string(id) + " not found");
  // Close returns the ID even when there is no such connection.
  CHECK(close(a, client_a, 99) == 99);
}

TEST_CASE_FIXTURE(fixture, "any client can close a connection") {
  start();
  auto id = connect(7);
  auto other = new_client(5);
  caf::anon_send(a, client_opened_atom_v, make_client(other));
  sched.run();
  CHECK(close(a, other, id) == id);
  advance(100ms);
  // The owner learns that its connection ended; the closer got its reply.
  CHECK(client_a->close_oks() == std::vector<std::uint32_t>{id});
  CHECK(other->close_oks().empty());
  CHECK(error_of(write(a, client_a, id, "x"))
        == "connection " + std::to_string(id) + " not found");
}

TEST_CASE_FIXTURE(fixture, "close waits for earlier writes") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  auto remote_id = client_b->accepts().at(0).conn_id;
  client_b->hold = true;
  // 6 MiB is more than node B holds for a client that does not read plus
  // node A's send buffer, so the last writes still wait when the Close
  // arrives.
  std::string chunk(1 << 20, 'c');
  std::vector<answer_slot<bool>> writes;
  for (int i = 0; i < 6; ++i)
    writes.push_back(write(a, client_a, id, chunk));
  advance(1s);
  CHECK_FALSE(writes.back()->has_value());
  CHECK(close(a, client_a, id) == id);
  read_held_pushes(client_b);
  advance(1s);
  // Every byte arrived before the end of the stream.
  CHECK(client_b->received(remote_id).size() == 6u << 20);
  for (auto& slot : writes)
    CHECK(value_of(slot));
  CHECK(client_b->close_oks() == std::vector<std::uint32_t>{remote_id});
}

TEST_CASE_FIXTURE(fixture, "client disconnect closes and unbinds") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  caf::anon_send(b, client_closed_atom_v, client_b->id);
  sched.run();
  advance(100ms);
  // Node A saw the FIN of node B's side.
  auto fins = events_of<protocol::conn_fin>(events_a);
  REQUIRE(fins.size() == 1);
  CHECK(fins[0].conn_id == id);
  CHECK(client_a->close_oks() == std::vector<std::uint32_t>{id});
  // The port is free: a dial is refused, and another client can bind it.
  CHECK(error_of(dial(node_b, 1000)) == "connection refused");
  auto other = new_client(2);
  caf::anon_send(b, client_opened_atom_v, make_client(other));
  sched.run();
  CHECK(bind(b, other, 1000) == 1000);
}

TEST_CASE_FIXTURE(fixture, "recv pushes follow the client's reading") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  auto remote_id = client_b->accepts().at(0).conn_id;
  client_b->hold = true;
  // 8 MiB is more than node B may hold for a client that does not read.
  std::string chunk(1 << 20, 'f');
  std::vector<answer_slot<bool>> writes;
  for (int i = 0; i < 8; ++i)
    writes.push_back(write(a, client_a, id, chunk));
  advance(2s);
  auto held = client_b->unwritten.size();
  CHECK(held > 0);
  CHECK(held <= 1024);
  CHECK(client_b->received(remote_id).size() < 8u << 20);
  // Some writes wait for room in node A's send buffer.
  CHECK_FALSE(writes.back()->has_value());
  // The client reads everything; the rest of the data follows.
  read_held_pushes(client_b);
  advance(1s);
  CHECK(client_b->received(remote_id).size() == 8u << 20);
  for (auto& slot : writes)
    CHECK(value_of(slot));
}

TEST_CASE_FIXTURE(fixture, "info lists connections with their counters") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  CHECK(value_of(write(a, client_a, id, "hello")));
  auto info = value_of(ask<transport_summary>(a, info_atom_v));
  CHECK(info.connections == 1);
  // Port 7 (echo) is node A's only bound port.
  CHECK(info.ports == 1);
  REQUIRE(info.conn_list.size() == 1);
  const auto& entry = info.conn_list[0].as_object();
  CHECK(entry.at("id").to_number<std::uint32_t>() == id);
  CHECK(entry.at("remote_addr").as_string() == "0:0000.0000.0002");
  CHECK(entry.at("remote_port").to_number<int>() == 1000);
  CHECK(entry.at("state").as_string() == "ESTABLISHED");
  for (auto key :
       {"local_port",  "cong_win",   "ssthresh",   "in_flight",     "srtt_ms",
        "rttvar_ms",   "unacked",    "ooo_buf",    "peer_recv_win", "recv_win",
        "in_recovery", "bytes_sent", "bytes_recv", "segs_sent",     "segs_recv",
        "retransmits", "fast_retx",  "sack_recv",  "sack_sent",     "dup_acks"})
    CHECK_MESSAGE(entry.contains(key), key);
  CHECK(entry.size() == 24);
  CHECK(entry.at("bytes_sent").to_number<int>() == 5);
  auto b_info = value_of(ask<transport_summary>(b, info_atom_v));
  CHECK(b_info.ports == 2);
}

TEST_CASE_FIXTURE(fixture, "stopping sends a FIN on each connection") {
  start();
  bind(b, client_b, 1000);
  auto id = connect(1000);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  a = connection_actor{};
  auto fins = events_of<protocol::conn_fin>(events_b);
  REQUIRE(fins.size() == 1);
  CHECK(fins[0].local_port == 1000);
  CHECK(id == 1);
}

TEST_CASE_FIXTURE(fixture, "a node can dial itself") {
  start();
  bind(a, client_a, 1000);
  auto id = value_of(dial(node_a, 1000));
  auto accepts = client_a->accepts();
  REQUIRE(accepts.size() == 1);
  CHECK(value_of(write(a, client_a, id, "self")));
  advance(100ms);
  CHECK(client_a->received(accepts[0].conn_id) == "self");
  // Nothing went through the tunnel.
  CHECK(record->sent.empty());
}
