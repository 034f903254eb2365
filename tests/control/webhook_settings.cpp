#include "control/webhook_settings.hpp"

#include "tests/actors/webhook_test_data.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pilot;
using namespace std::chrono_literals;
using pilot::test::test_secret;

namespace {

webhook::webhook_config current_config() {
  webhook::webhook_config config;
  config.url = "http://127.0.0.1:8080/hook";
  config.events = {"conn.*"};
  config.secrets = {test_secret};
  config.retries = 1;
  config.concurrency = 4;
  config.buffer_size = 64;
  config.timeout_ms = 2'000;
  return config;
}

} // namespace

TEST_CASE("webhook settings convert both ways") {
  auto config = current_config();
  auto settings = control::to_webhook_settings(config);
  CHECK(settings.url == config.url);
  CHECK(settings.events == config.events);
  CHECK(settings.secrets == config.secrets);
  CHECK(settings.retries == 1);
  CHECK(settings.concurrency == 4);
  CHECK(settings.buffer == 64);
  CHECK(settings.timeout == 2s);
  CHECK(control::to_webhook_config(settings) == config);
}

TEST_CASE("webhook change keeps the settings it does not name") {
  auto config = current_config();
  protocol::webhook_config_change change;
  change.retries = 3;
  change.timeout = "10s";
  REQUIRE_FALSE(control::apply_webhook_change(config, change));
  auto expected = current_config();
  expected.retries = 3;
  expected.timeout_ms = 10'000;
  CHECK(config == expected);
}

TEST_CASE("webhook change replaces and clears lists") {
  auto config = current_config();
  protocol::webhook_config_change change;
  change.events = "message.*, trust.*";
  change.secrets = std::vector<std::string>{};
  change.url = "";
  REQUIRE_FALSE(control::apply_webhook_change(config, change));
  CHECK(config.events == std::vector<std::string>{"message.*", "trust.*"});
  CHECK(config.secrets.empty());
  CHECK(config.url.empty());
  change = {};
  change.events = "*";
  REQUIRE_FALSE(control::apply_webhook_change(config, change));
  CHECK(config.events.empty());
}

TEST_CASE("invalid webhook change leaves every setting") {
  struct bad_change {
    protocol::webhook_config_change change;
    std::string message;
  };
  std::vector<bad_change> cases(6);
  cases[0].change.retries = 4;
  cases[0].message = "webhook-retries: must be from 0 to 3";
  cases[1].change.concurrency = 65;
  cases[1].message = "webhook-concurrency: must be from 1 to 64";
  cases[2].change.buffer = 0;
  cases[2].message = "webhook-buffer: must be from 1 to 65536";
  cases[3].change.timeout = "45s";
  cases[3].message = "webhook-timeout: must be from 1s to 30s";
  cases[4].change.url = "http://169.254.169.254/latest";
  cases[4].change.retries = 2;
  cases[4].message = "webhook: ";
  cases[5].change.retries = 2;
  cases[5].change.events = "conn.*,nope";
  cases[5].message = "webhook-events: ";
  for (const auto& c : cases) {
    CAPTURE(c.message);
    auto config = current_config();
    auto problem = control::apply_webhook_change(config, c.change);
    REQUIRE(problem);
    CHECK(problem->starts_with(c.message));
    CHECK(config == current_config());
  }
}

TEST_CASE("invalid webhook secret change hides the secret") {
  auto config = current_config();
  protocol::webhook_config_change change;
  change.secrets = std::vector<std::string>{test_secret, "whsec_dG9vc2hvcnQ="};
  auto problem = control::apply_webhook_change(config, change);
  REQUIRE(problem);
  CHECK(problem->starts_with("webhook-secret: secret 2 of 2: "));
  CHECK(problem->find("dG9vc2hvcnQ") == std::string::npos);
  CHECK(problem->find(test_secret) == std::string::npos);
  CHECK(config == current_config());
}

TEST_CASE("blank or joined secrets rejected") {
  const std::vector<std::vector<std::string>> lists{
      {test_secret + "," + test_secret},
      {""},
      {" "},
      {test_secret + "\n"},
      {test_secret, ""}};
  for (const auto& secrets : lists) {
    auto config = current_config();
    REQUIRE_FALSE(config.secrets.empty());
    protocol::webhook_config_change change;
    change.secrets = secrets;
    auto problem = control::apply_webhook_change(config, change);
    REQUIRE(problem);
    CHECK(*problem
          == "webhook-secret: a secret is empty or contains a comma or "
             "white space; give each secret as an item of its own, or no "
             "items to remove them");
    CHECK(config == current_config());
  }
}

TEST_CASE("changed webhook settings are named, not shown") {
  auto before = current_config();
  CHECK(control::changed_webhook_settings(before, before) == "");
  auto after = before;
  after.url = "http://127.0.0.1:9090/other";
  after.secrets.clear();
  after.ca_file = "/etc/ca.pem";
  CHECK(control::changed_webhook_settings(before, after)
        == "url, secrets, ca_file");
}
