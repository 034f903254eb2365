#include "control/daemon_client.hpp"

#include "control/cli_output.hpp"
#include "tests/control/control_fixture.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <functional>
#include <thread>

using namespace pilot;
using namespace pilot::test;
namespace cli = pilot::control::cli;
using stream_protocol = boost::asio::local::stream_protocol;

namespace {

// A daemon stand-in that serves one client with a script, to put frames on
// the wire in orders the real daemon avoids.
class scripted_daemon {
public:
  using script = std::function<void(scripted_daemon&)>;

  explicit scripted_daemon(script run)
      : dir_(make_temp_dir()), acceptor_(io_, endpoint()),
        thread_([this, run = std::move(run)] {
          acceptor_.accept(socket_);
          // A client that left early ends the script.
          try {
            run(*this);
          } catch (const boost::system::system_error&) {
          }
        }) {
    // nop
  }

  ~scripted_daemon() {
    thread_.join();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string path() const { return (dir_ / "pilot.sock").string(); }

  // Reads the next request frame.
  protocol::ipc_frame read() {
    for (;;) {
      if (auto frame = decoder_.next().value())
        return *frame;
      std::array<char, 4096> buffer{};
      auto n = socket_.read_some(boost::asio::buffer(buffer));
      decoder_.feed(std::string_view{buffer.data(), n});
    }
  }

  void write(ipc_command command, std::string_view payload) {
    boost::asio::write(
        socket_, boost::asio::buffer(
                     protocol::encode_ipc_frame(command, payload).value()));
  }

  void write_error(std::string_view message) {
    boost::asio::write(
        socket_, boost::asio::buffer(protocol::encode_ipc_error(message)));
  }

private:
  stream_protocol::endpoint endpoint() const { return {path()}; }

  std::filesystem::path dir_;
  boost::asio::io_context io_;
  stream_protocol::acceptor acceptor_;
  stream_protocol::socket socket_{io_};
  protocol::ipc_frame_decoder decoder_;
  std::thread thread_;
};

auto soon() {
  return cli::daemon_client::clock_type::now() + 5s;
}

} // namespace

TEST_CASE("driver keeps data that precedes dial ok") {
  scripted_daemon daemon{[](scripted_daemon& d) {
    CHECK(d.read().command == ipc_command::dial);
    d.write(ipc_command::recv, protocol::encode_conn_data({5, "early"}));
    d.write(ipc_command::dial_ok, protocol::encode_conn_id(5));
    d.write(ipc_command::close_ok, protocol::encode_conn_id(5));
  }};
  cli::daemon_client client{daemon.path()};
  auto conn_id = client.dial({0, 9}, 1000);
  CHECK(conn_id == 5);
  auto data = client.read(conn_id, 100, soon());
  REQUIRE(data.has_value());
  CHECK(data->data == "early");
  auto end = client.read(conn_id, 100, soon());
  REQUIRE(end.has_value());
  CHECK(end->eof);
}

TEST_CASE("driver raises a send error at the next wait") {
  scripted_daemon daemon{[](scripted_daemon& d) {
    CHECK(d.read().command == ipc_command::dial);
    d.write(ipc_command::dial_ok, protocol::encode_conn_id(5));
    CHECK(d.read().command == ipc_command::send);
    d.write_error("connection 5 not found");
  }};
  cli::daemon_client client{daemon.path()};
  REQUIRE(client.dial({0, 9}, 1000) == 5);
  client.send(5, "x", soon());
  try {
    client.read(5, 100, soon());
    FAIL("the read ignored the daemon's error");
  } catch (const cli::error& e) {
    CHECK(e.code() == "connection_failed");
    CHECK(std::string{e.what()} == "connection 5 not found");
  }
}

TEST_CASE("driver finds a reply among pushes") {
  scripted_daemon daemon{[](scripted_daemon& d) {
    CHECK(d.read().command == ipc_command::info);
    d.write(ipc_command::recv_from,
            protocol::encode_recv_from({{0, 9}, 49152, 5000, "datagram"}));
    d.write(ipc_command::close_ok, protocol::encode_conn_id(3));
    d.write(ipc_command::info_ok, R"({"node_id":7})");
  }};
  cli::daemon_client client{daemon.path()};
  auto info = client.call_json(ipc_command::info, {});
  CHECK(info.at("node_id") == 7);
  auto datagram = client.receive_datagram(soon());
  REQUIRE(datagram.has_value());
  CHECK(datagram->data == "datagram");
}

TEST_CASE("driver disconnect takes either close ok") {
  scripted_daemon daemon{[](scripted_daemon& d) {
    auto close = d.read();
    CHECK(close.command == ipc_command::close);
    // Another connection's end first, then this one's push and reply.
    d.write(ipc_command::close_ok, protocol::encode_conn_id(4));
    d.write(ipc_command::close_ok, close.payload);
    d.write(ipc_command::close_ok, close.payload);
  }};
  cli::daemon_client client{daemon.path()};
  client.disconnect(3);
}

TEST_CASE("driver disconnect gives up in time") {
  scripted_daemon daemon{[](scripted_daemon& d) {
    CHECK(d.read().command == ipc_command::close);
    // Hold the connection open without replying until the client leaves.
    d.read();
  }};
  cli::daemon_client client{daemon.path()};
  auto start = std::chrono::steady_clock::now();
  try {
    client.disconnect(3);
    FAIL("disconnect returned without a CloseOK");
  } catch (const cli::error& e) {
    CHECK(e.code() == "timeout");
  }
  CHECK(std::chrono::steady_clock::now() - start < cli::reply_timeout + 5s);
}
