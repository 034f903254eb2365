#pragma once

#include "actors/transport_fwd.hpp"
#include "protocol/beacon_message.hpp"
#include "protocol/events.hpp"
#include "protocol/identity.hpp"
#include "protocol/packet.hpp"
#include "protocol/tunnel_crypto.hpp"
#include "protocol/tunnel_frame.hpp"

#include <boost/asio/ip/udp.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <variant>
#include <vector>

/// The tunnel's logic without I/O: the peer table, the encryption state of
/// each peer, key exchanges, relay through the beacon and the checks that
/// every received datagram passes. The tunnel actor feeds it datagrams,
/// packets to send and registry responses, and carries out what it returns.
/// Time is a parameter of every call, so tests are deterministic.
namespace pilot::actors::detail {

using tunnel_clock = std::chrono::steady_clock;
using tunnel_time = tunnel_clock::time_point;
using udp_endpoint = boost::asio::ip::udp::endpoint;

/// Bounds of every table and rate of `tunnel_peers`.
struct tunnel_limits {
  /// Peers in the table. A new peer beyond it evicts the one idle longest
  /// among those without an authenticated session, or among all peers when
  /// every one has such a session.
  std::size_t max_peers = 4096;
  /// Packets queued per peer while its key exchange runs; the oldest is
  /// dropped beyond it.
  std::size_t max_pending_packets = 64;
  /// Peers that may have queued packets at once.
  std::size_t max_pending_peers = 256;
  /// Registry key lookups in flight. Each keeps the latest key exchange of
  /// its node until the response arrives; key exchanges of further unknown
  /// nodes are dropped.
  std::size_t max_key_lookups = 16;
  /// A lookup without a response after this long no longer counts as in
  /// flight.
  std::chrono::seconds key_lookup_timeout{30};
  /// Registry keys remembered.
  std::size_t max_cached_keys = 4096;
  /// Failed lookups remembered, and for how long: a node the registry does
  /// not know, and a registry that did not respond.
  std::size_t max_failed_lookups = 1024;
  std::chrono::seconds unknown_node_ttl{30};
  std::chrono::seconds unavailable_ttl{5};
  /// A key exchange signed with another identity than the cached one
  /// fetches the key again when the cached key is at least this old, so a
  /// node that rotated its key can reconnect.
  std::chrono::seconds key_refresh_interval{60};
  /// Minimum time between two of our key exchanges to the same peer when
  /// they are sent because a packet waits. Replies to a new or changed key
  /// are sent at once.
  std::chrono::milliseconds key_exchange_interval{250};
  /// Minimum time between two key exchanges sent to one node in answer to
  /// encrypted frames we cannot open because we have no session.
  std::chrono::seconds no_session_reply_interval{2};
  /// An endpoint learned from a peer's frames is trusted over the
  /// registry's for this long after the peer was last heard. A peer that
  /// restarted on another port is found through the registry after it.
  std::chrono::seconds learned_endpoint_lifetime{30};
  /// A repeated key exchange from a peer is answered unless a sealed frame
  /// from it opened, or we sent it our key exchange, within this interval.
  std::chrono::seconds repeat_answer_interval{2};
  /// Nodes remembered for `no_session_reply_interval`.
  std::size_t max_no_session_replies = 1024;
  /// Repeated key exchanges (the X25519 key of the current session) taken
  /// from one peer: sustained per second and burst. Only frames that
  /// verified count, so forged ones leave the peer's budget alone.
  double peer_key_exchange_rate = 4;
  double peer_key_exchange_burst = 8;
  /// Key exchanges checked over all peers (each costs a signature check and
  /// an X25519 step): sustained per second and burst.
  double key_exchange_rate = 1000;
  double key_exchange_burst = 500;
};

/// Settings of `tunnel_peers`.
struct tunnel_peers_config {
  /// Encrypt and authenticate tunnels. When false, only plaintext frames
  /// are sent and accepted, and key exchanges are ignored.
  bool encrypt = true;
  /// The beacon's endpoint; beacon messages from any other address are
  /// dropped. Without a beacon there is no relay and no hole punching.
  std::optional<udp_endpoint> beacon;
  tunnel_limits limits;
};

/// Largest prefix of a datagram written before its body: the relay header
/// (9), the PILS magic and sender (8) and the nonce (12).
inline constexpr std::size_t max_datagram_head_size = 29;

/// A datagram to send: `head` followed by `body`, so that a sealed packet
/// or a queued packet goes out without being copied into a new buffer.
struct tunnel_datagram {
  udp_endpoint destination;
  std::array<std::uint8_t, max_datagram_head_size> head{};
  std::uint8_t head_size = 0;
  std::vector<std::uint8_t> body;

  std::span<const std::uint8_t> head_bytes() const noexcept {
    return {head.data(), head_size};
  }

  std::size_t size() const noexcept { return head_size + body.size(); }
};

/// The reason for dropping a datagram, frame or packet.
enum class drop_reason : std::uint8_t {
  /// A zero-length datagram.
  empty,
  /// A tunnel frame before our node ID is known.
  not_ready,
  /// A frame or packet that does not decode: unknown magic, truncated,
  /// bad CRC or unsupported version.
  malformed,
  /// A beacon message from an address other than the configured beacon.
  beacon_impostor,
  /// A beacon message from the beacon that a node does not handle, or one
  /// that does not decode.
  unexpected_beacon_message,
  /// A key exchange or encrypted frame while encryption is off.
  encryption_off,
  /// An encrypted frame from a peer without a session.
  no_session,
  /// An encrypted frame that did not authenticate, or a key exchange whose
  /// identity key or signature is wrong.
  forged,
  /// An authenticated encrypted frame whose nonce was seen before or
  /// belongs to a retired nonce prefix.
  replayed,
  /// A key exchange announcing a key that the peer replaced before.
  retired_key,
  /// A PILK from a node whose registry key we know, or one that would
  /// replace an authenticated session.
  unauthenticated_key_exchange,
  /// A key exchange from a node whose registry key could not be fetched.
  key_unavailable,
  /// A key exchange that would need a registry lookup while the maximum
  /// number of lookups is in flight.
  lookup_busy,
  /// A key exchange beyond the per-peer or global budget.
  rate_limited,
  /// A packet whose source node differs from the node that sent the frame,
  /// or a relayed frame whose sender differs from the relay's sender.
  sender_mismatch,
  /// A packet addressed to another node, or coming from our own node ID.
  wrong_destination,
  /// A plaintext frame from a peer that has, or had, an encrypted session.
  plaintext_rejected,
  /// A packet to a node that is not in the peer table or has no endpoint.
  no_route,
  /// A packet dropped from a full pending queue, or not queued because too
  /// many peers have queues.
  queue_full,
  /// A frame larger than one UDP datagram.
  oversized,
  /// Sealing or key derivation failed, or the send counter is exhausted.
  crypto_failure,
};

/// Number of `drop_reason` values.
inline constexpr std::size_t drop_reason_count
    = static_cast<std::size_t>(drop_reason::crypto_failure) + 1;

/// Returns the kebab-case name of `reason`, as logs show it.
std::string_view to_string(drop_reason reason) noexcept;

/// One drop, for the actor's rate-limited log. `node` is 0 when the
/// sender's node ID is unknown.
struct dropped_frame {
  drop_reason reason = drop_reason::malformed;
  std::uint32_t node = 0;
  /// The UDP source of the received datagram; none for a packet we send.
  std::optional<udp_endpoint> source;
};

/// The work for the actor after a call. Reuse one object and `clear`
/// it after each batch, so the vectors keep their capacity.
struct tunnel_output {
  std::vector<tunnel_datagram> datagrams;
  /// Decoded packets for the packet sink, in arrival order.
  std::vector<protocol::packet> packets;
  std::vector<protocol::event> events;
  /// Nodes whose registry key to look up; answer with `on_key_lookup`.
  std::vector<std::uint32_t> key_lookups;
  std::vector<dropped_frame> drops;

  void clear() noexcept;
};

/// The outcome of a registry lookup of a node's Ed25519 key.
enum class key_lookup_status {
  found,
  /// The registry responded with its error frame: the node does not exist.
  unknown_node,
  /// The registry did not respond, or its response is invalid.
  unavailable,
};

/// The answer to one entry of `tunnel_output::key_lookups`.
struct key_lookup_result {
  key_lookup_status status = key_lookup_status::unavailable;
  /// The node's key when `status` is `found`.
  protocol::public_key key{};
};

/// Counters since start.
struct tunnel_peers_stats {
  std::array<std::uint64_t, drop_reason_count> drops{};
  std::uint64_t packets_delivered = 0;
  std::uint64_t key_exchanges_accepted = 0;
  std::uint64_t punches_received = 0;
  /// DiscoverReplies that reported a new endpoint for us.
  std::uint64_t observed_endpoint_changes = 0;

  std::uint64_t dropped(drop_reason reason) const noexcept {
    return drops[static_cast<std::size_t>(reason)];
  }

  std::uint64_t total_dropped() const noexcept;
};

/// A small set that drops its oldest member when full.
template <class T, std::size_t Capacity>
class recent_set {
public:
  bool contains(const T& value) const noexcept {
    for (std::size_t i = 0; i < size_; ++i)
      if (items_[i] == value)
        return true;
    return false;
  }

  void insert(const T& value) noexcept {
    if (contains(value))
      return;
    items_[next_] = value;
    next_ = (next_ + 1) % Capacity;
    if (size_ < Capacity)
      ++size_;
  }

  std::size_t size() const noexcept { return size_; }

private:
  std::array<T, Capacity> items_{};
  std::size_t size_ = 0;
  std::size_t next_ = 0;
};

/// The peer table and the encryption of each tunnel. Not thread-safe; the
/// tunnel actor owns it.
///
/// Differences from the reference daemon v0.5, each wire-compatible:
/// - Registry keys are looked up asynchronously, with a bound on lookups in
///   flight and a cache of failed lookups. The key cache stores a copy of the
///   registry's key, never bytes of a received frame.
/// - A repeated key exchange with an unchanged X25519 key keeps both
///   sessions, so the send counter never restarts under the same key and a
///   replayed key exchange opens no window for replayed frames. A peer that
///   restarts its send counter does so under a new random nonce prefix; the
///   first authenticated frame under a new prefix starts a new receive
///   window and retires the old prefix, whose frames are rejected from then
///   on. A key exchange that announces a key the peer replaced before is
///   rejected.
/// - The replay window moves only for frames that authenticated, and
///   `security.nonce_replay` is raised only for replayed frames that
///   authenticate.
/// - The source node of a decrypted packet must be the frame's sender, and
///   every packet must be addressed to our node (or broadcast).
/// - With encryption on, plaintext frames are accepted only from peers that
///   never had an encrypted session with us, and packets sent before the
///   key exchange completes are queued, never sent in plaintext.
/// - An encrypted frame from a peer without a session is answered with our
///   key exchange (rate-limited per node), so peers recover after we
///   restart.
/// - A repeated key exchange is answered too, unless the peer's sealed
///   frames show that it has our key, so a peer that lost its session, or
///   whose key exchange a replay delivered before it did, still gets ours.
/// - Beacon messages are accepted only from the beacon's address, and a
///   relayed frame marks its sender as relay only once it authenticated.
/// - Data frames that authenticated move the peer's endpoint; a repeated
///   key exchange does not move an endpoint already known.
class tunnel_peers {
public:
  /// Starts with an empty table. `keys` is this process's X25519 key pair,
  /// `id` the node identity that signs our key exchanges.
  tunnel_peers(tunnel_peers_config config, protocol::identity id,
               protocol::x25519_key_pair keys);

  tunnel_peers(const tunnel_peers&) = delete;
  tunnel_peers& operator=(const tunnel_peers&) = delete;

  /// Sets our node ID, as the registry assigned it. Until it is set, every
  /// tunnel frame is dropped and nothing is sent to peers.
  void set_node_id(std::uint32_t node);

  std::uint32_t node_id() const noexcept { return node_id_; }

  /// Handles one received datagram from `source` (an IPv4 peer as an IPv4
  /// endpoint, never IPv4-mapped).
  void receive(std::span<const std::uint8_t> datagram,
               const udp_endpoint& source, tunnel_time now, tunnel_output& out);

  /// Sends an encoded packet to the peer `node`: in plaintext when
  /// encryption is off, sealed when the peer's session exists, and queued
  /// behind a key exchange otherwise. Drops it when the peer is unknown or
  /// has no endpoint.
  void send(std::uint32_t node, std::vector<std::uint8_t> packet,
            tunnel_time now, tunnel_output& out);

  /// Takes the registry's response to a lookup that `key_lookups` requested
  /// (or that the actor made on its own) and continues the key exchange
  /// that waited for it.
  void on_key_lookup(std::uint32_t node, const key_lookup_result& result,
                     tunnel_time now, tunnel_output& out);

  /// Requests the registry key of `node` unless it is cached or a lookup is
  /// in flight, so that the peer's key exchange need not wait.
  void prefetch_key(std::uint32_t node, tunnel_time now, tunnel_output& out);

  /// Returns whether packets to `node` have a destination: the peer is
  /// known with an endpoint or goes through the relay.
  bool reachable(std::uint32_t node) const noexcept;

  /// Returns whether a frame from `node` arrived within
  /// `learned_endpoint_lifetime` before `now`, so that its endpoint is
  /// current.
  bool recently_heard(std::uint32_t node, tunnel_time now) const noexcept;

  /// Adds `node` at `endpoint` (from the registry) or sets the endpoint of
  /// a known peer that has none or was not recently heard, then starts the
  /// key exchange when encryption is on.
  void add_peer(std::uint32_t node, const udp_endpoint& endpoint,
                tunnel_time now, tunnel_output& out);

  /// Sends our key exchange to `node` unless it has a session or one was
  /// sent within `key_exchange_interval`.
  void start_key_exchange(std::uint32_t node, tunnel_time now,
                          tunnel_output& out);

  /// Sends everything for `node` through the beacon from now on, without
  /// an event. Returns false when no beacon is configured.
  bool use_relay(std::uint32_t node, tunnel_time now, tunnel_output& out);

  /// Drops `node`'s endpoint, session and cached registry key, and the
  /// packets waiting for its key exchange, as after a trust revocation. The
  /// next packet to it resolves the peer and exchanges keys again.
  void forget(std::uint32_t node);

  /// Sends a Discover with our node ID to the beacon, if both are known.
  void discover(tunnel_output& out);

  /// Asks the beacon to make us and `node` punch holes towards each other.
  void request_punch(std::uint32_t node, tunnel_output& out);

  /// Returns the endpoint the beacon last reported for us, if any.
  const std::optional<udp_endpoint>& observed_endpoint() const noexcept {
    return observed_endpoint_;
  }

  /// The peers and drop counts for Info; the actor adds the socket's
  /// counters.
  tunnel_summary summary() const;

  /// One peer as Info shows it, or nothing when it is not in the table.
  std::optional<peer_summary> peer(std::uint32_t node) const;

  /// Returns the number of packets queued for `node`.
  std::size_t pending_packets(std::uint32_t node) const noexcept;

  /// Returns the number of peers in the table.
  std::size_t size() const noexcept { return peers_.size(); }

  const tunnel_peers_stats& stats() const noexcept { return stats_; }

private:
  using key_exchange = std::variant<protocol::authenticated_key_exchange_frame,
                                    protocol::key_exchange_frame>;

  /// A token bucket of `rate` tokens per second up to `burst`, which
  /// starts full. The rates are tunables, so unlike the SYN limiter's
  /// bucket it keeps fractions of a token.
  class rate_budget {
  public:
    /// Takes one token when one is left.
    bool try_take(double rate, double burst, tunnel_time now) noexcept;

  private:
    double tokens_ = -1; // Negative until the first call fills the bucket.
    tunnel_time last_{};
  };

  /// Nonce prefixes of a peer's earlier send sessions, kept per key.
  using retired_prefixes = recent_set<protocol::nonce_prefix, 8>;

  /// The session with one peer. The send and receive sides are separate
  /// sessions under the same key: the send side lives as long as the key,
  /// the receive side is replaced whenever the peer starts a new nonce
  /// prefix.
  struct peer_crypto {
    peer_crypto(const protocol::x25519_public_key& peer_key, bool authenticated,
                const protocol::secret_bytes& key,
                const protocol::nonce_prefix& prefix)
        : peer_key(peer_key), authenticated(authenticated), key(key),
          sender(key, prefix) {}

    protocol::x25519_public_key peer_key;
    bool authenticated;
    protocol::secret_bytes key;
    protocol::tunnel_session sender;
    /// The nonce prefix of the frames `receiver` accepts; none before the
    /// first frame.
    std::optional<protocol::nonce_prefix> receive_prefix;
    std::optional<protocol::tunnel_session> receiver;
    retired_prefixes retired;
  };

  struct peer_state {
    std::optional<udp_endpoint> endpoint;
    bool relay = false;
    std::optional<peer_crypto> crypto;
    /// Encoded packets waiting for the key exchange.
    std::deque<std::vector<std::uint8_t>> pending;
    /// X25519 keys the peer replaced; a key exchange announcing one is a
    /// replay.
    recent_set<protocol::x25519_public_key, 4> retired_keys;
    tunnel_time last_active{};
    /// When a frame from the peer last arrived; none before the first.
    std::optional<tunnel_time> last_heard;
    std::optional<tunnel_time> last_key_exchange_sent;
    /// When a sealed frame from the peer last opened, which shows that the
    /// peer has our key.
    std::optional<tunnel_time> last_opened;
    rate_budget key_exchange_budget;
  };

  struct cached_key {
    protocol::public_key key{};
    tunnel_time fetched{};
  };

  struct failed_lookup {
    key_lookup_status status = key_lookup_status::unavailable;
    tunnel_time expires{};
  };

  /// The latest key exchange of a node whose registry key is being fetched.
  struct waiting_key_exchange {
    key_exchange frame;
    udp_endpoint source;
    std::uint32_t relay_sender = 0;
  };

  /// The state of a node's registry key: unknown yet (no status), cached,
  /// or the reason why the last lookup failed.
  struct key_knowledge {
    std::optional<key_lookup_status> status;
    const cached_key* key = nullptr;
  };

  // -- receiving --------------------------------------------------------------

  void receive_beacon_message(std::span<const std::uint8_t> datagram,
                              const udp_endpoint& source, tunnel_time now,
                              tunnel_output& out);
  void receive_relayed(const protocol::beacon_relay_deliver& deliver,
                       tunnel_time now, tunnel_output& out);
  void decode_frame(std::span<const std::uint8_t> bytes,
                    const udp_endpoint& source, std::uint32_t relay_sender,
                    tunnel_time now, tunnel_output& out);
  void receive_frame(protocol::tunnel_frame& frame, const udp_endpoint& source,
                     std::uint32_t relay_sender, tunnel_time now,
                     tunnel_output& out);
  void receive_plaintext(protocol::packet& packet, const udp_endpoint& source,
                         std::uint32_t relay_sender, tunnel_time now,
                         tunnel_output& out);
  void receive_encrypted(const protocol::encrypted_frame& frame,
                         const udp_endpoint& source, std::uint32_t relay_sender,
                         tunnel_time now, tunnel_output& out);
  std::optional<std::vector<std::uint8_t>>
  open_frame(std::uint32_t node, peer_crypto& crypto,
             const protocol::encrypted_frame& frame, tunnel_output& out);
  void answer_unknown_session(std::uint32_t node, const udp_endpoint& source,
                              std::uint32_t relay_sender, tunnel_time now,
                              tunnel_output& out);
  bool deliverable(const protocol::packet& packet, std::uint32_t sender,
                   tunnel_output& out);

  // -- key exchange -----------------------------------------------------------

  void receive_key_exchange(key_exchange frame, const udp_endpoint& source,
                            std::uint32_t relay_sender, tunnel_time now,
                            tunnel_output& out);
  void check_key_exchange(key_exchange& frame, const udp_endpoint& source,
                          std::uint32_t relay_sender, tunnel_time now,
                          tunnel_output& out);
  void check_signed(const protocol::authenticated_key_exchange_frame& frame,
                    const udp_endpoint& source, std::uint32_t relay_sender,
                    tunnel_time now, tunnel_output& out);
  void check_unsigned(const protocol::key_exchange_frame& frame,
                      const udp_endpoint& source, std::uint32_t relay_sender,
                      tunnel_time now, tunnel_output& out);
  key_knowledge key_of(std::uint32_t node, tunnel_time now) const;
  void wait_for_key(std::uint32_t node, key_exchange frame,
                    const udp_endpoint& source, std::uint32_t relay_sender,
                    tunnel_time now, tunnel_output& out);
  void install(std::uint32_t node, const protocol::x25519_public_key& key,
               bool authenticated, const udp_endpoint& source,
               std::uint32_t relay_sender, tunnel_time now, tunnel_output& out);
  void send_key_exchange(std::uint32_t node, peer_state& peer, tunnel_time now,
                         bool even_if_recent, tunnel_output& out);
  void answer_repeat(std::uint32_t node, peer_state& peer,
                     const udp_endpoint& source, std::uint32_t relay_sender,
                     tunnel_time now, tunnel_output& out);
  void send_key_exchange_to(std::uint32_t node, const udp_endpoint& source,
                            std::uint32_t relay_sender, tunnel_output& out);
  void flush_pending(std::uint32_t node, peer_state& peer, tunnel_output& out);

  // -- sending ----------------------------------------------------------------

  void seal_and_send(std::uint32_t node, peer_state& peer,
                     std::vector<std::uint8_t> packet, tunnel_output& out);
  void queue_packet(std::uint32_t node, peer_state& peer,
                    std::vector<std::uint8_t> packet, tunnel_output& out);
  void start_relay(tunnel_datagram& datagram, std::uint32_t destination) const;
  bool route(const peer_state& peer, std::uint32_t node,
             tunnel_datagram& datagram) const;
  void emit(tunnel_datagram datagram, std::uint32_t node, tunnel_output& out);

  // -- tables -----------------------------------------------------------------

  peer_state* find(std::uint32_t node) noexcept;
  const peer_state* find(std::uint32_t node) const noexcept;
  peer_state& find_or_add(std::uint32_t node, tunnel_time now);
  void evict_idlest();
  void mark_relay(std::uint32_t node, peer_state& peer, bool raise_event,
                  tunnel_output& out);
  void remember_failed_lookup(std::uint32_t node, key_lookup_status status,
                              tunnel_time now);
  void remember_key(std::uint32_t node, const protocol::public_key& key,
                    tunnel_time now);
  void expire_lookups(tunnel_time now);
  void drop(drop_reason reason, std::uint32_t node, tunnel_output& out);

  tunnel_peers_config config_;
  protocol::identity identity_;
  protocol::x25519_key_pair keys_;
  std::uint32_t node_id_ = 0;
  /// Our key exchange frame, signed once per node ID.
  std::vector<std::uint8_t> key_exchange_frame_;
  std::unordered_map<std::uint32_t, peer_state> peers_;
  std::size_t pending_peers_ = 0;
  std::unordered_map<std::uint32_t, cached_key> keys_by_node_;
  std::unordered_map<std::uint32_t, failed_lookup> failed_lookups_;
  std::unordered_map<std::uint32_t, tunnel_time> lookups_in_flight_;
  std::unordered_map<std::uint32_t, waiting_key_exchange> waiting_;
  std::unordered_map<std::uint32_t, tunnel_time> no_session_replies_;
  rate_budget key_exchange_budget_;
  std::optional<udp_endpoint> observed_endpoint_;
  /// The source of the datagram being handled, for `dropped_frame`.
  std::optional<udp_endpoint> current_source_;
  tunnel_peers_stats stats_;
};

} // namespace pilot::actors::detail
