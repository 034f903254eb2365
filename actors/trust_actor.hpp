#pragma once

#include "actors/detail/trust_book.hpp"
#include "actors/fwd.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "protocol/identity.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <utility>

namespace pilot::actors {

/// Settings of the trust actor.
struct trust_options {
  explicit trust_options(protocol::identity node_identity)
      : identity(std::move(node_identity)) {}

  /// The node's key pair; it signs every handshake message.
  protocol::identity identity;
  /// trust.json; empty keeps the trust tables in memory only.
  std::filesystem::path trust_file;
  /// How long an inbound connection may take to deliver its message.
  std::chrono::milliseconds receive_deadline{10'000};
  /// Deadline of a dial to a peer. The connection actor ends its own dials
  /// within 60 s, so this only catches a connection actor that is stuck.
  std::chrono::milliseconds dial_deadline{65'000};
  /// Deadline of a write and of a close on the connection actor.
  std::chrono::milliseconds write_deadline{10'000};
  /// Deadline of each registry request (lookups, trust pairs, relay).
  std::chrono::milliseconds registry_deadline{15'000};
  /// How long the tunnel to a revoked peer stays after the revoke message
  /// was handed to the connection, so that it can still be retransmitted.
  std::chrono::milliseconds revoke_linger{500};
  /// How long a peer's registry record (key and networks) is reused.
  std::chrono::milliseconds key_cache_lifetime{30'000};
  /// Registry records kept at most; the oldest goes first.
  std::size_t max_cached_keys = 256;
  /// Inbound connections read at once; more are closed at once.
  std::size_t max_inbound = 64;
  /// Bytes an inbound connection may send before its message must be
  /// complete; the reference's messages fit in 4096.
  std::size_t max_message_size = 16 * 1024;
  /// Relayed mailbox items waiting to be handled; more are dropped.
  std::size_t max_mailbox_items = 1024;
  /// Bounds of the trust tables and the replay cache.
  detail::trust_limits limits;
  /// The wall clock for message ages and stored times; tests replace it.
  std::function<std::chrono::system_clock::time_point()> clock = [] {
    return std::chrono::system_clock::now();
  };
};

/// Spawns the trust actor of port 444. It registers with `connections` as
/// the service client `service_client_id(444)`, binds port 444 (logging a
/// warning and serving only local operations when the port is taken), and
/// loads `options.trust_file`. A file that does not parse is logged, never
/// overwritten, and the actor starts with empty tables kept in memory only.
///
/// It learns its node ID from `node_info` and reports every trusted peer
/// to `registry` after each registration, the first included: a registry
/// that restarted without its store has lost the trust pairs, and
/// `report_trust` is idempotent.
///
/// An inbound message is checked in order: age, replay, `node_id` equal to
/// the connection's source node, and the signature against the key that
/// the registry (`directory`) holds for that node. Local operations reply
/// at once; their messages and registry requests run in the background.
/// A revoke message goes out before `tunnel` forgets the peer and before
/// the registry drops the trust pair, so that it still reaches the peer.
/// A failed local operation's error context is the reason alone, such as
/// `node 5 was not trusted`; the IPC layer puts the operation in front.
/// Events go to `events`.
trust_actor spawn_trust(caf::actor_system& sys, trust_options options,
                        connection_actor connections,
                        node_directory_actor directory,
                        trust_registry_actor registry, peer_reset_actor tunnel,
                        event_sink_actor events);

} // namespace pilot::actors
