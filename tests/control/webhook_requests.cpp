#include "control/control_actor.hpp"

#include "protocol/ipc.hpp"
#include "tests/actors/webhook_test_data.hpp"
#include "tests/control/control_fixture.hpp"

#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>
#include <vector>

using namespace pilot;
using namespace pilot::test;
using protocol::ipc_command;

namespace {

std::string change_payload(const protocol::webhook_config_change& change) {
  return protocol::encode_set_webhook_config(change);
}

} // namespace

TEST_CASE_FIXTURE(fixture, "webhook config change merges into the settings") {
  webhook_config->url = "http://127.0.0.1:8080/hook";
  webhook_config->secrets = {test_secret};
  webhook_config->concurrency = 4;
  start();
  auto client = connect();
  protocol::webhook_config_change change;
  change.events = "conn.*";
  change.retries = 2;
  change.timeout = "2s";
  auto reply
      = call(client, ipc_command::set_webhook_config, change_payload(change));
  REQUIRE(reply.command == ipc_command::set_webhook_config_ok);
  CHECK(reply.payload == R"({"webhook":"http://127.0.0.1:8080/hook"})");
  CHECK(webhook_config->url == "http://127.0.0.1:8080/hook");
  CHECK(webhook_config->events == std::vector<std::string>{"conn.*"});
  CHECK(webhook_config->retries == 2);
  CHECK(webhook_config->timeout_ms == 2'000);
  CHECK(webhook_config->secrets == std::vector<std::string>{test_secret});
  CHECK(webhook_config->concurrency == 4);
}

TEST_CASE_FIXTURE(fixture, "webhook config changes in a row all apply") {
  start();
  auto client = connect();
  protocol::webhook_config_change first;
  first.url = "http://user:pw@127.0.0.1:8080/hook";
  protocol::webhook_config_change second;
  second.retries = 3;
  protocol::webhook_config_change third;
  third.secrets = std::vector<std::string>{test_secret};
  // Pipelined, so that each merge must see the settings of the one before.
  auto frames
      = frame_bytes(ipc_command::set_webhook_config, change_payload(first))
        + frame_bytes(ipc_command::set_webhook_config, change_payload(second))
        + frame_bytes(ipc_command::set_webhook_config, change_payload(third));
  REQUIRE_FALSE(client->send_bytes(frames, 2s));
  for (int i = 0; i < 3; ++i) {
    auto reply = client->receive(5s);
    REQUIRE(reply.has_value());
    CHECK(reply->command == ipc_command::set_webhook_config_ok);
  }
  CHECK(webhook_config->url == "http://user:pw@127.0.0.1:8080/hook");
  CHECK(webhook_config->retries == 3);
  CHECK(webhook_config->secrets == std::vector<std::string>{test_secret});
}

TEST_CASE_FIXTURE(fixture, "invalid webhook config change applies nothing") {
  webhook_config->url = "http://127.0.0.1:8080/hook";
  start();
  auto client = connect();
  protocol::webhook_config_change change;
  change.events = "conn.*";
  change.retries = 7;
  auto reply
      = call(client, ipc_command::set_webhook_config, change_payload(change));
  CHECK(error_text(reply) == "webhook-retries: must be from 0 to 3, got 7");
  CHECK(webhook_config->events.empty());
  CHECK(webhook_config->retries == 0);
  change = {};
  change.secrets = std::vector<std::string>{"whsec_c2hvcnQ="};
  auto secret
      = call(client, ipc_command::set_webhook_config, change_payload(change));
  auto message = error_text(secret);
  CHECK(message.starts_with("webhook-secret: webhook secret key must be "));
  CHECK(message.find("c2hvcnQ") == std::string::npos);
  CHECK(webhook_config->secrets.empty());
}

TEST_CASE_FIXTURE(fixture, "malformed webhook config payload is an error") {
  start();
  auto client = connect();
  auto reply = call(client, ipc_command::set_webhook_config, R"({"retries":)");
  CHECK(error_text(reply).starts_with(
      "set_webhook_config: invalid payload: invalid JSON: "));
  auto typed
      = call(client, ipc_command::set_webhook_config, R"({"retries":"two"})");
  CHECK(error_text(typed)
        == R"(set_webhook_config: invalid payload: "retries" must be a )"
           R"(whole number)");
  // The connection stays usable.
  CHECK(call(client, ipc_command::webhook_stats).command
        == ipc_command::webhook_stats_ok);
}

TEST_CASE_FIXTURE(fixture, "misplaced secrets are not echoed") {
  start();
  auto client = connect();
  auto key = test_secret.substr(std::string{"whsec_"}.size(), 12);
  for (auto field : {"timeout", "events", "ca_file"}) {
    CAPTURE(field);
    boost::json::object payload{{field, test_secret}};
    auto reply = call(client, ipc_command::set_webhook_config,
                      boost::json::serialize(payload));
    auto message = error_text(reply);
    CHECK_FALSE(message.empty());
    CHECK(message.find(key) == std::string::npos);
  }
}

TEST_CASE_FIXTURE(fixture, "webhook actor rejection reaches the client") {
  start();
  auto client = connect();
  protocol::webhook_config_change change;
  change.url = "http://169.254.169.254/latest";
  auto reply
      = call(client, ipc_command::set_webhook_config, change_payload(change));
  CHECK(error_text(reply).starts_with("webhook: "));
  CHECK(webhook_config->url.empty());
}

TEST_CASE_FIXTURE(fixture, "webhook test replies with the outcome") {
  webhook_config->url = "http://127.0.0.1:8080/hook";
  test_outcome->status = 200;
  test_outcome->latency_us = 2'500;
  start();
  auto client = connect();
  auto reply = call(client, ipc_command::webhook_test);
  REQUIRE(reply.command == ipc_command::webhook_test_ok);
  simdjson::dom::parser parser;
  auto outcome = parser.parse(reply.payload);
  CHECK(outcome["delivered"].get_bool().value());
  CHECK(outcome["status"].get_int64().value() == 200);
  CHECK(outcome["latency_ms"].get_double().value() == 2.5);
  CHECK(outcome["failure"].get_string().value() == "");
}

TEST_CASE_FIXTURE(fixture, "webhook test without a url is an error") {
  start();
  auto client = connect();
  auto reply = call(client, ipc_command::webhook_test);
  CHECK(error_text(reply) == "no webhook URL is set");
}
