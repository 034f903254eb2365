#include "actors/trust_actor.hpp"

#include "actors/detail/trust_file.hpp"
#include "actors/error.hpp"
#include "protocol/handshake_message.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/file_test_support.hpp"

#include <doctest/doctest.h>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using namespace pilot::actors;
using namespace pilot::test;
namespace protocol = pilot::protocol;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t self_node = 1;
constexpr std::uint32_t peer_node = 2;
constexpr std::uint32_t stranger_node = 3;
constexpr std::uint64_t client_id = service_client_id(444);

const auto wall_start = std::chrono::system_clock::time_point{1'772'200'000s};

protocol::identity new_identity() {
  auto id = protocol::identity::generate();
  REQUIRE(id.has_value());
  return *id;
}

/// What the stand-ins for the connection actor, the registry, the
/// directory and the tunnel saw, with one shared log that shows the order
/// of their calls. The stand-ins inject faults: unreachable peers, a taken
/// port, failing registry calls.
struct world {
  std::vector<std::string> calls;
  std::optional<ipc_client> client;
  std::vector<std::uint16_t> bound;
  bool port_taken = false;
  std::set<std::uint32_t> unreachable;
  std::uint32_t next_conn = 100;
  /// Dialed connections by ID, with the peer.
  std::map<std::uint32_t, std::uint32_t> dialed;
  /// Messages written, per peer, decoded.
  std::map<std::uint32_t, std::vector<protocol::handshake_message>> written;
  std::vector<std::uint32_t> closed;
  /// The registry's records: key and networks per node.
  std::map<std::uint32_t, std::pair<std::string, std::vector<std::uint16_t>>>
      nodes;
  std::size_t lookups = 0;
  bool registry_down = false;
  event_list events = std::make_shared<std::vector<protocol::event>>();
};

using world_pointer = std::shared_ptr<world>;

connection_actor::behavior_type fake_connections(world_pointer w) {
  return {
      [](deliver_atom, std::vector<protocol::packet>&) {},
      [](node_info&) {},
      [w](client_opened_atom, ipc_client& client) { w->client = client; },
      [](client_closed_atom, std::uint64_t) {},
      [w](bind_atom, std::uint64_t client,
          std::uint16_t port) -> caf::result<std::uint16_t> {
        CHECK(client == client_id);
        if (w->port_taken)
          return make_error(errc::invalid_argument,
                            "port " + std::to_string(port) + " already bound");
        w->bound.push_back(port);
        return port;
      },
      [w](dial_atom, std::uint64_t client, protocol::address remote,
          std::uint16_t port) -> caf::result<std::uint32_t> {
        CHECK(client == client_id);
        CHECK(port == 444);
        CHECK(remote.network == 0);
        w->calls.push_back("dial " + std::to_string(remote.node));
        if (w->unreachable.contains(remote.node))
          return make_error(errc::registry_unavailable,
                            "resolve node " + std::to_string(remote.node)
                                + ": private");
        auto conn = w->next_conn++;
        w->dialed[conn] = remote.node;
        return conn;
      },
      [w](write_atom, std::uint64_t, std::uint32_t conn,
          std::string& data) -> caf::result<bool> {
        auto peer = w->dialed.at(conn);
        auto message = protocol::decode_handshake_message(data);
        REQUIRE(message.has_value());
        CHECK(data.size() <= protocol::max_handshake_message_size);
        w->calls.push_back("write " + std::to_string(peer) + " "
                           + message->type);
        w->written[peer].push_back(*message);
        return true;
      },
      [w](close_atom, std::uint64_t, std::uint32_t conn) {
        w->closed.push_back(conn);
        return conn;
      },
      [](send_to_atom, std::uint64_t, protocol::address, std::uint16_t,
         std::string&) { return true; },
      [](pushed_atom, std::uint32_t, std::uint32_t) {},
      [](info_atom) { return transport_summary{}; },
  };
}

node_directory_actor::behavior_type fake_directory(world_pointer w) {
  return {
      [w](lookup_atom, std::uint32_t node) -> caf::result<std::string> {
        ++w->lookups;
        auto i = w->nodes.find(node);
        if (w->registry_down || i == w->nodes.end())
          return make_error(errc::registry_rejected, "lookup node "
                                                         + std::to_string(node)
                                                         + ": not found");
        protocol::lookup_response reply;
        reply.node_id = node;
        reply.public_key = i->second.first;
        reply.networks = i->second.second;
        return protocol::encode_registry_message(reply);
      },
      [](resolve_atom, std::uint32_t) -> caf::result<std::string> {
        return make_error(errc::registry_rejected, "not used");
      },
  };
}

trust_registry_actor::behavior_type fake_registry(world_pointer w) {
  auto answer = [w](std::string call) -> caf::result<std::string> {
    w->calls.push_back(std::move(call));
    if (w->registry_down)
      return make_error(errc::registry_unavailable, "registry unreachable");
    return std::string{"{}"};
  };
  return {
      [answer](report_trust_atom, std::uint32_t peer) {
        return answer("report_trust " + std::to_string(peer));
      },
      [answer](revoke_trust_atom, std::uint32_t peer) {
        return answer("revoke_trust " + std::to_string(peer));
      },
      [answer](relay_request_atom, std::uint32_t peer, std::string& text) {
        return answer("relay_request " + std::to_string(peer) + " " + text);
      },
      [answer](relay_response_atom, std::uint32_t peer, bool accept) {
        return answer("relay_response " + std::to_string(peer) + " "
                      + (accept ? "true" : "false"));
      },
  };
}

peer_reset_actor::behavior_type fake_tunnel(world_pointer w) {
  return {
      [w](forget_peer_atom, std::uint32_t peer) {
        w->calls.push_back("forget " + std::to_string(peer));
      },
  };
}

bool contains(const std::vector<std::string>& calls, const std::string& x) {
  return std::find(calls.begin(), calls.end(), x) != calls.end();
}

std::ptrdiff_t position(const std::vector<std::string>& calls,
                        const std::string& x) {
  auto i = std::find(calls.begin(), calls.end(), x);
  REQUIRE(i != calls.end());
  return i - calls.begin();
}

struct fixture : deterministic_system {
  fixture() : self_identity(new_identity()), peer_identity(new_identity()) {
    w->nodes[self_node] = {self_identity.public_key_base64(), {0}};
    w->nodes[peer_node] = {peer_identity.public_key_base64(), {0}};
    connections = sys.spawn(fake_connections, w);
    directory = sys.spawn(fake_directory, w);
    registry = sys.spawn(fake_registry, w);
    tunnel = sys.spawn(fake_tunnel, w);
    sink = sys.spawn(recording_sink, w->events);
  }

  ~fixture() {
    if (trust)
      caf::anon_send_exit(trust, caf::exit_reason::user_shutdown);
    for (auto hdl : {caf::actor_cast<caf::actor>(connections),
                     caf::actor_cast<caf::actor>(directory),
                     caf::actor_cast<caf::actor>(registry),
                     caf::actor_cast<caf::actor>(tunnel),
                     caf::actor_cast<caf::actor>(sink)})
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    sched.run();
    if (!dir.empty())
      fs::remove_all(dir);
  }

  trust_options options() {
    trust_options opts{self_identity};
    opts.trust_file = trust_file;
    opts.clock = [now = now] {
      return *now;
    };
    return opts;
  }

  /// Spawns the trust actor and registers the node.
  void start(std::optional<trust_options> opts = std::nullopt) {
    if (trust) {
      caf::anon_send_exit(trust, caf::exit_reason::user_shutdown);
      sched.run();
    }
    trust = spawn_trust(sys, opts ? std::move(*opts) : options(), connections,
                        directory, registry, tunnel, sink);
    sched.run();
    node_info info;
    info.registered = true;
    info.node_id = self_node;
    caf::anon_send(trust, info);
    sched.run();
  }

  void use_trust_file() {
    dir = make_temp_dir();
    trust_file = dir / "trust.json";
  }

  std::int64_t unix_now() const {
    return std::chrono::floor<std::chrono::seconds>(*now)
        .time_since_epoch()
        .count();
  }

  protocol::handshake_message
  message_from_peer(protocol::handshake_kind kind, std::string text = "why",
                    std::uint32_t from = peer_node) {
    auto message = protocol::make_handshake_message(
        kind, peer_identity, from, self_node, text, unix_now());
    REQUIRE(message.has_value());
    return *message;
  }

  /// Delivers `bytes` on a new inbound connection from `remote` and
  /// returns its ID.
  std::uint32_t deliver(const std::vector<std::string>& chunks,
                        std::uint32_t remote = peer_node) {
    auto conn = next_inbound++;
    caf::anon_send(trust, stream_opened{444, conn, {0, remote}, 49152});
    for (const auto& chunk : chunks)
      caf::anon_send(trust, stream_data{conn, chunk, {}});
    sched.run();
    return conn;
  }

  std::uint32_t deliver(const protocol::handshake_message& message,
                        std::uint32_t remote = peer_node) {
    return deliver(
        std::vector<std::string>{protocol::encode_handshake_message(message)},
        remote);
  }

  template <class... Ts>
  caf::expected<std::string> ask(Ts... xs) {
    auto slot = std::make_shared<std::optional<caf::expected<std::string>>>();
    sys.spawn([slot, target = trust, xs...](caf::event_based_actor* self) {
      self->request(target, caf::infinite, xs...)
          .then([slot](std::string& value) { *slot = std::move(value); },
                [slot](caf::error& err) {
                  *slot = caf::expected<std::string>{std::move(err)};
                });
    });
    sched.run();
    REQUIRE(slot->has_value());
    return std::move(**slot);
  }

  std::string value_of(caf::expected<std::string> answer) {
    if (!answer)
      FAIL("request failed: " << error_text(answer.error()));
    return *answer;
  }

  std::string error_of(caf::expected<std::string> answer) {
    REQUIRE_FALSE(static_cast<bool>(answer));
    return error_text(answer.error());
  }

  /// Lets `total` pass, running every timer that falls due.
  void advance(caf::timespan total) {
    sched.advance_time(total);
    sched.run();
  }

  world_pointer w = std::make_shared<world>();
  std::shared_ptr<std::chrono::system_clock::time_point> now
      = std::make_shared<std::chrono::system_clock::time_point>(wall_start);
  protocol::identity self_identity;
  protocol::identity peer_identity;
  fs::path dir;
  fs::path trust_file;
  connection_actor connections;
  node_directory_actor directory;
  trust_registry_actor registry;
  peer_reset_actor tunnel;
  event_sink_actor sink;
  trust_actor trust;
  std::uint32_t next_inbound = 1;
};

} // namespace

TEST_CASE_FIXTURE(fixture, "the trust actor binds port 444") {
  start();
  CHECK(w->client.has_value());
  CHECK(w->client->id == client_id);
  CHECK(w->bound == std::vector<std::uint16_t>{444});
}

TEST_CASE_FIXTURE(fixture, "a taken port leaves local operations working") {
  w->port_taken = true;
  start();
  CHECK(w->bound.empty());
  CHECK(value_of(ask(pending_atom_v)) == R"({"pending":[]})");
}

TEST_CASE_FIXTURE(fixture, "a signed request becomes pending") {
  start();
  auto conn = deliver(message_from_peer(protocol::handshake_kind::request));
  auto received = events_of<protocol::handshake_received>(w->events);
  REQUIRE(received.size() == 1);
  CHECK(received[0].peer_node_id == peer_node);
  CHECK(received[0].justification == "why");
  auto pending = events_of<protocol::handshake_pending>(w->events);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].justification == "why");
  CHECK(w->events->size() == 2);
  CHECK(std::find(w->closed.begin(), w->closed.end(), conn) != w->closed.end());
  CHECK(value_of(ask(pending_atom_v))
        == R"({"pending":[{"justification":"why","node_id":2,"public_key":")"
               + peer_identity.public_key_base64()
               + R"(","received_at":1772200000}]})");
}

TEST_CASE_FIXTURE(fixture, "a request in several chunks is assembled") {
  start();
  auto text = protocol::encode_handshake_message(
      message_from_peer(protocol::handshake_kind::request));
  deliver({text.substr(0, 10), text.substr(10, 50), text.substr(60)});
  CHECK(events_of<protocol::handshake_pending>(w->events).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "a request signed by another key is dropped") {
  start();
  auto forger = new_identity();
  auto message = protocol::make_handshake_message(
      protocol::handshake_kind::request, forger, peer_node, self_node, "why",
      unix_now());
  REQUIRE(message.has_value());
  // The message carries the forger's key, which must not count.
  deliver(*message);
  CHECK(w->events->empty());
  CHECK(value_of(ask(pending_atom_v)) == R"({"pending":[]})");
}

TEST_CASE_FIXTURE(fixture, "a request without a key is still verified") {
  start();
  auto message = message_from_peer(protocol::handshake_kind::request);
  message.public_key.clear();
  message.signature.clear();
  deliver(message);
  CHECK(w->events->empty());
}

TEST_CASE_FIXTURE(fixture, "a node ID other than the source is dropped") {
  start();
  w->nodes[stranger_node] = {peer_identity.public_key_base64(), {0}};
  auto message = message_from_peer(protocol::handshake_kind::request, "why",
                                   stranger_node);
  deliver(message, peer_node);
  CHECK(w->events->empty());
}

TEST_CASE_FIXTURE(fixture, "a replayed request is dropped") {
  start();
  auto message = message_from_peer(protocol::handshake_kind::request);
  deliver(message);
  deliver(message);
  CHECK(events_of<protocol::handshake_received>(w->events).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "an old request is dropped") {
  start();
  auto message = message_from_peer(protocol::handshake_kind::request);
  *now += 301s;
  deliver(message);
  CHECK(w->events->empty());
}

TEST_CASE_FIXTURE(fixture, "a silent connection is closed after 10 s") {
  start();
  auto conn = deliver(std::vector<std::string>{"{\"type\":"});
  CHECK(w->closed.empty());
  advance(10s);
  CHECK(w->closed == std::vector<std::uint32_t>{conn});
}

TEST_CASE_FIXTURE(fixture, "an oversized message is dropped") {
  start();
  deliver(std::vector<std::string>{"{\"justification\":\""
                                   + std::string(17 * 1024, 'a')});
  CHECK(w->closed.size() == 1);
  CHECK(w->events->empty());
}

TEST_CASE_FIXTURE(fixture, "approving sends the accept after the registry") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  w->calls.clear();
  CHECK(value_of(ask(approve_atom_v, peer_node))
        == R"({"node_id":2,"status":"approved"})");
  CHECK(events_of<protocol::handshake_approved>(w->events).size() == 1);
  auto accept_at = position(w->calls, "write 2 handshake_accept");
  CHECK(position(w->calls, "report_trust 2") < accept_at);
  CHECK(position(w->calls, "relay_response 2 true") < accept_at);
  auto& sent = w->written[peer_node].back();
  CHECK(sent.node_id == self_node);
  CHECK(protocol::verify_handshake_signature(
      sent, self_identity.public_key_base64(), peer_node));
  CHECK(value_of(ask(trusted_atom_v))
        == R"({"trusted":[{"approved_at":1772200000,"mutual":false,)"
           R"("network":0,"node_id":2,"public_key":")"
               + peer_identity.public_key_base64() + R"("}]})");
}

TEST_CASE_FIXTURE(fixture, "approving with nothing pending fails") {
  start();
  CHECK(error_of(ask(approve_atom_v, peer_node))
        == "no pending request from node 2");
  CHECK(error_of(ask(reject_atom_v, peer_node, std::string{"no"}))
        == "no pending request from node 2");
  CHECK(w->events->empty());
  CHECK(w->calls.empty());
}

TEST_CASE_FIXTURE(fixture, "rejecting sends the reason") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  CHECK(value_of(ask(reject_atom_v, peer_node, std::string{"busy"}))
        == R"({"node_id":2,"status":"rejected"})");
  auto rejected = events_of<protocol::handshake_rejected>(w->events);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].reason == "busy");
  CHECK(contains(w->calls, "relay_response 2 false"));
  REQUIRE(w->written[peer_node].size() == 1);
  CHECK(w->written[peer_node][0].reason == "busy");
}

TEST_CASE_FIXTURE(fixture, "a request is sent directly") {
  start();
  CHECK(value_of(ask(handshake_atom_v, peer_node, std::string{"hello"}))
        == R"({"node_id":2,"status":"sent"})");
  REQUIRE(w->written[peer_node].size() == 1);
  auto& sent = w->written[peer_node][0];
  CHECK(sent.type == "handshake_request");
  CHECK(sent.justification == "hello");
  CHECK(sent.timestamp == unix_now());
  CHECK_FALSE(contains(w->calls, "relay_request 2 hello"));
}

TEST_CASE_FIXTURE(fixture, "an unreachable peer gets the request relayed") {
  start();
  w->unreachable.insert(peer_node);
  CHECK(value_of(ask(handshake_atom_v, peer_node, std::string{"hello"}))
        == R"({"node_id":2,"status":"sent"})");
  CHECK(w->written[peer_node].empty());
  CHECK(contains(w->calls, "relay_request 2 hello"));
}

TEST_CASE_FIXTURE(fixture, "a too long justification fails before sending") {
  start();
  auto answer = ask(handshake_atom_v, peer_node, std::string(5000, 'x'));
  CHECK(error_of(answer).find("justification is too long")
        != std::string::npos);
  CHECK(w->calls.empty());
}

TEST_CASE_FIXTURE(fixture, "an accept of our request trusts the peer") {
  start();
  value_of(ask(handshake_atom_v, peer_node, std::string{"hello"}));
  w->calls.clear();
  deliver(message_from_peer(protocol::handshake_kind::accept));
  CHECK(contains(w->calls, "report_trust 2"));
  CHECK(value_of(ask(trusted_atom_v)).find(R"("mutual":true)")
        != std::string::npos);
  CHECK(w->events->empty());
}

TEST_CASE_FIXTURE(fixture, "an unasked accept is ignored") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::accept));
  CHECK(value_of(ask(trusted_atom_v)) == R"({"trusted":[]})");
  CHECK(w->calls.empty());
}

TEST_CASE_FIXTURE(fixture, "crossed requests approve each other") {
  start();
  value_of(ask(handshake_atom_v, peer_node, std::string{"hello"}));
  deliver(message_from_peer(protocol::handshake_kind::request));
  auto approved = events_of<protocol::handshake_auto_approved>(w->events);
  REQUIRE(approved.size() == 1);
  CHECK(approved[0].reason == "mutual");
  CHECK(w->written[peer_node].back().type == "handshake_accept");
}

TEST_CASE_FIXTURE(fixture, "a peer of our network is approved") {
  w->nodes[self_node].second = {0, 7};
  w->nodes[peer_node].second = {0, 7};
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  auto approved = events_of<protocol::handshake_auto_approved>(w->events);
  REQUIRE(approved.size() == 1);
  CHECK(approved[0].reason == "same_network");
  CHECK(value_of(ask(trusted_atom_v)).find(R"("network":7)")
        != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "revoking sends the revoke before forgetting") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  value_of(ask(approve_atom_v, peer_node));
  w->calls.clear();
  CHECK(value_of(ask(revoke_atom_v, peer_node))
        == R"({"node_id":2,"status":"revoked"})");
  advance(1s);
  CHECK(events_of<protocol::trust_revoked>(w->events).size() == 1);
  auto revoke_at = position(w->calls, "write 2 handshake_revoke");
  CHECK(revoke_at < position(w->calls, "revoke_trust 2"));
  CHECK(revoke_at < position(w->calls, "forget 2"));
  CHECK(w->written[peer_node].back().reason == "trust revoked");
}

TEST_CASE_FIXTURE(fixture, "revoking an untrusted peer fails") {
  start();
  CHECK(error_of(ask(revoke_atom_v, peer_node)) == "node 2 was not trusted");
  CHECK(w->events->empty());
}

TEST_CASE_FIXTURE(fixture, "a revoke from a trusted peer is raised") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  value_of(ask(approve_atom_v, peer_node));
  w->calls.clear();
  *now += 1s;
  deliver(message_from_peer(protocol::handshake_kind::revoke));
  advance(1s);
  CHECK(events_of<protocol::trust_revoked_by_peer>(w->events).size() == 1);
  CHECK(contains(w->calls, "revoke_trust 2"));
  CHECK(contains(w->calls, "forget 2"));
}

TEST_CASE_FIXTURE(fixture, "a revoke from a stranger raises nothing") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::revoke));
  advance(1s);
  CHECK(w->events->empty());
  CHECK(w->calls.empty());
}

TEST_CASE_FIXTURE(fixture, "a relayed request raises the same events") {
  start();
  protocol::poll_handshakes_response box;
  box.requests.push_back({peer_node, "relayed why", 1772199990});
  caf::anon_send(trust, box);
  sched.run();
  CHECK(events_of<protocol::handshake_received>(w->events).size() == 1);
  auto pending = events_of<protocol::handshake_pending>(w->events);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].justification == "relayed why");
  CHECK(value_of(ask(pending_atom_v)).find(peer_identity.public_key_base64())
        != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "a relayed accept needs our request") {
  start();
  protocol::poll_handshakes_response box;
  box.responses.push_back({peer_node, true, 1772199990});
  caf::anon_send(trust, box);
  sched.run();
  CHECK(value_of(ask(trusted_atom_v)) == R"({"trusted":[]})");
  value_of(ask(handshake_atom_v, peer_node, std::string{"hello"}));
  caf::anon_send(trust, box);
  sched.run();
  CHECK(value_of(ask(trusted_atom_v)).find(peer_identity.public_key_base64())
        != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "every registration reports trusted peers") {
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  value_of(ask(approve_atom_v, peer_node));
  w->calls.clear();
  node_info info;
  info.registered = true;
  info.node_id = self_node;
  caf::anon_send(trust, info);
  sched.run();
  CHECK(w->calls == std::vector<std::string>{"report_trust 2"});
}

TEST_CASE_FIXTURE(fixture, "trust survives a restart through the file") {
  use_trust_file();
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  value_of(ask(approve_atom_v, peer_node));
  *now += 1s;
  deliver(
      message_from_peer(protocol::handshake_kind::request, "again", peer_node));
  auto trusted = value_of(ask(trusted_atom_v));
  w->calls.clear();
  start();
  CHECK(value_of(ask(trusted_atom_v)) == trusted);
  // The restart reports the loaded peer to the registry again.
  CHECK(contains(w->calls, "report_trust 2"));
}

TEST_CASE_FIXTURE(fixture, "a broken trust file is never overwritten") {
  use_trust_file();
  {
    std::ofstream out{trust_file};
    out << R"({"trusted":[{"node_id":"two"}]})";
  }
  start();
  deliver(message_from_peer(protocol::handshake_kind::request));
  CHECK(events_of<protocol::handshake_pending>(w->events).size() == 1);
  CHECK(read_file(trust_file) == R"({"trusted":[{"node_id":"two"}]})");
}
