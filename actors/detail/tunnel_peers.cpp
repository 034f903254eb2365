#include "actors/detail/tunnel_peers.hpp"

#include "actors/beacon_service.hpp"
#include "protocol/address.hpp"
#include "protocol/detail/big_endian.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

namespace pilot::actors::detail {

namespace {

using protocol::detail::store_big_endian;

constexpr std::array<std::uint8_t, 4> plaintext_magic{'P', 'I', 'L', 'T'};
constexpr std::array<std::uint8_t, 4> encrypted_magic{'P', 'I', 'L', 'S'};

constexpr std::uint8_t relay_type
    = static_cast<std::uint8_t>(protocol::beacon_type::relay);

/// Number of punch packets sent for each PunchCommand, as the reference
/// daemon sends.
constexpr int punch_packets = 3;

// Returns whether `node` can never be a peer's node ID.
bool invalid_peer_node(std::uint32_t node, std::uint32_t self) noexcept {
  return node == 0 || node == protocol::broadcast_node || node == self;
}

// Appends `bytes` to the head. Every caller stays within
// `max_datagram_head_size`; the check only documents that bound to the
// compiler, whose array-bounds analysis cannot see it.
void append_head(tunnel_datagram& datagram,
                 std::span<const std::uint8_t> bytes) noexcept {
  auto room = std::span{datagram.head}.subspan(datagram.head_size);
  if (bytes.size() > room.size())
    return;
  std::copy(bytes.begin(), bytes.end(), room.begin());
  datagram.head_size
      = static_cast<std::uint8_t>(datagram.head_size + bytes.size());
}

template <std::unsigned_integral T>
void append_head(tunnel_datagram& datagram, T value) noexcept {
  std::array<std::uint8_t, sizeof(T)> bytes;
  store_big_endian(std::span{bytes}, value);
  append_head(datagram, bytes);
}

protocol::nonce_prefix prefix_of(const protocol::tunnel_nonce& nonce) {
  protocol::nonce_prefix prefix;
  std::copy_n(nonce.begin(), prefix.size(), prefix.begin());
  return prefix;
}

// Returns whether `frame` authenticates under `key`, whatever its counter
// was seen before. A fresh window accepts any counter but 0, and the
// reference starts counting at 1, so a frame with counter 0 never does.
bool authentic(const protocol::secret_bytes& key,
               const protocol::encrypted_frame& frame) {
  protocol::tunnel_session probe{key, protocol::nonce_prefix{}};
  return probe.open(frame).has_value();
}

} // namespace

// -- small types --------------------------------------------------------------

std::string_view to_string(drop_reason reason) noexcept {
  switch (reason) {
    case drop_reason::empty:
      return "empty";
    case drop_reason::not_ready:
      return "not-ready";
    case drop_reason::malformed:
      return "malformed";
    case drop_reason::beacon_impostor:
      return "beacon-impostor";
    case drop_reason::unexpected_beacon_message:
      return "unexpected-beacon-message";
    case drop_reason::encryption_off:
      return "encryption-off";
    case drop_reason::no_session:
      return "no-session";
    case drop_reason::forged:
      return "forged";
    case drop_reason::replayed:
      return "replayed";
    case drop_reason::retired_key:
      return "retired-key";
    case drop_reason::unauthenticated_key_exchange:
      return "unauthenticated-key-exchange";
    case drop_reason::key_unavailable:
      return "key-unavailable";
    case drop_reason::lookup_busy:
      return "lookup-busy";
    case drop_reason::rate_limited:
      return "rate-limited";
    case drop_reason::sender_mismatch:
      return "sender-mismatch";
    case drop_reason::wrong_destination:
      return "wrong-destination";
    case drop_reason::plaintext_rejected:
      return "plaintext-rejected";
    case drop_reason::no_route:
      return "no-route";
    case drop_reason::queue_full:
      return "queue-full";
    case drop_reason::oversized:
      return "oversized";
    case drop_reason::crypto_failure:
      return "crypto-failure";
  }
  return "unknown";
}

void tunnel_output::clear() noexcept {
  datagrams.clear();
  packets.clear();
  events.clear();
  key_lookups.clear();
  drops.clear();
}

std::uint64_t tunnel_peers_stats::total_dropped() const noexcept {
  return std::accumulate(drops.begin(), drops.end(), std::uint64_t{0});
}

bool tunnel_peers::rate_budget::try_take(double rate, double burst,
                                         tunnel_time now) noexcept {
  if (tokens_ < 0) {
    tokens_ = burst;
  } else {
    std::chrono::duration<double> elapsed = now - last_;
    tokens_ = std::min(burst, tokens_ + std::max(0.0, elapsed.count()) * rate);
  }
  last_ = now;
  if (tokens_ < 1)
    return false;
  tokens_ -= 1;
  return true;
}

// -- construction -------------------------------------------------------------

tunnel_peers::tunnel_peers(tunnel_peers_config config, protocol::identity id,
                           protocol::x25519_key_pair keys)
    : config_(std::move(config)), identity_(std::move(id)),
      keys_(std::move(keys)) {
  if (config_.beacon)
    config_.beacon = unmap_endpoint(*config_.beacon);
}

void tunnel_peers::set_node_id(std::uint32_t node) {
  if (node == node_id_)
    return;
  node_id_ = node;
  key_exchange_frame_.clear();
  if (!config_.encrypt || node == 0)
    return;
  // The signature covers our node ID, so it is made once per ID.
  if (auto frame
      = protocol::sign_key_exchange(identity_, node, keys_.public_key()))
    key_exchange_frame_ = protocol::encode_tunnel_frame(*frame);
}

// -- receiving ----------------------------------------------------------------

void tunnel_peers::receive(std::span<const std::uint8_t> datagram,
                           const udp_endpoint& source, tunnel_time now,
                           tunnel_output& out) {
  current_source_ = source;
  if (datagram.empty()) {
    drop(drop_reason::empty, 0, out);
    return;
  }
  if (datagram[0] < protocol::first_tunnel_frame_byte) {
    receive_beacon_message(datagram, source, now, out);
    return;
  }
  decode_frame(datagram, source, 0, now, out);
}

// `relay_sender` is the sender of the RelayDeliver that carried the frame,
// or 0 for a frame that arrived directly from `source`.
void tunnel_peers::decode_frame(std::span<const std::uint8_t> bytes,
                                const udp_endpoint& source,
                                std::uint32_t relay_sender, tunnel_time now,
                                tunnel_output& out) {
  if (node_id_ == 0) {
    drop(drop_reason::not_ready, relay_sender, out);
    return;
  }
  auto frame = protocol::decode_tunnel_frame(bytes);
  if (!frame) {
    drop(drop_reason::malformed, relay_sender, out);
    return;
  }
  receive_frame(*frame, source, relay_sender, now, out);
}

void tunnel_peers::receive_beacon_message(
    std::span<const std::uint8_t> datagram, const udp_endpoint& source,
    tunnel_time now, tunnel_output& out) {
  // Beacon messages carry no authentication, so the source address is the
  // only check there is.
  if (!config_.beacon || source != *config_.beacon) {
    drop(drop_reason::beacon_impostor, 0, out);
    return;
  }
  auto message = protocol::decode_beacon_message(datagram);
  if (!message) {
    drop(drop_reason::unexpected_beacon_message, 0, out);
    return;
  }
  if (auto* reply = std::get_if<protocol::beacon_discover_reply>(&*message)) {
    auto observed = unmap_endpoint({reply->observed.ip, reply->observed.port});
    if (!observed_endpoint_ || *observed_endpoint_ != observed) {
      observed_endpoint_ = observed;
      ++stats_.observed_endpoint_changes;
    }
  } else if (auto* command
             = std::get_if<protocol::beacon_punch_command>(&*message)) {
    auto target = unmap_endpoint({command->target.ip, command->target.port});
    if (target.port() == 0 || target.address().is_unspecified()) {
      drop(drop_reason::unexpected_beacon_message, 0, out);
      return;
    }
    for (int i = 0; i < punch_packets; ++i) {
      tunnel_datagram punch;
      punch.destination = target;
      append_head(punch, protocol::punch_packet);
      out.datagrams.push_back(std::move(punch));
    }
  } else if (auto* deliver
             = std::get_if<protocol::beacon_relay_deliver>(&*message)) {
    receive_relayed(*deliver, now, out);
  } else {
    drop(drop_reason::unexpected_beacon_message, 0, out);
  }
}

void tunnel_peers::receive_relayed(
    const protocol::beacon_relay_deliver& deliver, tunnel_time now,
    tunnel_output& out) {
  auto sender = deliver.sender_id;
  if (invalid_peer_node(sender, node_id_)) {
    drop(drop_reason::sender_mismatch, sender, out);
    return;
  }
  // A relayed beacon message would be a relay inside a relay.
  if (deliver.payload.front() < protocol::first_tunnel_frame_byte) {
    drop(drop_reason::malformed, sender, out);
    return;
  }
  decode_frame(deliver.payload, *config_.beacon, sender, now, out);
}

void tunnel_peers::receive_frame(protocol::tunnel_frame& frame,
                                 const udp_endpoint& source,
                                 std::uint32_t relay_sender, tunnel_time now,
                                 tunnel_output& out) {
  std::visit(
      [&](auto& f) {
        using type = std::remove_cvref_t<decltype(f)>;
        if constexpr (std::is_same_v<type, protocol::plaintext_frame>)
          receive_plaintext(f.packet, source, relay_sender, now, out);
        else if constexpr (std::is_same_v<type, protocol::encrypted_frame>)
          receive_encrypted(f, source, relay_sender, now, out);
        else if constexpr (std::is_same_v<type, protocol::punch_frame>)
          ++stats_.punches_received;
        else
          receive_key_exchange(key_exchange{std::move(f)}, source, relay_sender,
                               now, out);
      },
      frame);
}

bool tunnel_peers::deliverable(const protocol::packet& packet,
                               std::uint32_t sender, tunnel_output& out) {
  if (invalid_peer_node(packet.header.src.node, node_id_)) {
    drop(drop_reason::sender_mismatch, sender, out);
    return false;
  }
  auto destination = packet.header.dst.node;
  if (destination != node_id_ && destination != protocol::broadcast_node) {
    drop(drop_reason::wrong_destination, sender, out);
    return false;
  }
  return true;
}

void tunnel_peers::receive_plaintext(protocol::packet& packet,
                                     const udp_endpoint& source,
                                     std::uint32_t relay_sender,
                                     tunnel_time now, tunnel_output& out) {
  auto sender = packet.header.src.node;
  if (relay_sender != 0 && sender != relay_sender) {
    drop(drop_reason::sender_mismatch, relay_sender, out);
    return;
  }
  // With encryption on, nothing is sent in plaintext, so a plaintext peer
  // could never get an answer; its frames are only a way to inject packets
  // under any source.
  if (config_.encrypt) {
    drop(drop_reason::plaintext_rejected, sender, out);
    return;
  }
  auto* peer = find(sender);
  if (!deliverable(packet, sender, out))
    return;
  if (!config_.encrypt) {
    // Without encryption, plaintext frames teach endpoints, as the
    // reference does.
    if (relay_sender != 0) {
      peer = &find_or_add(sender, now);
      if (!peer->endpoint)
        peer->endpoint = *config_.beacon;
      mark_relay(sender, *peer, true, out);
    } else if (!peer) {
      peer = &find_or_add(sender, now);
      peer->endpoint = source;
      out.events.emplace_back(
          protocol::tunnel_peer_added{sender, format_endpoint(source)});
    }
  }
  if (peer) {
    peer->last_active = now;
    peer->last_heard = now;
  }
  ++stats_.packets_delivered;
  out.packets.push_back(std::move(packet));
}

void tunnel_peers::receive_encrypted(const protocol::encrypted_frame& frame,
                                     const udp_endpoint& source,
                                     std::uint32_t relay_sender,
                                     tunnel_time now, tunnel_output& out) {
  auto node = frame.sender_node;
  if (!config_.encrypt) {
    drop(drop_reason::encryption_off, node, out);
    return;
  }
  if (relay_sender != 0 && node != relay_sender) {
    drop(drop_reason::sender_mismatch, relay_sender, out);
    return;
  }
  auto* peer = find(node);
  if (!peer || !peer->crypto) {
    drop(drop_reason::no_session, node, out);
    answer_unknown_session(node, source, relay_sender, now, out);
    return;
  }
  auto plaintext = open_frame(node, *peer->crypto, frame, out);
  if (!plaintext)
    return;
  auto packet = protocol::decode_packet(*plaintext);
  if (!packet) {
    drop(drop_reason::malformed, node, out);
    return;
  }
  if (packet->header.src.node != node) {
    drop(drop_reason::sender_mismatch, node, out);
    return;
  }
  if (!deliverable(*packet, node, out))
    return;
  if (relay_sender != 0)
    mark_relay(node, *peer, true, out);
  else
    peer->endpoint = source; // Only the key's holder can send a fresh frame.
  peer->last_active = now;
  peer->last_heard = now;
  peer->last_opened = now;
  ++stats_.packets_delivered;
  out.packets.push_back(std::move(*packet));
}

std::optional<std::vector<std::uint8_t>>
tunnel_peers::open_frame(std::uint32_t node, peer_crypto& crypto,
                         const protocol::encrypted_frame& frame,
                         tunnel_output& out) {
  auto prefix = prefix_of(frame.nonce);
  auto report_replay = [&] {
    if (!authentic(crypto.key, frame)) {
      drop(drop_reason::forged, node, out);
      return;
    }
    drop(drop_reason::replayed, node, out);
    out.events.emplace_back(protocol::security_nonce_replay{
        node, protocol::nonce_counter(frame.nonce)});
  };
  if (crypto.receive_prefix == prefix) {
    auto opened = crypto.receiver->open(frame);
    if (opened)
      return std::move(*opened);
    if (opened.error() == protocol::errc::replayed_nonce)
      report_replay();
    else
      drop(drop_reason::forged, node, out);
    return std::nullopt;
  }
  if (crypto.retired.contains(prefix)) {
    report_replay();
    return std::nullopt;
  }
  // A new prefix: the peer started a new send session under the same key,
  // as the reference does whenever it accepts our key exchange. Only an
  // authentic frame may switch the window.
  protocol::tunnel_session probe{crypto.key, protocol::nonce_prefix{}};
  auto opened = probe.open(frame);
  if (!opened) {
    drop(drop_reason::forged, node, out);
    return std::nullopt;
  }
  if (crypto.receive_prefix)
    crypto.retired.insert(*crypto.receive_prefix);
  crypto.receive_prefix = prefix;
  crypto.receiver.emplace(crypto.key, protocol::nonce_prefix{});
  // Records the counter in the new window; the frame opened above.
  (void)crypto.receiver->open(frame);
  return std::move(*opened);
}

void tunnel_peers::answer_unknown_session(std::uint32_t node,
                                          const udp_endpoint& source,
                                          std::uint32_t relay_sender,
                                          tunnel_time now, tunnel_output& out) {
  if (invalid_peer_node(node, node_id_) || key_exchange_frame_.empty())
    return;
  const auto& limits = config_.limits;
  auto last = no_session_replies_.find(node);
  if (last != no_session_replies_.end()) {
    if (now - last->second < limits.no_session_reply_interval)
      return;
  } else if (no_session_replies_.size() >= limits.max_no_session_replies) {
    std::erase_if(no_session_replies_, [&](const auto& entry) {
      return now - entry.second >= limits.no_session_reply_interval;
    });
    if (no_session_replies_.size() >= limits.max_no_session_replies)
      return;
  }
  // The reply goes to an unauthenticated source, so it also draws from the
  // global budget to bound what a spoofed flood can make us send.
  if (!key_exchange_budget_.try_take(limits.key_exchange_rate,
                                     limits.key_exchange_burst, now))
    return;
  no_session_replies_[node] = now;
  send_key_exchange_to(node, source, relay_sender, out);
}

// -- key exchange -------------------------------------------------------------

void tunnel_peers::receive_key_exchange(key_exchange frame,
                                        const udp_endpoint& source,
                                        std::uint32_t relay_sender,
                                        tunnel_time now, tunnel_output& out) {
  auto node = std::visit([](const auto& f) { return f.sender_node; }, frame);
  if (!config_.encrypt) {
    drop(drop_reason::encryption_off, node, out);
    return;
  }
  if (relay_sender != 0 && node != relay_sender) {
    drop(drop_reason::sender_mismatch, relay_sender, out);
    return;
  }
  if (invalid_peer_node(node, node_id_)) {
    drop(drop_reason::sender_mismatch, node, out);
    return;
  }
  const auto& limits = config_.limits;
  if (!key_exchange_budget_.try_take(limits.key_exchange_rate,
                                     limits.key_exchange_burst, now)) {
    drop(drop_reason::rate_limited, node, out);
    return;
  }
  check_key_exchange(frame, source, relay_sender, now, out);
}

void tunnel_peers::check_key_exchange(key_exchange& frame,
                                      const udp_endpoint& source,
                                      std::uint32_t relay_sender,
                                      tunnel_time now, tunnel_output& out) {
  if (auto* signed_frame
      = std::get_if<protocol::authenticated_key_exchange_frame>(&frame))
    check_signed(*signed_frame, source, relay_sender, now, out);
  else
    check_unsigned(std::get<protocol::key_exchange_frame>(frame), source,
                   relay_sender, now, out);
}

tunnel_peers::key_knowledge tunnel_peers::key_of(std::uint32_t node,
                                                 tunnel_time now) const {
  if (auto cached = keys_by_node_.find(node); cached != keys_by_node_.end())
    return {key_lookup_status::found, &cached->second};
  if (auto failed = failed_lookups_.find(node);
      failed != failed_lookups_.end() && now < failed->second.expires)
    return {failed->second.status, nullptr};
  return {std::nullopt, nullptr};
}

void tunnel_peers::check_signed(
    const protocol::authenticated_key_exchange_frame& frame,
    const udp_endpoint& source, std::uint32_t relay_sender, tunnel_time now,
    tunnel_output& out) {
  auto node = frame.sender_node;
  auto known = key_of(node, now);
  if (!known.status) {
    wait_for_key(node, key_exchange{frame}, source, relay_sender, now, out);
    return;
  }
  if (*known.status != key_lookup_status::found) {
    drop(drop_reason::key_unavailable, node, out);
    return;
  }
  auto verified = protocol::verify_key_exchange(frame, known.key->key);
  if (!verified) {
    // Another identity key: the node may have rotated its key since we
    // fetched it, so fetch it again, at most once per refresh interval.
    if (verified.error() == protocol::errc::invalid_key
        && now - known.key->fetched >= config_.limits.key_refresh_interval) {
      keys_by_node_.erase(node);
      wait_for_key(node, key_exchange{frame}, source, relay_sender, now, out);
      return;
    }
    drop(drop_reason::forged, node, out);
    return;
  }
  install(node, frame.key, true, source, relay_sender, now, out);
}

void tunnel_peers::check_unsigned(const protocol::key_exchange_frame& frame,
                                  const udp_endpoint& source,
                                  std::uint32_t relay_sender, tunnel_time now,
                                  tunnel_output& out) {
  auto node = frame.sender_node;
  if (auto* peer = find(node);
      peer && peer->crypto && peer->crypto->authenticated) {
    drop(drop_reason::unauthenticated_key_exchange, node, out);
    return;
  }
  auto known = key_of(node, now);
  if (!known.status) {
    wait_for_key(node, key_exchange{frame}, source, relay_sender, now, out);
    return;
  }
  switch (*known.status) {
    case key_lookup_status::found:
      // The node has an identity, so it must sign. Our signed key exchange
      // lets it verify us and reply with its own.
      drop(drop_reason::unauthenticated_key_exchange, node, out);
      answer_unknown_session(node, source, relay_sender, now, out);
      return;
    case key_lookup_status::unknown_node:
      install(node, frame.key, false, source, relay_sender, now, out);
      return;
    case key_lookup_status::unavailable:
      drop(drop_reason::key_unavailable, node, out);
      return;
  }
}

void tunnel_peers::wait_for_key(std::uint32_t node, key_exchange frame,
                                const udp_endpoint& source,
                                std::uint32_t relay_sender, tunnel_time now,
                                tunnel_output& out) {
  // Only the latest key exchange of a node matters.
  if (auto waiting = waiting_.find(node); waiting != waiting_.end()) {
    waiting->second = {std::move(frame), source, relay_sender};
    return;
  }
  if (!lookups_in_flight_.contains(node)) {
    if (lookups_in_flight_.size() >= config_.limits.max_key_lookups)
      expire_lookups(now);
    if (lookups_in_flight_.size() >= config_.limits.max_key_lookups) {
      drop(drop_reason::lookup_busy, node, out);
      return;
    }
    lookups_in_flight_.emplace(node, now);
    out.key_lookups.push_back(node);
  }
  waiting_.emplace(
      node, waiting_key_exchange{std::move(frame), source, relay_sender});
}

void tunnel_peers::on_key_lookup(std::uint32_t node,
                                 const key_lookup_result& result,
                                 tunnel_time now, tunnel_output& out) {
  lookups_in_flight_.erase(node);
  if (result.status == key_lookup_status::found) {
    failed_lookups_.erase(node);
    remember_key(node, result.key, now);
  } else {
    remember_failed_lookup(node, result.status, now);
  }
  auto waiting = waiting_.find(node);
  if (waiting == waiting_.end())
    return;
  auto entry = std::move(waiting->second);
  waiting_.erase(waiting);
  current_source_ = entry.source;
  // The result is now cached, so this check cannot wait again unless the
  // key is stale, which a key fetched just now is not.
  check_key_exchange(entry.frame, entry.source, entry.relay_sender, now, out);
}

void tunnel_peers::prefetch_key(std::uint32_t node, tunnel_time now,
                                tunnel_output& out) {
  if (!config_.encrypt || invalid_peer_node(node, node_id_))
    return;
  if (key_of(node, now).status || lookups_in_flight_.contains(node))
    return;
  if (lookups_in_flight_.size() >= config_.limits.max_key_lookups)
    expire_lookups(now);
  if (lookups_in_flight_.size() >= config_.limits.max_key_lookups)
    return;
  lookups_in_flight_.emplace(node, now);
  out.key_lookups.push_back(node);
}

void tunnel_peers::install(std::uint32_t node,
                           const protocol::x25519_public_key& key,
                           bool authenticated, const udp_endpoint& source,
                           std::uint32_t relay_sender, tunnel_time now,
                           tunnel_output& out) {
  if (auto* known = find(node)) {
    if (known->retired_keys.contains(key)) {
      drop(drop_reason::retired_key, node, out);
      return;
    }
    if (!authenticated && known->crypto && known->crypto->authenticated) {
      drop(drop_reason::unauthenticated_key_exchange, node, out);
      return;
    }
    // Only frames that passed the checks spend the peer's budget, so forged
    // frames cannot hold off its next key. Repeats are what a replay
    // produces, and a new key needs the peer's identity.
    const auto& limits = config_.limits;
    if (known->crypto && known->crypto->peer_key == key
        && !known->key_exchange_budget.try_take(limits.peer_key_exchange_rate,
                                                limits.peer_key_exchange_burst,
                                                now)) {
      drop(drop_reason::rate_limited, node, out);
      return;
    }
  }
  auto& peer = find_or_add(node, now);
  bool had_session = peer.crypto.has_value();
  bool rekeyed = had_session && peer.crypto->peer_key != key;
  bool new_session = !had_session || rekeyed;
  if (new_session) {
    auto shared = keys_.shared_secret(key);
    if (!shared) {
      // A low-order key, which makes the shared secret all zero.
      drop(drop_reason::forged, node, out);
      return;
    }
    auto tunnel_key = protocol::derive_tunnel_key(*shared);
    auto prefix = protocol::random_nonce_prefix();
    if (!tunnel_key || !prefix) {
      drop(drop_reason::crypto_failure, node, out);
      return;
    }
    if (rekeyed)
      peer.retired_keys.insert(peer.crypto->peer_key);
    peer.crypto.emplace(key, authenticated, *tunnel_key, *prefix);
  } else if (authenticated) {
    peer.crypto->authenticated = true;
  }
  ++stats_.key_exchanges_accepted;
  // A repeated key exchange may be a replay from anywhere, so it moves no
  // endpoint that is known already.
  if (relay_sender != 0)
    mark_relay(node, peer, true, out);
  else if (new_session || !peer.endpoint)
    peer.endpoint = source;
  peer.last_active = now;
  peer.last_heard = now;
  out.events.emplace_back(protocol::tunnel_established{
      node, authenticated, relay_sender != 0, rekeyed});
  if (new_session)
    send_key_exchange(node, peer, now, true, out);
  else
    answer_repeat(node, peer, source, relay_sender, now, out);
  flush_pending(node, peer, out);
}

// A peer repeats its key exchange while it lacks ours: it lost its session,
// or a replayed key exchange set up ours and our answer went to the replayer.
// The reference answers only new keys, and such a tunnel would stay broken.
// The answer goes where the repeat came from, and the conditions keep two
// nodes from answering each other's answers.
void tunnel_peers::answer_repeat(std::uint32_t node, peer_state& peer,
                                 const udp_endpoint& source,
                                 std::uint32_t relay_sender, tunnel_time now,
                                 tunnel_output& out) {
  const auto& limits = config_.limits;
  auto recent = [&](const std::optional<tunnel_time>& time) {
    return time && now - *time < limits.repeat_answer_interval;
  };
  if (key_exchange_frame_.empty() || recent(peer.last_opened)
      || recent(peer.last_key_exchange_sent))
    return;
  if (!key_exchange_budget_.try_take(limits.key_exchange_rate,
                                     limits.key_exchange_burst, now))
    return;
  peer.last_key_exchange_sent = now;
  send_key_exchange_to(node, source, relay_sender, out);
}

void tunnel_peers::start_key_exchange(std::uint32_t node, tunnel_time now,
                                      tunnel_output& out) {
  if (auto* peer = find(node); peer && !peer->crypto)
    send_key_exchange(node, *peer, now, false, out);
}

void tunnel_peers::send_key_exchange(std::uint32_t node, peer_state& peer,
                                     tunnel_time now, bool even_if_recent,
                                     tunnel_output& out) {
  if (!config_.encrypt || key_exchange_frame_.empty())
    return;
  if (!even_if_recent && peer.last_key_exchange_sent
      && now - *peer.last_key_exchange_sent
             < config_.limits.key_exchange_interval)
    return;
  tunnel_datagram datagram;
  if (!route(peer, node, datagram))
    return;
  peer.last_key_exchange_sent = now;
  datagram.body = key_exchange_frame_;
  out.datagrams.push_back(std::move(datagram));
}

void tunnel_peers::send_key_exchange_to(std::uint32_t node,
                                        const udp_endpoint& source,
                                        std::uint32_t relay_sender,
                                        tunnel_output& out) {
  tunnel_datagram datagram;
  datagram.destination = source;
  if (relay_sender != 0)
    start_relay(datagram, node);
  datagram.body = key_exchange_frame_;
  out.datagrams.push_back(std::move(datagram));
}

void tunnel_peers::flush_pending(std::uint32_t node, peer_state& peer,
                                 tunnel_output& out) {
  if (peer.pending.empty())
    return;
  for (auto& packet : peer.pending)
    seal_and_send(node, peer, std::move(packet), out);
  peer.pending.clear();
  --pending_peers_;
}

// -- sending ------------------------------------------------------------------

void tunnel_peers::send(std::uint32_t node, std::vector<std::uint8_t> packet,
                        tunnel_time now, tunnel_output& out) {
  current_source_.reset();
  if (node_id_ == 0) {
    drop(drop_reason::not_ready, node, out);
    return;
  }
  auto* peer = find(node);
  if (!peer || !(peer->endpoint || peer->relay)) {
    drop(drop_reason::no_route, node, out);
    return;
  }
  peer->last_active = now;
  if (!config_.encrypt) {
    tunnel_datagram datagram;
    route(*peer, node, datagram);
    append_head(datagram, plaintext_magic);
    datagram.body = std::move(packet);
    emit(std::move(datagram), node, out);
    return;
  }
  if (peer->crypto) {
    seal_and_send(node, *peer, std::move(packet), out);
    return;
  }
  // Unlike the reference, nothing goes out in plaintext before the key
  // exchange completes.
  queue_packet(node, *peer, std::move(packet), out);
  send_key_exchange(node, *peer, now, false, out);
}

void tunnel_peers::seal_and_send(std::uint32_t node, peer_state& peer,
                                 std::vector<std::uint8_t> packet,
                                 tunnel_output& out) {
  auto sealed = peer.crypto->sender.seal(node_id_, packet);
  if (!sealed) {
    drop(sealed.error() == protocol::errc::oversized
             ? drop_reason::oversized
             : drop_reason::crypto_failure,
         node, out);
    return;
  }
  tunnel_datagram datagram;
  if (!route(peer, node, datagram)) {
    drop(drop_reason::no_route, node, out);
    return;
  }
  append_head(datagram, encrypted_magic);
  append_head(datagram, node_id_);
  append_head(datagram, sealed->nonce);
  datagram.body = std::move(sealed->sealed);
  emit(std::move(datagram), node, out);
}

void tunnel_peers::queue_packet(std::uint32_t node, peer_state& peer,
                                std::vector<std::uint8_t> packet,
                                tunnel_output& out) {
  const auto& limits = config_.limits;
  if (peer.pending.empty()) {
    if (pending_peers_ >= limits.max_pending_peers) {
      drop(drop_reason::queue_full, node, out);
      return;
    }
    ++pending_peers_;
  }
  if (peer.pending.size() >= limits.max_pending_packets) {
    peer.pending.pop_front();
    drop(drop_reason::queue_full, node, out);
  }
  peer.pending.push_back(std::move(packet));
}

void tunnel_peers::start_relay(tunnel_datagram& datagram,
                               std::uint32_t destination) const {
  datagram.head[0] = relay_type;
  datagram.head_size = 1;
  append_head(datagram, node_id_);
  append_head(datagram, destination);
}

bool tunnel_peers::route(const peer_state& peer, std::uint32_t node,
                         tunnel_datagram& datagram) const {
  datagram.head_size = 0;
  if (peer.relay && config_.beacon) {
    datagram.destination = *config_.beacon;
    start_relay(datagram, node);
    return true;
  }
  if (!peer.endpoint)
    return false;
  datagram.destination = *peer.endpoint;
  return true;
}

void tunnel_peers::emit(tunnel_datagram datagram, std::uint32_t node,
                        tunnel_output& out) {
  if (datagram.size() > protocol::max_udp_payload_size) {
    drop(drop_reason::oversized, node, out);
    return;
  }
  out.datagrams.push_back(std::move(datagram));
}

bool tunnel_peers::reachable(std::uint32_t node) const noexcept {
  auto* peer = find(node);
  return peer && (peer->endpoint || peer->relay);
}

bool tunnel_peers::recently_heard(std::uint32_t node,
                                  tunnel_time now) const noexcept {
  auto* peer = find(node);
  return peer && peer->last_heard
         && now - *peer->last_heard < config_.limits.learned_endpoint_lifetime;
}

void tunnel_peers::add_peer(std::uint32_t node, const udp_endpoint& endpoint,
                            tunnel_time now, tunnel_output& out) {
  if (invalid_peer_node(node, node_id_))
    return;
  auto& peer = find_or_add(node, now);
  // An endpoint learned from the peer's own authenticated frames beats the
  // registry's while the peer is heard from.
  if (!peer.endpoint || !peer.crypto || !recently_heard(node, now))
    peer.endpoint = unmap_endpoint(endpoint);
  if (!peer.crypto)
    send_key_exchange(node, peer, now, false, out);
}

bool tunnel_peers::use_relay(std::uint32_t node, tunnel_time now,
                             tunnel_output& out) {
  if (!config_.beacon || invalid_peer_node(node, node_id_))
    return false;
  mark_relay(node, find_or_add(node, now), false, out);
  return true;
}

void tunnel_peers::discover(tunnel_output& out) {
  if (!config_.beacon || node_id_ == 0)
    return;
  tunnel_datagram datagram;
  datagram.destination = *config_.beacon;
  datagram.body
      = protocol::encode_beacon_message(protocol::beacon_discover{node_id_});
  out.datagrams.push_back(std::move(datagram));
}

void tunnel_peers::request_punch(std::uint32_t node, tunnel_output& out) {
  if (!config_.beacon || invalid_peer_node(node, node_id_))
    return;
  tunnel_datagram datagram;
  datagram.destination = *config_.beacon;
  datagram.body = protocol::encode_beacon_message(
      protocol::beacon_punch_request{node_id_, node});
  out.datagrams.push_back(std::move(datagram));
}

// -- tables -------------------------------------------------------------------

tunnel_peers::peer_state* tunnel_peers::find(std::uint32_t node) noexcept {
  auto i = peers_.find(node);
  return i == peers_.end() ? nullptr : &i->second;
}

const tunnel_peers::peer_state*
tunnel_peers::find(std::uint32_t node) const noexcept {
  auto i = peers_.find(node);
  return i == peers_.end() ? nullptr : &i->second;
}

tunnel_peers::peer_state& tunnel_peers::find_or_add(std::uint32_t node,
                                                    tunnel_time now) {
  if (auto* peer = find(node))
    return *peer;
  if (peers_.size() >= config_.limits.max_peers)
    evict_idlest();
  auto& peer = peers_.try_emplace(node).first->second;
  peer.last_active = now;
  return peer;
}

// Evicts the idlest peer without an authenticated session, so that PILKs
// from nodes the registry does not know cannot push out authenticated
// peers, and the idlest of all when every peer is authenticated.
void tunnel_peers::evict_idlest() {
  auto authenticated = [](const peer_state& peer) {
    return peer.crypto && peer.crypto->authenticated;
  };
  auto idlest = std::min_element(
      peers_.begin(), peers_.end(), [&](const auto& lhs, const auto& rhs) {
        return std::pair{authenticated(lhs.second), lhs.second.last_active}
               < std::pair{authenticated(rhs.second), rhs.second.last_active};
      });
  if (idlest == peers_.end())
    return;
  if (!idlest->second.pending.empty())
    --pending_peers_;
  peers_.erase(idlest);
}

void tunnel_peers::forget(std::uint32_t node) {
  if (auto i = peers_.find(node); i != peers_.end()) {
    if (!i->second.pending.empty())
      --pending_peers_;
    peers_.erase(i);
  }
  keys_by_node_.erase(node);
  failed_lookups_.erase(node);
  waiting_.erase(node);
  no_session_replies_.erase(node);
}

void tunnel_peers::mark_relay(std::uint32_t node, peer_state& peer,
                              bool raise_event, tunnel_output& out) {
  if (peer.relay)
    return;
  peer.relay = true;
  if (!peer.endpoint)
    peer.endpoint = config_.beacon;
  if (raise_event)
    out.events.emplace_back(protocol::tunnel_relay_activated{node});
}

void tunnel_peers::remember_key(std::uint32_t node,
                                const protocol::public_key& key,
                                tunnel_time now) {
  if (!keys_by_node_.contains(node)
      && keys_by_node_.size() >= config_.limits.max_cached_keys) {
    auto oldest
        = std::min_element(keys_by_node_.begin(), keys_by_node_.end(),
                           [](const auto& lhs, const auto& rhs) {
                             return lhs.second.fetched < rhs.second.fetched;
                           });
    keys_by_node_.erase(oldest);
  }
  keys_by_node_[node] = cached_key{key, now};
}

void tunnel_peers::remember_failed_lookup(std::uint32_t node,
                                          key_lookup_status status,
                                          tunnel_time now) {
  const auto& limits = config_.limits;
  if (!failed_lookups_.contains(node)
      && failed_lookups_.size() >= limits.max_failed_lookups) {
    std::erase_if(failed_lookups_, [now](const auto& entry) {
      return entry.second.expires <= now;
    });
    if (failed_lookups_.size() >= limits.max_failed_lookups) {
      auto soonest
          = std::min_element(failed_lookups_.begin(), failed_lookups_.end(),
                             [](const auto& lhs, const auto& rhs) {
                               return lhs.second.expires < rhs.second.expires;
                             });
      failed_lookups_.erase(soonest);
    }
  }
  auto ttl = status == key_lookup_status::unknown_node ? limits.unknown_node_ttl
                                                       : limits.unavailable_ttl;
  failed_lookups_[node] = failed_lookup{status, now + ttl};
}

void tunnel_peers::expire_lookups(tunnel_time now) {
  auto timeout = config_.limits.key_lookup_timeout;
  for (auto i = lookups_in_flight_.begin(); i != lookups_in_flight_.end();) {
    if (now - i->second >= timeout) {
      waiting_.erase(i->first);
      i = lookups_in_flight_.erase(i);
    } else {
      ++i;
    }
  }
}

void tunnel_peers::drop(drop_reason reason, std::uint32_t node,
                        tunnel_output& out) {
  ++stats_.drops[static_cast<std::size_t>(reason)];
  out.drops.push_back({reason, node, current_source_});
}

// -- inspection ---------------------------------------------------------------

std::optional<peer_summary> tunnel_peers::peer(std::uint32_t node) const {
  auto* state = find(node);
  if (!state)
    return std::nullopt;
  peer_summary summary;
  summary.node_id = node;
  if (state->endpoint)
    summary.endpoint = format_endpoint(*state->endpoint);
  summary.encrypted = state->crypto.has_value();
  summary.authenticated = state->crypto && state->crypto->authenticated;
  summary.relay = state->relay;
  return summary;
}

tunnel_summary tunnel_peers::summary() const {
  tunnel_summary result;
  result.peers.reserve(peers_.size());
  for (const auto& entry : peers_)
    result.peers.push_back(*peer(entry.first));
  std::sort(result.peers.begin(), result.peers.end(),
            [](const auto& lhs, const auto& rhs) {
              return lhs.node_id < rhs.node_id;
            });
  result.frames_dropped = stats_.total_dropped();
  return result;
}

std::size_t tunnel_peers::pending_packets(std::uint32_t node) const noexcept {
  auto* peer = find(node);
  return peer ? peer->pending.size() : 0;
}

} // namespace pilot::actors::detail
