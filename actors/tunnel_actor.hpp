#pragma once

#include "actors/detail/tunnel_peers.hpp"
#include "actors/fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "actors/udp_socket.hpp"
#include "protocol/identity.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace pilot::actors {

/// Settings of the tunnel actor.
struct tunnel_options {
  tunnel_options(protocol::identity node_identity,
                 boost::asio::ip::udp::socket bound_socket)
      : identity(std::move(node_identity)), socket(std::move(bound_socket)) {}

  /// The node's Ed25519 identity, which signs our key exchanges.
  protocol::identity identity;
  /// The tunnel's UDP socket, open and bound. The actor owns it from now on.
  boost::asio::ip::udp::socket socket;
  /// Encrypt and authenticate tunnels (`-encrypt`). When false, packets go
  /// out as plaintext frames and key exchanges are ignored.
  bool encrypt = true;
  /// The beacon's `host:port`, or empty for none. Without a beacon there is
  /// no relay, no hole punching and no Discover.
  std::string beacon;
  /// The source of peers' keys and endpoints. Without it every key exchange
  /// is dropped and `ensure_peer` fails.
  node_directory_actor registry;
  /// The receiver of tunnel and security events, or empty for none.
  event_sink_actor events;
  /// Interval of the Discover that keeps the beacon's record of this node
  /// and the NAT mapping fresh, as the reference sends after each
  /// heartbeat.
  std::chrono::seconds discover_interval{30};
  /// Deadline of each request to the registry actor; a little above its
  /// own request deadline, so its error arrives first.
  std::chrono::milliseconds registry_deadline{15'000};
  /// `ensure_peer` resolves in flight; more fail at once.
  std::size_t max_resolves = 64;
  /// Requests waiting for one resolve.
  std::size_t max_resolve_waiters = 64;
  udp_socket_options socket_options;
  detail::tunnel_limits limits;
};

/// Spawns the tunnel actor, which owns `options.socket` and reads it on
/// `io`. It learns its node ID from `node_info`, announces itself to the
/// beacon then and every `discover_interval`, sends and receives tunnel
/// frames for the packet sink set with `deliver_atom`, and raises
/// `tunnel.established`, `tunnel.peer_added`, `tunnel.relay_activated` and
/// `security.nonce_replay` to `options.events`. Throws
/// `std::invalid_argument` when the beacon address is not `host:port`, and
/// `std::runtime_error` when no X25519 key can be generated. A beacon host
/// that does not resolve is logged, and the tunnel runs without a beacon.
tunnel_actor spawn_tunnel(caf::actor_system& sys, boost::asio::io_context& io,
                          tunnel_options options);

/// Resolves the beacon's `host:port`, preferring an IPv4 address unless the
/// tunnel socket is IPv6. Returns nothing for an empty `beacon` and, logged,
/// for a host that does not resolve. Throws `std::invalid_argument` when
/// `beacon` is not `host:port`.
std::optional<boost::asio::ip::udp::endpoint>
resolve_beacon(boost::asio::io_context& io, const std::string& beacon,
               bool socket_is_v6);

} // namespace pilot::actors
