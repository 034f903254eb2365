#include "control/ipc_replies.hpp"

#include <doctest/doctest.h>

using namespace pilot;

namespace {

control::info_settings test_settings() {
  control::info_settings settings;
  settings.uptime_secs = 12;
  settings.config_file = "/etc/pilot/config.json";
  settings.registry = "127.0.0.1:9000";
  return settings;
}

} // namespace

TEST_CASE("info json reports a registered node") {
  control::info_parts parts;
  parts.node.registered = true;
  parts.node.node_id = 7;
  parts.node.address = "0:0000.0000.0007";
  auto info = control::make_info_json(parts, test_settings());
  CHECK(info.at("registered").as_bool());
  CHECK(info.at("registry_error").as_string() == "");
  CHECK(info.at("registry").as_string() == "127.0.0.1:9000");
  CHECK(info.at("config_file").as_string() == "/etc/pilot/config.json");
  CHECK(info.at("node_id").to_number<std::uint32_t>() == 7);
  CHECK(info.at("uptime_secs").to_number<std::uint64_t>() == 12);
  CHECK(info.at("webhook").is_null());
}

TEST_CASE("info json reports a failing registration") {
  control::info_parts parts;
  parts.node.registered = false;
  parts.node.registry_error = "connect: Connection refused";
  auto settings = test_settings();
  settings.config_file.clear();
  auto info = control::make_info_json(parts, settings);
  CHECK_FALSE(info.at("registered").as_bool());
  CHECK(info.at("registry_error").as_string() == "connect: Connection refused");
  CHECK(info.at("config_file").as_string() == "");
  CHECK(info.at("node_id").to_number<std::uint32_t>() == 0);
}

TEST_CASE("webhook stats json shows settings and counts secrets") {
  webhook::webhook_stats stats;
  stats.url = "http://127.0.0.1:8080/hook";
  stats.events = "conn.*";
  stats.retries = 2;
  stats.retried = 5;
  stats.concurrency = 8;
  stats.buffer_size = 16;
  stats.timeout_ms = 3'000;
  stats.secrets = 2;
  stats.ca_file = "/etc/pilot/ca.pem";
  auto json = control::make_webhook_stats_json(stats);
  CHECK(json.at("events").as_string() == "conn.*");
  CHECK(json.at("retries").to_number<int>() == 2);
  CHECK(json.at("retried").to_number<int>() == 5);
  CHECK(json.at("concurrency").to_number<int>() == 8);
  CHECK(json.at("buffer_size").to_number<int>() == 16);
  CHECK(json.at("timeout_ms").to_number<int>() == 3'000);
  CHECK(json.at("secrets").to_number<int>() == 2);
  CHECK(json.at("ca_file").as_string() == "/etc/pilot/ca.pem");
}

TEST_CASE("webhook test json reports a delivery") {
  webhook::attempt_result result;
  result.status = 204;
  result.latency_us = 1'500;
  auto json = control::make_webhook_test_json(result);
  CHECK(json.at("delivered").as_bool());
  CHECK(json.at("status").to_number<int>() == 204);
  CHECK(json.at("latency_ms").as_double() == 1.5);
  CHECK(json.at("failure").as_string() == "");
  CHECK(json.at("error").as_string() == "");
}

TEST_CASE("webhook test json reports a status failure") {
  webhook::attempt_result result;
  result.latency_us = 800;
  struct status_case {
    int status;
    std::string_view failure;
  };
  for (auto [status, failure] :
       {status_case{302, "status_3xx"}, status_case{404, "status_4xx"},
        status_case{503, "status_5xx"}, status_case{101, "status_5xx"}}) {
    CAPTURE(status);
    result.status = status;
    auto json = control::make_webhook_test_json(result);
    CHECK_FALSE(json.at("delivered").as_bool());
    CHECK(json.at("status").to_number<int>() == status);
    CHECK(json.at("failure").as_string() == failure);
    CHECK(json.at("error").as_string()
          == "the receiver responded with HTTP status "
                 + std::to_string(status));
  }
}

TEST_CASE("webhook test json reports a connection failure") {
  webhook::attempt_result result;
  result.failure_class = "connect";
  result.detail = "connect: Connection refused";
  result.latency_us = 250;
  auto json = control::make_webhook_test_json(result);
  CHECK_FALSE(json.at("delivered").as_bool());
  CHECK(json.at("status").to_number<int>() == 0);
  CHECK(json.at("failure").as_string() == "connect");
  CHECK(json.at("error").as_string() == "connect: Connection refused");
  CHECK(json.at("latency_ms").as_double() == 0.25);
}
