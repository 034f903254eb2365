#include "control/cli_args.hpp"

#include "control/cli_daemon.hpp"
#include "control/cli_output.hpp"
#include "control/cli_settings.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace pilot::control;
using cli::command_line;

namespace {

const std::vector<std::string_view> booleans{"public", "foreground", "check"};

command_line parse(std::vector<std::string> args) {
  return cli::parse_command_line(args, booleans);
}

// Sets or unsets environment variables for one test and restores them.
class scoped_env {
public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name))
      old_ = old;
    if (value != nullptr)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }

  ~scoped_env() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

private:
  const char* name_;
  std::optional<std::string> old_;
};

cli::pilot_paths test_paths() {
  cli::pilot_paths paths;
  paths.home = "/home/test/.pilot";
  paths.config = paths.home / "config.json";
  paths.pid_file = paths.home / "pilot.pid";
  paths.log_file = paths.home / "pilot.log";
  paths.identity = paths.home / "identity.json";
  return paths;
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

TEST_CASE("daemon arguments merge flags and config") {
  scoped_env socket{"PILOT_SOCKET", nullptr};
  scoped_env registry{"PILOT_REGISTRY", nullptr};
  pilot_config config{"/nonexistent/config.json"};
  config.set_string("registry", "127.0.0.1:9000");
  config.set_string("beacon", "127.0.0.1:9001");
  config.set_string("hostname", "from-config");
  config.set_string("webhook", "http://127.0.0.1:8080/events");
  config.set("encrypt", true);
  auto cmd = parse({"daemon", "start", "--hostname", "from-flag", "--public",
                    "--listen", ":4000", "--keepalive=10s", "--foreground",
                    "--beacon="});
  auto args = cli::daemon_arguments(cmd, config, test_paths());
  std::vector<std::string> expected{
      "--registry=127.0.0.1:9000",
      "--socket=/tmp/pilot.sock",
      "--identity=/home/test/.pilot/identity.json",
      "--beacon",
      "",
      "--hostname=from-flag",
      "--webhook=http://127.0.0.1:8080/events",
      "--public",
      "--listen=:4000",
      "--keepalive=10s",
  };
  CHECK(args == expected);
}

TEST_CASE("daemon arguments without config use defaults") {
  scoped_env socket{"PILOT_SOCKET", nullptr};
  scoped_env registry{"PILOT_REGISTRY", "127.0.0.1:9100"};
  pilot_config config{"/nonexistent/config.json"};
  auto args = cli::daemon_arguments(
      parse({"daemon", "start", "--identity=/tmp/id.json"}), config,
      test_paths());
  std::vector<std::string> expected{"--registry=127.0.0.1:9100",
                                    "--socket=/tmp/pilot.sock",
                                    "--identity=/tmp/id.json"};
  CHECK(args == expected);
}

TEST_CASE("daemon arguments reject operands") {
  pilot_config config{"/nonexistent/config.json"};
  CHECK(error_code_of([&] {
          cli::daemon_arguments(parse({"daemon", "start", "now"}), config,
                                test_paths());
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
