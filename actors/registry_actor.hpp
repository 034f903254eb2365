#pragma once

#include "actors/fwd.hpp"
#include "actors/registry_connection.hpp"
#include "protocol/identity.hpp"
#include "protocol/registry_message.hpp"

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace pilot::actors {

/// Settings of the registry actor.
struct registry_actor_options {
  explicit registry_actor_options(protocol::identity node_identity)
      : identity(std::move(node_identity)) {}

  /// The registry's `host:port`.
  std::string registry_address;
  /// The `listen_addr` sent with `register`, reported in `node.registered`.
  std::string endpoint;
  /// The node's key pair; it signs every request that needs a signature.
  protocol::identity identity;
  /// Sent with `register`; lets the registry give a new key the old node ID.
  std::string owner;
  /// Set after each registration when not empty.
  std::string hostname;
  /// Make the node public after each registration.
  bool is_public = false;
  /// Interval of the signed heartbeats.
  std::chrono::milliseconds keepalive{30'000};
  /// Deadline of each registry request.
  std::chrono::milliseconds request_deadline{10'000};
  /// Deadline of the `deregister` sent on stop.
  std::chrono::milliseconds stop_deadline{2'000};
  /// Pause before the second registration attempt; it doubles after each
  /// further failure up to `max_register_backoff`.
  std::chrono::milliseconds initial_register_backoff{1'000};
  std::chrono::milliseconds max_register_backoff{30'000};
  /// Requests from IPC clients waiting for the registry at once; more fail
  /// at once with `errc::busy`.
  std::size_t max_pending_requests = 32;
  /// Called with a one-line status whenever the registration state changes,
  /// such as "registered as 0:0000.0000.0005". Runs inside the actor, so it
  /// must return quickly.
  std::function<void(const std::string&)> status_listener;
  /// Called with the node after every successful registration, the first
  /// and each one after heartbeats failed. Runs inside the actor, so it
  /// must return quickly.
  std::function<void(const node_info&)> registration_listener;
  /// Called with the trust requests and responses that the registry relayed
  /// to this node, fetched after each successful heartbeat. Without it the
  /// mailbox is never polled. Runs inside the actor, so it must return
  /// quickly.
  std::function<void(protocol::poll_handshakes_response)> handshake_listener;
};

/// Creates the transport of a registry actor, given the actor that receives
/// its replies.
using registry_transport_factory
    = std::function<std::shared_ptr<registry_transport>(registry_reply_sink)>;

/// Spawns the registry actor with a TCP connection to
/// `options.registry_address` on `io`. The actor registers at once, retrying
/// with back-off until the registry accepts, then sends the node ID and
/// `node.registered` to `events`, applies visibility and hostname, and
/// heartbeats every `keepalive`. After three failed heartbeats in a row it
/// registers again with the same key, adopts a changed node ID and raises
/// `node.reregistered`. It also serves the tunnel's lookups and resolves
/// (`node_directory_actor`). Throws `std::invalid_argument` when the
/// registry address is not `host:port`.
registry_client_actor spawn_registry_actor(caf::actor_system& sys,
                                           boost::asio::io_context& io,
                                           registry_actor_options options,
                                           event_sink_actor events);

/// Spawns the registry actor on the transport that `make_transport` creates;
/// tests pass a transport that plays the registry.
registry_client_actor
spawn_registry_actor(caf::actor_system& sys, registry_actor_options options,
                     event_sink_actor events,
                     registry_transport_factory make_transport);

} // namespace pilot::actors
