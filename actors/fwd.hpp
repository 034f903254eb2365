#pragma once

#include "protocol/events.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

/// Message types, atoms and typed actor handles of `actors/`: the registry
/// actor and the event sink that every event source sends to.
namespace pilot::actors {

/// The node's registration state as the registry actor last recorded it.
struct node_info {
  bool registered = false;
  std::uint32_t node_id = 0;
  std::string address;    ///< `N:NNNN.HHHH.LLLL`, empty before registration.
  std::string endpoint;   ///< The `listen_addr` sent with `register`.
  std::string hostname;   ///< Empty when none is set.
  bool is_public = false; ///< Visibility as last set.
  std::string public_key; ///< Standard base64 of the Ed25519 key.
  std::string owner;
  std::string registry; ///< The registry's `host:port` in use.
  /// The last error of registering or heartbeating; empty while the node is
  /// registered and its heartbeats succeed.
  std::string registry_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("node_info"), x.registered, x.node_id,
           x.address, x.endpoint, x.hostname, x.is_public, x.public_key,
           x.owner, x.registry, x.registry_error);
}

/// One result from the registry connection to the registry actor: the JSON
/// body of the response frame, or the reason why none arrived.
struct registry_reply {
  std::uint64_t request_id = 0;
  std::string body;       ///< The response frame's JSON; empty on failure.
  std::string error;      ///< Transport failure text; empty on success.
  bool timed_out = false; ///< The failure is the request's deadline.
  /// The request failed before it was sent (too large, or too many waiting),
  /// so the failure says nothing about whether the registry is reachable.
  bool unsent = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_reply& x) {
  return f(caf::meta::type_name("registry_reply"), x.request_id, x.body,
           x.error, x.timed_out, x.unsent);
}

} // namespace pilot::actors

// Events travel only between local actors and are never serialized, so CAF
// may carry the std::variant without an inspect overload.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::protocol::event)

CAF_BEGIN_TYPE_ID_BLOCK(pilot_actors, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(pilot_actors, (pilot::actors::node_info))
CAF_ADD_TYPE_ID(pilot_actors, (pilot::actors::registry_reply))
CAF_ADD_TYPE_ID(pilot_actors, (std::vector<std::string>))

CAF_ADD_ATOM(pilot_actors, pilot::actors, node_id_atom, "node_id")
CAF_ADD_ATOM(pilot_actors, pilot::actors, info_atom, "info")
CAF_ADD_ATOM(pilot_actors, pilot::actors, hostname_atom, "hostname")
CAF_ADD_ATOM(pilot_actors, pilot::actors, visibility_atom, "visible")
CAF_ADD_ATOM(pilot_actors, pilot::actors, tags_atom, "tags")
CAF_ADD_ATOM(pilot_actors, pilot::actors, find_atom, "find")
CAF_ADD_ATOM(pilot_actors, pilot::actors, deregister_atom, "dereg")
CAF_ADD_ATOM(pilot_actors, pilot::actors, heartbeat_atom, "heartbeat")
CAF_ADD_ATOM(pilot_actors, pilot::actors, stop_atom, "stop")
CAF_ADD_ATOM(pilot_actors, pilot::actors, register_atom, "register")
CAF_ADD_ATOM(pilot_actors, pilot::actors, registered_atom, "registered")
CAF_ADD_ATOM(pilot_actors, pilot::actors, lookup_atom, "lookup")
CAF_ADD_ATOM(pilot_actors, pilot::actors, resolve_atom, "resolve")
CAF_ADD_ATOM(pilot_actors, pilot::actors, report_trust_atom, "reporttrst")
CAF_ADD_ATOM(pilot_actors, pilot::actors, revoke_trust_atom, "revoketrst")
CAF_ADD_ATOM(pilot_actors, pilot::actors, relay_request_atom, "relayreq")
CAF_ADD_ATOM(pilot_actors, pilot::actors, relay_response_atom, "relayresp")
CAF_END_TYPE_ID_BLOCK(pilot_actors)

namespace pilot::actors {

/// Where event sources send what happened. The webhook actor implements this
/// interface and more; sources hold only this narrow handle.
///
/// - `event`: raise one event. Never answered, never blocks the sender.
/// - `(node_id_atom, id)`: the node ID to stamp on events raised from now on.
using event_sink_actor
    = caf::typed_actor<caf::reacts_to<protocol::event>,
                       caf::reacts_to<node_id_atom, std::uint32_t>>;

/// The daemon's registry client. Each request that touches the registry
/// answers with the registry's response JSON, or with an error whose context
/// is a message for the user, such as `set_hostname: request failed`.
///
/// - `info_atom`: the node as currently registered.
/// - `(hostname_atom, name)`: set or, with "", clear the hostname.
/// - `(visibility_atom, public)`: set the visibility.
/// - `(tags_atom, tags)`: replace the tags (at most 3).
/// - `(find_atom, hostname)`: resolve a hostname.
/// - `deregister_atom`: deregister now; the daemon keeps running.
/// - `stop_atom`: raise `node.deregistered`, deregister and answer `true`
///   once done or once the registry failed to answer in time.
/// - `registered_atom`: the node, answered once the first registration
///   succeeded (at once if it did already).
/// - `heartbeat_atom`, `register_atom`, `registry_reply`: the actor's own
///   timers and the answers of its registry connection.
using registry_actor = caf::typed_actor<
    caf::replies_to<info_atom>::with<node_info>,
    caf::replies_to<registered_atom>::with<node_info>,
    caf::replies_to<hostname_atom, std::string>::with<std::string>,
    caf::replies_to<visibility_atom, bool>::with<std::string>,
    caf::replies_to<tags_atom, std::vector<std::string>>::with<std::string>,
    caf::replies_to<find_atom, std::string>::with<std::string>,
    caf::replies_to<deregister_atom>::with<std::string>,
    caf::replies_to<stop_atom>::with<bool>, caf::reacts_to<heartbeat_atom>,
    caf::reacts_to<register_atom>, caf::reacts_to<registry_reply>>;

/// The registry requests that the tunnel makes for its peers. Each returns
/// the registry's response JSON, or an error whose context names the node,
/// such as `resolve node 5: the registry rejected the request: ...`.
///
/// - `(lookup_atom, node)`: the node's record, with its public key
///   (`lookup`, unsigned).
/// - `(resolve_atom, node)`: the node's endpoint `real_addr` (`resolve`,
///   signed by this node; the registry responds only for public nodes and
///   nodes that trust this one).
using node_directory_actor = caf::typed_actor<
    caf::replies_to<lookup_atom, std::uint32_t>::with<std::string>,
    caf::replies_to<resolve_atom, std::uint32_t>::with<std::string>>;

/// The registry requests of the trust handshake, made by the registry actor
/// on the node's behalf and signed with its key. Each returns the registry's
/// response JSON, or an error whose context is a message for the user.
///
/// - `(report_trust_atom, peer)`: `report_trust` for the pair.
/// - `(revoke_trust_atom, peer)`: `revoke_trust` for the pair.
/// - `(relay_request_atom, peer, justification)`: `request_handshake`,
///   leaving a trust request in the peer's registry mailbox.
/// - `(relay_response_atom, peer, accept)`: `respond_handshake` to a
///   request of `peer`.
///
/// The registry actor also polls the node's mailbox (`poll_handshakes`)
/// after each successful heartbeat and hands what it holds to the listener
/// set in its options.
using trust_registry_actor = caf::typed_actor<
    caf::replies_to<report_trust_atom, std::uint32_t>::with<std::string>,
    caf::replies_to<revoke_trust_atom, std::uint32_t>::with<std::string>,
    caf::replies_to<relay_request_atom, std::uint32_t,
                    std::string>::with<std::string>,
    caf::replies_to<relay_response_atom, std::uint32_t,
                    bool>::with<std::string>>;

/// The registry actor as spawned: `registry_actor`, `node_directory_actor`
/// and `trust_registry_actor` in one handle, which converts to each.
using registry_client_actor
    = registry_actor::extend_with<node_directory_actor, trust_registry_actor>;

} // namespace pilot::actors
