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

  /// The node's key pair, which signs every handshake message.
  protocol::identity identity;
  /// Path of trust.json. When empty, the trust tables stay in memory.
  std::filesystem::path trust_file;
  /// Maximum time an inbound connection may take to deliver its message.
  std::chrono::milliseconds receive_deadline{10'000};
  /// Deadline of a dial to a peer. The connection actor ends its own dials
  /// within 60 s, so this only catches a connection actor that is stuck.
  std::chrono::milliseconds dial_deadline{65'000};
  /// Deadline of a write and of a close on the connection actor.
  std::chrono::milliseconds write_deadline{10'000};
  /// Deadline of each registry request (lookups, trust pairs, relay).
  std::chrono::milliseconds registry_deadline{15'000};
  /// Time the tunnel to a revoked peer is kept after the revoke message was
  /// handed to the connection, so that the message can still be
  /// retransmitted.
  std::chrono::milliseconds revoke_linger{500};
  /// Lifetime of a cached registry record of a peer (key and networks).
  std::chrono::milliseconds key_cache_lifetime{30'000};
  /// Maximum number of cached registry records. The oldest is evicted first.
  std::size_t max_cached_keys = 256;
  /// Maximum number of inbound connections read at the same time. Further
  /// ones are closed immediately.
  std::size_t max_inbound = 64;
  /// Maximum bytes an inbound connection may send before its message is
  /// complete. The Go reference's messages fit in 4096.
  std::size_t max_message_size = 16 * 1024;
  /// Maximum number of relayed mailbox items waiting to be handled. Further
  /// items are dropped.
  std::size_t max_mailbox_items = 1024;
  /// Bounds of the trust tables and the replay cache.
  detail::trust_limits limits;
  /// Wall clock for message ages and stored times, replaced in tests.
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
/// to `registry` after each registration, the first included. A registry
/// that restarted without its store has lost the trust pairs, and
/// `report_trust` is idempotent.
///
/// An inbound message is checked in order: age, replay, `node_id` equal to
/// the connection's source node, and the signature against the key that
/// the registry (`directory`) stores for that node. Local operations reply
/// at once, and their messages and registry requests run in the background.
/// A revoke message goes out before `tunnel` forgets the peer and before
/// the registry drops the trust pair, so that it still reaches the peer.
/// A failed local operation's error context is the reason alone, such as
/// `node 5 was not trusted`. The IPC layer prefixes the operation.
/// Events go to `events`.
trust_actor spawn_trust(caf::actor_system& sys, trust_options options,
                        connection_actor connections,
                        node_directory_actor directory,
                        trust_registry_actor registry, peer_reset_actor tunnel,
                        event_sink_actor events);

} // namespace pilot::actors
