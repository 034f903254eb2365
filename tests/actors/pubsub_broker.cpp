#include "actors/detail/pubsub_broker.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using namespace pilot::actors::detail;

namespace {

using ids = std::vector<std::uint32_t>;

shared_frame frame_of(std::size_t size) {
  return std::make_shared<const std::string>(size, 'x');
}

// Opens and subscribes each connection of `topics` (conn_id, topic).
void subscribe_all(pubsub_broker& broker,
                   std::vector<std::pair<std::uint32_t, std::string>> topics) {
  for (auto& [conn_id, topic] : topics) {
    REQUIRE(
        broker.open(conn_id, "0:0000.0000.0002:" + std::to_string(conn_id)));
    REQUIRE(broker.subscribe(conn_id, topic));
  }
}

} // namespace

TEST_CASE("a publish reaches the topic's subscribers except the sender") {
  pubsub_broker broker;
  subscribe_all(broker, {{1, "news"}, {2, "news"}, {3, "sport"}});
  CHECK(broker.recipients(1, "news") == ids{2});
  CHECK(broker.recipients(3, "news") == ids{1, 2});
  CHECK(broker.recipients(1, "sport") == ids{3});
  CHECK(broker.recipients(1, "weather").empty());
}

TEST_CASE("wildcard subscribers receive every other topic") {
  pubsub_broker broker;
  subscribe_all(broker, {{1, "news"}, {2, "*"}, {3, "*"}, {4, "sport"}});
  CHECK(broker.recipients(4, "news") == ids{1, 2, 3});
  CHECK(broker.recipients(2, "news") == ids{1, 3});
  CHECK(broker.recipients(1, "weather") == ids{2, 3});
}

TEST_CASE("a publish to the wildcard reaches each wildcard subscriber once") {
  pubsub_broker broker;
  subscribe_all(broker, {{1, "news"}, {2, "*"}, {3, "*"}});
  CHECK(broker.recipients(1, "*") == ids{2, 3});
  CHECK(broker.recipients(2, "*") == ids{3});
}

TEST_CASE("an empty topic is a subscription of its own") {
  pubsub_broker broker;
  subscribe_all(broker, {{1, ""}, {2, "*"}});
  CHECK(broker.recipients(2, "") == ids{1});
  CHECK(broker.recipients(1, "news") == ids{2});
  REQUIRE(broker.find(1) != nullptr);
  REQUIRE(broker.find(1)->topic.has_value());
  CHECK(broker.find(1)->topic->empty());
}

TEST_CASE("a connection subscribes only once") {
  pubsub_broker broker;
  REQUIRE(broker.open(1, "0:0000.0000.0002:1000"));
  CHECK_FALSE(broker.find(1)->topic.has_value());
  CHECK(broker.subscribe(1, "news"));
  CHECK_FALSE(broker.subscribe(1, "sport"));
  CHECK(*broker.find(1)->topic == "news");
  CHECK(broker.recipients(2, "sport").empty());
}

TEST_CASE("connections without a subscription receive nothing") {
  pubsub_broker broker;
  REQUIRE(broker.open(1, "0:0000.0000.0002:1000"));
  CHECK(broker.recipients(2, "").empty());
  CHECK(broker.recipients(2, "*").empty());
  CHECK_FALSE(broker.subscribe(7, "news"));
}

TEST_CASE("closing a connection removes its subscription") {
  pubsub_broker broker;
  subscribe_all(broker, {{1, "news"}, {2, "news"}});
  auto closed = broker.close(1);
  REQUIRE(closed.has_value());
  CHECK(closed->remote == "0:0000.0000.0002:1");
  CHECK(*closed->topic == "news");
  CHECK(broker.recipients(3, "news") == ids{2});
  CHECK_FALSE(broker.close(1).has_value());
  CHECK(broker.size() == 1);
}

TEST_CASE("the broker tracks at most max_connections") {
  pubsub_limits limits;
  limits.max_connections = 2;
  pubsub_broker broker{limits};
  CHECK(broker.open(1, "a"));
  CHECK(broker.open(2, "b"));
  CHECK_FALSE(broker.open(3, "c"));
  broker.close(1);
  CHECK(broker.open(3, "c"));
  CHECK_FALSE(broker.open(3, "again"));
}

TEST_CASE("writes beyond the in-flight limit wait in the queue") {
  pubsub_limits limits;
  limits.max_writes_in_flight = 2;
  pubsub_broker broker{limits};
  subscribe_all(broker, {{1, "news"}});
  CHECK(broker.deliver(1, frame_of(10)) == delivery::write_now);
  CHECK(broker.deliver(1, frame_of(11)) == delivery::write_now);
  auto third = frame_of(12);
  CHECK(broker.deliver(1, third) == delivery::queued);
  CHECK(broker.find(1)->in_flight == 2);
  CHECK(broker.find(1)->queue.size() == 1);
  CHECK(broker.find(1)->queued_bytes == 12);
  // One completion frees one slot, which the queued frame takes.
  CHECK(broker.complete_write(1) == third);
  CHECK(broker.find(1)->in_flight == 2);
  CHECK(broker.find(1)->queued_bytes == 0);
  CHECK(broker.complete_write(1) == nullptr);
  CHECK(broker.complete_write(1) == nullptr);
  CHECK(broker.find(1)->in_flight == 0);
  CHECK(broker.deliver(1, frame_of(1)) == delivery::write_now);
}

TEST_CASE("a subscriber over its frame bound is disconnected") {
  pubsub_limits limits;
  limits.max_writes_in_flight = 1;
  limits.max_queued_frames = 3;
  pubsub_broker broker{limits};
  subscribe_all(broker, {{1, "news"}, {2, "news"}});
  CHECK(broker.deliver(1, frame_of(1)) == delivery::write_now);
  for (int i = 0; i < 3; ++i)
    CHECK(broker.deliver(1, frame_of(1)) == delivery::queued);
  CHECK(broker.deliver(1, frame_of(1)) == delivery::disconnect);
  // The other subscriber is not affected.
  CHECK(broker.deliver(2, frame_of(1)) == delivery::write_now);
}

TEST_CASE("a subscriber over its byte bound is disconnected") {
  pubsub_limits limits;
  limits.max_writes_in_flight = 1;
  limits.max_queued_bytes = 100;
  pubsub_broker broker{limits};
  subscribe_all(broker, {{1, "news"}});
  // A frame larger than the queue bound still goes out when nothing waits.
  CHECK(broker.deliver(1, frame_of(500)) == delivery::write_now);
  CHECK(broker.deliver(1, frame_of(60)) == delivery::queued);
  CHECK(broker.deliver(1, frame_of(40)) == delivery::queued);
  CHECK(broker.deliver(1, frame_of(1)) == delivery::disconnect);
}

TEST_CASE("a closed or unknown subscriber takes no frames") {
  pubsub_broker broker;
  subscribe_all(broker, {{1, "news"}});
  CHECK(broker.deliver(1, frame_of(1)) == delivery::write_now);
  broker.close(1);
  CHECK(broker.deliver(1, frame_of(1)) == delivery::disconnect);
  CHECK(broker.complete_write(1) == nullptr);
}

TEST_CASE("the total bound disconnects the subscriber that would pass it") {
  pubsub_limits limits;
  limits.max_writes_in_flight = 1;
  limits.max_total_queued_bytes = 100;
  pubsub_broker broker{limits};
  subscribe_all(broker, {{1, "news"}, {2, "news"}});
  CHECK(broker.deliver(1, frame_of(1)) == delivery::write_now);
  CHECK(broker.deliver(2, frame_of(1)) == delivery::write_now);
  CHECK(broker.deliver(1, frame_of(70)) == delivery::queued);
  CHECK(broker.deliver(2, frame_of(40)) == delivery::disconnect);
  CHECK(broker.total_queued_bytes() == 70);
  // Closing a subscriber releases its queue from the total.
  broker.close(1);
  CHECK(broker.total_queued_bytes() == 0);
  CHECK(broker.deliver(2, frame_of(40)) == delivery::queued);
  CHECK(broker.complete_write(2) != nullptr);
  CHECK(broker.total_queued_bytes() == 0);
}
