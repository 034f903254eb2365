#include "actors/registry_service.hpp"

#include "actors/detail/registry_rules.hpp"
#include "actors/detail/registry_store.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "protocol/address.hpp"
#include "protocol/base64.hpp"
#include "protocol/identity.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace pilot::actors {

namespace {

using namespace detail;

constexpr std::string_view component = "registry";

/// Maximum characters of a failure reason in the debug log.
constexpr std::size_t max_logged_reason_chars = 256;

std::int64_t unix_seconds(registry_time time) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             time.time_since_epoch())
      .count();
}

std::string backbone_address(std::uint32_t node_id) {
  return protocol::to_string(protocol::address{0, node_id});
}

node_record* find_node(registry_state& state, std::uint32_t id) {
  auto i = state.nodes.find(id);
  return i == state.nodes.end() ? nullptr : &i->second;
}

bool is_trusted(const registry_state& state, std::uint32_t a, std::uint32_t b) {
  auto i = state.trust.find(a);
  return i != state.trust.end() && i->second.contains(b);
}

// The privacy rule for endpoints: a private node's endpoint is disclosed
// only to a node it shares a trust pair or a non-backbone network with.
bool may_see_endpoint(const registry_state& state, std::uint32_t requester,
                      const node_record& target) {
  if (target.is_public || is_trusted(state, requester, target.id))
    return true;
  auto requester_node = state.nodes.find(requester);
  if (requester_node == state.nodes.end())
    return false;
  for (auto net : target.networks) {
    const auto& mine = requester_node->second.networks;
    if (net != 0 && std::find(mine.begin(), mine.end(), net) != mine.end())
      return true;
  }
  return false;
}

// Truncates `text` to at most `max_size` bytes without splitting a UTF-8
// character.
void truncate_utf8(std::string& text, std::size_t max_size) {
  if (text.size() <= max_size)
    return;
  auto end = max_size;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  text.resize(end);
}

std::string_view type_name(const protocol::registry_request& request) {
  return std::visit(
      [](const auto& r) -> std::string_view {
        if constexpr (requires { r.type.size(); })
          return r.type;
        else
          return std::remove_cvref_t<decltype(r)>::type;
      },
      request);
}

} // namespace

// -- outcome ------------------------------------------------------------------

struct registry_service::outcome {
  enum class kind { ok, failed, bad_signature, rate_limited };

  kind result = kind::ok;
  /// The response body when `ok`, the reason for the log otherwise.
  std::string text;

  template <class Response>
  static outcome reply(const Response& response) {
    return {kind::ok, protocol::encode_registry_message(response)};
  }

  static outcome fail(std::string reason) {
    return {kind::failed, std::move(reason)};
  }
};

// -- construction, dispatch, housekeeping -------------------------------------

registry_service::registry_service(registry_config config, time_point now)
    : config_(config) {
  state_.networks[0] = network_record{0, "backbone", "open", "", {}, now};
}

std::optional<std::string>
registry_service::handle(std::string_view request_body,
                         const source_info& source, time_point now) {
  auto request = protocol::decode_registry_request(request_body);
  if (!request)
    return std::nullopt;
  return handle(*request, source, now);
}

std::string registry_service::handle(const protocol::registry_request& request,
                                     const source_info& source,
                                     time_point now) {
  ++stats_.requests;
  auto result = std::visit(
      [&](const auto& typed) { return on(typed, source, now); }, request);
  if (result.result == outcome::kind::ok)
    return std::move(result.text);
  ++stats_.failures;
  if (result.result == outcome::kind::bad_signature)
    ++stats_.bad_signatures;
  if (result.result == outcome::kind::rate_limited)
    ++stats_.rate_limited;
  // The reason may contain a client's value of nearly 1 MiB, such as the
  // hostname in a signed challenge.
  log::debug(component, "registry-request-failed",
             shorten_value(result.text, max_logged_reason_chars),
             {{"type", shorten_value(type_name(request))},
              {"source", source.ip.to_string()}});
  return std::string{protocol::generic_error_body};
}

std::size_t registry_service::reap(time_point now) {
  // Step 1: nodes without a heartbeat within stale_after.
  std::vector<std::uint32_t> stale;
  for (const auto& [id, node] : state_.nodes)
    if (now - node.last_seen > config_.stale_after)
      stale.push_back(id);
  for (auto id : stale) {
    log::info(component, "node-reaped", "removed a node without heartbeats",
              {{"node_id", std::to_string(id)}});
    remove_node(id);
  }
  stats_.reaped += stale.size();
  if (!stale.empty())
    dirty_ = true;
  // Step 2: beacons and rate-limit buckets past their lifetimes.
  std::erase_if(state_.beacons, [&](const auto& item) {
    return now - item.second.last_seen > config_.beacon_ttl;
  });
  std::erase_if(rate_buckets_, [&](const auto& item) {
    return now - item.second.last_used() > config_.rate_bucket_idle;
  });
  return stale.size();
}

std::string registry_service::snapshot() const {
  return to_store_json(state_);
}

void registry_service::load(std::string_view store_json, time_point now) {
  registry_state loaded;
  load_store_json(store_json, loaded);
  for (auto& [id, node] : loaded.nodes)
    node.last_seen = std::max(node.last_seen, now);
  state_ = std::move(loaded);
  dirty_ = false;
}

// -- table helpers ------------------------------------------------------------

void registry_service::remove_node(std::uint32_t id) {
  auto i = state_.nodes.find(id);
  if (i == state_.nodes.end())
    return;
  auto& node = i->second;
  for (auto net : node.networks)
    if (auto n = state_.networks.find(net); n != state_.networks.end())
      n->second.members.erase(id);
  if (!node.hostname.empty())
    state_.hostnames.erase(node.hostname);
  // The key stays indexed, so that the same key gets its ID back later.
  if (auto k = state_.keys.find(node.key_base64); k != state_.keys.end()) {
    k->second.departed_sequence = state_.next_departure++;
    state_.departed_keys.emplace(k->second.departed_sequence, k->first);
  }
  state_.nodes.erase(i);
}

void registry_service::forget_key(const std::string& key) {
  auto k = state_.keys.find(key);
  if (k == state_.keys.end())
    return;
  if (k->second.departed_sequence != 0)
    state_.departed_keys.erase(k->second.departed_sequence);
  state_.key_by_id.erase(k->second.node_id);
  state_.keys.erase(k);
}

void registry_service::forget_node_id(std::uint32_t id) {
  if (auto t = state_.trust.find(id); t != state_.trust.end()) {
    for (auto peer : t->second)
      state_.trust[peer].erase(id);
    state_.trust_pair_count -= t->second.size();
    state_.trust.erase(t);
  }
  state_.inbox.erase(id);
  state_.responses.erase(id);
  std::erase_if(state_.owners,
                [id](const auto& item) { return item.second == id; });
}

bool registry_service::make_room_for_key() {
  while (state_.keys.size() >= config_.max_known_keys) {
    if (state_.departed_keys.empty())
      return false;
    auto oldest = state_.departed_keys.begin()->second;
    auto id = state_.keys.at(oldest).node_id;
    forget_key(oldest);
    forget_node_id(id);
  }
  return true;
}

void registry_service::index_key(const std::string& key, std::uint32_t id) {
  state_.keys[key] = key_entry{id, 0};
  state_.key_by_id[id] = key;
}

void registry_service::mark_live(const std::string& key) {
  auto k = state_.keys.find(key);
  if (k == state_.keys.end() || k->second.departed_sequence == 0)
    return;
  state_.departed_keys.erase(k->second.departed_sequence);
  k->second.departed_sequence = 0;
}

bool registry_service::add_trust_pair(std::uint32_t a, std::uint32_t b) {
  if (is_trusted(state_, a, b))
    return true;
  if (state_.trust_pair_count >= config_.max_trust_pairs)
    return false;
  state_.trust[a].insert(b);
  state_.trust[b].insert(a);
  ++state_.trust_pair_count;
  return true;
}

bool registry_service::take_register_token(const source_info& source,
                                           time_point now) {
  auto key = rate_limit_key(source.ip);
  auto bucket = rate_buckets_.find(key);
  if (bucket == rate_buckets_.end()) {
    if (rate_buckets_.size() >= config_.max_rate_buckets)
      std::erase_if(rate_buckets_, [&](const auto& item) {
        return now - item.second.last_used() > config_.rate_bucket_idle;
      });
    if (rate_buckets_.size() >= config_.max_rate_buckets)
      return false;
    bucket
        = rate_buckets_
              .emplace(key, token_bucket{config_.register_burst,
                                         config_.register_refill_period, now})
              .first;
  }
  return bucket->second.try_take(now);
}

registry_service::outcome
registry_service::check_signature(const node_record& node,
                                  const std::string& challenge,
                                  std::string_view signature) {
  if (signature.empty())
    return outcome{outcome::kind::bad_signature, "signature missing"};
  if (!protocol::verify_base64(node.key_base64, challenge, signature))
    return outcome{outcome::kind::bad_signature,
                   "signature verification failed for " + challenge};
  return outcome{};
}

// -- register -----------------------------------------------------------------

registry_service::outcome
registry_service::on(const protocol::register_request& request,
                     const source_info& source, time_point now) {
  // NOTE: register carries no proof of key possession on the wire, so anyone
  // who knows a public key can move that node's endpoint to their own
  // address. Only the rate limit and the source-address rule bound this.
  // Step 1: the rate limit, which a known key may pass when it is exhausted.
  auto key = protocol::parse_public_key(request.public_key);
  std::string canonical = key ? protocol::base64_encode(*key) : std::string{};
  if (!take_register_token(source, now) && !state_.keys.contains(canonical))
    return outcome{outcome::kind::rate_limited,
                   "rate limited: " + rate_limit_key(source.ip)};
  // Step 2: the endpoint, the key, the owner and the hostname.
  auto endpoint = endpoint_from(request.listen_addr, source.ip, source.port);
  if (request.public_key.empty())
    return outcome::fail("public_key missing");
  if (!key)
    return outcome::fail("public_key is not 32 bytes of base64");
  if (request.owner.size() > config_.max_owner_size)
    return outcome::fail("owner longer than "
                         + std::to_string(config_.max_owner_size) + " bytes");
  std::optional<std::string> hostname_problem;
  if (!request.hostname.empty())
    hostname_problem = hostname_error(request.hostname);
  // Step 3: check the bounds, then pick the node ID and record the node.
  auto known = state_.keys.find(canonical);
  bool live = known != state_.keys.end()
              && state_.nodes.contains(known->second.node_id);
  if (!live && state_.nodes.size() >= config_.max_nodes)
    return outcome::fail("registry full: " + std::to_string(config_.max_nodes)
                         + " nodes");
  if (known == state_.keys.end() && !make_room_for_key())
    return outcome::fail("key index full");
  auto id = node_id_for(canonical, request.owner);
  if (!id)
    return outcome::fail(id.error());
  auto* node = find_node(state_, *id);
  if (node == nullptr) {
    node = &create_node(*id, *key, canonical, request.owner);
  } else if (node->owner.empty() && !request.owner.empty()) {
    node->owner = request.owner;
    state_.owners.try_emplace(request.owner, *id);
  }
  node->real_addr = endpoint;
  node->last_seen = now;
  // Step 4: the hostname, skipped without error when another node has it.
  protocol::register_response response;
  if (!request.hostname.empty() && !hostname_problem
      && assign_hostname(*node, request.hostname))
    response.hostname = request.hostname;
  if (hostname_problem)
    response.hostname_error = *hostname_problem;
  ++stats_.registrations;
  dirty_ = true;
  log::info(component, "node-registered", "registered a node",
            {{"node_id", std::to_string(*id)}, {"endpoint", endpoint}});
  response.node_id = *id;
  response.address = backbone_address(*id);
  response.public_key = canonical;
  return outcome::reply(response);
}

// Picks the node ID for a registration:
// - a known key keeps its ID, live or departed;
// - an unknown key with the owner of a departed node reclaims that node's ID,
//   and the departed node's old key is forgotten;
// - any other key gets a new ID.
// Unlike the Go reference, an owner alone never takes over a live node:
// owners are unverified text, so replacing the live node's key would hand
// its identity to anyone who has seen the owner string. The new key gets a new
// ID instead, and the live node keeps its own.
boost::system::result<std::uint32_t, std::string>
registry_service::node_id_for(const std::string& key,
                              const std::string& owner) {
  if (auto k = state_.keys.find(key); k != state_.keys.end())
    return k->second.node_id;
  if (!owner.empty()) {
    auto o = state_.owners.find(owner);
    if (o != state_.owners.end() && !state_.nodes.contains(o->second)) {
      auto id = o->second;
      if (auto old = state_.key_by_id.find(id); old != state_.key_by_id.end())
        forget_key(std::string{old->second});
      return id;
    }
    if (o != state_.owners.end())
      log::info(component, "owner-takeover-refused",
                "a new key named the owner of a live node; it gets a new ID",
                {{"node_id", std::to_string(o->second)}});
  }
  if (state_.next_node == 0
      || state_.next_node == std::numeric_limits<std::uint32_t>::max())
    return std::string{"node IDs exhausted"};
  return state_.next_node++;
}

node_record& registry_service::create_node(std::uint32_t id,
                                           const protocol::public_key& key,
                                           const std::string& canonical,
                                           const std::string& owner) {
  if (!state_.keys.contains(canonical))
    index_key(canonical, id);
  mark_live(canonical);
  auto& node = state_.nodes[id];
  node = node_record{};
  node.id = id;
  node.key = key;
  node.key_base64 = canonical;
  node.owner = owner;
  node.networks = {0};
  state_.networks[0].members.insert(id);
  if (!owner.empty())
    state_.owners.try_emplace(owner, id);
  return node;
}

bool registry_service::assign_hostname(node_record& node,
                                       const std::string& hostname) {
  auto [holder, inserted] = state_.hostnames.try_emplace(hostname, node.id);
  if (!inserted && holder->second != node.id)
    return false;
  if (!node.hostname.empty() && node.hostname != hostname)
    state_.hostnames.erase(node.hostname);
  node.hostname = hostname;
  return true;
}

// -- liveness -----------------------------------------------------------------

registry_service::outcome
registry_service::on(const protocol::heartbeat_request& request,
                     const source_info&, time_point now) {
  auto* node = find_node(state_, request.node_id);
  if (node == nullptr)
    return outcome::fail("heartbeat from unknown node "
                         + std::to_string(request.node_id));
  if (auto bad
      = check_signature(*node, signing_challenge(request), request.signature);
      bad.result != outcome::kind::ok)
    return bad;
  node->last_seen = now;
  return outcome::reply(protocol::heartbeat_response{unix_seconds(now)});
}

registry_service::outcome
registry_service::on(const protocol::deregister_request& request,
                     const source_info&, time_point) {
  auto* node = find_node(state_, request.node_id);
  if (node == nullptr)
    return outcome::reply(protocol::deregister_response{});
  if (auto bad
      = check_signature(*node, signing_challenge(request), request.signature);
      bad.result != outcome::kind::ok)
    return bad;
  remove_node(request.node_id);
  dirty_ = true;
  log::info(component, "node-deregistered", "removed a node on its request",
            {{"node_id", std::to_string(request.node_id)}});
  return outcome::reply(protocol::deregister_response{});
}

// -- lookups ------------------------------------------------------------------

registry_service::outcome
registry_service::on(const protocol::lookup_request& request,
                     const source_info&, time_point) {
  auto* node = find_node(state_, request.node_id);
  if (node == nullptr)
    return outcome::fail("lookup of unknown node "
                         + std::to_string(request.node_id));
  protocol::lookup_response response;
  response.node_id = node->id;
  response.address = backbone_address(node->id);
  response.networks = node->networks;
  response.public_key = node->key_base64;
  response.is_public = node->is_public;
  response.polo_score = node->polo_score;
  response.hostname = node->hostname;
  response.tags = node->tags;
  response.task_exec = node->task_exec;
  if (node->is_public)
    response.real_addr = node->real_addr;
  return outcome::reply(response);
}

registry_service::outcome
registry_service::on(const protocol::resolve_request& request,
                     const source_info&, time_point) {
  auto* requester = find_node(state_, request.requester_id);
  if (requester == nullptr)
    return outcome::fail("resolve by unknown node "
                         + std::to_string(request.requester_id));
  if (auto bad = check_signature(*requester, signing_challenge(request),
                                 request.signature);
      bad.result != outcome::kind::ok)
    return bad;
  auto* target = find_node(state_, request.node_id);
  if (target == nullptr)
    return outcome::fail("resolve of unknown node "
                         + std::to_string(request.node_id));
  if (!may_see_endpoint(state_, request.requester_id, *target))
    return outcome::fail("resolve of a private node without trust");
  return outcome::reply(
      protocol::resolve_response{target->id, target->real_addr});
}

registry_service::outcome
registry_service::on(const protocol::resolve_hostname_request& request,
                     const source_info&, time_point) {
  auto holder = state_.hostnames.find(request.hostname);
  if (holder == state_.hostnames.end())
    return outcome::fail("hostname not found");
  auto* node = find_node(state_, holder->second);
  if (node == nullptr)
    return outcome::fail("hostname not found");
  return outcome::reply(protocol::resolve_hostname_response{
      node->id, backbone_address(node->id), node->is_public, node->hostname});
}

// -- node settings ------------------------------------------------------------

registry_service::outcome
registry_service::signed_node(std::uint32_t id, const std::string& challenge,
                              std::string_view signature, node_record*& node) {
  node = find_node(state_, id);
  if (node == nullptr)
    return outcome::fail("unknown node " + std::to_string(id));
  return check_signature(*node, challenge, signature);
}

registry_service::outcome
registry_service::on(const protocol::set_hostname_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  if (request.hostname.empty()) {
    if (!node->hostname.empty())
      state_.hostnames.erase(node->hostname);
    node->hostname.clear();
  } else if (auto problem = hostname_error(request.hostname)) {
    return outcome::fail(*problem);
  } else if (!assign_hostname(*node, request.hostname)) {
    return outcome::fail("hostname already in use");
  }
  dirty_ = true;
  return outcome::reply(
      protocol::set_hostname_response{node->id, node->hostname});
}

registry_service::outcome
registry_service::on(const protocol::set_visibility_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  node->is_public = request.is_public;
  dirty_ = true;
  return outcome::reply(protocol::set_visibility_response{
      node->id, node->is_public ? "public" : "private"});
}

registry_service::outcome
registry_service::on(const protocol::set_tags_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  auto tags = request.tags;
  if (auto problem = normalize_tags(tags))
    return outcome::fail(*problem);
  node->tags = std::move(tags);
  dirty_ = true;
  return outcome::reply(protocol::set_tags_response{node->id, node->tags});
}

registry_service::outcome
registry_service::on(const protocol::set_task_exec_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  node->task_exec = request.enabled;
  dirty_ = true;
  return outcome::reply(
      protocol::set_task_exec_response{node->id, node->task_exec});
}

// -- trust and the handshake mailbox ------------------------------------------

registry_service::outcome
registry_service::on(const protocol::report_trust_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  if (request.peer_id == request.node_id)
    return outcome::fail("trust with itself");
  if (find_node(state_, request.peer_id) == nullptr)
    return outcome::fail("trust with unknown node "
                         + std::to_string(request.peer_id));
  if (!add_trust_pair(request.node_id, request.peer_id))
    return outcome::fail("trust table full");
  dirty_ = true;
  return outcome::reply(protocol::report_trust_response{});
}

registry_service::outcome
registry_service::on(const protocol::revoke_trust_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  if (!is_trusted(state_, request.node_id, request.peer_id))
    return outcome::fail("no trust pair to revoke");
  state_.trust[request.node_id].erase(request.peer_id);
  state_.trust[request.peer_id].erase(request.node_id);
  --state_.trust_pair_count;
  dirty_ = true;
  return outcome::reply(protocol::revoke_trust_response{});
}

registry_service::outcome
registry_service::on(const protocol::request_handshake_request& request,
                     const source_info&, time_point now) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.from_node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  if (request.to_node_id == request.from_node_id)
    return outcome::fail("handshake with itself");
  if (find_node(state_, request.to_node_id) == nullptr)
    return outcome::fail("handshake to unknown node "
                         + std::to_string(request.to_node_id));
  auto& inbox = state_.inbox[request.to_node_id];
  if (inbox.size() >= config_.mailbox_capacity)
    return outcome::fail("handshake mailbox full");
  if (std::any_of(inbox.begin(), inbox.end(), [&](const auto& entry) {
        return entry.from_node_id == request.from_node_id;
      }))
    return outcome::fail("handshake request already pending");
  auto justification = request.justification;
  truncate_utf8(justification, config_.max_justification_size);
  inbox.push_back({request.from_node_id, std::move(justification), now});
  // Unlike the reference, mailbox changes are saved like any other change.
  dirty_ = true;
  return outcome::reply(protocol::request_handshake_response{"delivered"});
}

registry_service::outcome
registry_service::on(const protocol::poll_handshakes_request& request,
                     const source_info&, time_point) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  protocol::poll_handshakes_response response;
  if (auto i = state_.inbox.find(request.node_id); i != state_.inbox.end()) {
    for (auto& entry : i->second)
      response.requests.push_back({entry.from_node_id,
                                   std::move(entry.justification),
                                   unix_seconds(entry.timestamp)});
    state_.inbox.erase(i);
    dirty_ = true;
  }
  if (auto i = state_.responses.find(request.node_id);
      i != state_.responses.end()) {
    for (const auto& entry : i->second)
      response.responses.push_back(
          {entry.from_node_id, entry.accept, unix_seconds(entry.timestamp)});
    state_.responses.erase(i);
    dirty_ = true;
  }
  return outcome::reply(response);
}

registry_service::outcome
registry_service::on(const protocol::respond_handshake_request& request,
                     const source_info&, time_point now) {
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  if (request.peer_id == request.node_id)
    return outcome::fail("handshake response to itself");
  if (find_node(state_, request.peer_id) == nullptr)
    return outcome::fail("handshake response to unknown node "
                         + std::to_string(request.peer_id));
  // NOTE: as in the reference, nothing checks that `peer_id` asked first,
  // because Go daemons also answer requests that reached them directly.
  // One waiting response per responder: a newer one replaces the older, so
  // a single node cannot fill the requester's mailbox.
  auto& queue = state_.responses[request.peer_id];
  std::erase_if(queue, [&](const auto& entry) {
    return entry.from_node_id == request.node_id;
  });
  if (queue.size() >= config_.mailbox_capacity)
    return outcome::fail("handshake response mailbox full");
  if (request.accept && !add_trust_pair(request.node_id, request.peer_id))
    return outcome::fail("trust table full");
  queue.push_back({request.node_id, request.accept, now});
  dirty_ = true;
  return outcome::reply(
      protocol::respond_handshake_response{request.accept, request.peer_id});
}

// -- punch, key rotation, polo score ------------------------------------------

registry_service::outcome
registry_service::on(const protocol::punch_request& request, const source_info&,
                     time_point) {
  if (request.requester_id != request.node_a
      && request.requester_id != request.node_b)
    return outcome::fail("punch requester is neither node");
  node_record* requester = nullptr;
  if (auto bad = signed_node(request.requester_id, signing_challenge(request),
                             request.signature, requester);
      bad.result != outcome::kind::ok)
    return bad;
  auto* a = find_node(state_, request.node_a);
  auto* b = find_node(state_, request.node_b);
  if (a == nullptr || b == nullptr)
    return outcome::fail("punch with unknown node");
  // Unlike the reference, punch applies the same privacy rule as resolve to
  // the other node's endpoint.
  const auto& other = request.requester_id == request.node_a ? *b : *a;
  if (!may_see_endpoint(state_, request.requester_id, other))
    return outcome::fail("punch to a private node without trust");
  return outcome::reply(
      protocol::punch_response{a->id, a->real_addr, b->id, b->real_addr});
}

registry_service::outcome
registry_service::on(const protocol::rotate_key_request& request,
                     const source_info&, time_point now) {
  if (request.signature.empty() || request.new_public_key.empty())
    return outcome::fail("rotate_key needs signature and new_public_key");
  auto new_key = protocol::parse_public_key(request.new_public_key);
  if (!new_key)
    return outcome::fail("new_public_key is not 32 bytes of base64");
  node_record* node = nullptr;
  if (auto bad = signed_node(request.node_id, signing_challenge(request),
                             request.signature, node);
      bad.result != outcome::kind::ok)
    return bad;
  auto canonical = protocol::base64_encode(*new_key);
  // Unlike the reference, a key that belongs to another node is rejected.
  if (auto k = state_.keys.find(canonical);
      k != state_.keys.end() && k->second.node_id != node->id)
    return outcome::fail("new_public_key belongs to another node");
  forget_key(node->key_base64);
  index_key(canonical, node->id);
  node->key = *new_key;
  node->key_base64 = canonical;
  node->last_seen = now;
  dirty_ = true;
  log::info(component, "node-key-rotated", "replaced a node's public key",
            {{"node_id", std::to_string(node->id)}});
  return outcome::reply(protocol::rotate_key_response{
      node->id, backbone_address(node->id), node->key_base64});
}

namespace {

template <class Response>
Response polo_response(const node_record& node) {
  Response response;
  response.node_id = node.id;
  response.address = backbone_address(node.id);
  response.polo_score = node.polo_score;
  return response;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  return sum;
}

} // namespace

registry_service::outcome
registry_service::on(const protocol::update_polo_score_request& request,
                     const source_info&, time_point now) {
  auto* node = find_node(state_, request.node_id);
  if (node == nullptr)
    return outcome::fail("polo score of unknown node");
  node->polo_score = saturating_add(node->polo_score, request.delta);
  node->last_seen = now;
  dirty_ = true;
  return outcome::reply(
      polo_response<protocol::update_polo_score_response>(*node));
}

registry_service::outcome
registry_service::on(const protocol::set_polo_score_request& request,
                     const source_info&, time_point now) {
  auto* node = find_node(state_, request.node_id);
  if (node == nullptr)
    return outcome::fail("polo score of unknown node");
  node->polo_score = request.polo_score;
  node->last_seen = now;
  dirty_ = true;
  return outcome::reply(
      polo_response<protocol::set_polo_score_response>(*node));
}

registry_service::outcome
registry_service::on(const protocol::get_polo_score_request& request,
                     const source_info&, time_point) {
  auto* node = find_node(state_, request.node_id);
  if (node == nullptr)
    return outcome::fail("polo score of unknown node");
  return outcome::reply(
      polo_response<protocol::get_polo_score_response>(*node));
}

// -- networks and beacons -----------------------------------------------------

registry_service::outcome
registry_service::on(const protocol::list_networks_request&, const source_info&,
                     time_point) {
  protocol::list_networks_response response;
  for (const auto& [id, network] : state_.networks)
    response.networks.push_back(
        {id, network.name, static_cast<std::uint32_t>(network.members.size()),
         network.join_rule});
  return outcome::reply(response);
}

registry_service::outcome
registry_service::on(const protocol::list_nodes_request& request,
                     const source_info&, time_point) {
  if (request.network_id == 0)
    return outcome::fail("listing the backbone is not allowed");
  auto network = state_.networks.find(request.network_id);
  if (network == state_.networks.end())
    return outcome::fail("network not found");
  protocol::list_nodes_response response;
  for (auto id : network->second.members) {
    auto* node = find_node(state_, id);
    if (node == nullptr)
      continue;
    response.nodes.push_back(
        {id, protocol::to_string(protocol::address{request.network_id, id}),
         node->hostname, node->task_exec,
         node->is_public ? node->real_addr : std::string{}});
  }
  return outcome::reply(response);
}

registry_service::outcome
registry_service::on(const protocol::beacon_register_request& request,
                     const source_info&, time_point now) {
  if (request.beacon_id == 0 || request.addr.empty())
    return outcome::fail("beacon_register needs beacon_id and addr");
  if (request.addr.size() > config_.max_beacon_addr_size)
    return outcome::fail("beacon addr too long");
  if (!state_.beacons.contains(request.beacon_id)) {
    if (state_.beacons.size() >= config_.max_beacons)
      std::erase_if(state_.beacons, [&](const auto& item) {
        return now - item.second.last_seen > config_.beacon_ttl;
      });
    if (state_.beacons.size() >= config_.max_beacons)
      return outcome::fail("beacon directory full");
  }
  state_.beacons[request.beacon_id] = beacon_record{request.addr, now};
  return outcome::reply(protocol::beacon_register_response{request.beacon_id});
}

registry_service::outcome
registry_service::on(const protocol::beacon_list_request&, const source_info&,
                     time_point now) {
  protocol::beacon_list_response response;
  for (const auto& [id, beacon] : state_.beacons)
    if (now - beacon.last_seen <= config_.beacon_ttl)
      response.beacons.push_back({id, beacon.addr});
  return outcome::reply(response);
}

registry_service::outcome
registry_service::on(const protocol::unknown_request& request,
                     const source_info&, time_point) {
  if (request.type == "create_network" || request.type == "join_network"
      || request.type == "leave_network")
    return outcome::fail("custom networks are not supported");
  if (request.type == "subscribe_replication")
    return outcome::fail("replication is not supported");
  return outcome::fail("unknown message type");
}

} // namespace pilot::actors
