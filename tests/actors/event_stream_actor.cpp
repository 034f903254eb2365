#include "actors/event_stream_actor.hpp"

#include "actors/error.hpp"
#include "protocol/address.hpp"
#include "protocol/event_stream.hpp"
#include "protocol/events.hpp"

#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace pilot::actors;
namespace protocol = pilot::protocol;

namespace {

constexpr auto service_id = service_client_id(event_stream_port);

// -- stand-in connection actor ------------------------------------------------

/// Completes the writes of one connection that the test held back.
using release_atom = caf::atom_constant<caf::atom("release")>;
constexpr release_atom release_atom_v = release_atom{};

using stand_in_actor
    = connection_actor::extend<caf::reacts_to<release_atom, std::uint32_t>>;

/// One write the service made.
struct write_record {
  std::uint32_t conn_id = 0;
  std::string data;
};

/// What the stand-in connection actor saw and how it behaves.
struct connections_record {
  std::vector<std::uint64_t> clients;
  std::vector<std::uint64_t> gone_clients;
  std::vector<std::pair<std::uint64_t, std::uint16_t>> binds;
  std::vector<write_record> writes;
  std::vector<std::uint32_t> closes;
  /// Ports whose `bind` fails.
  std::set<std::uint16_t> taken;
  /// Connections whose writes stay unanswered until `release_atom`.
  std::set<std::uint32_t> held;
  /// Connections whose writes fail.
  std::set<std::uint32_t> failing;
  std::map<std::uint32_t, std::vector<caf::typed_response_promise<bool>>>
      unanswered;

  /// Returns the data written to `conn_id`, one entry per write.
  std::vector<std::string> written_to(std::uint32_t conn_id) const {
    std::vector<std::string> result;
    for (auto& write : writes)
      if (write.conn_id == conn_id)
        result.push_back(write.data);
    return result;
  }
};

using connections_pointer = std::shared_ptr<connections_record>;

stand_in_actor::behavior_type stand_in_connections(stand_in_actor::pointer self,
                                                   connections_pointer rec) {
  return {
      [](deliver_atom, std::vector<protocol::packet>&) {},
      [](node_info&) {},
      [rec](client_opened_atom, ipc_client& client) {
        rec->clients.push_back(client.id);
      },
      [rec](client_closed_atom, std::uint64_t id) {
        rec->gone_clients.push_back(id);
      },
      [rec](bind_atom, std::uint64_t client,
            std::uint16_t port) -> caf::result<std::uint16_t> {
        rec->binds.emplace_back(client, port);
        if (rec->taken.contains(port))
          return make_error(errc::invalid_argument,
                            "port " + std::to_string(port) + " already bound");
        return port;
      },
      [](dial_atom, std::uint64_t, protocol::address,
         std::uint16_t) -> caf::result<std::uint32_t> {
        return make_error(errc::not_found, "no dials here");
      },
      [self, rec](write_atom, std::uint64_t client, std::uint32_t conn_id,
                  std::string& data) -> caf::result<bool> {
        CHECK(client == service_id);
        rec->writes.push_back({conn_id, std::move(data)});
        if (rec->failing.contains(conn_id))
          return make_error(errc::not_found, "connection not found");
        if (!rec->held.contains(conn_id))
          return true;
        auto promise = self->make_response_promise<bool>();
        rec->unanswered[conn_id].push_back(promise);
        return promise;
      },
      [rec](close_atom, std::uint64_t client, std::uint32_t conn_id) {
        CHECK(client == service_id);
        rec->closes.push_back(conn_id);
        return conn_id;
      },
      [](send_to_atom, std::uint64_t, protocol::address, std::uint16_t,
         std::string&) -> caf::result<bool> { return true; },
      [](pushed_atom, std::uint32_t, std::uint32_t) {},
      [](info_atom) { return transport_summary{}; },
      [rec](release_atom, std::uint32_t conn_id) {
        rec->held.erase(conn_id);
        auto promises = std::move(rec->unanswered[conn_id]);
        rec->unanswered.erase(conn_id);
        for (auto& promise : promises)
          promise.deliver(true);
      },
  };
}

// -- events -------------------------------------------------------------------

using event_list = std::shared_ptr<std::vector<protocol::event>>;

event_sink_actor::behavior_type recording_sink(event_list events) {
  return {
      [events](protocol::event& event) { events->push_back(std::move(event)); },
      [](node_id_atom, std::uint32_t) {},
  };
}

template <class Event>
std::vector<Event> events_of(const event_list& events) {
  std::vector<Event> result;
  for (auto& event : *events)
    if (auto* typed = std::get_if<Event>(&event))
      result.push_back(*typed);
  return result;
}

std::string frame(std::string_view topic, std::string_view payload) {
  auto encoded = protocol::encode_event_frame(topic, payload);
  REQUIRE(encoded.has_value());
  return *encoded;
}

// -- fixture ------------------------------------------------------------------

constexpr protocol::address peer{0, 2};

struct fixture {
  fixture() : sys(init(cfg)), sched(test_scheduler(sys)) {
    stand_in = sys.spawn(stand_in_connections, record);
    sink = sys.spawn(recording_sink, events);
  }

  ~fixture() {
    if (service)
      caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    sched.run();
    caf::anon_send_exit(stand_in, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    sched.run();
  }

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.add_message_types<caf::id_block::pilot_actors>();
    cfg.add_message_types<caf::id_block::pilot_transport>();
    cfg.add_message_types<caf::id_block::pilot_services>();
    add_error_renderer(cfg);
    return cfg;
  }

  static caf::scheduler::test_coordinator&
  test_scheduler(caf::actor_system& sys) {
    return dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  }

  void start(event_stream_options options = {}) {
    service = spawn_event_stream(
        sys, options, caf::actor_cast<connection_actor>(stand_in), sink);
    sched.run();
  }

  /// Opens connection `conn_id` from `peer`, remote port 49152 + conn_id.
  void open(std::uint32_t conn_id) {
    caf::anon_send(service,
                   stream_opened{event_stream_port, conn_id, peer,
                                 static_cast<std::uint16_t>(49152 + conn_id)});
    sched.run();
  }

  /// Hands `bytes` to the service as one chunk of `conn_id`.
  void receive(std::uint32_t conn_id, std::string bytes) {
    auto consumed = consumed_calls;
    caf::anon_send(service, stream_data{conn_id, std::move(bytes), [consumed] {
                                          ++*consumed;
                                        }});
    sched.run();
  }

  /// Opens `conn_id` and subscribes it to `topic`.
  void subscribe(std::uint32_t conn_id, std::string_view topic) {
    open(conn_id);
    receive(conn_id, frame(topic, ""));
  }

  void end(std::uint32_t conn_id) {
    caf::anon_send(service, stream_closed{conn_id});
    sched.run();
  }

  void release(std::uint32_t conn_id) {
    caf::anon_send(stand_in, release_atom_v, conn_id);
    sched.run();
  }

  static std::string remote_of(std::uint32_t conn_id) {
    return "0:0000.0000.0002:" + std::to_string(49152 + conn_id);
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  connections_pointer record = std::make_shared<connections_record>();
  event_list events = std::make_shared<std::vector<protocol::event>>();
  std::shared_ptr<int> consumed_calls = std::make_shared<int>(0);
  stand_in_actor stand_in;
  event_sink_actor sink;
  stream_service_actor service;
};

} // namespace

TEST_CASE_FIXTURE(fixture, "the service registers and binds port 1002") {
  start();
  REQUIRE(record->clients.size() == 1);
  CHECK(record->clients[0] == service_id);
  REQUIRE(record->binds.size() == 1);
  CHECK(record->binds[0].first == service_id);
  CHECK(record->binds[0].second == 1002);
}

TEST_CASE_FIXTURE(fixture, "a taken port leaves the service idle") {
  record->taken.insert(event_stream_port);
  start();
  CHECK(record->binds.size() == 1);
  CHECK(events->empty());
  CHECK(record->closes.empty());
}

TEST_CASE_FIXTURE(fixture, "the client leaves when the service stops") {
  start();
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  sched.run();
  REQUIRE(record->gone_clients.size() == 1);
  CHECK(record->gone_clients[0] == service_id);
}

TEST_CASE_FIXTURE(fixture, "the first frame subscribes and is reported") {
  start();
  subscribe(1, "news");
  CHECK(*consumed_calls == 1);
  auto subscribed = events_of<protocol::pubsub_subscribed>(events);
  REQUIRE(subscribed.size() == 1);
  CHECK(subscribed[0].topic == "news");
  CHECK(subscribed[0].remote == "0:0000.0000.0002:49153");
  CHECK(record->writes.empty());
}

TEST_CASE_FIXTURE(fixture, "a publish reaches subscribers but not its sender") {
  start();
  subscribe(1, "news");
  subscribe(2, "*");
  subscribe(3, "sport");
  subscribe(4, "news");
  receive(4, frame("news", "hi"));
  auto publish = frame("news", "hi");
  CHECK(record->written_to(1) == std::vector<std::string>{publish});
  CHECK(record->written_to(2) == std::vector<std::string>{publish});
  CHECK(record->written_to(3).empty());
  CHECK(record->written_to(4).empty());
  auto published = events_of<protocol::pubsub_published>(events);
  REQUIRE(published.size() == 1);
  CHECK(published[0].topic == "news");
  CHECK(published[0].size == 2);
  CHECK(published[0].from == remote_of(4));
}

TEST_CASE_FIXTURE(fixture, "a publish may use a topic other than its own") {
  start();
  subscribe(1, "sport");
  subscribe(2, "news");
  receive(2, frame("sport", "goal"));
  CHECK(record->written_to(1)
        == std::vector<std::string>{frame("sport", "goal")});
  CHECK(record->written_to(2).empty());
}

TEST_CASE_FIXTURE(fixture,
                  "a publish to the wildcard reaches its subscribers") {
  start();
  subscribe(1, "news");
  subscribe(2, "*");
  subscribe(3, "*");
  receive(3, frame("*", "all"));
  CHECK(record->written_to(1).empty());
  CHECK(record->written_to(2) == std::vector<std::string>{frame("*", "all")});
  CHECK(record->written_to(3).empty());
}

TEST_CASE_FIXTURE(fixture, "a publish without subscribers is reported") {
  start();
  subscribe(1, "news");
  receive(1, frame("weather", "rain"));
  CHECK(record->writes.empty());
  auto published = events_of<protocol::pubsub_published>(events);
  REQUIRE(published.size() == 1);
  CHECK(published[0].topic == "weather");
  CHECK(published[0].size == 4);
}

TEST_CASE_FIXTURE(fixture, "frames split over chunks and packed in one") {
  start();
  subscribe(1, "news");
  open(2);
  auto stream = frame("news", "") + frame("news", "one") + frame("news", "two");
  for (char byte : stream.substr(0, 5))
    receive(2, std::string(1, byte));
  receive(2, stream.substr(5));
  CHECK(*consumed_calls == 7);
  CHECK(
      record->written_to(1)
      == std::vector<std::string>{frame("news", "one"), frame("news", "two")});
  CHECK(events_of<protocol::pubsub_subscribed>(events).size() == 2);
  CHECK(events_of<protocol::pubsub_published>(events).size() == 2);
}

TEST_CASE_FIXTURE(fixture, "an oversized frame closes its connection") {
  start();
  subscribe(1, "news");
  receive(1, std::string{"\x04\x01", 2});
  CHECK(record->closes == std::vector<std::uint32_t>{1});
  auto left = events_of<protocol::pubsub_unsubscribed>(events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].topic == "news");
  CHECK(left[0].remote == remote_of(1));
  // Bytes after the close are ignored but still released.
  receive(1, frame("news", "late"));
  CHECK(*consumed_calls == 3);
  CHECK(events_of<protocol::pubsub_published>(events).empty());
}

TEST_CASE_FIXTURE(fixture, "the end of a subscription is reported once") {
  start();
  subscribe(1, "news");
  end(1);
  end(1);
  auto left = events_of<protocol::pubsub_unsubscribed>(events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].topic == "news");
  CHECK(left[0].remote == remote_of(1));
}

TEST_CASE_FIXTURE(fixture,
                  "the end of an empty-topic subscription is reported") {
  start();
  subscribe(1, "");
  end(1);
  auto left = events_of<protocol::pubsub_unsubscribed>(events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].topic.empty());
}

TEST_CASE_FIXTURE(fixture, "a connection without a frame ends silently") {
  start();
  open(1);
  end(1);
  CHECK(events->empty());
}

TEST_CASE_FIXTURE(fixture, "a slow subscriber is dropped, the others served") {
  event_stream_options options;
  options.limits.max_writes_in_flight = 1;
  options.limits.max_queued_frames = 3;
  start(options);
  subscribe(1, "news");
  subscribe(2, "news");
  subscribe(3, "news");
  record->held.insert(1);
  // One write in flight and three queued fit the slow subscriber.
  for (int i = 0; i < 4; ++i)
    receive(3, frame("news", "event " + std::to_string(i)));
  CHECK(record->written_to(1).size() == 1);
  CHECK(record->written_to(2).size() == 4);
  CHECK(record->closes.empty());
  // The fifth publish overflows its queue.
  receive(3, frame("news", "event 4"));
  CHECK(record->closes == std::vector<std::uint32_t>{1});
  CHECK(record->written_to(2).size() == 5);
  auto left = events_of<protocol::pubsub_unsubscribed>(events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].remote == remote_of(1));
  // Later publishes skip it, also when its held write completes.
  release(1);
  receive(3, frame("news", "event 5"));
  CHECK(record->written_to(1).size() == 1);
  CHECK(record->written_to(2).size() == 6);
  CHECK(events_of<protocol::pubsub_published>(events).size() == 6);
}

TEST_CASE_FIXTURE(fixture,
                  "queued frames follow in order once writes complete") {
  event_stream_options options;
  options.limits.max_writes_in_flight = 1;
  start(options);
  subscribe(1, "news");
  subscribe(2, "news");
  record->held.insert(1);
  for (int i = 0; i < 3; ++i)
    receive(2, frame("news", std::to_string(i)));
  CHECK(record->written_to(1).size() == 1);
  release(1);
  CHECK(record->written_to(1)
        == std::vector<std::string>{frame("news", "0"), frame("news", "1"),
                                    frame("news", "2")});
  CHECK(record->closes.empty());
}

TEST_CASE_FIXTURE(fixture, "a write that times out drops the subscriber") {
  event_stream_options options;
  options.write_timeout = 5s;
  start(options);
  subscribe(1, "news");
  subscribe(2, "news");
  record->held.insert(1);
  receive(2, frame("news", "stuck"));
  CHECK(record->closes.empty());
  sched.advance_time(6s);
  sched.run();
  CHECK(record->closes == std::vector<std::uint32_t>{1});
  CHECK(events_of<protocol::pubsub_unsubscribed>(events).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "a failed write drops the subscriber") {
  start();
  subscribe(1, "news");
  subscribe(2, "news");
  record->failing.insert(1);
  receive(2, frame("news", "lost"));
  CHECK(record->closes == std::vector<std::uint32_t>{1});
  receive(2, frame("news", "next"));
  CHECK(record->written_to(1).size() == 1);
}

TEST_CASE_FIXTURE(fixture, "connections beyond the maximum are closed") {
  event_stream_options options;
  options.limits.max_connections = 2;
  start(options);
  subscribe(1, "news");
  subscribe(2, "news");
  open(3);
  CHECK(record->closes == std::vector<std::uint32_t>{3});
  receive(3, frame("news", ""));
  CHECK(events_of<protocol::pubsub_subscribed>(events).size() == 2);
}

TEST_CASE_FIXTURE(fixture, "unfinished frames over the buffer limit close") {
  event_stream_options options;
  options.max_buffered_bytes = 100;
  start(options);
  subscribe(1, "news");
  auto big = frame("news", std::string(200, 'x'));
  receive(1, big.substr(0, 50));
  CHECK(record->closes.empty());
  receive(1, big.substr(50, 60));
  CHECK(record->closes == std::vector<std::uint32_t>{1});
}
