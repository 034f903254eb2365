#pragma once

#include "protocol/events.hpp"
#include "protocol/handshake_message.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

/// The trust handshake's state and decisions, free of I/O and clocks: the
/// trust actor passes the current time in and carries out the returned
/// actions.
namespace pilot::actors::detail {

/// A persisted time: whole seconds, as trust.json stores it.
using trust_time = std::chrono::sys_seconds;

/// Go's zero `time.Time` (0001-01-01T00:00:00Z), which a time that fails to
/// parse becomes.
inline constexpr trust_time zero_trust_time{
    std::chrono::sys_days{std::chrono::year{1} / 1 / 1}};

/// A peer this node trusts.
struct trusted_peer {
  /// The peer's Ed25519 key in standard base64, empty when unknown.
  std::string public_key;
  trust_time approved_at = zero_trust_time;
  /// Whether both sides requested trust (an accept or crossed requests).
  bool mutual = false;
  /// The shared network of a same-network approval, 0 otherwise.
  std::uint16_t network = 0;

  friend bool operator==(const trusted_peer&, const trusted_peer&) = default;
};

/// A trust request waiting for the local user's decision.
struct pending_request {
  std::string public_key;
  std::string justification;
  trust_time received_at = zero_trust_time;

  friend bool operator==(const pending_request&, const pending_request&)
      = default;
};

/// Everything trust.json stores.
struct trust_records {
  std::map<std::uint32_t, trusted_peer> trusted;
  std::map<std::uint32_t, pending_request> pending;
  /// Our own requests that no response has settled yet, by peer, with the
  /// time each was sent. Only these peers may make us trust them by an
  /// accept.
  std::map<std::uint32_t, trust_time> outgoing;

  friend bool operator==(const trust_records&, const trust_records&) = default;
};

/// Bounds of the tables and the accepted message ages.
struct trust_limits {
  /// Maximum number of trusted peers. Beyond it, approvals fail and
  /// auto-approvals are dropped.
  std::size_t max_trusted = 4096;
  /// Maximum number of pending requests. Beyond it, requests from new peers
  /// are dropped, so a flood never pushes out the requests already waiting.
  std::size_t max_pending = 1024;
  /// Maximum number of our own unsettled requests. Beyond it, a new request
  /// of ours replaces our oldest one, which can then no longer be accepted.
  std::size_t max_outgoing = 1024;
  /// Maximum number of replay cache entries. Beyond it, messages are dropped
  /// until old entries expire, because forgetting an entry early would let
  /// its message be replayed.
  std::size_t max_replay = 8192;
  /// Lifetime of a replay cache entry. It must exceed
  /// `max_age + max_skew`, after which the age check stops a replay.
  std::chrono::seconds replay_lifetime{600};
  /// Messages older than this are rejected.
  std::chrono::seconds max_age{300};
  /// Messages dated further into the future than this are rejected.
  std::chrono::seconds max_skew{30};
};

/// Source of an incoming request or response.
enum class handshake_source {
  /// A message on port 444, signed by the sender.
  direct,
  /// The registry's mailbox, which the registry filled after checking the
  /// sender's signature.
  relayed,
};

/// A message for the trust actor to send to `peer` on port 444.
struct outbound_handshake {
  std::uint32_t peer = 0;
  protocol::handshake_kind kind = protocol::handshake_kind::request;
  /// The justification of a request or the reason of a reject.
  std::string text;
  /// Whether a failed direct send (dial or write) leaves the request in the
  /// peer's registry mailbox instead.
  bool relay_on_failure = false;

  friend bool operator==(const outbound_handshake&, const outbound_handshake&)
      = default;
};

/// A response to leave in a requester's registry mailbox
/// (`respond_handshake`).
struct relay_answer {
  std::uint32_t peer = 0;
  bool accept = false;

  friend bool operator==(const relay_answer&, const relay_answer&) = default;
};

/// Actions the trust actor carries out after one decision, in this order:
/// 1. raise `events`, and save trust.json when `save` is set;
/// 2. send `report_trust` and `relay_answers` to the registry;
/// 3. once the registry responded, send `messages`, so that a private peer
///    can already be resolved through the new trust pair;
/// 4. once the messages are sent or failed, send `revoke_trust` and forget
///    the tunnel to `forget_tunnel`, so that a revoke still reaches the
///    peer through the old tunnel and trust pair.
struct trust_actions {
  std::vector<protocol::event> events;
  bool save = false;
  std::vector<std::uint32_t> report_trust;
  std::vector<relay_answer> relay_answers;
  std::vector<outbound_handshake> messages;
  std::vector<std::uint32_t> revoke_trust;
  std::optional<std::uint32_t> forget_tunnel;
  /// Reason a local operation failed, such as `node 5 was not trusted`,
  /// empty on success. The IPC error text prefixes the operation
  /// (`handshake revoke: `). A failed operation changes nothing.
  std::string error;
  /// Reason an incoming message or mailbox item was dropped or only partly
  /// handled, for the log. Empty otherwise.
  std::string note;
};

/// The trust tables and the replay cache, with every decision of the
/// handshake. Each table is bounded by `trust_limits`.
class trust_book {
public:
  explicit trust_book(trust_limits limits = {});

  /// The persisted tables.
  const trust_records& records() const noexcept { return records_; }

  /// Replaces the tables with those of a loaded file. Tables larger than
  /// the limits are kept whole and only stop growing.
  void load(trust_records records);

  /// Returns whether `peer` is trusted.
  bool is_trusted(std::uint32_t peer) const;

  /// Returns whether a request from `peer` would be decided by the shared
  /// network, so the caller must look the networks up first.
  bool needs_network_check(std::uint32_t peer) const;

  /// Returns every trusted peer, in ascending order.
  std::vector<std::uint32_t> trusted_peers() const;

  // -- validation of port-444 messages ---------------------------------------

  /// Returns the reason to drop `message` before anything else is checked
  /// (too old, dated too far ahead, or a replay), or an empty string when it
  /// may proceed. Expired replay entries are removed first.
  std::string check_fresh(const protocol::handshake_message& message,
                          std::chrono::system_clock::time_point now);

  /// Records an authenticated message in the replay cache. Returns false,
  /// so the message must be dropped, when the cache is full.
  bool remember(const protocol::handshake_message& message,
                std::chrono::system_clock::time_point now);

  /// Returns the number of messages in the replay cache.
  std::size_t replay_size() const noexcept { return replay_keys_.size(); }

  // -- incoming requests and responses ---------------------------------------

  /// Decides a trust request from `peer` with the key the registry stores
  /// for it. `shared_network` is the first non-zero network of both nodes,
  /// or 0. Raises `handshake.received`, then accepts a trusted peer again,
  /// trusts a peer that we also sent a request (`mutual`) or one of our network
  /// (`same_network`), or keeps the request pending.
  trust_actions on_request(handshake_source source, std::uint32_t peer,
                           std::string public_key, std::string justification,
                           std::uint16_t shared_network,
                           std::chrono::system_clock::time_point now);

  /// Decides an accept from `peer`, which becomes trusted (mutual) only when
  /// we sent it a request.
  trust_actions on_accept(handshake_source source, std::uint32_t peer,
                          std::string public_key,
                          std::chrono::system_clock::time_point now);

  /// Decides a reject from `peer`, which settles our request to it.
  trust_actions on_reject(std::uint32_t peer, std::string_view reason);

  /// Decides a revoke from `peer`. Only a peer we trusted raises
  /// `trust.revoked_by_peer`. Any state about the peer is removed.
  trust_actions on_revoke(std::uint32_t peer);

  // -- local operations ------------------------------------------------------

  /// Sends a trust request to `peer`. Does nothing for a trusted peer and
  /// fails for this node itself (`self`).
  trust_actions send_request(std::uint32_t self, std::uint32_t peer,
                             std::string justification,
                             std::chrono::system_clock::time_point now);

  /// Trusts a peer whose request is pending, and fails when none is.
  trust_actions approve(std::uint32_t peer,
                        std::chrono::system_clock::time_point now);

  /// Rejects a pending request, and fails when none is.
  trust_actions reject(std::uint32_t peer, std::string reason);

  /// Stops trusting `peer`, and fails when it is not trusted.
  trust_actions revoke(std::uint32_t peer);

  /// Fills in the key of a trusted peer whose key is still empty. Returns
  /// whether the key changed.
  bool backfill_key(std::uint32_t peer, const std::string& public_key);

private:
  trust_actions trust_peer(std::uint32_t peer, trusted_peer entry);
  void reap_replays(std::chrono::system_clock::time_point now);

  trust_limits limits_;
  trust_records records_;
  std::set<protocol::handshake_replay_key> replay_keys_;
  /// The replay cache's keys in the order they were seen, for expiry.
  std::deque<std::pair<std::chrono::system_clock::time_point,
                       protocol::handshake_replay_key>>
      replay_order_;
};

/// Formats the IPC reply of the pending list:
/// `{"pending":[{"justification","node_id","public_key","received_at"}]}`
/// with `received_at` in Unix seconds, ordered by node ID.
std::string to_pending_json(const trust_records& records);

/// Formats the IPC reply of the trusted list:
/// `{"trusted":[{"approved_at","mutual","network","node_id","public_key"}]}`
/// with `approved_at` in Unix seconds, ordered by node ID.
std::string to_trusted_json(const trust_records& records);

} // namespace pilot::actors::detail
