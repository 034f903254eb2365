#include "control/cli_commands.hpp"

#include "control/daemon_client.hpp"
#include "tests/control/cli_test_support.hpp"
#include "tests/control/control_fixture.hpp"
#include "tests/control/scoped_env.hpp"
#include "tests/control/stand_in_transport.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <doctest/doctest.h>

#include <thread>

using namespace pilot;
using namespace pilot::test;
namespace cli = pilot::control::cli;

namespace {

struct cli_transport_fixture : cli_stand_in_fixture {
  // Waits until `count` clients in all have connected to the stand-in.
  void await_clients(std::uint64_t count) {
    REQUIRE(eventually([&] { return stats->clients_opened >= count; }));
  }
};

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Sends a datagram to the stand-in's node through a client of its own.
void send_datagram(const std::filesystem::path& socket, std::uint16_t port,
                   std::string data) {
  control::ipc_client client;
  REQUIRE_FALSE(client.connect(socket, 2s));
  auto payload = protocol::encode_send_to(
      {{0, stand_in_address.node}, port, std::move(data)});
  REQUIRE_FALSE(client.send_bytes(
      protocol::encode_ipc_frame(ipc_command::send_to, payload).value(), 2s));
  // Info returns after the SendTo was handled.
  REQUIRE(client.call(ipc_command::info, {}, 5s).has_value());
}

} // namespace

TEST_CASE_FIXTURE(cli_transport_fixture, "connect echoes a message") {
  auto result = cli::run_connect(command(
      {"connect", "0:0000.0000.0007", "7", "--message", "hello", "--json"}));
  const auto& data = data_of(result);
  CHECK(data.at("target") == "0:0000.0000.0007");
  CHECK(data.at("port") == 7);
  CHECK(data.at("sent") == "hello");
  CHECK(data.at("response") == "hello");
  CHECK(result.text == "hello");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "connect takes a decimal node id") {
  auto result = cli::run_connect(
      command({"connect", "7", "7", "--message", "x", "--json"}));
  CHECK(data_of(result).at("target") == "0:0000.0000.0007");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "connect resolves a hostname") {
  // The fake registry resolves every hostname to node 9.
  auto result = cli::run_connect(
      command({"connect", "beta", "7", "--message", "x", "--json"}));
  CHECK(data_of(result).at("target") == "0:0000.0000.0009");
  CHECK(data_of(result).at("response") == "x");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "connect reads data sent early") {
  // The greeting port's data and end reach the daemon's client session
  // before the DialOK does.
  auto result = cli::run_connect(
      command({"connect", "7", "13", "--message", "x", "--json"}));
  CHECK(data_of(result).at("response") == "hello");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "send requires data") {
  try {
    cli::run_send(command({"send", "7", "7"}));
    FAIL("send ran without --data");
  } catch (const cli::error& e) {
    CHECK(e.code() == "invalid_argument");
    CHECK(std::string{e.what()} == "--data is required");
  }
}

TEST_CASE_FIXTURE(cli_transport_fixture, "send to a closed port fails") {
  try {
    cli::run_send(command({"send", "7", "2000", "--data", "x"}));
    FAIL("send reached a closed port");
  } catch (const cli::error& e) {
    CHECK(e.code() == "connection_failed");
    CHECK(std::string{e.what()}
          == "cannot connect to 0:0000.0000.0007 port 2000: connection "
             "refused");
    CHECK(contains(e.hint(), "pilotctl ping 0:0000.0000.0007"));
  }
}

TEST_CASE_FIXTURE(cli_transport_fixture, "send without a reply times out") {
  // A client that binds port 1000 and never sends anything.
  control::ipc_client silent;
  REQUIRE_FALSE(silent.connect(socket_path(), 2s));
  REQUIRE(
      silent.call(ipc_command::bind, protocol::encode_bind(1000), 5s)->command
      == ipc_command::bind_ok);
  try {
    cli::run_send(
        command({"send", "7", "1000", "--data", "x", "--timeout", "300ms"}));
    FAIL("send got a reply");
  } catch (const cli::error& e) {
    CHECK(e.code() == "timeout");
    CHECK(std::string{e.what()} == "no response within 300ms");
  }
}

TEST_CASE_FIXTURE(cli_transport_fixture,
                  "recv returns each connection's data") {
  std::optional<cli::success> received;
  std::thread receiver{[&] {
    received = cli::run_recv(command(
        {"recv", "1000", "--count", "2", "--timeout", "10s", "--json"}));
  }};
  // The port is bound once a send gets through.
  REQUIRE(eventually([&] {
    try {
      cli::run_send(command({"send", "7", "1000", "--data", "first"}));
      return true;
    } catch (const cli::error&) {
      return false;
    }
  }));
  cli::run_send(command({"send", "7", "1000", "--data", "second"}));
  receiver.join();
  REQUIRE(received.has_value());
  const auto& data = data_of(*received);
  CHECK(data.at("timeout") == false);
  const auto& messages = data.at("messages").as_array();
  REQUIRE(messages.size() == 2);
  CHECK(messages.at(0).at("data") == "first");
  CHECK(messages.at(0).at("seq") == 0);
  CHECK(messages.at(0).at("port") == 1000);
  CHECK(messages.at(0).at("bytes") == 5);
  CHECK(messages.at(1).at("data") == "second");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "recv times out without data") {
  auto result = cli::run_recv(
      command({"recv", "1000", "--timeout", "200ms", "--json"}));
  CHECK(data_of(result).at("timeout") == true);
  CHECK(data_of(result).at("messages").is_null());
}

TEST_CASE_FIXTURE(cli_transport_fixture, "listen keeps its port's datagrams") {
  std::optional<cli::success> heard;
  std::thread listener{[&] {
    heard = cli::run_listen(command(
        {"listen", "5000", "--count", "2", "--timeout", "10s", "--json"}));
  }};
  await_clients(1);
  send_datagram(socket_path(), 4000, "other port");
  send_datagram(socket_path(), 5000, "one");
  send_datagram(socket_path(), 5000, "two");
  listener.join();
  REQUIRE(heard.has_value());
  const auto& data = data_of(*heard);
  CHECK(data.at("timeout") == false);
  const auto& messages = data.at("messages").as_array();
  REQUIRE(messages.size() == 2);
  CHECK(messages.at(0).at("data") == "one");
  CHECK(messages.at(0).at("src_addr") == "0:0000.0000.0007");
  CHECK(messages.at(0).at("src_port") == stand_in_source_port);
  CHECK(messages.at(0).at("bytes") == 3);
  CHECK(messages.at(1).at("data") == "two");
  CHECK_FALSE(heard->silent);
}

TEST_CASE_FIXTURE(cli_transport_fixture, "unbounded listen prints json lines") {
  captured_stdout output;
  std::optional<cli::success> heard;
  std::thread listener{[&] {
    heard = cli::run_listen(
        command({"listen", "5000", "--timeout", "1s", "--json"}));
  }};
  await_clients(1);
  send_datagram(socket_path(), 5000, "hi");
  listener.join();
  REQUIRE(heard.has_value());
  CHECK(heard->silent);
  CHECK(data_of(*heard).at("timeout") == true);
  CHECK(output.text.str()
        == "{\"bytes\":2,\"data\":\"hi\",\"src_addr\":\"0:0000.0000.0007\","
           "\"src_port\":49152}\n");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "ping times each echo") {
  auto result = cli::run_ping(command({"ping", "7", "--count", "2", "--json"}));
  const auto& data = data_of(result);
  CHECK(data.at("target") == "0:0000.0000.0007");
  CHECK(data.at("timeout") == false);
  const auto& results = data.at("results").as_array();
  REQUIRE(results.size() == 2);
  for (std::size_t i = 0; i < results.size(); ++i) {
    CAPTURE(i);
    CHECK(results.at(i).at("seq") == i);
    CHECK(results.at(i).at("bytes") == 6);
    CHECK(results.at(i).at("rtt_ms").as_double() >= 0);
    CHECK_FALSE(results.at(i).as_object().contains("error"));
  }
  CHECK(result.text == "2 sent, 2 echoed");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "traceroute takes three samples") {
  auto result = cli::run_traceroute(command({"traceroute", "7", "--json"}));
  const auto& data = data_of(result);
  CHECK(data.at("target") == "0:0000.0000.0007");
  CHECK(data.at("setup_ms").as_double() >= 0);
  const auto& samples = data.at("rtt_samples").as_array();
  REQUIRE(samples.size() == 3);
  for (const auto& sample : samples) {
    CHECK(sample.at("bytes") == 7);
    CHECK_FALSE(sample.as_object().contains("error"));
  }
}

TEST_CASE_FIXTURE(cli_transport_fixture, "bench reports megabits") {
  auto result = cli::run_bench(command({"bench", "7", "0.25", "--json"}));
  const auto& data = data_of(result);
  CHECK(data.at("sent_bytes") == 262144);
  CHECK(data.at("recv_bytes") == 262144);
  CHECK(data.at("unit") == "Mbit/s");
  CHECK(data.at("send_mbps").as_double() > 0);
  CHECK(data.at("total_mbps").as_double() > 0);
  CHECK(data.at("total_duration_ms").as_double()
        >= data.at("send_duration_ms").as_double());
  CHECK(contains(result.text, "Mbit/s round trip)"));
  CHECK(stats->largest_write == 4096);
  CHECK(stats->bytes_written == 262144);
}

TEST_CASE_FIXTURE(cli_transport_fixture, "bench rejects a bad size") {
  CHECK_THROWS_AS(cli::run_bench(command({"bench", "7", "0"})), cli::error);
  CHECK_THROWS_AS(cli::run_bench(command({"bench", "7", "lots"})), cli::error);
}

TEST_CASE_FIXTURE(cli_transport_fixture, "peers filters by search") {
  auto all = cli::run_peers(command({"peers"}));
  CHECK(data_of(all).at("total") == 2);
  CHECK(contains(all.text, "NODE ID"));
  auto one = cli::run_peers(command({"peers", "--search", "::1"}));
  CHECK(data_of(one).at("total") == 1);
  CHECK(data_of(one).at("peers").as_array().at(0).at("node_id") == 12);
  auto by_id = cli::run_peers(command({"peers", "--search", "9"}));
  CHECK(data_of(by_id).at("total") == 1);
  auto none = cli::run_peers(command({"peers", "--search", "nomatch"}));
  CHECK(data_of(none).at("total") == 0);
  CHECK(data_of(none).at("peers").is_null());
  CHECK(none.text == "no peers matching \"nomatch\"");
}

TEST_CASE_FIXTURE(cli_transport_fixture, "connections lists open ones") {
  auto empty = cli::run_connections(command({"connections"}));
  CHECK(data_of(empty).at("total") == 0);
  CHECK(data_of(empty).at("connections").as_array().empty());
  control::ipc_client client;
  REQUIRE_FALSE(client.connect(socket_path(), 2s));
  auto dialed = client.call(ipc_command::dial,
                            protocol::encode_dial({{0, 7}, echo_port}), 5s);
  REQUIRE(dialed->command == ipc_command::dial_ok);
  auto result = cli::run_connections(command({"connections"}));
  CHECK(data_of(result).at("total") == 1);
  CHECK(contains(result.text, "ESTABLISHED"));
}

TEST_CASE_FIXTURE(cli_transport_fixture, "disconnect waits for close ok") {
  control::ipc_client client;
  REQUIRE_FALSE(client.connect(socket_path(), 2s));
  auto dialed = client.call(ipc_command::dial,
                            protocol::encode_dial({{0, 7}, echo_port}), 5s);
  REQUIRE(dialed->command == ipc_command::dial_ok);
  auto conn_id = protocol::decode_conn_id(dialed->payload).value();
  auto result = cli::run_disconnect(
      command({"disconnect", std::to_string(conn_id), "--json"}));
  CHECK(data_of(result).at("conn_id") == conn_id);
  auto eof = client.receive(5s);
  REQUIRE(eof.has_value());
  CHECK(eof->command == ipc_command::close_ok);
  // A connection that does not exist closes as well.
  auto unknown = cli::run_disconnect(command({"disconnect", "999"}));
  CHECK(unknown.text == "connection 999 closed");
}

TEST_CASE_FIXTURE(cli_transport_fixture,
                  "disconnect reports a kept connection") {
  stats->owner_only_close = true;
  control::ipc_client client;
  REQUIRE_FALSE(client.connect(socket_path(), 2s));
  auto dialed = client.call(ipc_command::dial,
                            protocol::encode_dial({{0, 7}, echo_port}), 5s);
  REQUIRE(dialed->command == ipc_command::dial_ok);
  auto conn_id = protocol::decode_conn_id(dialed->payload).value();
  try {
    cli::run_disconnect(command({"disconnect", std::to_string(conn_id)}));
    FAIL("disconnect claimed to close another client's connection");
  } catch (const cli::error& e) {
    CHECK(e.code() == "connection_failed");
    CHECK(contains(e.what(), "is still open"));
  }
}

TEST_CASE_FIXTURE(cli_transport_fixture, "transport commands check ports") {
  CHECK_THROWS_AS(cli::run_recv(command({"recv", "70000"})), cli::error);
  CHECK_THROWS_AS(cli::run_listen(command({"listen", "x"})), cli::error);
  CHECK_THROWS_AS(cli::run_disconnect(command({"disconnect", "-1"})),
                  cli::error);
  CHECK_THROWS_AS(cli::run_ping(command({"ping", "7", "--timeout", "soon"})),
                  cli::error);
}
