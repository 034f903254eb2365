#pragma once

// Stand-ins for the tunnel and connection actors, for the tests of the
// control socket and of pilotctl's transport commands. They implement the
// actors' IPC contract on a one-node loopback "network", not the overlay
// transport.

#include "actors/transport_fwd.hpp"
#include "protocol/address.hpp"
#include "protocol/ipc.hpp"

#include <caf/error.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pilot::test {

/// The address of the stand-in's only node.
inline constexpr protocol::address stand_in_address{0, 7};

/// The source port of every connection and datagram the stand-in makes.
inline constexpr std::uint16_t stand_in_source_port = 49152;

/// Ports with a fixed behaviour (any other unbound port refuses dials):
inline constexpr std::uint16_t echo_port = 7;      ///< Echoes every write.
inline constexpr std::uint16_t greeting_port = 13; ///< Sends "hello", EOF.
inline constexpr std::uint16_t stalling_port = 99; ///< Never answers Dial.

/// What a test reads back from the stand-in connection actor.
struct stand_in_stats {
  std::atomic<std::uint64_t> bytes_written{0};
  std::atomic<std::uint64_t> largest_write{0};
  std::atomic<std::uint64_t> pushes{0};
  std::atomic<std::uint64_t> pushes_written{0};
  std::atomic<std::uint64_t> clients_opened{0};
  std::atomic<std::uint64_t> clients_closed{0};
  /// Close ends only the connections of the client that asks, and replies
  /// CloseOK for others without closing them.
  std::atomic<bool> owner_only_close{false};
};

struct stand_in_connection {
  std::uint64_t client = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  bool echo = false;
  std::uint32_t peer = 0; ///< The other end of a loopback pair, or 0.
};

struct stand_in_connections_state {
  std::shared_ptr<stand_in_stats> stats;
  std::map<std::uint64_t, actors::push_function> clients;
  std::map<std::uint16_t, std::uint64_t> ports;
  std::map<std::uint32_t, stand_in_connection> connections;
  std::uint32_t next_id = 1;
  std::vector<caf::typed_response_promise<std::uint32_t>> stalled;
  static inline const char* name = "stand_in_connections";
};

using stand_in_self
    = actors::connection_actor::stateful_pointer<stand_in_connections_state>;

inline caf::error stand_in_error(std::string text) {
  return caf::make_error(caf::sec::runtime_error, std::move(text));
}

inline void stand_in_push(stand_in_self self, std::uint64_t client,
                          protocol::ipc_command command, std::string payload) {
  auto i = self->state.clients.find(client);
  if (i == self->state.clients.end())
    return;
  auto stats = self->state.stats;
  ++stats->pushes;
  i->second(protocol::encode_ipc_frame(command, payload).value(),
            [stats] { ++stats->pushes_written; });
}

// Pushes `data` as Recv frames of at most one 4096-byte segment each.
inline void stand_in_deliver(stand_in_self self, std::uint32_t conn_id,
                             const std::string& data) {
  auto i = self->state.connections.find(conn_id);
  if (i == self->state.connections.end())
    return;
  for (std::size_t offset = 0; offset < data.size(); offset += 4096)
    stand_in_push(
        self, i->second.client, protocol::ipc_command::recv,
        protocol::encode_conn_data({conn_id, data.substr(offset, 4096)}));
}

inline std::uint32_t stand_in_open(stand_in_self self, std::uint64_t client,
                                   std::uint16_t local_port,
                                   std::uint16_t remote_port) {
  auto id = self->state.next_id++;
  self->state.connections[id]
      = stand_in_connection{client, local_port, remote_port};
  return id;
}

// Removes the connection and pushes CloseOK to its owner.
inline void stand_in_end(stand_in_self self, std::uint32_t conn_id) {
  auto i = self->state.connections.find(conn_id);
  if (i == self->state.connections.end())
    return;
  auto client = i->second.client;
  self->state.connections.erase(i);
  stand_in_push(self, client, protocol::ipc_command::close_ok,
                protocol::encode_conn_id(conn_id));
}

inline caf::result<std::uint32_t>
stand_in_dial(stand_in_self self, std::uint64_t client, std::uint16_t port) {
  auto& state = self->state;
  if (port == stalling_port) {
    state.stalled.push_back(self->make_response_promise<std::uint32_t>());
    return state.stalled.back();
  }
  if (port == echo_port) {
    auto id = stand_in_open(self, client, stand_in_source_port, port);
    state.connections[id].echo = true;
    return id;
  }
  if (port == greeting_port) {
    // The data and the EOF reach the client's session before the DialOK.
    auto id = stand_in_open(self, client, stand_in_source_port, port);
    stand_in_deliver(self, id, "hello");
    stand_in_end(self, id);
    return id;
  }
  auto bound = state.ports.find(port);
  if (bound == state.ports.end())
    return stand_in_error("connection refused");
  auto dialed = stand_in_open(self, client, stand_in_source_port, port);
  auto accepted
      = stand_in_open(self, bound->second, port, stand_in_source_port);
  state.connections[dialed].peer = accepted;
  state.connections[accepted].peer = dialed;
  protocol::accept_push accept{
      port, accepted, {0, stand_in_address.node}, stand_in_source_port};
  stand_in_push(self, bound->second, protocol::ipc_command::accept,
                protocol::encode_accept(accept));
  return dialed;
}

inline caf::result<bool> stand_in_write(stand_in_self self,
                                        std::uint64_t client,
                                        std::uint32_t conn_id,
                                        std::string& data) {
  auto i = self->state.connections.find(conn_id);
  if (i == self->state.connections.end() || i->second.client != client)
    return stand_in_error("connection " + std::to_string(conn_id)
                          + " not found");
  auto& stats = *self->state.stats;
  stats.bytes_written += data.size();
  if (data.size() > stats.largest_write)
    stats.largest_write = data.size();
  if (i->second.echo)
    stand_in_deliver(self, conn_id, data);
  else if (i->second.peer != 0)
    stand_in_deliver(self, i->second.peer, data);
  return true;
}

inline void stand_in_close(stand_in_self self, std::uint32_t conn_id) {
  auto i = self->state.connections.find(conn_id);
  if (i == self->state.connections.end())
    return;
  auto peer = i->second.peer;
  stand_in_end(self, conn_id);
  stand_in_end(self, peer);
}

inline boost::json::object stand_in_conn_entry(std::uint32_t id,
                                               const stand_in_connection& c) {
  return {{"id", id},
          {"local_port", c.local_port},
          {"remote_addr", protocol::to_string(stand_in_address)},
          {"remote_port", c.remote_port},
          {"state", "ESTABLISHED"},
          {"srtt_ms", 1.0}};
}

inline actors::connection_actor::behavior_type
stand_in_connections(stand_in_self self,
                     std::shared_ptr<stand_in_stats> stats) {
  self->state.stats = std::move(stats);
  return {
      [](actors::deliver_atom, std::vector<protocol::packet>&) {},
      [](actors::node_info&) {},
      [self](actors::client_opened_atom, actors::ipc_client& client) {
        ++self->state.stats->clients_opened;
        self->state.clients[client.id] = std::move(client.push);
      },
      [self](actors::client_closed_atom, std::uint64_t id) {
        ++self->state.stats->clients_closed;
        auto& state = self->state;
        std::vector<std::uint32_t> owned;
        for (const auto& [conn_id, conn] : state.connections)
          if (conn.client == id)
            owned.push_back(conn_id);
        for (auto conn_id : owned)
          stand_in_close(self, conn_id);
        std::erase_if(state.ports,
                      [id](const auto& entry) { return entry.second == id; });
        state.clients.erase(id);
      },
      [self](actors::bind_atom, std::uint64_t client,
             std::uint16_t port) -> caf::result<std::uint16_t> {
        if (port == echo_port || self->state.ports.contains(port))
          return stand_in_error("port " + std::to_string(port)
                                + " already bound");
        self->state.ports[port] = client;
        return port;
      },
      [self](actors::dial_atom, std::uint64_t client, protocol::address,
             std::uint16_t port) { return stand_in_dial(self, client, port); },
      [self](actors::write_atom, std::uint64_t client, std::uint32_t conn_id,
             std::string& data) {
        return stand_in_write(self, client, conn_id, data);
      },
      [self](actors::close_atom, std::uint64_t client, std::uint32_t conn_id) {
        auto i = self->state.connections.find(conn_id);
        bool owned
            = i != self->state.connections.end() && i->second.client == client;
        if (owned || !self->state.stats->owner_only_close)
          stand_in_close(self, conn_id);
        return conn_id;
      },
      [self](actors::send_to_atom, std::uint64_t, protocol::address address,
             std::uint16_t port, std::string& data) -> caf::result<bool> {
        if (address.node != stand_in_address.node)
          return stand_in_error("resolve node " + std::to_string(address.node)
                                + ": not found");
        protocol::recv_from_push push{
            {0, stand_in_address.node}, stand_in_source_port, port, data};
        for (const auto& [id, push_function] : self->state.clients)
          stand_in_push(self, id, protocol::ipc_command::recv_from,
                        protocol::encode_recv_from(push));
        return true;
      },
      [](actors::pushed_atom, std::uint32_t, std::uint32_t) {},
      [self](actors::info_atom) {
        actors::transport_summary summary;
        summary.connections = self->state.connections.size();
        summary.ports = self->state.ports.size() + 1;
        for (const auto& [id, conn] : self->state.connections)
          summary.conn_list.emplace_back(stand_in_conn_entry(id, conn));
        return summary;
      },
  };
}

/// Returns the behavior of a stand-in tunnel actor with two peers.
inline actors::tunnel_actor::behavior_type stand_in_tunnel() {
  return {
      [](actors::transmit_atom, std::vector<actors::outbound_packet>&) {},
      [](actors::ensure_peer_atom, std::uint32_t) { return true; },
      [](actors::use_relay_atom, std::uint32_t) {},
      [](actors::forget_peer_atom, std::uint32_t) {},
      [](actors::node_info&) {},
      [](actors::info_atom) {
        actors::tunnel_summary summary;
        summary.peers.push_back({9, "127.0.0.1:4000", true, true, false});
        summary.peers.push_back({12, "[::1]:4001", true, false, true});
        summary.bytes_sent = 1000;
        summary.bytes_recv = 2000;
        summary.pkts_sent = 10;
        summary.pkts_recv = 20;
        summary.frames_dropped = 3;
        return summary;
      },
      [](actors::deliver_atom, actors::packet_sink_actor) {},
  };
}

} // namespace pilot::test
