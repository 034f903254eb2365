#include "actors/detail/trust_book.hpp"

#include "protocol/go_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <utility>

namespace pilot::actors::detail {

namespace {

using std::chrono::floor;
using std::chrono::seconds;
using std::chrono::system_clock;

trust_time whole_seconds(system_clock::time_point now) {
  return floor<seconds>(now);
}

std::string node_text(std::uint32_t peer) {
  return "node " + std::to_string(peer);
}

// Accepts a request by the path it came: port 444 or the registry mailbox.
void answer_accept(trust_actions& out, handshake_source source,
                   std::uint32_t peer) {
  if (source == handshake_source::direct)
    out.messages.push_back({peer, protocol::handshake_kind::accept, {}, false});
  else
    out.relay_answers.push_back({peer, true});
}

} // namespace

trust_book::trust_book(trust_limits limits) : limits_(limits) {}

void trust_book::load(trust_records records) {
  records_ = std::move(records);
}

bool trust_book::is_trusted(std::uint32_t peer) const {
  return records_.trusted.contains(peer);
}

bool trust_book::needs_network_check(std::uint32_t peer) const {
  return !records_.trusted.contains(peer) && !records_.outgoing.contains(peer);
}

std::vector<std::uint32_t> trust_book::trusted_peers() const {
  std::vector<std::uint32_t> peers;
  peers.reserve(records_.trusted.size());
  for (const auto& entry : records_.trusted)
    peers.push_back(entry.first);
  return peers;
}

// -- validation ---------------------------------------------------------------

std::string trust_book::check_fresh(const protocol::handshake_message& message,
                                    system_clock::time_point now) {
  reap_replays(now);
  auto now_seconds = floor<seconds>(now).time_since_epoch().count();
  // Compare without subtracting the peer's timestamp, which may be any
  // int64 and would overflow.
  if (message.timestamp < now_seconds - limits_.max_age.count())
    return "the message is older than "
           + std::to_string(limits_.max_age.count()) + " s (timestamp "
           + std::to_string(message.timestamp) + ")";
  if (message.timestamp > now_seconds + limits_.max_skew.count())
    return "the message is dated more than "
           + std::to_string(limits_.max_skew.count())
           + " s in the future (timestamp " + std::to_string(message.timestamp)
           + ")";
  if (replay_keys_.contains(protocol::replay_key(message)))
    return "the message is a replay";
  return {};
}

bool trust_book::remember(const protocol::handshake_message& message,
                          system_clock::time_point now) {
  reap_replays(now);
  auto key = protocol::replay_key(message);
  if (replay_keys_.contains(key))
    return true;
  if (replay_keys_.size() >= limits_.max_replay)
    return false;
  replay_keys_.insert(key);
  replay_order_.emplace_back(now, key);
  return true;
}

void trust_book::reap_replays(system_clock::time_point now) {
  while (!replay_order_.empty()
         && replay_order_.front().first + limits_.replay_lifetime <= now) {
    replay_keys_.erase(replay_order_.front().second);
    replay_order_.pop_front();
  }
}

// -- incoming -----------------------------------------------------------------

trust_actions trust_book::trust_peer(std::uint32_t peer, trusted_peer entry) {
  trust_actions out;
  records_.trusted[peer] = std::move(entry);
  records_.pending.erase(peer);
  records_.outgoing.erase(peer);
  out.save = true;
  return out;
}

trust_actions trust_book::on_request(handshake_source source,
                                     std::uint32_t peer, std::string public_key,
                                     std::string justification,
                                     std::uint16_t shared_network,
                                     system_clock::time_point now) {
  protocol::handshake_received received{peer, justification};
  // A trusted peer requests trust again, for example after a state loss.
  if (auto i = records_.trusted.find(peer); i != records_.trusted.end()) {
    trust_actions out;
    out.events.emplace_back(std::move(received));
    answer_accept(out, source, peer);
    if (i->second.public_key.empty() && !public_key.empty()) {
      i->second.public_key = std::move(public_key);
      out.save = true;
    }
    return out;
  }
  // Trust at once when the requests crossed or a network is shared.
  auto mutual = records_.outgoing.contains(peer);
  if (mutual || shared_network != 0) {
    if (records_.trusted.size() >= limits_.max_trusted) {
      trust_actions out;
      out.events.emplace_back(std::move(received));
      out.note = "the trust list is full ("
                 + std::to_string(limits_.max_trusted) + " peers), so "
                 + node_text(peer) + " stays untrusted";
      return out;
    }
    trusted_peer entry{std::move(public_key), whole_seconds(now), mutual,
                       mutual ? std::uint16_t{0} : shared_network};
    auto out = trust_peer(peer, std::move(entry));
    out.events.emplace_back(std::move(received));
    out.events.emplace_back(protocol::handshake_auto_approved{
        peer, mutual ? "mutual" : "same_network"});
    // A relayed accept creates the registry's trust pair by itself.
    if (source == handshake_source::direct)
      out.report_trust.push_back(peer);
    answer_accept(out, source, peer);
    return out;
  }
  // Keep the request for the local user, replacing an earlier one.
  trust_actions out;
  out.events.emplace_back(std::move(received));
  if (!records_.pending.contains(peer)
      && records_.pending.size() >= limits_.max_pending) {
    out.note
        = "the pending list is full (" + std::to_string(limits_.max_pending)
          + " requests), so the request of " + node_text(peer) + " is dropped";
    return out;
  }
  records_.pending[peer]
      = {std::move(public_key), justification, whole_seconds(now)};
  out.save = true;
  out.events.emplace_back(
      protocol::handshake_pending{peer, std::move(justification)});
  return out;
}

trust_actions trust_book::on_accept(handshake_source source, std::uint32_t peer,
                                    std::string public_key,
                                    system_clock::time_point now) {
  trust_actions out;
  if (!records_.outgoing.contains(peer)) {
    out.note = "no trust request of ours to " + node_text(peer)
               + " is outstanding, so its accept is ignored";
    return out;
  }
  if (auto i = records_.trusted.find(peer); i != records_.trusted.end()) {
    records_.outgoing.erase(peer);
    i->second.mutual = true;
    if (i->second.public_key.empty())
      i->second.public_key = std::move(public_key);
    out.save = true;
    return out;
  }
  if (records_.trusted.size() >= limits_.max_trusted) {
    records_.outgoing.erase(peer);
    out.save = true;
    out.note = "the trust list is full (" + std::to_string(limits_.max_trusted)
               + " peers), so " + node_text(peer) + " stays untrusted";
    return out;
  }
  // The peer's own request waits here when both sides asked: the accept
  // settles it, which the webhook learns as a mutual approval.
  bool settles_pending = records_.pending.contains(peer);
  out = trust_peer(peer, {std::move(public_key), whole_seconds(now), true, 0});
  if (settles_pending)
    out.events.emplace_back(protocol::handshake_auto_approved{peer, "mutual"});
  if (source == handshake_source::direct)
    out.report_trust.push_back(peer);
  return out;
}

trust_actions trust_book::on_reject(std::uint32_t peer,
                                    std::string_view reason) {
  trust_actions out;
  if (records_.outgoing.erase(peer) == 0) {
    out.note = "no trust request of ours to " + node_text(peer)
               + " is outstanding, so its reject is ignored";
    return out;
  }
  out.save = true;
  out.note = node_text(peer) + " rejected our trust request";
  if (!reason.empty())
    out.note += ": " + std::string{reason};
  return out;
}

trust_actions trust_book::on_revoke(std::uint32_t peer) {
  trust_actions out;
  auto was_trusted = records_.trusted.erase(peer) > 0;
  auto had_pending = records_.pending.erase(peer) > 0;
  auto had_outgoing = records_.outgoing.erase(peer) > 0;
  out.save = was_trusted || had_pending || had_outgoing;
  if (!was_trusted) {
    out.note = node_text(peer) + " revoked a trust we never gave it";
    return out;
  }
  out.events.emplace_back(protocol::trust_revoked_by_peer{peer});
  out.revoke_trust.push_back(peer);
  out.forget_tunnel = peer;
  return out;
}

// -- local operations ---------------------------------------------------------

trust_actions trust_book::send_request(std::uint32_t self, std::uint32_t peer,
                                       std::string justification,
                                       system_clock::time_point now) {
  trust_actions out;
  if (peer == self) {
    out.error = node_text(peer) + " is this node itself";
    return out;
  }
  if (records_.trusted.contains(peer))
    return out;
  // Make room by dropping our oldest request. Its late accept is then
  // ignored, which fails safe.
  if (!records_.outgoing.contains(peer)
      && records_.outgoing.size() >= limits_.max_outgoing) {
    auto oldest = std::min_element(
        records_.outgoing.begin(), records_.outgoing.end(),
        [](const auto& x, const auto& y) { return x.second < y.second; });
    out.note = "the outgoing list is full, so the request to "
               + node_text(oldest->first) + " is forgotten";
    records_.outgoing.erase(oldest);
  }
  records_.outgoing[peer] = whole_seconds(now);
  out.save = true;
  out.messages.push_back({peer, protocol::handshake_kind::request,
                          std::move(justification), true});
  return out;
}

trust_actions trust_book::approve(std::uint32_t peer,
                                  system_clock::time_point now) {
  trust_actions out;
  auto i = records_.pending.find(peer);
  if (i == records_.pending.end()) {
    out.error = "no pending request from " + node_text(peer);
    return out;
  }
  auto existing = records_.trusted.find(peer);
  if (existing == records_.trusted.end()
      && records_.trusted.size() >= limits_.max_trusted) {
    out.error = "the trust list is full (" + std::to_string(limits_.max_trusted)
                + " peers), so revoke a peer first";
    return out;
  }
  // A peer that is already trusted keeps its entry, and only the request
  // is removed.
  trusted_peer entry{std::move(i->second.public_key), whole_seconds(now), false,
                     0};
  if (existing != records_.trusted.end()) {
    if (existing->second.public_key.empty())
      existing->second.public_key = entry.public_key;
    entry = existing->second;
  }
  out = trust_peer(peer, std::move(entry));
  out.events.emplace_back(protocol::handshake_approved{peer});
  out.report_trust.push_back(peer);
  out.relay_answers.push_back({peer, true});
  out.messages.push_back({peer, protocol::handshake_kind::accept, {}, false});
  return out;
}

trust_actions trust_book::reject(std::uint32_t peer, std::string reason) {
  trust_actions out;
  if (records_.pending.erase(peer) == 0) {
    out.error = "no pending request from " + node_text(peer);
    return out;
  }
  out.save = true;
  out.events.emplace_back(protocol::handshake_rejected{peer, reason});
  out.relay_answers.push_back({peer, false});
  out.messages.push_back(
      {peer, protocol::handshake_kind::reject, std::move(reason), false});
  return out;
}

trust_actions trust_book::revoke(std::uint32_t peer) {
  trust_actions out;
  if (records_.trusted.erase(peer) == 0) {
    out.error = node_text(peer) + " was not trusted";
    return out;
  }
  records_.pending.erase(peer);
  records_.outgoing.erase(peer);
  out.save = true;
  out.events.emplace_back(protocol::trust_revoked{peer});
  out.messages.push_back({peer, protocol::handshake_kind::revoke, {}, false});
  out.revoke_trust.push_back(peer);
  out.forget_tunnel = peer;
  return out;
}

bool trust_book::backfill_key(std::uint32_t peer,
                              const std::string& public_key) {
  auto i = records_.trusted.find(peer);
  if (i == records_.trusted.end() || !i->second.public_key.empty()
      || public_key.empty())
    return false;
  i->second.public_key = public_key;
  return true;
}

// -- IPC replies --------------------------------------------------------------

std::string to_pending_json(const trust_records& records) {
  boost::json::array list;
  for (const auto& [node, request] : records.pending)
    list.push_back(boost::json::object{
        {"justification", request.justification},
        {"node_id", node},
        {"public_key", request.public_key},
        {"received_at", request.received_at.time_since_epoch().count()},
    });
  return protocol::to_go_json(boost::json::object{{"pending", list}});
}

std::string to_trusted_json(const trust_records& records) {
  boost::json::array list;
  for (const auto& [node, peer] : records.trusted)
    list.push_back(boost::json::object{
        {"approved_at", peer.approved_at.time_since_epoch().count()},
        {"mutual", peer.mutual},
        {"network", peer.network},
        {"node_id", node},
        {"public_key", peer.public_key},
    });
  return protocol::to_go_json(boost::json::object{{"trusted", list}});
}

} // namespace pilot::actors::detail
