#include "actors/daemon_options.hpp"

#include "protocol/identity.hpp"
#include "tests/actors/webhook_test_data.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pilot::actors::daemon_options;
using pilot::actors::options_error;

namespace {

daemon_options parse(std::initializer_list<std::string> args) {
  std::vector<const char*> argv{"pilot-daemon"};
  for (const auto& arg : args)
    argv.push_back(arg.c_str());
  return pilot::actors::parse_daemon_options(static_cast<int>(argv.size()),
                                             argv.data());
}

/// Returns the message of the `options_error` that parsing `args` throws,
/// or "" when it throws none.
std::string parse_error(std::initializer_list<std::string> args) {
  try {
    parse(args);
  } catch (const options_error& e) {
    return e.what();
  }
  return {};
}

/// A temporary directory, removed with its content at the end of a test.
struct temp_dir {
  temp_dir() {
    std::string pattern = fs::temp_directory_path() / "pilot-options-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }

  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Writes `content` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& content) {
    auto file = path / name;
    std::ofstream out{file, std::ios::binary};
    out << content;
    return file;
  }

  fs::path path;
};

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

} // namespace

TEST_CASE("daemon options have the documented defaults") {
  ::unsetenv("PILOT_SOCKET");
  ::setenv("HOME", "/home/tester", 1);
  auto opts = parse({});
  CHECK(opts.registry == "34.71.57.205:9000");
  CHECK(opts.beacon == "34.71.57.205:9001");
  CHECK(opts.listen == ":0");
  CHECK(opts.socket == "/tmp/pilot.sock");
  CHECK(opts.endpoint == "");
  CHECK(opts.identity == "/home/tester/.pilot/identity.json");
  CHECK(opts.owner == "");
  CHECK_FALSE(opts.is_public);
  CHECK(opts.hostname == "");
  CHECK(opts.keepalive == 30s);
  CHECK(opts.webhook.url == "");
  CHECK(opts.webhook.timeout == 5s);
  CHECK(opts.webhook.buffer == 1024);
  CHECK(opts.shutdown_grace == 3s);
  CHECK(opts.log_level == pilot::actors::log::level::info);
  CHECK(opts.log_format == pilot::actors::log::format::text);
  CHECK(opts.encrypt);
  CHECK(opts.transport.idle_timeout == 120s);
  CHECK(opts.transport.time_wait == 10s);
  CHECK(opts.transport.syn_rate_limit == 100);
  CHECK(opts.transport.max_conns_per_port == 1024);
  CHECK(opts.transport.max_conns_total == 4096);
  CHECK(opts.transport.echo);
  CHECK_FALSE(opts.show_help);
  CHECK(opts.warnings.empty());
}

TEST_CASE("daemon options take the socket from PILOT_SOCKET") {
  ::setenv("PILOT_SOCKET", "/run/user/1000/pilot.sock", 1);
  auto from_env = parse({});
  CHECK(from_env.socket == "/run/user/1000/pilot.sock");
  auto from_flag = parse({"--socket", "/tmp/other.sock"});
  CHECK(from_flag.socket == "/tmp/other.sock");
  ::unsetenv("PILOT_SOCKET");
}

TEST_CASE("daemon options accept single-dash long flags") {
  auto opts
      = parse({"-registry", "127.0.0.1:9000", "-public", "-hostname", "web",
               "-keepalive=10s", "-identity", "", "-log-format", "json"});
  CHECK(opts.registry == "127.0.0.1:9000");
  CHECK(opts.is_public);
  CHECK(opts.hostname == "web");
  CHECK(opts.keepalive == 10s);
  CHECK(opts.identity == "");
  CHECK(opts.log_format == pilot::actors::log::format::json);
}

TEST_CASE("daemon options parse boolean values") {
  CHECK(parse({"--public=true"}).is_public);
  CHECK_FALSE(parse({"--public=false"}).is_public);
  CHECK_FALSE(parse({"-encrypt=false"}).encrypt);
  CHECK_FALSE(parse({"--no-encrypt"}).encrypt);
  CHECK(parse({"--encrypt"}).encrypt);
  CHECK(parse_error({"--public=maybe"})
        == "--public: \"maybe\" is not a boolean; use true or false");
  CHECK(parse_error({"--encrypt", "--no-encrypt"})
        == "--encrypt and --no-encrypt contradict each other");
}

TEST_CASE("daemon options set the stream transport's limits") {
  auto opts = parse({"--idle-timeout", "2s", "--time-wait=0s",
                     "--syn-rate-limit", "5", "--max-conns-per-port", "8",
                     "--max-conns-total", "16", "--no-echo"});
  CHECK(opts.transport.idle_timeout == 2s);
  CHECK(opts.transport.time_wait == 0s);
  CHECK(opts.transport.syn_rate_limit == 5);
  CHECK(opts.transport.max_conns_per_port == 8);
  CHECK(opts.transport.max_conns_total == 16);
  CHECK_FALSE(opts.transport.echo);
  CHECK(parse_error({"--syn-rate-limit", "0"}).starts_with("--syn-rate-limit"));
  CHECK(parse_error({"--idle-timeout", "500ms"}).starts_with("--idle-timeout"));
}

TEST_CASE("daemon options parse Go durations") {
  CHECK(parse({"--keepalive", "1m"}).keepalive == 60s);
  CHECK(parse({"--keepalive", "1m30s"}).keepalive == 90s);
  CHECK(parse({"--keepalive", "1500ms"}).keepalive == 1500ms);
  CHECK(parse({"--shutdown-grace", "0s"}).shutdown_grace == 0ms);
  CHECK(parse({"--webhook-timeout", "30s"}).webhook.timeout == 30s);
  CHECK(parse_error({"--keepalive", "30"})
        == "--keepalive: \"30\" is not a duration; use a number with a "
           "unit, such as 30s, 500ms or 1m");
  CHECK(parse_error({"--keepalive", "-5s"})
        == "--keepalive: \"-5s\" is negative");
  CHECK(parse_error({"--keepalive", "500ms"})
        == "--keepalive: must be from 1s to 2m0s, got 500ms");
  CHECK(parse_error({"--webhook-timeout", "31s"})
        == "--webhook-timeout: must be from 1s to 30s, got 31s");
  CHECK(parse_error({"--shutdown-grace", "2m"})
        == "--shutdown-grace: must be from 0s to 1m0s, got 2m0s");
}

TEST_CASE("daemon options check every value") {
  CHECK(parse_error({"--registry", "localhost"})
        == "--registry: \"localhost\" is not host:port with a port from 1 "
           "to 65535");
  CHECK(parse_error({"--endpoint", "1.2.3.4:0"})
        == "--endpoint: \"1.2.3.4:0\" is not host:port with a port from 1 "
           "to 65535");
  CHECK(parse_error({"--listen", "0.0.0.0"})
        == "--listen: \"0.0.0.0\" is not [host]:port with a port from 0 to "
           "65535");
  CHECK(parse({"--listen", "0.0.0.0:4000"}).listen == "0.0.0.0:4000");
  CHECK(parse({"--beacon", ""}).beacon == "");
  CHECK(parse({"--beacon="}).beacon == "");
  CHECK(parse({"-endpoint="}).endpoint == "");
  CHECK(parse_error({"--hostname", "Web"})
        == "--hostname: hostname must be lowercase letters, digits and "
           "hyphens, starting and ending with a letter or digit");
  CHECK(parse({"--webhook-concurrency", "8"}).webhook.concurrency == 8);
  CHECK(parse_error({"--webhook-concurrency", "65"})
        == "--webhook-concurrency: must be from 1 to 64, got 65");
  CHECK(parse_error({"--webhook-buffer", "0"})
        == "--webhook-buffer: must be from 1 to 65536, got 0");
  CHECK(parse_error({"--webhook-buffer", "lots"})
        == "--webhook-buffer: \"lots\" is not a whole number");
  CHECK(parse_error({"--log-level", "verbose"})
        == "--log-level: \"verbose\" is not debug, info, warn or error");
  CHECK(parse_error({"--log-format", "xml"})
        == "--log-format: \"xml\" is not text or json");
  CHECK(parse_error({"--socket", ""}) == "--socket: must not be empty");
  CHECK(parse_error({"--socket", "/tmp/" + std::string(110, 's')})
        == "--socket: longer than 107 bytes, the limit of a Unix socket path");
  CHECK(parse_error({"--webhook", "ftp://example.com/hook"})
            .starts_with("--webhook: "));
  CHECK(parse({"--webhook", "http://127.0.0.1:8080/hook"}).webhook.url
        == "http://127.0.0.1:8080/hook");
}

TEST_CASE("daemon options reject unknown flags") {
  CHECK(parse_error({"--registy", "x:1"})
        == "unrecognised option '--registy'; run pilot-daemon --help for the "
           "flags");
  CHECK(parse_error({"--reg", "x:1"}).starts_with("unrecognised option"));
  CHECK(parse_error({"--registry"})
        == "the required argument for option '--registry' is missing; run "
           "pilot-daemon --help for the flags");
}

TEST_CASE("daemon options reject positional arguments") {
  CHECK(parse_error({"--public", "true", "extra"})
        == "unexpected argument 'extra'; run pilot-daemon --help for the "
           "flags");
}

TEST_CASE("daemon options stop at help and version") {
  CHECK(parse({"--help"}).show_help);
  CHECK(parse({"-version"}).show_version);
  auto usage = pilot::actors::daemon_usage();
  for (auto flag : {"--config FILE", "--registry HOST:PORT", "--keepalive",
                    "--webhook URL", "--webhook-timeout", "--webhook-buffer",
                    "--shutdown-grace", "--no-encrypt", "--log-format"})
    CHECK_MESSAGE(usage.find(flag) != std::string::npos, flag);
}

TEST_CASE("config file values lose to flags and beat defaults") {
  temp_dir dir;
  auto config = dir.write("config.json", R"({
  "registry": "10.0.0.1:9000",
  "keepalive": "10s",
  "log_level": "debug",
  "public": true,
  "webhook-buffer": 16,
  "webhook_concurrency": 4
})");
  auto opts = parse({"--config", config, "--registry", "127.0.0.1:9000"});
  CHECK(opts.config_file == config);
  CHECK(opts.registry == "127.0.0.1:9000");
  CHECK(opts.keepalive == 10s);
  CHECK(opts.log_level == pilot::actors::log::level::debug);
  CHECK(opts.is_public);
  CHECK(opts.webhook.buffer == 16);
  CHECK(opts.webhook.concurrency == 4);
  CHECK(opts.webhook.timeout == 5s);
  CHECK(opts.warnings.empty());
}

TEST_CASE("config file keys pilotctl writes are understood") {
  temp_dir dir;
  auto config = dir.write(
      "config.json",
      R"({"registry":"34.71.57.205:9000","beacon":"34.71.57.205:9001",)"
      R"("socket":"/tmp/pilot-test.sock","encrypt":true,)"
      R"("identity":"/var/lib/pilot/identity.json",)"
      R"("webhook":"http://127.0.0.1:8080/events"})");
  auto opts = parse({"--config", config});
  CHECK(opts.socket == "/tmp/pilot-test.sock");
  CHECK(opts.identity == "/var/lib/pilot/identity.json");
  CHECK(opts.webhook.url == "http://127.0.0.1:8080/events");
  CHECK(opts.encrypt);
  CHECK(opts.warnings.empty());
}

TEST_CASE("config file unknown keys become one warning") {
  temp_dir dir;
  auto config = dir.write(
      "config.json",
      R"({"keepalive":"5s","colour":"blue","nested":{"a":[1,2,{"b":null}]},)"
      R"("colour":"red"})");
  auto opts = parse({"--config", config});
  CHECK(opts.keepalive == 5s);
  REQUIRE(opts.warnings.size() == 1);
  CHECK(opts.warnings[0]
        == "config file " + config
               + ": ignoring unknown keys: \"colour\", \"nested\"");
}

TEST_CASE("config file errors name the key and the line") {
  temp_dir dir;
  struct error_case {
    std::string content;
    std::string message;
  };
  std::vector<error_case> cases{
      {"{\n  \"registry\": \"127.0.0.1:9000\",\n  \"keepalive\": 30\n}",
       "line 3: \"keepalive\": expected a duration string such as \"30s\""},
      {"{\n  \"webhook_timeout\": \"60s\"\n}",
       "line 2: \"webhook_timeout\": must be from 1s to 30s, got 1m0s"},
      {"{\n\n  \"public\": \"yes\"\n}",
       "line 3: \"public\": expected true or false"},
      {"{\"webhook-buffer\": 1.5}",
       "line 1: \"webhook-buffer\": expected a whole number"},
      {"{\"webhook-buffer\": -1}",
       "line 1: \"webhook-buffer\": expected a whole number"},
      {"{\n  \"owner\": 42\n}", "line 2: \"owner\": expected a string"},
      {"{\n  \"hostname\": null\n}", "line 2: \"hostname\": expected a string"},
      {"{\n  \"log-level\": \"loud\"\n}",
       "line 2: \"log-level\": \"loud\" is not debug, info, warn or error"},
      {"[1, 2]", "line 1: the file must contain one JSON object"},
      {"{\"webhook_retries\": 1,\n \"webhook-retries\": 2}",
       "line 2: \"webhook-retries\": the same setting as "
       "\"webhook_retries\" before it; keep one of them"},
      {"{\"encrypt\": true,\n\"no_encrypt\": true}",
       "line 2: \"no_encrypt\": contradicts \"encrypt\" before it; keep "
       "one of them"},
      {"{\"public\": true, \"public\": false}",
       "line 1: \"public\": the same setting as \"public\" before it; "
       "keep one of them"},
  };
  for (const auto& c : cases) {
    auto config = dir.write("config.json", c.content);
    CHECK(parse_error({"--config", config})
          == "config file " + config + ", " + c.message);
  }
}

TEST_CASE("config file syntax errors name the line") {
  temp_dir dir;
  struct error_case {
    std::string content;
    std::string line;
  };
  std::vector<error_case> cases{
      {"{\n  \"registry\": \"127.0.0.1:9000\",\n}", "line 3: "},
      {"{\n  \"registry\": \"127.0.0.1:9000\"\n  \"public\": true\n}",
       "line 3: "},
      {"{\n  \"owner\": \"me\n}", "line 2: "},
      {"{\n  \"owner\": \"me\",\n  \"hostname\": \"\xff\"\n}", "line 3: "},
      {"{\n  \"public\": tru\n}", "line 2: "},
      {"{\"public\": true}\n{}", "line 2: "},
      {"{\n  \"a\": [1, 2,]\n}", "line 2: "},
      {"", "line 1: "},
  };
  for (const auto& c : cases) {
    auto config = dir.write("config.json", c.content);
    auto message = parse_error({"--config", config});
    CHECK_MESSAGE(message.starts_with("config file " + config + ", " + c.line),
                  message);
  }
}

TEST_CASE("config file that is missing is an error") {
  temp_dir dir;
  auto missing = (dir.path / "missing.json").string();
  CHECK(parse_error({"--config", missing})
        == "cannot read config file " + missing
               + ": No such file or directory");
}

TEST_CASE("home directory is expanded") {
  ::setenv("HOME", "/home/tester", 1);
  CHECK(pilot::actors::expand_home("~/.pilot/identity.json")
        == "/home/tester/.pilot/identity.json");
  CHECK(pilot::actors::expand_home("~") == "/home/tester");
  CHECK(pilot::actors::expand_home("/etc/pilot/config.json")
        == "/etc/pilot/config.json");
  CHECK(pilot::actors::expand_home("~other/x") == "~other/x");
}

TEST_CASE("identity file is created once and then reused") {
  temp_dir dir;
  auto path = (dir.path / "state" / "identity.json").string();
  auto created = pilot::actors::load_identity(path);
  REQUIRE(fs::exists(path));
  CHECK(mode_of(path) == 0600);
  CHECK(mode_of(dir.path / "state") == 0700);
  auto content = read_file(path);
  auto loaded = pilot::actors::load_identity(path);
  CHECK(loaded == created);
  CHECK(read_file(path) == content);
}

TEST_CASE("corrupt identity file is an error and stays") {
  temp_dir dir;
  auto path = dir.write("identity.json", R"({"private_key":"broken"})");
  std::string message;
  try {
    pilot::actors::load_identity(path);
  } catch (const options_error& e) {
    message = e.what();
  }
  CHECK(message.starts_with("identity file " + path + " is invalid ("));
  CHECK(message.ends_with("it was left as it is: repair it, or move it away "
                          "to create a new identity"));
  CHECK(read_file(path) == R"({"private_key":"broken"})");
}

TEST_CASE("empty identity path gives a new key each time") {
  auto first = pilot::actors::load_identity("");
  auto second = pilot::actors::load_identity("");
  CHECK_FALSE(first == second);
}

// -- webhook settings ---------------------------------------------------------

using pilot::test::other_secret;
using pilot::test::test_ca_pem;
using pilot::test::test_secret;

TEST_CASE("webhook settings have the documented defaults") {
  auto opts = parse({});
  CHECK(opts.webhook.concurrency == 1);
  CHECK(opts.webhook.events.empty());
  CHECK(opts.webhook.retries == 0);
  CHECK(opts.webhook.secrets.empty());
  CHECK(opts.webhook.ca_file.empty());
}

TEST_CASE("webhook flags set every webhook setting") {
  temp_dir dir;
  auto ca_file = dir.write("ca.pem", std::string{test_ca_pem});
  auto opts = parse({"--webhook-events", " conn.* , trust.revoked",
                     "--webhook-retries", "3", "--webhook-secret",
                     test_secret + "," + other_secret, "--webhook-ca-file",
                     ca_file, "--webhook-timeout", "30s"});
  CHECK(opts.webhook.events
        == std::vector<std::string>{"conn.*", "trust.revoked"});
  CHECK(opts.webhook.retries == 3);
  CHECK(opts.webhook.secrets
        == std::vector<std::string>{test_secret, other_secret});
  CHECK(opts.webhook.ca_file == ca_file);
  CHECK(opts.webhook.timeout == 30s);
}

TEST_CASE("webhook events star selects every event") {
  CHECK(parse({"--webhook-events", "*"}).webhook.events.empty());
  CHECK(parse({"--webhook-events", "conn.*,*"}).webhook.events.empty());
  CHECK(parse({"--webhook-events", ""}).webhook.events.empty());
}

TEST_CASE("webhook ranges are checked") {
  CHECK(parse({"--webhook-retries", "0"}).webhook.retries == 0);
  CHECK(parse_error({"--webhook-retries", "4"})
        == "--webhook-retries: must be from 0 to 3, got 4");
  CHECK(parse_error({"--webhook-retries", "-1"})
        == "--webhook-retries: must be from 0 to 3, got \"-1\"");
  CHECK(parse_error({"--webhook-concurrency", "0"})
        == "--webhook-concurrency: must be from 1 to 64, got 0");
  CHECK(parse({"--webhook-concurrency", "64"}).webhook.concurrency == 64);
  CHECK(parse_error({"--webhook-buffer", "65537"})
        == "--webhook-buffer: must be from 1 to 65536, got 65537");
  CHECK(parse({"--webhook-buffer", "65536"}).webhook.buffer == 65536);
  CHECK(parse_error({"--webhook-timeout", "999ms"})
        == "--webhook-timeout: must be from 1s to 30s, got 999ms");
  CHECK(parse_error({"--webhook-timeout", "31s"})
        == "--webhook-timeout: must be from 1s to 30s, got 31s");
}

TEST_CASE("bad webhook secret is rejected without the secret") {
  auto short_key = "whsec_" + std::string(16, 'B') + "==";
  auto message = parse_error({"--webhook-secret", short_key});
  CHECK(message.starts_with("--webhook-secret: webhook secret "));
  CHECK(message.find(short_key) == std::string::npos);
  CHECK(message.find("BBBB") == std::string::npos);
  auto unprefixed = parse_error({"--webhook-secret", "hunter2-hunter2"});
  CHECK(unprefixed.starts_with("--webhook-secret: webhook secret must start "));
  CHECK(unprefixed.find("hunter2") == std::string::npos);
  auto second
      = parse_error({"--webhook-secret", test_secret + ",whsec_not-base64!"});
  CHECK(second.starts_with("--webhook-secret: secret 2 of 2: "));
  CHECK(second.find("not-base64") == std::string::npos);
  CHECK(second.find(test_secret) == std::string::npos);
}

TEST_CASE("webhook secret list takes at most two") {
  auto three = test_secret + "," + other_secret + "," + test_secret;
  auto message = parse_error({"--webhook-secret", three});
  CHECK(message
        == "--webhook-secret: takes at most 2 secrets, comma separated (the "
           "new and the old one during a rotation), got 3");
  CHECK(parse_error({"--webhook-secret", test_secret + ","})
        == "--webhook-secret: secret 2 of 2 is empty");
  CHECK(parse({"--webhook-secret", ""}).webhook.secrets.empty());
}

TEST_CASE("bad webhook event filter names the event") {
  auto message = parse_error({"--webhook-events", "conn.*,conn.opened"});
  CHECK(message.starts_with("--webhook-events: "));
  CHECK(message.find("\"conn.opened\"") != std::string::npos);
  CHECK(parse_error({"--webhook-events", "bogus.*"}).find("bogus")
        != std::string::npos);
}

TEST_CASE("bad webhook CA file names the path") {
  temp_dir dir;
  auto missing = (dir.path / "missing.pem").string();
  auto message = parse_error({"--webhook-ca-file", missing});
  CHECK(message.starts_with("--webhook-ca-file: "));
  CHECK(message.find(missing) != std::string::npos);
  auto not_pem = dir.write("notes.txt", "no certificate here\n");
  CHECK(parse_error({"--webhook-ca-file", not_pem})
            .starts_with("--webhook-ca-file: "));
  CHECK(parse({"--webhook-ca-file", ""}).webhook.ca_file.empty());
}

TEST_CASE("webhook flag help warns that ps shows the secret") {
  auto usage = pilot::actors::daemon_usage();
  for (auto flag : {"--webhook-events LIST", "--webhook-retries N",
                    "--webhook-secret SECRETS", "--webhook-ca-file FILE"})
    CHECK_MESSAGE(usage.find(flag) != std::string::npos, flag);
  CHECK(usage.find("Other users see flags in ps") != std::string::npos);
}

TEST_CASE("config file sets every webhook setting") {
  temp_dir dir;
  auto ca_file = dir.write("ca.pem", std::string{test_ca_pem});
  auto config = dir.write("config.json",
                          R"({"webhook_events": "message.*",
  "webhook-retries": 2,
  "webhook_secret": ")" + test_secret
                              + R"(",
  "webhook_ca_file": ")" + ca_file
                              + R"("
})");
  auto opts = parse({"--config", config});
  CHECK(opts.webhook.events == std::vector<std::string>{"message.*"});
  CHECK(opts.webhook.retries == 2);
  CHECK(opts.webhook.secrets == std::vector<std::string>{test_secret});
  CHECK(opts.webhook.ca_file == ca_file);
  CHECK(opts.warnings.empty());
}

TEST_CASE("config file webhook errors name the key and the line") {
  temp_dir dir;
  auto retries = dir.write("retries.json", "{\n  \"webhook_retries\": 9\n}");
  CHECK(parse_error({"--config", retries})
        == "config file " + retries
               + ", line 2: \"webhook_retries\": must be from 0 to 3, got 9");
  auto secret
      = dir.write("secret.json", "{\"webhook\": \"http://127.0.0.1:1/h\",\n\n"
                                 "\"webhook-secret\": \"whsec_c2VjcmV0\"}");
  auto message = parse_error({"--config", secret});
  CHECK(message.starts_with("config file " + secret
                            + ", line 3: \"webhook-secret\": webhook secret "));
  CHECK(message.find("c2VjcmV0") == std::string::npos);
  auto events = dir.write("events.json", "{\"webhook_events\": [\"conn.*\"]}");
  CHECK(parse_error({"--config", events})
        == "config file " + events
               + ", line 1: \"webhook_events\": expected a string");
  auto ca
      = dir.write("ca.json", "{\n\"webhook_ca_file\": \"/nonexistent/ca\"}");
  CHECK(parse_error({"--config", ca})
            .starts_with("config file " + ca
                         + ", line 2: \"webhook_ca_file\": "));
}

TEST_CASE("webhook setting is applied with its flag's checks") {
  pilot::actors::webhook_settings settings;
  CHECK_FALSE(
      pilot::actors::apply_webhook_setting(settings, "webhook-retries", "2"));
  CHECK(settings.retries == 2);
  auto problem
      = pilot::actors::apply_webhook_setting(settings, "webhook-retries", "5");
  REQUIRE(problem);
  CHECK(*problem == "must be from 0 to 3, got 5");
  CHECK(settings.retries == 2);
  auto other
      = pilot::actors::apply_webhook_setting(settings, "keepalive", "1s");
  REQUIRE(other);
  CHECK(*other == "\"keepalive\" is not a webhook setting");
  CHECK_FALSE(pilot::actors::apply_webhook_setting(settings, "webhook-secret",
                                                   test_secret));
  CHECK(settings.secrets == std::vector<std::string>{test_secret});
}
