#pragma once

#include "actors/fwd.hpp"
#include "actors/transport_fwd.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace pilot::actors {

/// Settings of the connection actor. The defaults are the reference
/// daemon's where it has the setting.
struct connection_options {
  /// An ESTABLISHED connection with no packet from the peer for this long is
  /// closed with a FIN after `conn.idle_timeout`.
  std::chrono::milliseconds idle_timeout{120'000};
  /// An ESTABLISHED connection idle for this long gets a keepalive.
  std::chrono::milliseconds keepalive{30'000};
  /// How long a finished connection lingers after the last packet.
  std::chrono::milliseconds time_wait{10'000};
  /// Interval of the sweep that runs idle timeouts, keepalives and reaping.
  std::chrono::milliseconds sweep_interval{15'000};
  /// Rate and burst of the node-wide SYN bucket, per second. 0 rejects
  /// every incoming connection.
  std::uint32_t syn_rate_limit = 100;
  /// Maximum number of live inbound connections on one local port; a SYN
  /// beyond it gets an RST.
  std::size_t max_conns_per_port = 1024;
  /// Maximum number of live connections in total, dialed ones included; an
  /// inbound SYN beyond it gets an RST. Dials are never refused by it.
  std::size_t max_conns_total = 4096;
  /// Run the built-in echo service on port 7.
  bool echo = true;
  /// Switch a peer to the beacon's relay after the third unanswered SYN of
  /// a dial; set when a beacon is configured.
  bool relay_fallback = true;
  /// Deadline of each request that makes the tunnel reach a peer before a
  /// dial or datagram. With the 39 s of SYN retransmissions after it, a dial
  /// ends within the 60 s that the control socket waits for it.
  std::chrono::milliseconds ensure_peer_timeout{20'000};
};

/// Spawns the connection actor. It hands every packet it produces to
/// `tunnel` in one `transmit` batch per handled message, learns the node's
/// own address from `node_info`, and raises `conn.*`, `data.datagram` and
/// `security.syn_rate_limited` at `events` (which may be invalid in tests
/// that do not look at events). When it exits, it sends a FIN on every
/// ESTABLISHED connection.
connection_actor spawn_connections(caf::actor_system& sys,
                                   connection_options options,
                                   packet_transmit_actor tunnel,
                                   event_sink_actor events);

} // namespace pilot::actors
