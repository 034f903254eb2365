#pragma once

#include "actors/fwd.hpp"
#include "protocol/address.hpp"
#include "protocol/packet.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include <boost/json/array.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

/// Message types and typed handles of the overlay transport: the tunnel
/// actor, which owns the UDP socket and the encryption of each peer, and the
/// connection actor, which runs the stream transport, datagrams and the
/// built-in echo service on top of it.
///
/// Packets flow in batches: the tunnel hands every packet it decoded from one
/// read of the socket to the connection actor in one message, and the
/// connection actor hands every packet it produced while handling one message
/// back in one message.
namespace pilot::actors {

/// An encoded overlay packet (header and payload, as `encode_packet` writes
/// it) bound for the tunnel peer `node`.
struct outbound_packet {
  std::uint32_t node = 0;
  std::vector<std::uint8_t> bytes;
};

/// One tunnel peer as Info reports it.
struct peer_summary {
  std::uint32_t node_id = 0;
  std::string endpoint; ///< `ip:port`, IPv6 in brackets; empty when unknown.
  bool encrypted = false;
  bool authenticated = false;
  bool relay = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_summary& x) {
  return f(caf::meta::type_name("peer_summary"), x.node_id, x.endpoint,
           x.encrypted, x.authenticated, x.relay);
}

/// The tunnel's peers and counters, for Info.
struct tunnel_summary {
  std::vector<peer_summary> peers;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_recv = 0;
  std::uint64_t pkts_sent = 0;
  std::uint64_t pkts_recv = 0;
  /// Datagrams and frames dropped because they were malformed, forged,
  /// replayed or unexpected.
  std::uint64_t frames_dropped = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tunnel_summary& x) {
  return f(caf::meta::type_name("tunnel_summary"), x.peers, x.bytes_sent,
           x.bytes_recv, x.pkts_sent, x.pkts_recv, x.frames_dropped);
}

/// The stream transport's view for Info: `connections` counts connections in
/// SYN_SENT, SYN_RECV or ESTABLISHED, and `ports` counts the bound ports
/// including the built-in services. `conn_list` contains one object per
/// connection with the keys of the Info `conn_list` entries.
struct transport_summary {
  std::uint64_t connections = 0;
  std::uint64_t ports = 0;
  boost::json::array conn_list;
};

/// Writes one frame to an IPC client, without waiting. `written` (may be
/// empty) runs once the frame has left for the client's socket, or once the
/// client is gone; the connection actor uses it to keep the data it has
/// pushed but the client has not read within the advertised window. Safe to
/// call from any thread.
using push_function
    = std::function<void(std::string frame, std::function<void()> written)>;

/// An IPC client of the daemon, as the connection actor uses it: pushes
/// (Accept, Recv, CloseOK, RecvFrom) go out through `push`.
struct ipc_client {
  std::uint64_t id = 0;
  push_function push;
};

} // namespace pilot::actors

// These travel only between local actors and are never serialized, so CAF
// may carry them without inspect overloads.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::actors::ipc_client)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::actors::transport_summary)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<pilot::actors::outbound_packet>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<pilot::protocol::packet>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::protocol::address)

CAF_BEGIN_TYPE_ID_BLOCK(pilot_transport, caf::first_custom_type_id + 200)
CAF_ADD_TYPE_ID(pilot_transport, (pilot::actors::ipc_client))
CAF_ADD_TYPE_ID(pilot_transport, (pilot::actors::peer_summary))
CAF_ADD_TYPE_ID(pilot_transport, (std::vector<pilot::actors::peer_summary>))
CAF_ADD_TYPE_ID(pilot_transport, (pilot::actors::tunnel_summary))
CAF_ADD_TYPE_ID(pilot_transport, (pilot::actors::transport_summary))
CAF_ADD_TYPE_ID(pilot_transport, (std::vector<pilot::actors::outbound_packet>))
CAF_ADD_TYPE_ID(pilot_transport, (std::vector<pilot::protocol::packet>))
CAF_ADD_TYPE_ID(pilot_transport, (pilot::protocol::address))

CAF_ADD_ATOM(pilot_transport, pilot::actors, transmit_atom, "transmit")
CAF_ADD_ATOM(pilot_transport, pilot::actors, deliver_atom, "deliver")
CAF_ADD_ATOM(pilot_transport, pilot::actors, ensure_peer_atom, "ensurepeer")
CAF_ADD_ATOM(pilot_transport, pilot::actors, use_relay_atom, "userelay")
CAF_ADD_ATOM(pilot_transport, pilot::actors, bind_atom, "bind")
CAF_ADD_ATOM(pilot_transport, pilot::actors, dial_atom, "dial")
CAF_ADD_ATOM(pilot_transport, pilot::actors, write_atom, "write")
CAF_ADD_ATOM(pilot_transport, pilot::actors, close_atom, "close")
CAF_ADD_ATOM(pilot_transport, pilot::actors, send_to_atom, "sendto")
CAF_ADD_ATOM(pilot_transport, pilot::actors, client_opened_atom, "clientopen")
CAF_ADD_ATOM(pilot_transport, pilot::actors, client_closed_atom, "clientgone")
CAF_ADD_ATOM(pilot_transport, pilot::actors, pushed_atom, "pushed")
CAF_ADD_ATOM(pilot_transport, pilot::actors, tick_atom, "tick")
CAF_ADD_ATOM(pilot_transport, pilot::actors, forget_peer_atom, "forgetpeer")
CAF_END_TYPE_ID_BLOCK(pilot_transport)

namespace pilot::actors {

/// What the tunnel actor needs from the connection actor: every batch of
/// packets it decoded, with the UDP peer's node already checked against the
/// packets' source (a PILS frame whose inner source differs from its sender
/// is dropped by the tunnel).
using packet_sink_actor = caf::typed_actor<
    caf::reacts_to<deliver_atom, std::vector<protocol::packet>>>;

/// What the connection actor needs from the tunnel actor.
///
/// - `(transmit_atom, packets)`: send each packet to its peer, encrypted when
///   encryption is on. Never answered; a packet that cannot go out is counted
///   and dropped, as UDP would.
/// - `(ensure_peer_atom, node)`: make sure the peer can be reached: resolve
///   its endpoint and key through the registry when unknown, ask the beacon
///   to punch, and start the key exchange. Answers `true` once a packet to
///   the peer can be sent, or an error whose context is the user-facing text
///   `resolve node N: <reason>`.
/// - `(use_relay_atom, node)`: send to `node` through the beacon from now on
///   (the dialer's fallback after its third SYN timeout).
using packet_transmit_actor = caf::typed_actor<
    caf::reacts_to<transmit_atom, std::vector<outbound_packet>>,
    caf::replies_to<ensure_peer_atom, std::uint32_t>::with<bool>,
    caf::reacts_to<use_relay_atom, std::uint32_t>>;

/// The tunnel interface of the trust actor: `(forget_peer_atom, node)`
/// drops the peer's endpoint and session keys, so that the next packet to
/// it resolves the peer again and runs a new key exchange.
using peer_reset_actor
    = caf::typed_actor<caf::reacts_to<forget_peer_atom, std::uint32_t>>;

/// The tunnel actor: `packet_transmit_actor` and `peer_reset_actor` plus
///
/// - `node_info`: the node's registration, sent by the daemon after each
///   (re-)registration; the tunnel learns its own node ID from it and
///   announces itself to the beacon.
/// - `(info_atom)`: the peers and counters.
/// - `(deliver_atom, sink)`: where decoded packets go from now on.
///
/// Its implementation may add messages of its own (socket reads, timers).
using tunnel_actor = packet_transmit_actor::extend_with<
    peer_reset_actor>::extend<caf::reacts_to<node_info>,
                              caf::replies_to<info_atom>::with<tunnel_summary>,
                              caf::reacts_to<deliver_atom, packet_sink_actor>>;

/// The connection actor: `packet_sink_actor` plus the IPC operations, each
/// on behalf of the IPC client `client` (its ID):
///
/// - `(client_opened_atom, client)` / `(client_closed_atom, id)`: a client
///   connected / disconnected. On disconnect every connection it dialed or
///   accepted is closed with a FIN and every port it bound is released.
/// - `(bind_atom, client, port)`: bind `port`; answers the port, or an error
///   whose context is the IPC error text (`port N already bound`).
/// - `(dial_atom, client, address, port)`: answers the connection ID once the
///   connection is ESTABLISHED, or an error (`dial timeout`, `connection
///   refused`, `resolve node N: ...`).
/// - `(write_atom, client, conn_id, data)`: queue `data` on the connection;
///   answers `true` once it is accepted into the send buffer (this is the
///   back-pressure on the client), or an error (`connection N not found`).
/// - `(close_atom, client, conn_id)`: close the connection if it exists;
///   always answers the ID.
/// - `(send_to_atom, client, address, port, data)`: send one datagram;
///   answers `true`, or an error.
/// - `(pushed_atom, conn_id, segments)`: the client has been handed that
///   many Recv pushes of the connection (internal, from `written`).
/// - `(info_atom)`: the transport's view for Info.
using connection_actor = packet_sink_actor::extend<
    caf::reacts_to<node_info>, caf::reacts_to<client_opened_atom, ipc_client>,
    caf::reacts_to<client_closed_atom, std::uint64_t>,
    caf::replies_to<bind_atom, std::uint64_t,
                    std::uint16_t>::with<std::uint16_t>,
    caf::replies_to<dial_atom, std::uint64_t, protocol::address,
                    std::uint16_t>::with<std::uint32_t>,
    caf::replies_to<write_atom, std::uint64_t, std::uint32_t,
                    std::string>::with<bool>,
    caf::replies_to<close_atom, std::uint64_t,
                    std::uint32_t>::with<std::uint32_t>,
    caf::replies_to<send_to_atom, std::uint64_t, protocol::address,
                    std::uint16_t, std::string>::with<bool>,
    caf::reacts_to<pushed_atom, std::uint32_t, std::uint32_t>,
    caf::replies_to<info_atom>::with<transport_summary>>;

} // namespace pilot::actors
