#include "actors/tunnel_actor.hpp"

#include "actors/beacon_listener.hpp"
#include "actors/beacon_service.hpp"
#include "actors/error.hpp"
#include "actors/registry_actor.hpp"
#include "actors/registry_listener.hpp"
#include "actors/registry_service.hpp"
#include "tests/actors/datagram_packet.hpp"

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace pilot;
using namespace pilot::actors;
using namespace std::chrono_literals;
using boost::asio::ip::udp;
using pilot::test::datagram_packet;

namespace {

constexpr auto deadline = 10s;

/// The packets and events that one daemon's sinks received, for the test
/// thread to wait on.
struct recorder {
  template <class Predicate>
  bool wait_for(Predicate predicate) {
    std::unique_lock lock{mutex};
    return changed.wait_for(lock, deadline, [&] { return predicate(*this); });
  }

  template <class Event>
  std::vector<Event> events_of() {
    std::lock_guard lock{mutex};
    std::vector<Event> out;
    for (const auto& event : events)
      if (auto* e = std::get_if<Event>(&event))
        out.push_back(*e);
    return out;
  }

  template <class Event>
  std::size_t count() const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [](const auto& event) {
          return std::holds_alternative<Event>(event);
        }));
  }

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<protocol::packet> packets;
  std::vector<protocol::event> events;
};

using recorder_ptr = std::shared_ptr<recorder>;

packet_sink_actor::behavior_type packet_recorder(recorder_ptr record) {
  return {
      [record](deliver_atom, std::vector<protocol::packet>& packets) {
        std::lock_guard lock{record->mutex};
        for (auto& packet : packets)
          record->packets.push_back(std::move(packet));
        record->changed.notify_all();
      },
  };
}

event_sink_actor::behavior_type event_recorder(recorder_ptr record) {
  return {
      [record](protocol::event& event) {
        std::lock_guard lock{record->mutex};
        record->events.push_back(std::move(event));
        record->changed.notify_all();
      },
      [](node_id_atom, std::uint32_t) {},
  };
}

std::string text_of(const protocol::packet& packet) {
  return {packet.payload.begin(), packet.payload.end()};
}

/// A registry and a beacon on loopback, served by one io thread, and an
/// actor system with real threads.
struct cluster {
  cluster() : sys(init(cfg)) {
    registry = std::make_shared<registry_listener>(io, registry_svc,
                                                   registry_listener_config{});
    REQUIRE_FALSE(registry->listen({loopback, 0}));
    registry->start();
    beacon = std::make_shared<beacon_listener>(io, beacon_svc,
                                               beacon_listener_config{});
    REQUIRE_FALSE(beacon->listen({loopback, 0}));
    beacon->start();
    io_thread = std::thread{[this] {
      io.run();
    }};
  }

  ~cluster() {
    {
      caf::scoped_actor self{sys};
      for (auto& actor : actors)
        self->send_exit(actor, caf::exit_reason::user_shutdown);
    }
    sys.await_all_actors_done();
    boost::asio::post(io, [this] {
      registry->stop();
      beacon->stop();
    });
    work.reset();
    io_thread.join();
  }

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.add_message_types<caf::id_block::pilot_actors>();
    add_error_renderer(cfg);
    return cfg;
  }

  std::string registry_address() const {
    return format_endpoint(
        udp::endpoint{loopback, registry->local_endpoint().port()});
  }

  std::string beacon_address() const {
    return format_endpoint(beacon->local_endpoint());
  }

  // Returns whether the beacon has an entry for `node`.
  bool beacon_knows(std::uint32_t node) {
    std::promise<bool> known;
    boost::asio::post(io, [&] {
      known.set_value(
          beacon_svc.endpoint_of(node, std::chrono::steady_clock::now())
              .has_value());
    });
    return known.get_future().get();
  }

  const boost::asio::ip::address loopback
      = boost::asio::ip::make_address("127.0.0.1");
  boost::asio::io_context io;
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work{boost::asio::make_work_guard(io)};
  registry_service registry_svc;
  std::shared_ptr<registry_listener> registry;
  beacon_service beacon_svc;
  std::shared_ptr<beacon_listener> beacon;
  std::thread io_thread;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  /// Every actor a test spawned, stopped before the io thread.
  std::vector<caf::actor> actors;
};

/// One daemon's registry client and tunnel, with recorders for what its
/// tunnel delivers and raises.
struct daemon_under_test {
  std::uint32_t id = 0;
  udp::endpoint endpoint;
  registry_client_actor registry;
  tunnel_actor tunnel;
  recorder_ptr record = std::make_shared<recorder>();
};

struct daemon_settings {
  bool encrypt = true;
  bool use_beacon = false;
};

daemon_under_test start_daemon(cluster& c, daemon_settings settings = {}) {
  daemon_under_test d;
  auto identity = protocol::identity::generate();
  REQUIRE(identity.has_value());
  udp::socket socket{c.io};
  socket.open(udp::v4());
  socket.bind({c.loopback, 0});
  d.endpoint = socket.local_endpoint();
  auto events = c.sys.spawn(event_recorder, d.record);
  auto sink = c.sys.spawn(packet_recorder, d.record);
  registry_actor_options registry_options{*identity};
  registry_options.registry_address = c.registry_address();
  registry_options.endpoint = format_endpoint(d.endpoint);
  registry_options.is_public = true;
  d.registry = spawn_registry_actor(c.sys, c.io, std::move(registry_options),
                                    event_sink_actor{});
  tunnel_options options{*identity, std::move(socket)};
  options.encrypt = settings.encrypt;
  if (settings.use_beacon)
    options.beacon = c.beacon_address();
  options.registry = d.registry;
  options.events = events;
  d.tunnel = spawn_tunnel(c.sys, c.io, std::move(options));
  for (auto actor :
       {caf::actor_cast<caf::actor>(events), caf::actor_cast<caf::actor>(sink),
        caf::actor_cast<caf::actor>(d.registry),
        caf::actor_cast<caf::actor>(d.tunnel)})
    c.actors.push_back(actor);
  caf::anon_send(d.tunnel, deliver_atom_v, sink);
  // Wait until the node is registered and public, so that peers can
  // resolve it, then tell the tunnel its node ID.
  caf::scoped_actor self{c.sys};
  node_info info;
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!info.is_public && std::chrono::steady_clock::now() < until) {
    self->request(d.registry, deadline, info_atom_v)
        .receive([&](node_info& answer) { info = std::move(answer); },
                 [&](caf::error& err) { FAIL(error_text(err)); });
    if (!info.is_public)
      std::this_thread::sleep_for(10ms);
  }
  REQUIRE(info.registered);
  REQUIRE(info.is_public);
  d.id = info.node_id;
  caf::anon_send(d.tunnel, info);
  return d;
}

caf::expected<bool> ensure_peer(cluster& c, daemon_under_test& from,
                                std::uint32_t node) {
  caf::scoped_actor self{c.sys};
  caf::expected<bool> result{false};
  self->request(from.tunnel, deadline, ensure_peer_atom_v, node)
      .receive([&](bool ok) { result = ok; },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

tunnel_summary info_of(cluster& c, daemon_under_test& d) {
  caf::scoped_actor self{c.sys};
  tunnel_summary summary;
  self->request(d.tunnel, deadline, info_atom_v)
      .receive([&](tunnel_summary& answer) { summary = std::move(answer); },
               [&](caf::error& err) { FAIL(error_text(err)); });
  return summary;
}

void transmit(daemon_under_test& from, std::uint32_t to,
              std::string_view text) {
  std::vector<outbound_packet> packets;
  packets.push_back({to, datagram_packet(from.id, to, text)});
  caf::anon_send(from.tunnel, transmit_atom_v, std::move(packets));
}

// Sends `text` from one daemon to the other until it arrives; the first
// packets may wait for the key exchange or be dropped before it.
bool deliver(daemon_under_test& from, daemon_under_test& to,
             std::string_view text) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    transmit(from, to.id, text);
    std::unique_lock lock{to.record->mutex};
    auto arrived = to.record->changed.wait_for(lock, 500ms, [&] {
      return std::any_of(to.record->packets.begin(), to.record->packets.end(),
                         [&](const auto& p) { return text_of(p) == text; });
    });
    if (arrived)
      return true;
  }
  return false;
}

const peer_summary* find_peer(const tunnel_summary& summary,
                              std::uint32_t node) {
  for (const auto& peer : summary.peers)
    if (peer.node_id == node)
      return &peer;
  return nullptr;
}

} // namespace

TEST_CASE("tunnel actors exchange packets encrypted") {
  cluster c;
  auto a = start_daemon(c);
  auto b = start_daemon(c);
  auto ensured = ensure_peer(c, a, b.id);
  REQUIRE(ensured.engaged());
  CHECK(*ensured);
  REQUIRE(deliver(a, b, "hello"));
  REQUIRE(deliver(b, a, "back"));
  {
    std::lock_guard lock{b.record->mutex};
    const auto& packet = b.record->packets.front();
    CHECK(packet.header.src.node == a.id);
    CHECK(packet.header.dst.node == b.id);
  }
  // Events reach their sink on their own path, maybe after the packets.
  auto established = [](recorder& r) {
    return r.count<protocol::tunnel_established>() > 0;
  };
  REQUIRE(a.record->wait_for(established));
  REQUIRE(b.record->wait_for(established));
  auto at_a = a.record->events_of<protocol::tunnel_established>();
  auto at_b = b.record->events_of<protocol::tunnel_established>();
  CHECK(at_a.front().peer_node_id == b.id);
  CHECK(at_a.front().authenticated);
  CHECK_FALSE(at_a.front().relay);
  CHECK(at_b.front().peer_node_id == a.id);
  auto summary = info_of(c, a);
  auto* peer = find_peer(summary, b.id);
  REQUIRE(peer != nullptr);
  CHECK(peer->encrypted);
  CHECK(peer->authenticated);
  CHECK_FALSE(peer->relay);
  CHECK(peer->endpoint == format_endpoint(b.endpoint));
  CHECK(summary.pkts_sent > 0);
  CHECK(summary.pkts_recv > 0);
  CHECK(summary.bytes_sent > summary.pkts_sent);
}

TEST_CASE("tunnel actors deliver a burst of packets in full") {
  cluster c;
  auto a = start_daemon(c);
  auto b = start_daemon(c);
  REQUIRE(ensure_peer(c, a, b.id).engaged());
  REQUIRE(deliver(a, b, "first"));
  constexpr int burst = 200;
  std::vector<outbound_packet> packets;
  for (int i = 0; i < burst; ++i)
    packets.push_back(
        {b.id, datagram_packet(a.id, b.id, "burst " + std::to_string(i))});
  caf::anon_send(a.tunnel, transmit_atom_v, std::move(packets));
  CHECK(b.record->wait_for([](recorder& r) {
    return std::count_if(
               r.packets.begin(), r.packets.end(),
               [](auto& p) { return text_of(p).starts_with("burst "); })
           == burst;
  }));
}

TEST_CASE("plaintext tunnel actors add peers with peer_added") {
  cluster c;
  auto a = start_daemon(c, {.encrypt = false});
  auto b = start_daemon(c, {.encrypt = false});
  REQUIRE(ensure_peer(c, a, b.id).engaged());
  REQUIRE(deliver(a, b, "plain"));
  REQUIRE(b.record->wait_for(
      [](recorder& r) { return r.count<protocol::tunnel_peer_added>() > 0; }));
  auto added = b.record->events_of<protocol::tunnel_peer_added>();
  CHECK(added.front().peer_node_id == a.id);
  CHECK(added.front().endpoint == format_endpoint(a.endpoint));
  CHECK(b.record->events_of<protocol::tunnel_established>().empty());
  REQUIRE(deliver(b, a, "plain back"));
}

TEST_CASE("tunnel actors relay through the beacon") {
  cluster c;
  auto a = start_daemon(c, {.use_beacon = true});
  auto b = start_daemon(c, {.use_beacon = true});
  auto until = std::chrono::steady_clock::now() + deadline;
  while ((!c.beacon_knows(a.id) || !c.beacon_knows(b.id))
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  REQUIRE(c.beacon_knows(b.id));
  caf::anon_send(a.tunnel, use_relay_atom_v, b.id);
  REQUIRE(ensure_peer(c, a, b.id).engaged());
  REQUIRE(deliver(a, b, "relayed"));
  REQUIRE(deliver(b, a, "relayed back"));
  REQUIRE(b.record->wait_for([](recorder& r) {
    return r.count<protocol::tunnel_relay_activated>() > 0
           && r.count<protocol::tunnel_established>() > 0;
  }));
  auto activated = b.record->events_of<protocol::tunnel_relay_activated>();
  REQUIRE(activated.size() == 1);
  CHECK(activated.front().peer_node_id == a.id);
  // The dialing side switched on its own and raises nothing.
  CHECK(a.record->events_of<protocol::tunnel_relay_activated>().empty());
  auto at_b = b.record->events_of<protocol::tunnel_established>();
  REQUIRE_FALSE(at_b.empty());
  CHECK(at_b.front().relay);
  auto summary = info_of(c, b);
  auto* peer = find_peer(summary, a.id);
  REQUIRE(peer != nullptr);
  CHECK(peer->relay);
}

TEST_CASE("ensure_peer names the node it cannot resolve") {
  cluster c;
  auto a = start_daemon(c);
  auto ensured = ensure_peer(c, a, 999);
  REQUIRE_FALSE(ensured.engaged());
  CHECK(error_text(ensured.error())
        == "resolve node 999: the registry rejected the request: node 999 "
           "does not exist, or it is private and has no trust pair with this "
           "node");
}

TEST_CASE("tunnel actor survives garbage and keeps working") {
  cluster c;
  auto a = start_daemon(c);
  auto b = start_daemon(c);
  REQUIRE(ensure_peer(c, a, b.id).engaged());
  REQUIRE(deliver(a, b, "before"));
  udp::socket attacker{c.io};
  attacker.open(udp::v4());
  std::vector<std::vector<std::uint8_t>> garbage{
      {},
      {0x06, 0, 0, 0, 1, 'P', 'I', 'L', 'S'},
      {'P', 'I', 'L', 'S', 0, 0, 0, 1, 1, 2, 3},
      {'P', 'I', 'L', 'T', 1, 2, 3},
      std::vector<std::uint8_t>(2000, 0xff),
  };
  for (const auto& datagram : garbage)
    attacker.send_to(boost::asio::buffer(datagram), b.endpoint);
  REQUIRE(deliver(a, b, "after"));
  auto until = std::chrono::steady_clock::now() + deadline;
  while (info_of(c, b).frames_dropped < garbage.size()
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  CHECK(info_of(c, b).frames_dropped >= garbage.size());
}

TEST_CASE("public endpoint discovery uses the tunnel socket") {
  cluster c;
  udp::socket socket{c.io};
  socket.open(udp::v4());
  socket.bind({c.loopback, 0});
  auto beacon = udp::endpoint{c.loopback, c.beacon->local_endpoint().port()};
  auto observed = discover_public_endpoint(socket, beacon, deadline);
  REQUIRE(observed.has_value());
  CHECK(*observed == socket.local_endpoint());
}

TEST_CASE("public endpoint discovery times out without a beacon") {
  cluster c;
  udp::socket socket{c.io};
  socket.open(udp::v4());
  socket.bind({c.loopback, 0});
  udp::socket silent{c.io};
  silent.open(udp::v4());
  silent.bind({c.loopback, 0});
  CHECK_FALSE(discover_public_endpoint(socket, silent.local_endpoint(), 200ms)
                  .has_value());
}
