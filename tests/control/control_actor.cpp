#include "control/control_actor.hpp"

#include "actors/error.hpp"
#include "control/cli_args.hpp"
#include "control/cli_commands.hpp"
#include "control/error.hpp"
#include "control/ipc_client.hpp"
#include "control/pilot_config.hpp"
#include "protocol/ipc.hpp"
#include "protocol/webhook_url.hpp"
#include "tests/control/control_fixture.hpp"
#include "tests/control/scoped_env.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <doctest/doctest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace pilot;
using control::pilot_config;
using protocol::ipc_command;

using namespace pilot::test;

namespace {

// Creates a socket file on which nothing listens, as a crashed daemon
// leaves behind.
void make_stale_socket(const std::filesystem::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address))
          == 0);
  ::close(fd);
}

} // namespace

TEST_CASE_FIXTURE(fixture, "info returns the node and webhook counters") {
  auto opts = options();
  opts.registry = "127.0.0.1:9000";
  // A relative path is made absolute, since pilotctl runs elsewhere.
  opts.config_file = "pilot-config.json";
  start(opts);
  auto client = connect();
  auto reply = call(client, ipc_command::info);
  REQUIRE(reply.command == ipc_command::info_ok);
  simdjson::dom::parser parser;
  auto info = parser.parse(reply.payload);
  REQUIRE(info.error() == simdjson::SUCCESS);
  CHECK(info["node_id"].get_uint64().value() == 7);
  CHECK(info["address"].get_string().value() == "0:0000.0000.0007");
  CHECK(info["hostname"].get_string().value() == "alpha");
  CHECK(info["owner"].get_string().value() == "ops@example.com");
  CHECK(info["public_key"].get_string().value() == "cHVibGljIGtleQ==");
  CHECK(info["encrypt"].get_bool().value());
  CHECK(info["identity"].get_bool().value());
  CHECK(info["connections"].get_uint64().value() == 0);
  CHECK(info["peers"].get_uint64().value() == 0);
  CHECK(info["bytes_sent"].get_uint64().value() == 0);
  CHECK(info["uptime_secs"].get_uint64().value() < 60);
  CHECK(info["peer_list"].get_array().size() == 0);
  CHECK(info["conn_list"].get_array().size() == 0);
  CHECK(info["webhook"]["emitted"].get_uint64().value() == 5);
  CHECK(info["webhook"]["delivered"].get_uint64().value() == 3);
  CHECK(info["webhook"]["state"].get_string().value() == "disabled");
  CHECK(info["webhook"]["latency_p50_ms"].get_double().value() == 1.5);
  CHECK(info["registered"].get_bool().value());
  CHECK(info["registry"].get_string().value() == "127.0.0.1:9000");
  CHECK(info["registry_error"].get_string().value() == "");
  CHECK(info["config_file"].get_string().value()
        == (std::filesystem::current_path() / "pilot-config.json").string());
}

TEST_CASE_FIXTURE(fixture, "set webhook applies a valid url") {
  start();
  auto client = connect();
  auto reply = call(client, ipc_command::set_webhook,
                    "http://user:secret@127.0.0.1:8080/hook?token=x");
  REQUIRE(reply.command == ipc_command::set_webhook_ok);
  CHECK(reply.payload == R"({"webhook":"http://127.0.0.1:8080/hook"})");
  CHECK(*webhook_url == "http://127.0.0.1:8080/hook");
  auto stats = call(client, ipc_command::webhook_stats);
  REQUIRE(stats.command == ipc_command::webhook_stats_ok);
  CHECK(stats.payload.find(R"("url":"http://127.0.0.1:8080/hook")")
        != std::string::npos);
  CHECK(stats.payload.find(R"("state":"up")") != std::string::npos);
  auto cleared = call(client, ipc_command::set_webhook, "");
  REQUIRE(cleared.command == ipc_command::set_webhook_ok);
  CHECK(cleared.payload == R"({"webhook":""})");
  CHECK(webhook_url->empty());
}

TEST_CASE_FIXTURE(fixture, "set webhook rejects a metadata url") {
  start();
  auto client = connect();
  *webhook_url = "http://127.0.0.1:9/kept";
  auto reply
      = call(client, ipc_command::set_webhook, "http://169.254.169.254/latest");
  auto expected = protocol::parse_webhook_url("http://169.254.169.254/latest");
  REQUIRE_FALSE(expected.has_value());
  CHECK(error_text(reply) == expected.error().message);
  CHECK(*webhook_url == "http://127.0.0.1:9/kept");
}

TEST_CASE_FIXTURE(fixture, "replies keep request order") {
  start();
  auto client = connect();
  // The registry replies to "fast" before "slow"; the client must still see
  // the reply to "slow", its first request, first.
  auto wire = frame_bytes(ipc_command::set_hostname, "slow")
              + frame_bytes(ipc_command::set_hostname, "fast")
              + frame_bytes(ipc_command::resolve_hostname, "beta");
  REQUIRE_FALSE(client->send_bytes(wire, 2s));
  auto first = client->receive(5s);
  auto second = client->receive(5s);
  auto third = client->receive(5s);
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  REQUIRE(third.has_value());
  CHECK(first->command == ipc_command::set_hostname_ok);
  CHECK(first->payload == hostname_json("slow"));
  CHECK(second->command == ipc_command::set_hostname_ok);
  CHECK(second->payload == hostname_json("fast"));
  CHECK(third->command == ipc_command::resolve_hostname_ok);
}

TEST_CASE_FIXTURE(fixture, "pipelined requests beyond the limit get replies") {
  start();
  auto client = connect();
  // More requests in one write than a session reads before it pauses.
  constexpr int requests = 40;
  std::string wire;
  for (int i = 0; i < requests; ++i)
    wire += frame_bytes(ipc_command::set_hostname, "h" + std::to_string(i));
  REQUIRE_FALSE(client->send_bytes(wire, 2s));
  for (int i = 0; i < requests; ++i) {
    auto reply = client->receive(5s);
    REQUIRE_MESSAGE(reply.has_value(), "no reply to request ", i);
    CHECK(reply->command == ipc_command::set_hostname_ok);
    CHECK(reply->payload == hostname_json("h" + std::to_string(i)));
  }
}

TEST_CASE_FIXTURE(fixture, "pipelining clients that leave free their slots") {
  auto opts = options();
  opts.max_clients = 2;
  start(opts);
  std::string wire;
  for (int i = 0; i < 40; ++i)
    wire += frame_bytes(ipc_command::info);
  for (int i = 0; i < 5; ++i) {
    auto client = connect();
    // While the sessions of earlier clients still hold both slots, the
    // daemon closes this connection at once and the write may fail.
    client->send_bytes(wire, 2s);
  }
  CHECK(eventually([&] {
    auto client = connect();
    auto reply = client->call(ipc_command::info, {}, 1s);
    return reply && reply->command == ipc_command::info_ok;
  }));
}

TEST_CASE_FIXTURE(fixture, "replies go out after the client stops sending") {
  start();
  auto client = connect();
  REQUIRE_FALSE(client->send_bytes(
      frame_bytes(ipc_command::info) + frame_bytes(ipc_command::info), 2s));
  client->shutdown_send();
  for (int i = 0; i < 2; ++i) {
    auto reply = client->receive(5s);
    REQUIRE(reply.has_value());
    CHECK(reply->command == ipc_command::info_ok);
  }
  auto end = client->receive(5s);
  REQUIRE_FALSE(end.has_value());
  CHECK(end.error() == boost::asio::error::eof);
}

TEST_CASE_FIXTURE(fixture, "registry replies pass through") {
  start();
  auto client = connect();
  auto visibility = call(client, ipc_command::set_visibility,
                         protocol::encode_set_visibility(true));
  CHECK(visibility.command == ipc_command::set_visibility_ok);
  CHECK(visibility.payload
        == R"({"node_id":7,"type":"set_visibility_ok","visibility":"public"})");
  auto tags = call(client, ipc_command::set_tags,
                   protocol::encode_set_tags({"gpu", "eu"}));
  CHECK(tags.command == ipc_command::set_tags_ok);
  CHECK(tags.payload
        == R"({"node_id":7,"tags":["gpu","eu"],"type":"set_tags_ok"})");
  auto found = call(client, ipc_command::resolve_hostname, "beta");
  CHECK(found.command == ipc_command::resolve_hostname_ok);
  auto gone = call(client, ipc_command::deregister);
  CHECK(gone.command == ipc_command::deregister_ok);
  CHECK(gone.payload == R"({"type":"deregister_ok"})");
}

TEST_CASE_FIXTURE(fixture, "bad requests get error replies") {
  start();
  auto client = connect();
  CHECK(error_text(call(client, ipc_command::set_hostname, "taken"))
        == "set_hostname: request failed");
  CHECK(error_text(call(client, ipc_command::set_tags,
                        protocol::encode_set_tags({"a", "b", "c", "d"})))
        == "set_tags: maximum 3 tags allowed");
  CHECK(error_text(call(client, ipc_command::set_tags, "{}"))
        == "set_tags: invalid tags: expected a JSON array of strings");
  CHECK(error_text(call(client, ipc_command::set_visibility))
        == "set_visibility: missing visibility");
  CHECK(error_text(call(client, ipc_command::resolve_hostname))
        == "resolve_hostname: missing hostname");
  CHECK(error_text(call(client, static_cast<ipc_command>(0x7f)))
        == "unknown command: 0x7F");
  CHECK(error_text(call(client, ipc_command::info_ok))
        == "unknown command: 0x0E");
  CHECK(error_text(call(client, ipc_command::bind, protocol::encode_bind(80)))
        == "bind: this daemon runs without connections");
  CHECK(error_text(call(client, ipc_command::bind)) == "bind: missing port");
  CHECK(error_text(call(client, ipc_command::dial, "\x00\x00\x00"))
        == "dial: missing address/port");
  CHECK(error_text(call(client, ipc_command::send, "\x00\x01"))
        == "send: missing conn_id");
  CHECK(error_text(call(client, ipc_command::close))
        == "close: missing conn_id");
  CHECK(error_text(call(client, ipc_command::send_to, "\x00\x00\x00\x00"))
        == "send_to: missing address/port");
  CHECK(error_text(call(client, ipc_command::send,
                        protocol::encode_conn_data({4, "x"})))
        == "connection 4 not found");
  auto closed = call(client, ipc_command::close, protocol::encode_conn_id(4));
  CHECK(closed.command == ipc_command::close_ok);
  CHECK(protocol::decode_conn_id(closed.payload).value() == 4);
  // The client is still served after all these errors.
  CHECK(call(client, ipc_command::info).command == ipc_command::info_ok);
}

TEST_CASE_FIXTURE(fixture, "stuck registry times out") {
  auto opts = options();
  opts.request_timeout = 300ms;
  start(opts);
  auto client = connect();
  CHECK(error_text(call(client, ipc_command::set_hostname, "stall"))
        == "set_hostname: the registry did not answer within 300 ms");
}

TEST_CASE_FIXTURE(fixture, "oversize frame closes only its client") {
  start();
  auto bad = connect();
  auto good = connect();
  // A length prefix of 1 MiB + 1.
  REQUIRE_FALSE(bad->send_bytes(std::string{"\x00\x10\x00\x01", 4}, 2s));
  auto reply = bad->receive(5s);
  REQUIRE_FALSE(reply.has_value());
  CHECK(reply.error() == boost::asio::error::eof);
  CHECK(call(good, ipc_command::info).command == ipc_command::info_ok);
}

TEST_CASE_FIXTURE(fixture, "socket file has mode 0600") {
  start();
  struct stat st {};
  REQUIRE(::stat(socket_path().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  // No temporary directory is left next to the socket.
  std::size_t entries = 0;
  for (auto& entry : std::filesystem::directory_iterator{dir}) {
    CHECK(entry.path().filename() == "pilot.sock");
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE_FIXTURE(fixture, "stale socket file is replaced") {
  make_stale_socket(socket_path());
  REQUIRE(std::filesystem::exists(socket_path()));
  start();
  auto client = connect();
  CHECK(call(client, ipc_command::info).command == ipc_command::info_ok);
}

TEST_CASE_FIXTURE(fixture, "live socket is not taken over") {
  start();
  auto second
      = control::start_control(sys, io, options(), registry, webhook_actor);
  REQUIRE_FALSE(second);
  CHECK(second.error() == control::errc::socket_in_use);
  CHECK(control::error_text(second.error())
        == "socket in use: " + socket_path().string()
               + " (a daemon is listening on it)");
  // The first daemon keeps its socket.
  auto client = connect();
  CHECK(call(client, ipc_command::info).command == ipc_command::info_ok);
}

TEST_CASE_FIXTURE(fixture, "regular file at the path is kept") {
  { std::ofstream{socket_path()} << "keep me"; }
  auto control
      = control::start_control(sys, io, options(), registry, webhook_actor);
  REQUIRE_FALSE(control);
  CHECK(control.error() == control::errc::socket_failed);
  CHECK(std::filesystem::is_regular_file(socket_path()));
}

TEST_CASE_FIXTURE(fixture, "exit closes clients and removes the socket") {
  auto control = start();
  auto client = connect();
  REQUIRE(call(client, ipc_command::info).command == ipc_command::info_ok);
  caf::anon_send_exit(control, caf::exit_reason::user_shutdown);
  auto reply = client->receive(5s);
  REQUIRE_FALSE(reply.has_value());
  CHECK(reply.error() == boost::asio::error::eof);
  CHECK(eventually([&] { return !std::filesystem::exists(socket_path()); }));
}

TEST_CASE_FIXTURE(fixture, "clients beyond the limit are closed") {
  auto opts = options();
  opts.max_clients = 1;
  start(opts);
  auto first = connect();
  REQUIRE(call(first, ipc_command::info).command == ipc_command::info_ok);
  auto second = connect();
  auto reply = second->call(ipc_command::info, {}, 5s);
  REQUIRE_FALSE(reply.has_value());
  CHECK(call(first, ipc_command::info).command == ipc_command::info_ok);
}

// -- pilotctl against the control actor ---------------------------------------

namespace {

control::cli::command_line command(std::vector<std::string> args) {
  return control::cli::parse_command_line(args, {});
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Returns a loopback port on which nothing listens.
std::string closed_port_address() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor{
      io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  auto port = acceptor.local_endpoint().port();
  acceptor.close();
  return "127.0.0.1:" + std::to_string(port);
}

} // namespace

TEST_CASE_FIXTURE(cli_fixture, "set webhook saves where the daemon reads") {
  auto opts = options();
  opts.config_file = daemon_config(R"({"registry":"127.0.0.1:9000"})").string();
  start(opts);
  auto result = control::cli::run_set_webhook(
      command({"set-webhook", "http://user:pw@127.0.0.1:8080/hook"}));
  CHECK(result.data.at("applied") == true);
  CHECK(result.data.at("webhook") == "http://127.0.0.1:8080/hook");
  CHECK(result.data.at("config_file") == boost::json::value(opts.config_file));
  CHECK(contains(result.text, "(credentials kept, not shown)"));
  CHECK(contains(result.text, "saved to " + opts.config_file));
  CHECK(*webhook_url == "http://127.0.0.1:8080/hook");
  auto saved = pilot_config::load(opts.config_file);
  CHECK(saved.string_value("webhook") == "http://user:pw@127.0.0.1:8080/hook");
  CHECK(saved.string_value("registry") == "127.0.0.1:9000");
  CHECK_FALSE(std::filesystem::exists(home_config()));
  // The webhook table says that the credentials are still there.
  auto shown = control::cli::run_webhook(command({"webhook"}));
  CHECK(contains(shown.text, "http://127.0.0.1:8080/hook (credentials kept, "
                             "not shown)"));
  auto cleared = control::cli::run_clear_webhook(command({"clear-webhook"}));
  CHECK(cleared.data.at("config_file") == boost::json::value(opts.config_file));
  CHECK_FALSE(
      pilot_config::load(opts.config_file).values().contains("webhook"));
  CHECK(webhook_url->empty());
}

TEST_CASE_FIXTURE(cli_fixture, "set webhook without daemon saves at home") {
  auto result = control::cli::run_set_webhook(
      command({"set-webhook", "http://127.0.0.1:8080/hook?token=x"}));
  CHECK(result.data.at("applied") == false);
  CHECK(result.data.at("config_file")
        == boost::json::value(home_config().string()));
  CHECK(contains(result.text, "(query kept, not shown)"));
  CHECK(pilot_config::load(home_config()).string_value("webhook")
        == "http://127.0.0.1:8080/hook?token=x");
}

TEST_CASE_FIXTURE(cli_fixture, "rejected webhook url is not saved") {
  start();
  CHECK_THROWS_AS(control::cli::run_set_webhook(
                      command({"set-webhook", "http://169.254.169.254/x"})),
                  control::cli::error);
  CHECK_FALSE(std::filesystem::exists(home_config()));
  CHECK(webhook_url->empty());
}

TEST_CASE_FIXTURE(cli_fixture, "info text shows the registration state") {
  auto opts = options();
  opts.registry = "127.0.0.1:9000";
  node->registered = false;
  node->registry_error = "connect: Connection refused";
  start(opts);
  auto result = control::cli::run_info(command({"info"}));
  CHECK(result.text.starts_with(
      "registration: not registered, retrying 127.0.0.1:9000 (last error: "
      "connect: Connection refused)\n"));
  CHECK(contains(result.text, "\nhostname:            alpha\n"));
  CHECK(result.data.at("registered") == false);
}

TEST_CASE_FIXTURE(cli_fixture, "lookup asks the running daemon's registry") {
  auto daemon_registry = closed_port_address();
  test::scoped_env env{"PILOT_REGISTRY", "127.0.0.1:1"};
  auto opts = options();
  opts.registry = daemon_registry;
  start(opts);
  try {
    control::cli::run_lookup(command({"lookup", "5"}));
    FAIL("lookup reached a registry");
  } catch (const control::cli::error& e) {
    CHECK(e.code() == "connection_failed");
    CHECK(contains(e.what(), "at " + daemon_registry + ":"));
    CHECK(contains(e.hint(), "came from the running daemon"));
  }
}

TEST_CASE_FIXTURE(cli_fixture, "config shows where settings come from") {
  auto opts = options();
  opts.registry = "127.0.0.1:9000";
  start(opts);
  auto result = control::cli::run_config(command({"config"}));
  CHECK(result.data.at("registry") == "127.0.0.1:9000");
  CHECK(result.data.at("registry_source") == "daemon");
  CHECK(result.data.at("socket") == boost::json::value(socket_path().string()));
  CHECK(result.data.at("socket_source") == "environment");
  CHECK(contains(result.text,
                 "registry:    127.0.0.1:9000 (from the running daemon)\n"));
  CHECK(contains(result.text, "(from PILOT_SOCKET)"));
}

TEST_CASE_FIXTURE(cli_fixture, "config set rejects bad values unchanged") {
  std::filesystem::create_directories(home_config().parent_path());
  std::ofstream{home_config()} << R"({"registry":"127.0.0.1:9000"})" << '\n';
  auto before = pilot_config::load(home_config()).to_text();
  for (auto assignment : {"webhook=https://169.254.169.254/", "public=maybe",
                          "keepalive=soon", "colour=red"}) {
    CAPTURE(assignment);
    CHECK_THROWS_AS(
        control::cli::run_config(command({"config", "--set", assignment})),
        control::cli::error);
    CHECK(pilot_config::load(home_config()).to_text() == before);
  }
  auto result = control::cli::run_config(
      command({"config", "--set", "webhook_buffer=64"}));
  CHECK(result.data.at("key") == "webhook-buffer");
  auto saved = pilot_config::load(home_config()).values();
  CHECK(saved.at("webhook-buffer") == boost::json::value(std::uint64_t{64}));
  CHECK(saved.at("registry") == "127.0.0.1:9000");
}
