#pragma once

#include "actors/fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "protocol/address.hpp"
#include "protocol/registry_message.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <functional>
#include <string>

/// Message types and typed handles of the built-in services: the trust
/// handshake on port 444, data exchange on port 1001 and the event stream
/// on port 1002.
///
/// A service uses the connection actor exactly as an IPC client does: it
/// registers itself with `client_opened_atom` under `service_client_id`,
/// binds its port with `bind_atom`, dials with `dial_atom`, writes with
/// `write_atom` and closes with `close_atom`. What an IPC client would get
/// as pushes arrives as the three messages below, built by
/// `make_service_client` (actors/service_client.hpp).
namespace pilot::actors {

/// A new inbound connection on a port that the service bound. The
/// connection's data follows as `stream_data`.
struct stream_opened {
  std::uint16_t local_port = 0;
  std::uint32_t conn_id = 0;
  protocol::address remote;
  std::uint16_t remote_port = 0;
};

/// In-order bytes of one connection, at most one segment. `consumed` must
/// be called once the bytes are handled (it may be empty in tests). Until
/// then the bytes count against the connection's receive window, so a
/// service that falls behind slows its peer down instead of growing the
/// daemon's memory.
struct stream_data {
  std::uint32_t conn_id = 0;
  std::string bytes;
  std::function<void()> consumed;
};

/// The end of a connection's data: the peer finished or reset it, it timed
/// out, or it was closed locally. Nothing more arrives for `conn_id`.
struct stream_closed {
  std::uint32_t conn_id = 0;
};

/// Returns the client ID under which the service on `port` uses the
/// connection actor. IPC clients count up from 1, so the top bit keeps the
/// two apart.
constexpr std::uint64_t service_client_id(std::uint16_t port) noexcept {
  return (std::uint64_t{1} << 63) | port;
}

} // namespace pilot::actors

// These travel only between local actors and are never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::actors::stream_opened)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::actors::stream_data)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::actors::stream_closed)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::protocol::poll_handshakes_response)

CAF_BEGIN_TYPE_ID_BLOCK(pilot_services, caf::first_custom_type_id + 300)
CAF_ADD_TYPE_ID(pilot_services, (pilot::actors::stream_opened))
CAF_ADD_TYPE_ID(pilot_services, (pilot::actors::stream_data))
CAF_ADD_TYPE_ID(pilot_services, (pilot::actors::stream_closed))
CAF_ADD_TYPE_ID(pilot_services, (pilot::protocol::poll_handshakes_response))

CAF_ADD_ATOM(pilot_services, pilot::actors, handshake_atom, "handshake")
CAF_ADD_ATOM(pilot_services, pilot::actors, approve_atom, "approve")
CAF_ADD_ATOM(pilot_services, pilot::actors, reject_atom, "reject")
CAF_ADD_ATOM(pilot_services, pilot::actors, revoke_atom, "revoke")
CAF_ADD_ATOM(pilot_services, pilot::actors, pending_atom, "pending")
CAF_ADD_ATOM(pilot_services, pilot::actors, trusted_atom, "trusted")
CAF_END_TYPE_ID_BLOCK(pilot_services)

namespace pilot::actors {

/// Handle of a built-in service, which receives the connection actor's
/// stream messages.
using stream_service_actor = caf::typed_actor<caf::reacts_to<stream_opened>,
                                              caf::reacts_to<stream_data>,
                                              caf::reacts_to<stream_closed>>;

/// Handle of the trust actor (port 444). Its local operations reply with the
/// JSON document of the IPC Handshake reply (0x10) or with an error whose
/// context is the reason, such as `node 5 was not trusted`. The control
/// actor prefixes the operation (`handshake revoke: node 5 was not
/// trusted`).
///
/// - `(handshake_atom, peer, justification)` sends a trust request to
///   `peer` and replies `{"node_id":N,"status":"sent"}`.
/// - `(approve_atom, peer)` approves a pending request and replies
///   `{"node_id":N,"status":"approved"}`.
/// - `(reject_atom, peer, reason)` rejects a pending request and replies
///   `{"node_id":N,"status":"rejected"}`.
/// - `(revoke_atom, peer)` stops trusting `peer` and replies
///   `{"node_id":N,"status":"revoked"}`.
/// - `pending_atom` replies `{"pending":[...]}`.
/// - `trusted_atom` replies `{"trusted":[...]}`.
///
/// It also receives the registry mailbox's contents after each poll and the
/// node's registration (`node_info`). After a registration it reports every
/// trusted peer to the registry again.
using trust_actor = stream_service_actor::extend<
    caf::replies_to<handshake_atom, std::uint32_t,
                    std::string>::with<std::string>,
    caf::replies_to<approve_atom, std::uint32_t>::with<std::string>,
    caf::replies_to<reject_atom, std::uint32_t, std::string>::with<std::string>,
    caf::replies_to<revoke_atom, std::uint32_t>::with<std::string>,
    caf::replies_to<pending_atom>::with<std::string>,
    caf::replies_to<trusted_atom>::with<std::string>,
    caf::reacts_to<protocol::poll_handshakes_response>,
    caf::reacts_to<node_info>>;

} // namespace pilot::actors
