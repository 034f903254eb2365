#include "control/cli_commands.hpp"

#include "control/cli_args.hpp"
#include "control/pilot_config.hpp"
#include "tests/actors/webhook_test_data.hpp"
#include "tests/control/control_fixture.hpp"

#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace pilot;
using namespace pilot::test;
using control::pilot_config;

namespace {

control::cli::command_line command(std::vector<std::string> args) {
  return control::cli::parse_command_line(args, {});
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// Returns the code of the `cli::error` that `run` throws, or "" for none.
template <class F>
std::string error_code_of(F run, std::string* message = nullptr) {
  try {
    run();
  } catch (const control::cli::error& e) {
    if (message)
      *message = e.what();
    return e.code();
  }
  return {};
}

} // namespace

TEST_CASE_FIXTURE(cli_fixture, "set webhook options apply and persist") {
  auto ca_file = dir / "ca.pem";
  std::ofstream{ca_file} << test_ca_pem;
  start_with_home_config();
  auto result = control::cli::run_set_webhook(command(
      {"set-webhook", "http://127.0.0.1:8080/hook", "--events", "conn.*",
       "--retries", "1", "--secret", test_secret, "--timeout", "2s", "--buffer",
       "8", "--concurrency", "2", "--ca-file", ca_file.string()}));
  CHECK(result.data.at("applied") == true);
  CHECK(result.data.at("webhook") == "http://127.0.0.1:8080/hook");
  const auto& shown = result.data.at("settings").as_object();
  CHECK(shown.at("secrets") == 1);
  CHECK(shown.at("events") == "conn.*");
  CHECK(shown.at("retries") == 1);
  CHECK(shown.at("ca_file").as_string() == ca_file.string());
  CHECK_FALSE(contains(result.text, test_secret));
  CHECK(contains(result.text, "secrets:"));
  // The daemon took every setting at once.
  CHECK(webhook_config->url == "http://127.0.0.1:8080/hook");
  CHECK(webhook_config->events == std::vector<std::string>{"conn.*"});
  CHECK(webhook_config->retries == 1);
  CHECK(webhook_config->secrets == std::vector<std::string>{test_secret});
  CHECK(webhook_config->timeout_ms == 2'000);
  CHECK(webhook_config->buffer_size == 8);
  CHECK(webhook_config->concurrency == 2);
  CHECK(webhook_config->ca_file == ca_file.string());
  // The config file keeps them in the types the daemon reads.
  auto saved = pilot_config::load(home_config());
  CHECK(saved.string_value("webhook") == "http://127.0.0.1:8080/hook");
  CHECK(saved.string_value("webhook-events") == "conn.*");
  CHECK(saved.values().at("webhook-retries") == 1);
  CHECK(saved.values().at("webhook-buffer") == 8);
  CHECK(saved.values().at("webhook-concurrency") == 2);
  CHECK(saved.string_value("webhook-timeout") == "2s");
  CHECK(saved.string_value("webhook-secret") == test_secret);
  CHECK(saved.string_value("webhook-ca-file") == ca_file.string());
  CHECK(mode_of(home_config()) == 0600);
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook with only a url keeps settings") {
  webhook_config->retries = 2;
  webhook_config->secrets = {test_secret};
  start_with_home_config();
  control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:9090/other"}));
  CHECK(webhook_config->url == "http://127.0.0.1:9090/other");
  CHECK(webhook_config->retries == 2);
  CHECK(webhook_config->secrets == std::vector<std::string>{test_secret});
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook checks every option first") {
  start_with_home_config();
  std::string message;
  CHECK(error_code_of(
            [&] {
              control::cli::run_set_webhook(
                  command({"set-webhook", "http://127.0.0.1:8080/hook",
                           "--events", "conn.*", "--retries", "9"}));
            },
            &message)
        == "invalid_argument");
  CHECK(message
        == "invalid value for webhook-retries: must be from 0 to 3, got 9");
  CHECK(error_code_of([&] {
          control::cli::run_set_webhook(
              command({"set-webhook", "http://127.0.0.1:8080/hook", "--events",
                       "conn.opened"}));
        })
        == "invalid_argument");
  CHECK(error_code_of([&] {
          control::cli::run_set_webhook(
              command({"set-webhook", "http://127.0.0.1:8080/hook", "--ca-file",
                       (dir / "missing.pem").string()}));
        })
        == "invalid_argument");
  CHECK(
      error_code_of([&] {
        control::cli::run_set_webhook(command(
            {"set-webhook", "http://127.0.0.1:8080/hook", "--timeout", "1m"}));
      })
      == "invalid_argument");
  // Nothing reached the daemon or the config file.
  CHECK(webhook_config->url.empty());
  CHECK(webhook_config->events.empty());
  CHECK_FALSE(std::filesystem::exists(home_config()));
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook never shows a bad secret") {
  auto bad = "whsec_" + std::string(20, 'Q') + "==";
  std::string message;
  CHECK(error_code_of(
            [&] {
              control::cli::run_set_webhook(
                  command({"set-webhook", "http://127.0.0.1:8080/hook",
                           "--secret", test_secret, "--secret", bad}));
            },
            &message)
        == "invalid_argument");
  CHECK(message.starts_with("invalid value for webhook-secret: secret 2 of 2"));
  CHECK_FALSE(contains(message, "QQQQ"));
  CHECK_FALSE(contains(message, test_secret));
  CHECK_FALSE(std::filesystem::exists(home_config()));
}

TEST_CASE_FIXTURE(cli_fixture, "a secret flag without a value is refused") {
  start_with_home_config();
  auto url = "http://127.0.0.1:8080/hook";
  control::cli::run_set_webhook(
      command({"set-webhook", url, "--secret", test_secret}));
  std::string message;
  CHECK(error_code_of(
            [&] {
              control::cli::run_set_webhook(
                  command({"set-webhook", url, "--secret"}));
            },
            &message)
        == "invalid_argument");
  CHECK(message.starts_with("--secret needs a value"));
  // White space alone is no value either.
  CHECK(error_code_of([&] {
          control::cli::run_set_webhook(
              command({"set-webhook", url, "--secret", " \n"}));
        })
        == "invalid_argument");
  // Signing stays on, in the daemon and in the file.
  CHECK(webhook_config->secrets == std::vector<std::string>{test_secret});
  CHECK(pilot_config::load(home_config()).string_value("webhook-secret")
        == test_secret);
}

TEST_CASE_FIXTURE(cli_fixture, "pasted secret is trimmed") {
  start_with_home_config();
  control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:8080/hook", "--secret",
               " " + test_secret + "\n"}));
  CHECK(webhook_config->secrets == std::vector<std::string>{test_secret});
  CHECK(pilot_config::load(home_config()).string_value("webhook-secret")
        == test_secret);
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook takes two secrets or clears") {
  start_with_home_config();
  auto url = "http://127.0.0.1:8080/hook";
  auto rotated = control::cli::run_set_webhook(command(
      {"set-webhook", url, "--secret", test_secret, "--secret", other_secret}));
  CHECK(rotated.data.at("settings").at("secrets") == 2);
  CHECK(webhook_config->secrets
        == std::vector<std::string>{test_secret, other_secret});
  CHECK(pilot_config::load(home_config()).string_value("webhook-secret")
        == test_secret + "," + other_secret);
  CHECK(error_code_of([&] {
          control::cli::run_set_webhook(
              command({"set-webhook", url, "--secret", test_secret, "--secret",
                       other_secret, "--secret", test_secret}));
        })
        == "invalid_argument");
  CHECK(error_code_of([&] {
          control::cli::run_set_webhook(command(
              {"set-webhook", url, "--secret", "", "--secret", test_secret}));
        })
        == "invalid_argument");
  auto cleared = control::cli::run_set_webhook(
      command({"set-webhook", url, "--secret", ""}));
  CHECK(cleared.data.at("settings").at("secrets") == 0);
  CHECK(webhook_config->secrets.empty());
  CHECK_FALSE(
      pilot_config::load(home_config()).values().contains("webhook-secret"));
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook without config saves nothing") {
  start();
  auto result = control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:8080/hook", "--retries", "2"}));
  CHECK(result.data.at("applied") == true);
  CHECK(result.data.at("config_file").is_null());
  CHECK(contains(result.text, "applied to the running daemon only"));
  CHECK(webhook_config->retries == 2);
  CHECK_FALSE(std::filesystem::exists(home_config()));
  auto cleared = control::cli::run_clear_webhook(command({"clear-webhook"}));
  CHECK(cleared.data.at("config_file").is_null());
  CHECK(*webhook_url == "");
  CHECK_FALSE(std::filesystem::exists(home_config()));
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook needs no HOME") {
  start_with_home_config();
  scoped_env no_home{"HOME", nullptr};
  auto result = control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:8080/hook"}));
  CHECK(result.data.at("applied") == true);
  CHECK(result.data.at("config_file")
        == boost::json::value(home_config().string()));
  auto cleared = control::cli::run_clear_webhook(command({"clear-webhook"}));
  CHECK(cleared.data.at("applied") == true);
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook without daemon saves options") {
  auto result = control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:8080/hook", "--retries", "3",
               "--secret", test_secret}));
  CHECK(result.data.at("applied") == false);
  auto saved = pilot_config::load(home_config());
  CHECK(saved.values().at("webhook-retries") == 3);
  CHECK(saved.string_value("webhook-secret") == test_secret);
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook keeps one spelling of a key") {
  std::filesystem::create_directories(home_config().parent_path());
  std::ofstream{home_config()}
      << R"({"webhook_retries": 2, "hostname": "alpha"})";
  control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:8080/hook", "--retries", "1"}));
  auto saved = pilot_config::load(home_config());
  CHECK_FALSE(saved.values().contains("webhook_retries"));
  CHECK(saved.values().at("webhook-retries") == 1);
  CHECK(saved.string_value("hostname") == "alpha");
}

TEST_CASE_FIXTURE(cli_fixture, "webhook shows settings and counts secrets") {
  webhook_config->url = "http://127.0.0.1:8080/hook";
  webhook_config->events = {"conn.*", "trust.*"};
  webhook_config->retries = 2;
  webhook_config->secrets = {test_secret, other_secret};
  webhook_config->timeout_ms = 2'500;
  *webhook_url = "http://127.0.0.1:8080/hook";
  start_with_home_config();
  auto result = control::cli::run_webhook(command({"webhook"}));
  CHECK(contains(result.text, "events:         conn.*,trust.*\n"));
  CHECK(contains(result.text, "retries:        2\n"));
  CHECK(contains(result.text, "timeout:        2.5s\n"));
  CHECK(contains(result.text, "secrets:        2 set (not shown)\n"));
  CHECK(contains(result.text, "ca file:        (system trust store)\n"));
  CHECK_FALSE(contains(result.text, "whsec_"));
  CHECK(result.data.at("secrets") == 2);
  CHECK_FALSE(contains(boost::json::serialize(result.data), "whsec_"));
}

TEST_CASE_FIXTURE(cli_fixture, "webhook test reports status and latency") {
  webhook_config->url = "http://127.0.0.1:8080/hook";
  test_outcome->status = 204;
  test_outcome->latency_us = 1'500;
  start_with_home_config();
  auto result = control::cli::run_webhook(command({"webhook", "test"}));
  CHECK(result.exit_code == control::cli::exit_ok);
  CHECK(result.text == "test event delivered: HTTP 204 in 1.5 ms");
  CHECK(result.data.at("status") == 204);
  CHECK(result.data.at("delivered") == true);
}

TEST_CASE_FIXTURE(cli_fixture, "failed webhook test is an error") {
  webhook_config->url = "http://127.0.0.1:1/hook";
  test_outcome->failure_class = "connect";
  test_outcome->detail = "connect: Connection refused";
  test_outcome->latency_us = 300;
  start_with_home_config();
  std::string message;
  CHECK(error_code_of(
            [&] {
              control::cli::run_webhook(command({"webhook", "test"}));
            },
            &message)
        == "connection_failed");
  CHECK(message
        == "test event not delivered: connect: Connection refused (connect, "
           "after 0.3 ms)");
  test_outcome->failure_class.clear();
  test_outcome->status = 500;
  CHECK(error_code_of(
            [&] {
              control::cli::run_webhook(command({"webhook", "test"}));
            },
            &message)
        == "connection_failed");
  CHECK(message
        == "test event not delivered: the receiver responded with HTTP "
           "status 500 (status_5xx, after 0.3 ms)");
}

TEST_CASE_FIXTURE(cli_fixture, "failed webhook test hints by failure") {
  webhook_config->url = "https://localhost:1/hook";
  start_with_home_config();
  auto hint_for = [&](std::string failure_class, int status) {
    test_outcome->failure_class = std::move(failure_class);
    test_outcome->status = status;
    try {
      control::cli::run_webhook(command({"webhook", "test"}));
    } catch (const control::cli::error& e) {
      return e.hint();
    }
    return std::string{"no error"};
  };
  CHECK(contains(hint_for("tls", 0), "--ca-file"));
  CHECK(contains(hint_for("dns", 0), "host name"));
  CHECK(contains(hint_for("timeout", 0), "--timeout"));
  CHECK(contains(hint_for("connect", 0), "listens on"));
  CHECK(contains(hint_for("", 404), "not with 2xx"));
}

TEST_CASE_FIXTURE(cli_fixture, "webhook test without url or daemon fails") {
  std::string message;
  CHECK(error_code_of([&] {
          control::cli::run_webhook(command({"webhook", "test"}));
        })
        == "not_running");
  start_with_home_config();
  CHECK(error_code_of(
            [&] {
              control::cli::run_webhook(command({"webhook", "test"}));
            },
            &message)
        == "invalid_argument");
  CHECK(message == "no webhook URL is set");
  CHECK(error_code_of([&] {
          control::cli::run_webhook(command({"webhook", "tset"}));
        })
        == "invalid_argument");
}

TEST_CASE_FIXTURE(cli_fixture, "config never shows webhook secrets") {
  auto set = control::cli::run_config(
      command({"config", "--set", "webhook_secret=" + test_secret}));
  CHECK(set.data.at("value") == "(1 set, not shown)");
  CHECK_FALSE(contains(set.text, test_secret));
  CHECK(pilot_config::load(home_config()).string_value("webhook-secret")
        == test_secret);
  auto shown = control::cli::run_config(command({"config"}));
  CHECK(shown.data.at("webhook-secret") == "(1 set, not shown)");
  CHECK_FALSE(contains(shown.text, test_secret));
  CHECK_FALSE(contains(boost::json::serialize(shown.data), test_secret));
}

TEST_CASE_FIXTURE(cli_fixture, "config hides secrets under any key") {
  auto config = pilot_config::load(home_config());
  config.set_string("notes", "old one: " + test_secret);
  config.set("nested", boost::json::object{{"list", {test_secret}}});
  config.set("typo" + test_secret, 1);
  config.save();
  auto output = control::cli::run_config(command({"config"}));
  auto key = test_secret.substr(std::string{"whsec_"}.size(), 12);
  CHECK_FALSE(contains(output.text, key));
  CHECK_FALSE(contains(boost::json::serialize(output.data), key));
  CHECK(output.data.at("notes") == "old one: whsec_<hidden>");
}
