#include "control/cli_args.hpp"

#include "actors/daemon_options.hpp"
#include "control/cli_commands.hpp"
#include "control/cli_daemon.hpp"
#include "control/cli_output.hpp"
#include "control/cli_settings.hpp"
#include "control/config_keys.hpp"
#include "protocol/webhook_url.hpp"
#include "tests/actors/webhook_test_data.hpp"
#include "tests/control/scoped_env.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace pilot::control;
using cli::command_line;
using pilot::test::scoped_env;

namespace {

const std::vector<std::string_view> booleans{"public", "foreground", "check"};

command_line parse(std::vector<std::string> args) {
  return cli::parse_command_line(args, booleans);
}

// Returns the webhook validator's message for a URL it rejects.
std::string protocol_message(std::string_view url) {
  auto target = pilot::protocol::parse_webhook_url(url);
  REQUIRE_FALSE(target.has_value());
  return target.error().message;
}

std::string error_code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const cli::error& e) {
    return e.code();
  }
  return "no error";
}

} // namespace

TEST_CASE("cli json flag is removed anywhere") {
  auto cmd = parse({"set-webhook", "--json", "http://x/"});
  CHECK(cmd.json);
  REQUIRE(cmd.positionals.size() == 2);
  CHECK(cmd.positionals[0] == "set-webhook");
  CHECK(cmd.positionals[1] == "http://x/");
  CHECK(cmd.flags.empty());
  CHECK(parse({"info", "--json"}).json);
  CHECK_FALSE(parse({"info"}).json);
}

TEST_CASE("cli flag forms") {
  auto cmd = parse({"daemon", "start", "--registry=127.0.0.1:9000", "--socket",
                    "/tmp/s", "--owner", "--log-level", "debug"});
  CHECK(cmd.positionals == std::vector<std::string>{"daemon", "start"});
  CHECK(cmd.value("registry") == "127.0.0.1:9000");
  CHECK(cmd.value("socket") == "/tmp/s");
  // A flag followed by another flag is bare, meaning "true".
  CHECK(cmd.value("owner") == "true");
  CHECK(cmd.value("log-level") == "debug");
  CHECK_FALSE(cmd.has("beacon"));
}

TEST_CASE("cli boolean flags take no separate value") {
  auto cmd = parse({"daemon", "start", "--public", "extra", "--check=false"});
  CHECK(cmd.enabled("public"));
  CHECK(cmd.positional(2) == "extra");
  CHECK_FALSE(cmd.enabled("check"));
  CHECK(cmd.has("check"));
  CHECK_FALSE(cmd.enabled("foreground"));
}

TEST_CASE("cli single dash arguments are positionals") {
  auto cmd = parse({"set-tags", "-x", "--", "-h"});
  CHECK(cmd.help);
  CHECK(cmd.positionals == std::vector<std::string>{"set-tags", "-x", "--"});
}

TEST_CASE("cli empty flag value after equals") {
  auto cmd = parse({"daemon", "start", "--beacon="});
  CHECK(cmd.value("beacon") == "");
  REQUIRE(cmd.flags.size() == 1);
  CHECK(cmd.flags[0].has_value);
}

TEST_CASE("cli socket prefers environment over config") {
  pilot_config config{"/nonexistent/config.json"};
  config.set_string("socket", "/tmp/from-config.sock");
  {
    scoped_env env{"PILOT_SOCKET", "/tmp/from-env.sock"};
    CHECK(cli::resolve_socket(parse({"info"}), config) == "/tmp/from-env.sock");
    CHECK(cli::resolve_socket(parse({"info", "--socket", "/tmp/flag.sock"}),
                              config)
          == "/tmp/flag.sock");
  }
  scoped_env env{"PILOT_SOCKET", nullptr};
  CHECK(cli::resolve_socket(parse({"info"}), config)
        == "/tmp/from-config.sock");
  CHECK(cli::resolve_socket(parse({"info"}),
                            pilot_config{"/nonexistent/config.json"})
        == "/tmp/pilot.sock");
}

TEST_CASE("cli registry prefers the running daemon") {
  pilot_config config{"/nonexistent/config.json"};
  config.set_string("registry", "127.0.0.1:8000");
  scoped_env env{"PILOT_REGISTRY", "127.0.0.1:7000"};
  auto from_daemon
      = cli::registry_setting(parse({"lookup"}), config, "127.0.0.1:6000");
  CHECK(from_daemon.value == "127.0.0.1:6000");
  CHECK(from_daemon.source == cli::setting_source::daemon);
  auto from_flag = cli::registry_setting(
      parse({"lookup", "--registry=127.0.0.1:9000"}), config, "127.0.0.1:6000");
  CHECK(from_flag.value == "127.0.0.1:9000");
  CHECK(from_flag.source == cli::setting_source::flag);
  auto from_config = cli::registry_setting(parse({"lookup"}), config);
  CHECK(from_config.source == cli::setting_source::config);
  CHECK(from_config.origin == "/nonexistent/config.json");
  CHECK(cli::origin_text(from_config)
        == "127.0.0.1:8000 (from /nonexistent/config.json)");
  CHECK(cli::to_string(cli::setting_source::environment) == "environment");
  CHECK(cli::to_string(cli::setting_source::fallback) == "default");
}

TEST_CASE("cli registry prefers config over environment") {
  pilot_config config{"/nonexistent/config.json"};
  scoped_env env{"PILOT_REGISTRY", "127.0.0.1:7000"};
  CHECK(cli::resolve_registry(parse({"lookup"}), config) == "127.0.0.1:7000");
  config.set_string("registry", "127.0.0.1:8000");
  CHECK(cli::resolve_registry(parse({"lookup"}), config) == "127.0.0.1:8000");
  CHECK(cli::resolve_registry(parse({"lookup", "--registry=127.0.0.1:9000"}),
                              config)
        == "127.0.0.1:9000");
  scoped_env unset{"PILOT_REGISTRY", nullptr};
  CHECK(cli::resolve_registry(parse({"lookup"}),
                              pilot_config{"/nonexistent/config.json"})
        == "34.71.57.205:9000");
}

// A config file in a fresh temporary directory, removed at the end.
struct config_dir {
  config_dir() {
    std::string name = "/tmp/pilot-cli-test-XXXXXX";
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    dir = name;
  }

  ~config_dir() { std::filesystem::remove_all(dir); }

  pilot_config write(const std::string& text) const {
    std::ofstream{path(), std::ios::binary} << text;
    return pilot_config::load(path());
  }

  std::filesystem::path path() const { return dir / "config.json"; }

  std::filesystem::path dir;
};

TEST_CASE("daemon arguments pass the config file") {
  scoped_env socket{"PILOT_SOCKET", nullptr};
  scoped_env registry{"PILOT_REGISTRY", nullptr};
  config_dir files;
  auto config
      = files.write(R"({"registry":"127.0.0.1:9000","socket":"/tmp/c.sock",)"
                    R"("hostname":"from-config","webhook-buffer":16})");
  auto cmd = parse({"daemon", "start", "--hostname", "from-flag", "--public",
                    "--listen", ":4000", "--keepalive=10s", "--foreground",
                    "--beacon="});
  auto args = cli::daemon_arguments(cmd, config);
  // The registry and socket come from the file the daemon reads, and the
  // flags go after it, so they win.
  std::vector<std::string> expected{
      "--config=" + files.path().string(),
      "--hostname=from-flag",
      "--public",
      "--listen=:4000",
      "--keepalive=10s",
      "--beacon",
      "",
  };
  CHECK(args == expected);
}

TEST_CASE("daemon arguments keep pilotctl's socket and registry") {
  scoped_env socket{"PILOT_SOCKET", "/tmp/env.sock"};
  scoped_env registry{"PILOT_REGISTRY", "127.0.0.1:9100"};
  config_dir files;
  auto config = files.write(R"({"socket":"/tmp/c.sock"})");
  auto args = cli::daemon_arguments(
      parse({"daemon", "start", "--identity=/tmp/id.json"}), config);
  std::vector<std::string> expected{
      "--config=" + files.path().string(), "--registry=127.0.0.1:9100",
      "--socket=/tmp/env.sock", "--identity=/tmp/id.json"};
  CHECK(args == expected);
}

TEST_CASE("daemon arguments without config file") {
  scoped_env socket{"PILOT_SOCKET", nullptr};
  scoped_env registry{"PILOT_REGISTRY", "127.0.0.1:9100"};
  pilot_config config{"/nonexistent/config.json"};
  auto args = cli::daemon_arguments(parse({"daemon", "start"}), config);
  std::vector<std::string> expected{"--registry=127.0.0.1:9100",
                                    "--socket=/tmp/pilot.sock"};
  CHECK(args == expected);
  // A config file given with --config is passed even when it is missing,
  // so that the daemon reports it.
  auto given = cli::daemon_arguments(
      parse({"daemon", "start", "--config", "/nonexistent/config.json"}),
      config);
  REQUIRE_FALSE(given.empty());
  CHECK(given.front() == "--config=/nonexistent/config.json");
}

TEST_CASE("daemon arguments pass every webhook flag") {
  scoped_env socket{"PILOT_SOCKET", nullptr};
  scoped_env registry{"PILOT_REGISTRY", "127.0.0.1:9100"};
  pilot_config config{"/nonexistent/config.json"};
  auto args = cli::daemon_arguments(
      parse({"daemon", "start", "--webhook-events", "conn.*",
             "--webhook-retries=2", "--webhook-secret", "whsec_x",
             "--webhook-ca-file", "/etc/ca.pem"}),
      config);
  std::vector<std::string> expected{
      "--registry=127.0.0.1:9100", "--socket=/tmp/pilot.sock",
      "--webhook-events=conn.*",   "--webhook-retries=2",
      "--webhook-secret=whsec_x",  "--webhook-ca-file=/etc/ca.pem"};
  CHECK(args == expected);
}

TEST_CASE("daemon arguments reject operands") {
  pilot_config config{"/nonexistent/config.json"};
  CHECK(error_code_of([&] {
          cli::daemon_arguments(parse({"daemon", "start", "now"}), config);
        })
        == "invalid_argument");
}

TEST_CASE("cli operand count is checked") {
  CHECK(error_code_of([] {
          cli::check_operands(parse({"find"}), 1, 1, "find <hostname>");
        })
        == "invalid_argument");
  CHECK(
      error_code_of([] {
        cli::check_operands(parse({"find", "a", "b"}), 1, 1, "find <hostname>");
      })
      == "invalid_argument");
  CHECK(error_code_of([] {
          cli::check_operands(parse({"find", "a"}), 1, 1, "find <hostname>");
        })
        == "no error");
}

TEST_CASE("cli redacts webhook urls") {
  CHECK(cli::redact_url("http://u:p@127.0.0.1:8080/events?token=x")
        == "http://127.0.0.1:8080/events");
  // A URL the validator rejects still loses its secrets.
  CHECK(cli::redact_url("ftp://u:p@host/x?token=y#f") == "ftp://host/x");
  CHECK(cli::redact_url("not a url") == "not a url");
}

TEST_CASE("cli plain text of values") {
  CHECK(cli::plain_text(boost::json::value("a b")) == "a b");
  CHECK(cli::plain_text(boost::json::value(7)) == "7");
  CHECK(cli::plain_text(boost::json::value(nullptr)) == "null");
}

TEST_CASE("cli flags before the command are global") {
  auto cmd = parse({"--jsno", "info"});
  REQUIRE(cmd.global_flags.size() == 1);
  CHECK(cmd.global_flags[0].name == "jsno");
  CHECK(cmd.positionals == std::vector<std::string>{"info"});
  CHECK(cmd.flags.empty());
  auto json = parse({"--json", "info", "--socket", "/tmp/s"});
  CHECK(json.global_flags.empty());
  CHECK(json.value("socket") == "/tmp/s");
}

namespace {

std::string usage_message(const command_line& cmd,
                          const std::vector<std::string_view>& allowed,
                          std::string_view usage) {
  try {
    cli::check_flags(cmd, allowed, usage);
  } catch (const cli::usage_error& e) {
    CHECK(e.code() == "invalid_argument");
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("cli unknown flags are named") {
  CHECK(usage_message(parse({"info", "--verbose"}), {"socket"}, "info")
        == "unknown flag --verbose for info");
  CHECK(usage_message(parse({"info", "--socket=/tmp/s"}), {"socket"}, "info")
        == "no error");
  CHECK(usage_message(parse({"set-webhook", "--url", "http://x/"}), {"socket"},
                      "set-webhook <url>")
        == "--url is not a flag: give the url as an argument, as in: "
           "pilotctl set-webhook http://x/");
}

TEST_CASE("cli escapes control characters") {
  CHECK(cli::escape_control("plain text") == "plain text");
  CHECK(cli::escape_control("a\x1b[31mb") == "a\\x1b[31mb");
  CHECK(cli::escape_control("x\ny\tz\r") == "x\\ny\\tz\\r");
  CHECK(cli::escape_control("x\ny\tz", true) == "x\ny\tz");
  CHECK(cli::escape_control("\x7f") == "\\x7f");
  // C1 controls in UTF-8, such as CSI (U+009B), and bytes that are not
  // UTF-8.
  CHECK(cli::escape_control("\xC2\x9B"
                            "2J")
        == "\\u009b2J");
  CHECK(cli::escape_control("\x9B"
                            "2J")
        == "\\x9b2J");
  CHECK(cli::escape_control("\xC3") == "\\xc3");
  // Other characters pass unchanged.
  CHECK(cli::escape_control("caf\xC3\xA9 \xE2\x82\xAC")
        == "caf\xC3\xA9 \xE2\x82\xAC");
  CHECK(cli::plain_text(boost::json::value("\x1b]0;x\x07"))
        == "\\x1b]0;x\\x07");
}

TEST_CASE("cli key value text") {
  boost::json::object info{
      {"node_id", 7},
      {"hostname", ""},
      {"type", "lookup_ok"},
      {"tags", boost::json::array{"gpu", "eu"}},
      {"webhook", boost::json::object{{"state", "up"}, {"url", nullptr}}},
      {"peer_list", boost::json::array{}},
      {"conn_list",
       boost::json::array{boost::json::object{{"id", 1}, {"state", "x\x1b"}}}},
      {"owner", "o"}};
  CHECK(cli::key_value_text(info, {"type"})
        == "conn_list:\n"
           "  - id: 1, state: x\\x1b\n"
           "hostname:  (none)\n"
           "node_id:   7\n"
           "owner:     o\n"
           "peer_list: (none)\n"
           "tags:      gpu, eu\n"
           "webhook:\n"
           "  state: up\n"
           "  url:   (none)");
}

TEST_CASE("config keys match the daemon flags") {
  // Every flag in pilot-daemon --help but --config, --help and --version is
  // a config key, and no other.
  auto usage = pilot::actors::daemon_usage();
  std::vector<std::string> flags;
  for (std::size_t at = usage.find("\n  --"); at != std::string::npos;
       at = usage.find("\n  --", at + 1)) {
    auto start = at + 5;
    auto end = usage.find_first_of(" \n", start);
    auto name = usage.substr(start, end - start);
    if (name != "config" && name != "help" && name != "version")
      flags.push_back(name);
  }
  std::vector<std::string> keys;
  for (const auto& key : cli::config_keys())
    keys.emplace_back(key.name);
  CHECK(keys == flags);
}

TEST_CASE("config entries get the daemon's types") {
  scoped_env home{"HOME", "/tmp"};
  auto flag = cli::make_config_entry("public", "true");
  CHECK(flag.key == "public");
  CHECK(flag.value == boost::json::value(true));
  CHECK(cli::make_config_entry("encrypt", "0").value
        == boost::json::value(false));
  auto count = cli::make_config_entry("webhook_buffer", "64");
  CHECK(count.key == "webhook-buffer");
  CHECK(count.value == boost::json::value(std::uint64_t{64}));
  CHECK(cli::make_config_entry("keepalive", "10s").value
        == boost::json::value("10s"));
  CHECK(cli::make_config_entry("webhook", "http://127.0.0.1:8080/e").value
        == boost::json::value("http://127.0.0.1:8080/e"));
  CHECK(cli::make_config_entry("hostname", "").value == boost::json::value(""));
}

TEST_CASE("daemon start checks arguments first") {
  std::string home = "/tmp/pilot-start-test-XXXXXX";
  REQUIRE(::mkdtemp(home.data()) != nullptr);
  scoped_env home_env{"HOME", home.c_str()};
  try {
    cli::daemon_start(parse({"daemon", "start", "bogus"}));
    FAIL("daemon start took an unexpected argument");
  } catch (const cli::error& e) {
    CHECK(std::string{e.code()} == "invalid_argument");
  }
  CHECK_FALSE(std::filesystem::exists(home + "/.pilot/config.json"));
  std::filesystem::remove_all(home);
}

TEST_CASE("unsaved applied change is reported") {
  pilot::control::pilot_config config{"/dev/null/config.json"};
  try {
    cli::save_applied_config(config);
    FAIL("the save did not fail");
  } catch (const cli::error& e) {
    CHECK(std::string{e.what()}.starts_with(
        "the running daemon took the change, but cannot write config file "
        "/dev/null/config.json: "));
    CHECK(std::string{e.hint()}.starts_with("the change lasts until the "
                                            "daemon stops"));
  }
}

TEST_CASE("relative CA file is saved absolute") {
  scoped_env home{"HOME", "/tmp"};
  std::string dir = "/tmp/pilot-ca-test-XXXXXX";
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  auto ca_file = std::filesystem::path{dir} / "ca.pem";
  std::ofstream{ca_file} << pilot::test::test_ca_pem;
  auto relative = std::filesystem::relative(ca_file);
  REQUIRE(relative.is_relative());
  auto entry = cli::make_config_entry("webhook_ca_file", relative.string());
  CHECK(entry.value
        == boost::json::value(std::filesystem::absolute(relative).string()));
  std::filesystem::remove_all(dir);
  CHECK(cli::make_config_entry("webhook-ca-file", "").value
        == boost::json::value(""));
}

TEST_CASE("event lists are saved in canonical form") {
  scoped_env home{"HOME", "/tmp"};
  CHECK(
      cli::make_config_entry("webhook-events", " conn.*, conn.*,trust.*").value
      == boost::json::value("conn.*,trust.*"));
  CHECK(cli::make_config_entry("webhook_events", "").value
        == boost::json::value("*"));
}

namespace {

std::string config_error_of(std::string_view key, const std::string& value) {
  try {
    cli::make_config_entry(key, value);
  } catch (const cli::error& e) {
    CHECK(e.code() == "invalid_argument");
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("config entries are checked like the daemon") {
  scoped_env home{"HOME", "/tmp"};
  auto unknown = config_error_of("colour", "red");
  CHECK(unknown.starts_with("unknown config key \"colour\" (valid keys: "));
  CHECK(unknown.find("registry, beacon") != std::string::npos);
  CHECK(unknown.find("webhook-buffer") != std::string::npos);
  CHECK(config_error_of("public", "maybe")
            .starts_with("invalid value for public: "));
  CHECK(config_error_of("public", "")
        == "invalid value for public: expected true or false");
  CHECK(config_error_of("keepalive", "soon")
            .starts_with("invalid value for keepalive: "));
  CHECK(config_error_of("keepalive", "1h")
            .starts_with("invalid value for keepalive: must be from 1s to "));
  CHECK(config_error_of("webhook-buffer", "0")
            .starts_with("invalid value for webhook-buffer: "));
  CHECK(config_error_of("registry", "nowhere")
            .starts_with("invalid value for registry: "));
  CHECK(config_error_of("log-level", "loud")
            .starts_with("invalid value for log-level: "));
  auto metadata = protocol_message("http://169.254.169.254/latest");
  CHECK(config_error_of("webhook", "http://169.254.169.254/latest")
        == "invalid value for webhook: " + metadata);
}

TEST_CASE("find errors separate not found from unreachable") {
  CHECK(std::string{cli::find_error_code(
            "resolve_hostname: no node has the hostname \"web\"")}
        == "not_found");
  CHECK(std::string{cli::find_error_code(
            "resolve_hostname: registry 127.0.0.1:9 is unreachable (connect: "
            "Connection refused); the daemon keeps retrying")}
        == "connection_failed");
  CHECK(std::string{cli::find_error_code(
            "resolve_hostname: the registry did not answer within 300 ms")}
        == "connection_failed");
}
