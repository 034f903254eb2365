#include "actors/tunnel_actor.hpp"

#include "actors/beacon_service.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/registry_connection.hpp"
#include "protocol/registry_message.hpp"
#include "protocol/tunnel_crypto.hpp"

#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/asio/ip/udp.hpp>

#include <map>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::actors::datagram_batch)

namespace pilot::actors {

namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using detail::drop_reason;
using detail::tunnel_clock;
using detail::tunnel_time;

constexpr std::string_view log_component = "tunnel";

/// The periodic Discover to the beacon.
using discover_atom = caf::atom_constant<caf::atom("discover")>;
constexpr discover_atom discover_atom_v = discover_atom{};

/// The tunnel actor's own messages: socket reads and its timer.
using tunnel_impl = tunnel_actor::extend<caf::reacts_to<datagram_batch>,
                                         caf::reacts_to<discover_atom>>;

// -- log rate limiting --------------------------------------------------------

/// Lets through one log line per kind and peer per interval, and counts what
/// it held back, so a flood of bad frames costs one line a minute.
class log_limiter {
public:
  static constexpr std::chrono::seconds interval{60};
  static constexpr std::size_t max_keys = 1024;

  /// Returns how many lines of this key were held back since the last one
  /// that passed (0 or more), or nothing when this one is held back too.
  std::optional<std::uint64_t> pass(std::string_view kind, std::uint32_t node,
                                    tunnel_time now) {
    auto key = std::make_pair(std::string{kind}, node);
    auto i = entries_.find(key);
    if (i != entries_.end()) {
      if (now - i->second.last < interval) {
        ++i->second.held_back;
        return std::nullopt;
      }
      auto held_back = std::exchange(i->second.held_back, 0);
      i->second.last = now;
      return held_back;
    }
    if (entries_.size() >= max_keys) {
      std::erase_if(entries_, [now](const auto& entry) {
        return now - entry.second.last >= interval;
      });
      if (entries_.size() >= max_keys)
        return std::nullopt;
    }
    entries_.emplace(std::move(key), entry{now, 0});
    return 0;
  }

private:
  struct entry {
    tunnel_time last;
    std::uint64_t held_back;
  };

  std::map<std::pair<std::string, std::uint32_t>, entry> entries_;
};

// -- state --------------------------------------------------------------------

/// The actor's start-up arguments, prepared by `spawn_tunnel`.
struct tunnel_setup {
  detail::tunnel_peers_config config;
  protocol::identity identity;
  protocol::x25519_key_pair keys;
  std::shared_ptr<udp_socket> socket;
  node_directory_actor registry;
  event_sink_actor events;
  std::chrono::seconds discover_interval;
  std::chrono::milliseconds registry_deadline;
  std::size_t max_resolves;
  std::size_t max_resolve_waiters;
};

struct tunnel_state {
  static inline const char* name = "pilot.tunnel";

  ~tunnel_state() {
    if (socket)
      socket->close();
  }

  std::optional<detail::tunnel_peers> peers;
  std::shared_ptr<udp_socket> socket;
  node_directory_actor registry;
  event_sink_actor events;
  packet_sink_actor sink;
  std::chrono::seconds discover_interval{30};
  std::chrono::milliseconds registry_deadline{15'000};
  std::size_t max_resolves = 64;
  std::size_t max_resolve_waiters = 64;
  bool discovering = false;
  /// Reused for every message, so its vectors keep their capacity.
  detail::tunnel_output out;
  /// Requests waiting for the resolve of their node.
  std::unordered_map<std::uint32_t,
                     std::vector<caf::typed_response_promise<bool>>>
      resolves;
  log_limiter limiter;
  // Socket counters.
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t send_drops = 0;
  /// Packets decoded while no packet sink was set.
  std::uint64_t undelivered = 0;
};

using tunnel_pointer = tunnel_impl::stateful_pointer<tunnel_state>;

// -- logging ------------------------------------------------------------------

bool security_relevant(drop_reason reason) {
  switch (reason) {
    case drop_reason::beacon_impostor:
    case drop_reason::forged:
    case drop_reason::replayed:
    case drop_reason::retired_key:
    case drop_reason::unauthenticated_key_exchange:
    case drop_reason::sender_mismatch:
    case drop_reason::wrong_destination:
    case drop_reason::plaintext_rejected:
      return true;
    default:
      return false;
  }
}

void log_drop(tunnel_pointer self, const detail::dropped_frame& dropped,
              tunnel_time now) {
  auto kind = to_string(dropped.reason);
  auto held_back = self->state.limiter.pass(kind, dropped.node, now);
  if (!held_back)
    return;
  auto level
      = security_relevant(dropped.reason) ? log::level::warn : log::level::info;
  log::write(level, log_component, "frame-dropped",
             "dropped a tunnel datagram; further drops of this kind from "
             "this peer are logged at most once a minute",
             {{"reason", std::string{kind}},
              {"peer_node_id", std::to_string(dropped.node)},
              {"source", dropped.source ? format_endpoint(*dropped.source)
                                        : std::string{"none"}},
              {"held_back", std::to_string(*held_back)}});
}

void log_event(tunnel_pointer self, const protocol::event& event,
               tunnel_time now) {
  auto& limiter = self->state.limiter;
  if (auto* established = std::get_if<protocol::tunnel_established>(&event)) {
    if (!limiter.pass("established", established->peer_node_id, now))
      return;
    log::info(log_component, "tunnel-established", "accepted a key exchange",
              {{"peer_node_id", std::to_string(established->peer_node_id)},
               {"authenticated", established->authenticated ? "true" : "false"},
               {"relay", established->relay ? "true" : "false"},
               {"rekeyed", established->rekeyed ? "true" : "false"}});
  } else if (auto* relay
             = std::get_if<protocol::tunnel_relay_activated>(&event)) {
    log::info(log_component, "relay-activated",
              "the peer reaches us through the beacon; replies go there too",
              {{"peer_node_id", std::to_string(relay->peer_node_id)}});
  } else if (auto* added = std::get_if<protocol::tunnel_peer_added>(&event)) {
    if (!limiter.pass("peer-added", added->peer_node_id, now))
      return;
    log::info(log_component, "peer-added", "added a peer that sent a packet",
              {{"peer_node_id", std::to_string(added->peer_node_id)},
               {"endpoint", added->endpoint}});
  }
}

// -- output -------------------------------------------------------------------

void start_lookup(tunnel_pointer self, std::uint32_t node);

void send_datagrams(tunnel_pointer self, tunnel_time now) {
  auto& st = self->state;
  if (st.out.datagrams.empty())
    return;
  auto report = st.socket->send(st.out.datagrams);
  st.datagrams_sent += report.datagrams_sent;
  st.bytes_sent += report.bytes_sent;
  st.send_drops += report.dropped;
  if (report.dropped > 0 && st.limiter.pass("send-failed", 0, now))
    log::warn(log_component, "send-failed",
              "the socket did not take a datagram; logged at most once a "
              "minute",
              {{"dropped", std::to_string(report.dropped)},
               {"error", report.last_error.message()}});
}

// Carries out what the last calls into the peer table produced.
void flush(tunnel_pointer self) {
  auto& st = self->state;
  auto& out = st.out;
  auto now = tunnel_clock::now();
  send_datagrams(self, now);
  if (!out.packets.empty()) {
    if (st.sink)
      self->send(st.sink, deliver_atom_v, std::move(out.packets));
    else
      st.undelivered += out.packets.size();
  }
  for (auto& event : out.events) {
    log_event(self, event, now);
    if (st.events)
      self->send(st.events, std::move(event));
  }
  for (const auto& dropped : out.drops)
    log_drop(self, dropped, now);
  auto lookups = std::move(out.key_lookups);
  out.clear();
  for (auto node : lookups)
    start_lookup(self, node);
}

// -- registry -----------------------------------------------------------------

detail::key_lookup_result parse_lookup(std::uint32_t node,
                                       const std::string& json) {
  detail::key_lookup_result result;
  auto response
      = protocol::decode_registry_message<protocol::lookup_response>(json);
  if (!response || response->node_id != node)
    return result;
  auto key = protocol::parse_public_key(response->public_key);
  if (!key)
    return result;
  result.status = detail::key_lookup_status::found;
  result.key = *key;
  return result;
}

void on_lookup(tunnel_pointer self, std::uint32_t node,
               const detail::key_lookup_result& result) {
  auto& st = self->state;
  if (result.status == detail::key_lookup_status::unavailable
      && st.limiter.pass("lookup-failed", node, tunnel_clock::now()))
    log::warn(log_component, "lookup-failed",
              "cannot fetch the peer's public key; its key exchanges are "
              "dropped for a few seconds",
              {{"peer_node_id", std::to_string(node)}});
  st.peers->on_key_lookup(node, result, tunnel_clock::now(), st.out);
  flush(self);
}

void start_lookup(tunnel_pointer self, std::uint32_t node) {
  auto& st = self->state;
  if (!st.registry) {
    on_lookup(self, node, {});
    return;
  }
  self->request(st.registry, st.registry_deadline, lookup_atom_v, node)
      .then(
          [self, node](std::string& json) {
            on_lookup(self, node, parse_lookup(node, json));
          },
          [self, node](caf::error& err) {
            detail::key_lookup_result result;
            // The registry sends its error frame for a node it does not
            // know. Any other failure is no evidence about the node.
            if (err.category() == error_category
                && err.code()
                       == static_cast<std::uint8_t>(errc::registry_rejected))
              result.status = detail::key_lookup_status::unknown_node;
            on_lookup(self, node, result);
          });
}

// Parses `real_addr`, which the registry stores as `ip:port`.
std::optional<udp::endpoint> parse_real_addr(const std::string& text) {
  std::string host;
  std::string port;
  if (!split_host_port(text, host, port))
    return std::nullopt;
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec || ip.is_unspecified())
    return std::nullopt;
  return unmap_endpoint({ip, static_cast<std::uint16_t>(std::stoul(port))});
}

void finish_resolve(tunnel_pointer self, std::uint32_t node,
                    const caf::error& err) {
  auto& st = self->state;
  auto i = st.resolves.find(node);
  if (i == st.resolves.end())
    return;
  auto waiters = std::move(i->second);
  st.resolves.erase(i);
  // A peer known already stays usable at the endpoint last learned when
  // the registry cannot tell a newer one, as for a private peer.
  auto usable = !err || st.peers->reachable(node);
  for (auto& waiter : waiters) {
    if (usable)
      waiter.deliver(true);
    else
      waiter.deliver(err);
  }
}

void on_resolved(tunnel_pointer self, std::uint32_t node,
                 const std::string& json) {
  auto& st = self->state;
  auto prefix = "resolve node " + std::to_string(node) + ": ";
  auto response
      = protocol::decode_registry_message<protocol::resolve_response>(json);
  if (!response || response->node_id != node) {
    finish_resolve(self, node,
                   make_error(errc::malformed_reply,
                              prefix
                                  + "the registry's response is not a "
                                    "resolve_ok for the node"));
    return;
  }
  auto endpoint = parse_real_addr(response->real_addr);
  if (!endpoint) {
    finish_resolve(self, node,
                   make_error(errc::malformed_reply,
                              prefix
                                  + "the registry returned the invalid "
                                    "endpoint "
                                  + quote_value(response->real_addr)));
    return;
  }
  // Punch first, so that the beacon makes the peer open its NAT towards us
  // while our key exchange is on its way.
  auto now = tunnel_clock::now();
  st.peers->request_punch(node, st.out);
  st.peers->add_peer(node, *endpoint, now, st.out);
  flush(self);
  finish_resolve(self, node, {});
}

caf::typed_response_promise<bool> ensure_peer(tunnel_pointer self,
                                              std::uint32_t node) {
  auto& st = self->state;
  auto promise = self->make_response_promise<bool>();
  auto prefix = "resolve node " + std::to_string(node) + ": ";
  auto now = tunnel_clock::now();
  if (node == 0 || node == protocol::broadcast_node) {
    promise.deliver(
        make_error(errc::invalid_argument, prefix + "invalid node ID"));
    return promise;
  }
  // A peer not heard from for a while may have restarted elsewhere, so the
  // registry is asked again for its endpoint.
  if (st.peers->reachable(node) && st.peers->recently_heard(node, now)) {
    st.peers->start_key_exchange(node, now, st.out);
    flush(self);
    promise.deliver(true);
    return promise;
  }
  if (auto i = st.resolves.find(node); i != st.resolves.end()) {
    if (i->second.size() >= st.max_resolve_waiters)
      promise.deliver(
          make_error(errc::busy, prefix + "too many requests wait for it"));
    else
      i->second.push_back(promise);
    return promise;
  }
  if (!st.registry) {
    promise.deliver(make_error(errc::registry_unavailable,
                               prefix + "no registry is configured"));
    return promise;
  }
  if (st.resolves.size() >= st.max_resolves) {
    promise.deliver(
        make_error(errc::busy, prefix + "too many resolves in flight (maximum "
                                   + std::to_string(st.max_resolves) + ")"));
    return promise;
  }
  st.resolves[node].push_back(promise);
  // Fetch the key now, so that the peer's key exchange need not wait for it.
  st.peers->prefetch_key(node, now, st.out);
  flush(self);
  self->request(st.registry, st.registry_deadline, resolve_atom_v, node)
      .then([self, node](std::string& json) { on_resolved(self, node, json); },
            [self, node, prefix](caf::error& err) {
              // Errors of the registry actor name the node already.
              if (err == caf::sec::request_timeout)
                err = make_error(errc::timeout,
                                 prefix + "the registry client timed out");
              else if (err.category() != error_category)
                err = make_error(
                    errc::registry_unavailable,
                    prefix + "the registry client failed: " + error_text(err));
              finish_resolve(self, node, err);
            });
  return promise;
}

// -- behavior -----------------------------------------------------------------

/// Longest wait for the packet sink to handle one batch; past it the socket
/// reader goes on, as if the sink had handled it.
constexpr auto sink_deadline = std::chrono::seconds{5};

void on_batch(tunnel_pointer self, const datagram_batch& batch) {
  auto& st = self->state;
  auto now = tunnel_clock::now();
  auto changes = st.peers->stats().observed_endpoint_changes;
  for (const auto& datagram : batch.datagrams) {
    ++st.datagrams_received;
    st.bytes_received += datagram.size;
    st.peers->receive(batch.payload(datagram), datagram.source, now, st.out);
  }
  // The batch counts as processed once the packet sink has handled its
  // packets, so a sink that falls behind pauses the socket reader instead
  // of growing its mailbox.
  if (st.sink && !st.out.packets.empty()) {
    auto packets = std::move(st.out.packets);
    st.out.packets.clear();
    auto socket = st.socket;
    self->request(st.sink, sink_deadline, deliver_atom_v, std::move(packets))
        .then([socket] { socket->batch_done(); },
              [socket](const caf::error&) { socket->batch_done(); });
    flush(self);
  } else {
    flush(self);
    st.socket->batch_done();
  }
  // Peers reach us at the endpoint the beacon observes, which differs from
  // the socket's address behind a NAT.
  if (st.peers->stats().observed_endpoint_changes != changes)
    log::info(log_component, "endpoint-observed",
              "the beacon reports the public endpoint of the tunnel socket",
              {{"endpoint", format_endpoint(*st.peers->observed_endpoint())},
               {"listen", format_endpoint(st.socket->local_endpoint())}});
}

void on_node_info(tunnel_pointer self, const node_info& info) {
  auto& st = self->state;
  if (!info.registered || info.node_id == 0)
    return;
  if (info.node_id != st.peers->node_id())
    log::info(log_component, "node-id-set",
              "tunnel frames now carry this node ID",
              {{"node_id", std::to_string(info.node_id)}});
  st.peers->set_node_id(info.node_id);
  st.peers->discover(st.out);
  flush(self);
  if (!st.discovering) {
    st.discovering = true;
    self->delayed_send(self, st.discover_interval, discover_atom_v);
  }
}

tunnel_summary summarize(tunnel_pointer self) {
  auto& st = self->state;
  auto summary = st.peers->summary();
  summary.bytes_sent = st.bytes_sent;
  summary.bytes_recv = st.bytes_received;
  summary.pkts_sent = st.datagrams_sent;
  summary.pkts_recv = st.datagrams_received;
  summary.frames_dropped
      += st.send_drops + st.undelivered + st.socket->receive_drops();
  return summary;
}

tunnel_impl::behavior_type tunnel_behavior(tunnel_pointer self,
                                           tunnel_setup setup) {
  auto& st = self->state;
  st.peers.emplace(std::move(setup.config), std::move(setup.identity),
                   std::move(setup.keys));
  st.socket = std::move(setup.socket);
  st.registry = std::move(setup.registry);
  st.events = std::move(setup.events);
  st.discover_interval = setup.discover_interval;
  st.registry_deadline = setup.registry_deadline;
  st.max_resolves = setup.max_resolves;
  st.max_resolve_waiters = setup.max_resolve_waiters;
  return {
      [self](datagram_batch& batch) { on_batch(self, batch); },
      [self](transmit_atom, std::vector<outbound_packet>& packets) {
        auto& st = self->state;
        auto now = tunnel_clock::now();
        for (auto& packet : packets)
          st.peers->send(packet.node, std::move(packet.bytes), now, st.out);
        flush(self);
      },
      [self](ensure_peer_atom, std::uint32_t node) {
        return ensure_peer(self, node);
      },
      [self](use_relay_atom, std::uint32_t node) {
        auto& st = self->state;
        if (st.peers->use_relay(node, tunnel_clock::now(), st.out))
          log::info(log_component, "relay-used",
                    "sending to the peer through the beacon from now on",
                    {{"peer_node_id", std::to_string(node)}});
        flush(self);
      },
      [self](forget_peer_atom, std::uint32_t node) {
        self->state.peers->forget(node);
        log::info(log_component, "peer-forgotten",
                  "dropped the peer's endpoint and session keys",
                  {{"peer_node_id", std::to_string(node)}});
      },
      [self](node_info& info) { on_node_info(self, info); },
      [self](info_atom) { return summarize(self); },
      [self](deliver_atom, packet_sink_actor& sink) {
        self->state.sink = std::move(sink);
      },
      [self](discover_atom) {
        auto& st = self->state;
        st.peers->discover(st.out);
        flush(self);
        self->delayed_send(self, st.discover_interval, discover_atom_v);
      },
  };
}

} // namespace

std::optional<udp::endpoint> resolve_beacon(asio::io_context& io,
                                            const std::string& beacon,
                                            bool socket_is_v6) {
  if (beacon.empty())
    return std::nullopt;
  std::string host;
  std::string port;
  if (!split_host_port(beacon, host, port))
    throw std::invalid_argument("invalid beacon address " + quote_value(beacon)
                                + ": expected host:port");
  boost::system::error_code ec;
  udp::resolver resolver{io};
  auto results
      = resolver.resolve(host, port, udp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    log::error(
        log_component, "beacon-unresolved",
        "cannot resolve the beacon; running without relay and hole "
        "punching",
        {{"beacon", beacon}, {"error", ec ? ec.message() : "no address"}});
    return std::nullopt;
  }
  // Prefer an address that the socket's family can reach.
  for (const auto& entry : results) {
    auto endpoint = unmap_endpoint(entry.endpoint());
    if (endpoint.address().is_v4() || socket_is_v6)
      return endpoint;
  }
  return unmap_endpoint(results.begin()->endpoint());
}

tunnel_actor spawn_tunnel(caf::actor_system& sys, asio::io_context& io,
                          tunnel_options options) {
  auto keys = protocol::x25519_key_pair::generate();
  if (!keys)
    throw std::runtime_error("cannot generate the tunnel's X25519 key: "
                             + keys.error().message());
  auto socket_is_v6 = options.socket.local_endpoint().address().is_v6();
  detail::tunnel_peers_config config;
  config.encrypt = options.encrypt;
  config.beacon = resolve_beacon(io, options.beacon, socket_is_v6);
  config.limits = options.limits;
  auto socket = std::make_shared<udp_socket>(std::move(options.socket),
                                             options.socket_options);
  tunnel_setup setup{std::move(config),
                     std::move(options.identity),
                     std::move(*keys),
                     socket,
                     std::move(options.registry),
                     std::move(options.events),
                     options.discover_interval,
                     options.registry_deadline,
                     options.max_resolves,
                     options.max_resolve_waiters};
  auto handle = sys.spawn(tunnel_behavior, std::move(setup));
  log::info(log_component, "tunnel-started", "serving the tunnel socket",
            {{"listen", format_endpoint(socket->local_endpoint())},
             {"encrypt", options.encrypt ? "true" : "false"},
             {"beacon", options.beacon.empty() ? "none" : options.beacon}});
  // A weak reference, so that the socket keeps no finished actor alive.
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(handle);
  socket->start([weak](datagram_batch batch) {
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak))
      caf::anon_send(caf::actor_cast<tunnel_impl>(strong), std::move(batch));
  });
  return caf::actor_cast<tunnel_actor>(handle);
}

} // namespace pilot::actors
