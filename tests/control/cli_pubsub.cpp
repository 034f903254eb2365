#include "control/cli_commands.hpp"

#include "control/daemon_client.hpp"
#include "protocol/event_stream.hpp"
#include "tests/control/cli_test_support.hpp"
#include "tests/control/control_fixture.hpp"
#include "tests/control/scoped_env.hpp"
#include "tests/control/stand_in_transport.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <thread>

using namespace pilot;
using namespace pilot::test;
namespace cli = pilot::control::cli;

namespace {

constexpr std::uint16_t event_stream_port = 1002;

// The control actor with stand-in transport actors, pilotctl's HOME and
// socket pointed at it, and a second client that binds the event stream
// port of the stand-in's node and plays the broker.
struct cli_pubsub_fixture : cli_stand_in_fixture {
  cli_pubsub_fixture() {
    broker.emplace(socket_path().string());
    broker->bind(event_stream_port);
  }

  // Returns the broker's side of the next connection to the port.
  std::uint32_t accept() {
    auto accept = broker->accept(event_stream_port,
                                 cli::daemon_client::clock_type::now() + 5s);
    return accept ? accept->conn_id : 0;
  }

  // Reads everything the connection carries until its end.
  std::string read_to_end(std::uint32_t conn_id) {
    std::string data;
    auto deadline = cli::daemon_client::clock_type::now() + 5s;
    while (auto chunk = broker->read(conn_id, 1 << 20, deadline)) {
      if (chunk->eof)
        break;
      data += chunk->data;
    }
    return data;
  }

  // Reads the subscription frame of a new connection and returns the
  // connection and the frame.
  std::pair<std::uint32_t, std::optional<protocol::event_frame>>
  accept_subscriber() {
    auto conn_id = accept();
    protocol::event_frame_reader reader;
    auto deadline = cli::daemon_client::clock_type::now() + 5s;
    while (auto chunk = broker->read(conn_id, 1 << 20, deadline)) {
      if (chunk->eof)
        break;
      reader.feed(chunk->data);
      auto frame = reader.next();
      if (frame && *frame)
        return {conn_id, std::move(**frame)};
    }
    return {conn_id, std::nullopt};
  }

  void publish(std::uint32_t conn_id, std::string_view topic,
               std::string_view payload) {
    broker->send(conn_id, protocol::encode_event_frame(topic, payload).value(),
                 cli::daemon_client::clock_type::now() + 5s);
  }

  std::optional<cli::daemon_client> broker;
};

// Splits a byte stream into event frames; stops at the first error.
std::vector<protocol::event_frame> frames_of(std::string_view bytes) {
  protocol::event_frame_reader reader;
  reader.feed(bytes);
  std::vector<protocol::event_frame> frames;
  for (auto frame = reader.next(); frame && *frame; frame = reader.next())
    frames.push_back(std::move(**frame));
  return frames;
}

} // namespace

TEST_CASE_FIXTURE(cli_pubsub_fixture, "publish subscribes, then publishes") {
  std::string received;
  std::thread peer{[&] {
    received = read_to_end(accept());
  }};
  auto result = cli::run_publish(
      command({"publish", "7", "news", "--data", "hello", "--json"}));
  peer.join();
  const auto& data = data_of(result);
  CHECK(data.at("target") == "0:0000.0000.0007");
  CHECK(data.at("topic") == "news");
  CHECK(data.at("bytes") == 5);
  auto frames = frames_of(received);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0] == protocol::event_frame{"news", ""});
  CHECK(frames[1] == protocol::event_frame{"news", "hello"});
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "publish requires data") {
  try {
    cli::run_publish(command({"publish", "7", "news"}));
    FAIL("publish ran without --data");
  } catch (const cli::error& e) {
    CHECK(e.code() == "invalid_argument");
    CHECK(std::string{e.what()} == "--data is required");
  }
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "publish rejects an oversized topic") {
  std::string topic(protocol::max_event_topic_size + 1, 't');
  try {
    cli::run_publish(command({"publish", "7", topic, "--data", "x"}));
    FAIL("publish sent a topic over the limit");
  } catch (const cli::error& e) {
    CHECK(e.code() == "invalid_argument");
  }
  CHECK(stats->bytes_written == 0);
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "publish to a closed port fails") {
  broker.reset();
  try {
    cli::run_publish(command({"publish", "7", "news", "--data", "x"}));
    FAIL("publish reached a closed port");
  } catch (const cli::error& e) {
    CHECK(e.code() == "connection_failed");
    CHECK(std::string{e.what()}
          == "cannot connect to 0:0000.0000.0007 port 1002: connection "
             "refused");
  }
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "bounded subscribe collects events") {
  std::optional<protocol::event_frame> subscription;
  std::thread peer{[&] {
    auto [conn_id, frame] = accept_subscriber();
    subscription = std::move(frame);
    publish(conn_id, "news", "one");
    publish(conn_id, "news", std::string{"t\xffo", 3});
    read_to_end(conn_id);
  }};
  auto result = cli::run_subscribe(
      command({"subscribe", "7", "news", "--count", "2", "--json"}));
  peer.join();
  REQUIRE(subscription.has_value());
  CHECK(*subscription == protocol::event_frame{"news", ""});
  const auto& data = data_of(result);
  CHECK(data.at("timeout") == false);
  CHECK_FALSE(data.contains("error"));
  const auto& events = data.at("events").as_array();
  REQUIRE(events.size() == 2);
  CHECK(events[0].as_object().at("topic") == "news");
  CHECK(events[0].as_object().at("data") == "one");
  CHECK(events[0].as_object().at("bytes") == 3);
  // Invalid UTF-8 shows as U+FFFD, as Go marshals it; bytes stays exact.
  CHECK(events[1].as_object().at("data") == "t\xEF\xBF\xBDo");
  CHECK(events[1].as_object().at("bytes") == 3);
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "subscribe reports an early end") {
  std::thread peer{[&] {
    auto conn_id = accept_subscriber().first;
    publish(conn_id, "news", "only");
    broker->close(conn_id);
  }};
  auto result = cli::run_subscribe(command(
      {"subscribe", "7", "news", "--count", "3", "--timeout", "5s", "--json"}));
  peer.join();
  const auto& data = data_of(result);
  CHECK(data.at("timeout") == false);
  CHECK(data.at("events").as_array().size() == 1);
  CHECK(data.at("error") == "the target closed the subscription");
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "subscribe times out without events") {
  std::thread peer{[&] {
    read_to_end(accept_subscriber().first);
  }};
  auto result = cli::run_subscribe(
      command({"subscribe", "7", "news", "--timeout", "300ms", "--json"}));
  peer.join();
  const auto& data = data_of(result);
  CHECK(data.at("timeout") == true);
  CHECK(data.at("events").as_array().empty());
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "unbounded subscribe prints json lines") {
  captured_stdout output;
  std::thread peer{[&] {
    auto conn_id = accept_subscriber().first;
    publish(conn_id, "news", "<one>");
    broker->close(conn_id);
  }};
  try {
    cli::run_subscribe(command({"subscribe", "7", "news", "--json"}));
    FAIL("an unbounded subscription returned");
  } catch (const cli::error& e) {
    CHECK(e.code() == "connection_failed");
    CHECK(std::string{e.what()}
          == "subscription ended after 1 events: the target closed the "
             "subscription");
  }
  peer.join();
  CHECK(output.text.str()
        == "{\"bytes\":5,\"data\":\"\\u003cone\\u003e\",\"topic\":\"news\"}\n");
}

TEST_CASE_FIXTURE(cli_pubsub_fixture, "text subscribe prints topic lines") {
  captured_stdout output;
  std::thread peer{[&] {
    auto conn_id = accept_subscriber().first;
    publish(conn_id, "news", "hello\x1b");
    read_to_end(conn_id);
  }};
  auto result
      = cli::run_subscribe(command({"subscribe", "7", "news", "--count", "1"}));
  peer.join();
  CHECK(result.silent);
  CHECK(output.text.str() == "[news] hello\\x1b\n");
}
