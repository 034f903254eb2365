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
