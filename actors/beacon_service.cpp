#include "actors/beacon_service.hpp"

#include "actors/detail/registry_rules.hpp"
#include "actors/log.hpp"

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace pilot::actors {

namespace {

using boost::asio::ip::udp;
using namespace protocol;

constexpr std::string_view component = "beacon";

// Length of the window that `max_requests_per_second` counts in.
constexpr auto rate_window = std::chrono::seconds{1};

beacon_endpoint to_beacon_endpoint(const udp::endpoint& endpoint) {
  return {endpoint.address(), endpoint.port()};
}

outgoing_datagram make_datagram(const udp::endpoint& destination,
                                std::vector<std::uint8_t> bytes) {
  return {destination, std::move(bytes)};
}

} // namespace

std::string format_endpoint(const udp::endpoint& endpoint) {
  const auto& ip = endpoint.address();
  auto host = ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

udp::endpoint unmap_endpoint(const udp::endpoint& endpoint) {
  const auto& ip = endpoint.address();
  if (!ip.is_v6() || !ip.to_v6().is_v4_mapped())
    return endpoint;
  return {
      boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, ip.to_v6()),
      endpoint.port()};
}

beacon_service::beacon_service(beacon_config config)
    : config_(std::move(config)) {
  if (config_.peers.size() > config_.max_peers)
    throw std::invalid_argument(
        "too many peer beacons: " + std::to_string(config_.peers.size())
        + ", the maximum is " + std::to_string(config_.max_peers));
  for (const auto& peer : config_.peers)
    peers_.push_back(peer_state{unmap_endpoint(peer), 0, {}, {}});
}

std::vector<outgoing_datagram>
beacon_service::handle(std::span<const std::uint8_t> datagram,
                       const udp::endpoint& raw_source, time_point now) {
  ++stats_.datagrams;
  auto source = unmap_endpoint(raw_source);
  auto decoded = decode_beacon_message(datagram);
  if (!decoded) {
    if (decoded.error() == make_error_code(errc::unknown_type))
      ++stats_.unexpected;
    else
      ++stats_.malformed;
    log::debug(component, "datagram-dropped", "dropped an invalid datagram",
               {{"source", format_endpoint(source)},
                {"size", std::to_string(datagram.size())},
                {"error", decoded.error().message()}});
    return {};
  }
  std::vector<outgoing_datagram> out;
  std::visit(
      [&](auto& m) {
        using type = std::remove_cvref_t<decltype(m)>;
        if constexpr (
            std::is_same_v<
                type,
                beacon_discover> || std::is_same_v<type, beacon_punch_request>)
          on(m, source, now, out);
        else if constexpr (std::is_same_v<type, beacon_relay>)
          on_relay(datagram, std::move(m), source, now, out);
        else if constexpr (std::is_same_v<type, beacon_sync>)
          on(m, source, now);
        else
          ++stats_.unexpected;
      },
      *decoded);
  return out;
}

// Replies with the observed endpoint and records it. Node 0 is the daemon's
// start-up probe, before it has an ID, so it gets the reply but no entry:
// recording it would let anyone relay to the host that probed last.
void beacon_service::on(const beacon_discover& m, const udp::endpoint& source,
                        time_point now, std::vector<outgoing_datagram>& out) {
  if (!take_request_token(source, now))
    return;
  ++stats_.discovers;
  if (m.node_id != 0)
    claim(m.node_id, source, now);
  out.push_back(
      make_datagram(source, encode_beacon_message(beacon_discover_reply{
                                to_beacon_endpoint(source)})));
}

// Records the requester as a Discover would, then sends each node a
// PunchCommand with the other's endpoint. The reference discloses the target's
// endpoint to any requester; the beacon cannot check trust, so that remains.
void beacon_service::on(const beacon_punch_request& m,
                        const udp::endpoint& source, time_point now,
                        std::vector<outgoing_datagram>& out) {
  if (!take_request_token(source, now))
    return;
  auto drop = [&](std::string_view reason) {
    ++stats_.punches_dropped;
    log::debug(component, "punch-dropped", "dropped a punch request",
               {{"source", format_endpoint(source)},
                {"requester", std::to_string(m.requester_id)},
                {"target", std::to_string(m.target_id)},
                {"reason", std::string{reason}}});
  };
  if (m.requester_id == 0 || m.requester_id == m.target_id) {
    drop("invalid requester");
    return;
  }
  if (claim(m.requester_id, source, now) != claim_result::recorded) {
    drop("requester ID held by another endpoint");
    return;
  }
  const auto* target = live_node(m.target_id, now);
  if (target == nullptr) {
    drop("unknown target");
    return;
  }
  ++stats_.punches;
  out.push_back(
      make_datagram(source, encode_beacon_message(beacon_punch_command{
                                to_beacon_endpoint(target->endpoint)})));
  out.push_back(make_datagram(
      target->endpoint,
      encode_beacon_message(beacon_punch_command{to_beacon_endpoint(source)})));
}

// Delivers to a local node, or forwards the datagram unchanged to the peer
// beacon that listed the destination. A relay from a node must come from the
// endpoint recorded for its sender ID. The daemon sends Discover and Relay
// from its one tunnel socket, so its relays pass, and each one refreshes
// its entry. A relay from a peer beacon was checked there
// and is only delivered locally: forwarding it again could loop.
void beacon_service::on_relay(std::span<const std::uint8_t> datagram,
                              beacon_relay&& m, const udp::endpoint& source,
                              time_point now,
                              std::vector<outgoing_datagram>& out) {
  auto drop = [&](std::string_view reason) {
    ++stats_.relays_dropped;
    log::debug(component, "relay-dropped", "dropped a relay",
               {{"source", format_endpoint(source)},
                {"sender", std::to_string(m.sender_id)},
                {"destination", std::to_string(m.dest_id)},
                {"size", std::to_string(m.payload.size())},
                {"reason", std::string{reason}}});
  };
  // Step 1: the payload and the sender.
  if (m.payload.empty()) {
    drop("empty payload");
    return;
  }
  if (m.payload.size() > config_.max_relay_payload) {
    drop("payload over the limit");
    return;
  }
  bool from_peer = peer_at(source) != nullptr;
  if (!from_peer) {
    auto sender = nodes_.find(m.sender_id);
    if (sender == nodes_.end()
        || sender->second.last_seen + config_.entry_ttl <= now
        || sender->second.endpoint != source) {
      drop("sender ID not recorded for this endpoint");
      return;
    }
    sender->second.last_seen = now;
  }
  // Step 2: a local destination, then a peer's.
  if (const auto* dest = live_node(m.dest_id, now)) {
    ++stats_.relays_delivered;
    out.push_back(make_datagram(dest->endpoint,
                                encode_beacon_message(beacon_relay_deliver{
                                    m.sender_id, std::move(m.payload)})));
    return;
  }
  const auto* peer = from_peer ? nullptr : peer_with(m.dest_id, now);
  if (peer == nullptr) {
    drop("unknown destination");
    return;
  }
  ++stats_.relays_forwarded;
  out.push_back(
      make_datagram(peer->endpoint, std::vector<std::uint8_t>(datagram.begin(),
                                                              datagram.end())));
}

// Replaces what the sending peer listed before. IDs beyond `max_peer_nodes`
// are left out, so some relays to that peer's nodes are dropped.
void beacon_service::on(const beacon_sync& m, const udp::endpoint& source,
                        time_point now) {
  auto* peer = peer_at(source);
  if (peer == nullptr) {
    ++stats_.syncs_rejected;
    log::debug(component, "sync-rejected", "rejected a Sync from a non-peer",
               {{"source", format_endpoint(source)},
                {"beacon_id", std::to_string(m.beacon_id)}});
    return;
  }
  ++stats_.syncs_accepted;
  peer_node_count_ -= peer->node_ids.size();
  peer->node_ids.clear();
  peer->beacon_id = m.beacon_id;
  peer->synced = now;
  std::size_t left_out = 0;
  for (auto id : m.node_ids) {
    if (id == 0)
      continue;
    if (peer_node_count_ >= config_.max_peer_nodes) {
      ++left_out;
      continue;
    }
    if (peer->node_ids.insert(id).second)
      ++peer_node_count_;
  }
  if (left_out > 0)
    log::debug(component, "sync-truncated",
               "left out node IDs over the peer table limit",
               {{"source", format_endpoint(source)},
                {"left_out", std::to_string(left_out)}});
}

// Records `source` as the endpoint of `node_id`. The wire format carries no
// proof of identity, so the beacon cannot tell a node that moved from a host
// that claims another's ID. The rules:
// - a refresh from the recorded endpoint always succeeds;
// - a new port on the recorded IP address is accepted at once, because NAT
//   rebinding and a daemon restart look like that;
// - a new IP address is accepted only once the entry has not been refreshed
//   for `takeover_after`. A live daemon refreshes every 30 s, so it cannot
//   be displaced, and a daemon that changed networks is recorded again
//   within `takeover_after` plus one Discover interval.
// A host behind the same NAT as its victim can still take over its entry,
// and a host can hold an ID that no live node uses.
beacon_service::claim_result beacon_service::claim(std::uint32_t node_id,
                                                   const udp::endpoint& source,
                                                   time_point now) {
  auto source_key = detail::rate_limit_key(source.address());
  auto entry = nodes_.find(node_id);
  if (entry != nodes_.end()) {
    auto& node = entry->second;
    bool live = node.last_seen + config_.entry_ttl > now;
    bool same_ip = node.endpoint.address() == source.address();
    if (live && !same_ip && now - node.last_seen < config_.takeover_after) {
      ++stats_.takeovers_rejected;
      log::debug(component, "takeover-rejected",
                 "kept a live node entry at its endpoint",
                 {{"node_id", std::to_string(node_id)},
                  {"recorded", format_endpoint(node.endpoint)},
                  {"source", format_endpoint(source)}});
      return claim_result::takeover_rejected;
    }
    if (node.endpoint == source) {
      node.last_seen = now;
      return claim_result::recorded;
    }
    auto old_key = detail::rate_limit_key(node.endpoint.address());
    if (old_key != source_key) {
      auto count = nodes_per_source_.find(source_key);
      if (count != nodes_per_source_.end()
          && count->second >= config_.max_nodes_per_source) {
        ++stats_.table_full;
        return claim_result::table_full;
      }
      count_source(old_key, -1);
      count_source(source_key, +1);
    }
    ++stats_.moves;
    log::debug(component, "node-moved", "recorded a new node endpoint",
               {{"node_id", std::to_string(node_id)},
                {"from", format_endpoint(node.endpoint)},
                {"to", format_endpoint(source)}});
    node = node_entry{source, now};
    return claim_result::recorded;
  }
  auto count = nodes_per_source_.find(source_key);
  if (nodes_.size() >= config_.max_nodes
      || (count != nodes_per_source_.end()
          && count->second >= config_.max_nodes_per_source)) {
    ++stats_.table_full;
    log::debug(component, "node-rejected", "node table full",
               {{"node_id", std::to_string(node_id)},
                {"source", format_endpoint(source)},
                {"nodes", std::to_string(nodes_.size())}});
    return claim_result::table_full;
  }
  nodes_.emplace(node_id, node_entry{source, now});
  count_source(source_key, +1);
  return claim_result::recorded;
}

// Counts requests per source in fixed one-second windows. The table is
// cleared with each window, so it holds only the sources of one second.
bool beacon_service::take_request_token(const udp::endpoint& source,
                                        time_point now) {
  if (now >= window_end_) {
    requests_in_window_.clear();
    window_end_ = now + rate_window;
  }
  auto key = detail::rate_limit_key(source.address());
  auto count = requests_in_window_.find(key);
  if (count == requests_in_window_.end()) {
    if (requests_in_window_.size() < config_.max_rate_sources)
      count = requests_in_window_.emplace(std::move(key), 0).first;
  }
  if (count == requests_in_window_.end()
      || count->second >= config_.max_requests_per_second) {
    ++stats_.rate_limited;
    return false;
  }
  ++count->second;
  return true;
}

void beacon_service::count_source(const std::string& key, int delta) {
  auto& count = nodes_per_source_[key];
  if (delta > 0)
    ++count;
  else if (count > 0)
    --count;
  if (count == 0)
    nodes_per_source_.erase(key);
}

const beacon_service::node_entry*
beacon_service::live_node(std::uint32_t node_id, time_point now) const {
  auto entry = nodes_.find(node_id);
  if (entry == nodes_.end()
      || entry->second.last_seen + config_.entry_ttl <= now)
    return nullptr;
  return &entry->second;
}

beacon_service::peer_state*
beacon_service::peer_at(const udp::endpoint& source) {
  auto peer = std::find_if(peers_.begin(), peers_.end(),
                           [&](const auto& p) { return p.endpoint == source; });
  return peer == peers_.end() ? nullptr : &*peer;
}

// Several peers may list the same node while it moves between beacons; the
// latest Sync wins, as it does in the reference.
const beacon_service::peer_state*
beacon_service::peer_with(std::uint32_t node_id, time_point now) const {
  const peer_state* found = nullptr;
  for (const auto& peer : peers_) {
    if (peer.synced + config_.peer_ttl <= now
        || !peer.node_ids.contains(node_id))
      continue;
    if (found == nullptr || peer.synced > found->synced)
      found = &peer;
  }
  return found;
}

std::optional<udp::endpoint> beacon_service::endpoint_of(std::uint32_t node_id,
                                                         time_point now) const {
  if (const auto* node = live_node(node_id, now))
    return node->endpoint;
  return std::nullopt;
}

std::vector<outgoing_datagram>
beacon_service::sync_datagrams(time_point now) const {
  if (peers_.empty())
    return {};
  // NOTE: past `max_sync_node_ids` live nodes, which IDs are left out
  // depends on the hash table's order, and relays to them from peers fail.
  beacon_sync sync{config_.beacon_id, {}};
  for (const auto& [id, node] : nodes_) {
    if (sync.node_ids.size() >= max_sync_node_ids)
      break;
    if (node.last_seen + config_.entry_ttl > now)
      sync.node_ids.push_back(id);
  }
  auto bytes = encode_beacon_message(sync);
  std::vector<outgoing_datagram> out;
  for (const auto& peer : peers_)
    out.push_back(make_datagram(peer.endpoint, bytes));
  return out;
}

std::size_t beacon_service::expire(time_point now) {
  std::size_t removed = 0;
  for (auto entry = nodes_.begin(); entry != nodes_.end();) {
    if (entry->second.last_seen + config_.entry_ttl > now) {
      ++entry;
      continue;
    }
    count_source(detail::rate_limit_key(entry->second.endpoint.address()), -1);
    entry = nodes_.erase(entry);
    ++removed;
  }
  for (auto& peer : peers_) {
    if (peer.synced + config_.peer_ttl > now)
      continue;
    peer_node_count_ -= peer.node_ids.size();
    peer.node_ids.clear();
  }
  if (now >= window_end_)
    requests_in_window_.clear();
  stats_.expired += removed;
  return removed;
}

} // namespace pilot::actors
