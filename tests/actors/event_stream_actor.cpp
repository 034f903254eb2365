#include "actors/event_stream_actor.hpp"

#include "protocol/address.hpp"
#include "protocol/event_stream.hpp"
#include "protocol/events.hpp"
#include "tests/actors/actor_test_support.hpp"

#include <doctest/doctest.h>

#include <caf/send.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace pilot::actors;
using namespace pilot::test;
namespace protocol = pilot::protocol;

namespace {

constexpr auto service_id = service_client_id(event_stream_port);

std::string frame(std::string_view topic, std::string_view payload) {
  auto encoded = protocol::encode_event_frame(topic, payload);
  REQUIRE(encoded.has_value());
  return *encoded;
}

// -- fixture ------------------------------------------------------------------

constexpr protocol::address peer{0, 2};

struct fixture : deterministic_system {
  fixture() {
    record->expected_client = service_id;
    stand_in = sys.spawn(recording_connections, record);
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

  connection_record_pointer record = std::make_shared<connection_record>();
  event_list events = std::make_shared<std::vector<protocol::event>>();
  std::shared_ptr<int> consumed_calls = std::make_shared<int>(0);
  recording_connection_actor stand_in;
  event_sink_actor sink;
  stream_service_actor service;
};

} // namespace

TEST_CASE_FIXTURE(fixture, "the service registers and binds port 1002") {
  start();
  REQUIRE(record->opened_clients.size() == 1);
  CHECK(record->opened_clients[0] == service_id);
  REQUIRE(record->binds.size() == 1);
  CHECK(record->binds[0].first == service_id);
  CHECK(record->binds[0].second == 1002);
}

TEST_CASE_FIXTURE(fixture, "a taken port leaves the service idle") {
  record->taken_ports.insert(event_stream_port);
  start();
  CHECK(record->binds.size() == 1);
  CHECK(events->empty());
  CHECK(record->closes.empty());
}

TEST_CASE_FIXTURE(fixture, "the client leaves when the service stops") {
  start();
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  sched.run();
  REQUIRE(record->closed_clients.size() == 1);
  CHECK(record->closed_clients[0] == service_id);
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
  record->held_connections.insert(1);
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
  record->held_connections.insert(1);
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
  record->held_connections.insert(1);
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
  record->failing_connections.insert(1);
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
