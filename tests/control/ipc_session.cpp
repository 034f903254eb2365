#include "control/ipc_session.hpp"

#include "protocol/ipc.hpp"
#include "tests/control/control_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/strand.hpp>
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using namespace pilot;
using pilot::test::eventually;
using protocol::ipc_command;

namespace {

using socket_type = control::ipc_session::socket_type;

// One session on a socket pair whose other end the test reads blocking.
struct session_fixture {
  explicit session_fixture(control::session_limits limits)
      : server(boost::asio::make_strand(io)), client(client_io) {
    boost::asio::local::connect_pair(client, server);
    session = std::make_shared<control::ipc_session>(
        std::move(server), 1, limits,
        [](std::uint64_t, std::uint8_t, std::string, control::reply_function) {
        },
        [this](std::uint64_t) { closed = true; });
    session->start();
    push = session->make_push();
    io_thread = std::thread{[this] {
      io.run();
    }};
  }

  ~session_fixture() {
    session->close();
    session.reset();
    push = nullptr;
    work.reset();
    io_thread.join();
  }

  // Pushes `count` frames of `command` with `size` payload bytes each.
  void push_frames(ipc_command command, int count, std::size_t size) {
    for (int i = 0; i < count; ++i)
      push(protocol::encode_ipc_frame(command, std::string(size, 'x')).value(),
           [this] { ++written; });
  }

  // Reads frames until the server closes the connection; returns how many
  // arrived, or -1 when one is not a `command` frame.
  int read_frames(ipc_command command) {
    protocol::ipc_frame_decoder decoder;
    int frames = 0;
    std::array<char, 64 * 1024> buffer{};
    for (;;) {
      boost::system::error_code ec;
      auto n = client.read_some(boost::asio::buffer(buffer), ec);
      if (ec)
        return frames;
      decoder.feed(std::string_view{buffer.data(), n});
      while (auto frame = decoder.next().value()) {
        if (frame->command == command)
          ++frames;
        else
          return -1;
      }
    }
  }

  boost::asio::io_context io;
  boost::asio::io_context client_io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work
      = boost::asio::make_work_guard(io);
  socket_type server;
  socket_type client;
  std::shared_ptr<control::ipc_session> session;
  actors::push_function push;
  std::atomic<bool> closed{false};
  std::atomic<int> written{0};
  std::thread io_thread;
};

control::session_limits small_push_limit() {
  control::session_limits limits;
  limits.max_push_bytes = 256 * 1024;
  return limits;
}

} // namespace

TEST_CASE("session push is written and reported") {
  session_fixture f{control::session_limits{}};
  f.push_frames(ipc_command::recv, 1, 10);
  protocol::ipc_frame_decoder decoder;
  std::array<char, 64> buffer{};
  auto n = f.client.read_some(boost::asio::buffer(buffer));
  decoder.feed(std::string_view{buffer.data(), n});
  auto frame = decoder.next().value();
  REQUIRE(frame.has_value());
  CHECK(frame->command == ipc_command::recv);
  CHECK(frame->payload == std::string(10, 'x'));
  CHECK(eventually([&] { return f.written == 1; }));
  CHECK_FALSE(f.closed);
}

TEST_CASE("session drops datagrams beyond the push limit") {
  session_fixture f{small_push_limit()};
  // 8 MiB of datagrams, far beyond what the socket buffer and the push
  // limit hold while the client does not read.
  constexpr int pushed = 128;
  f.push_frames(ipc_command::recv_from, pushed, 64 * 1024);
  // Every dropped datagram is reported as done with at once.
  CHECK(eventually([&] { return f.written > pushed / 2; }));
  CHECK_FALSE(f.closed);
  std::thread stop{[&] {
    eventually([&] { return f.written == pushed; });
    f.session->close();
  }};
  auto received = f.read_frames(ipc_command::recv_from);
  stop.join();
  CHECK(received > 0);
  CHECK(received < pushed);
  CHECK(f.written == pushed);
}

TEST_CASE("session closes a client that leaves data unread") {
  session_fixture f{small_push_limit()};
  constexpr int pushed = 128;
  f.push_frames(ipc_command::recv, pushed, 64 * 1024);
  CHECK(eventually([&] { return f.closed.load(); }));
  // The sender learns that none of the pushes is pending any more.
  CHECK(eventually([&] { return f.written == pushed; }));
  auto received = f.read_frames(ipc_command::recv);
  CHECK(received < pushed);
}

TEST_CASE("session push after close reports at once") {
  session_fixture f{control::session_limits{}};
  f.session->close();
  CHECK(eventually([&] { return f.closed.load(); }));
  f.push_frames(ipc_command::recv, 1, 10);
  CHECK(eventually([&] { return f.written == 1; }));
}

TEST_CASE("session drops a client that stops reading") {
  control::session_limits limits;
  limits.write_timeout = 200ms;
  session_fixture f{limits};
  // Enough to fill the socket buffer but below the push limit.
  f.push_frames(ipc_command::recv, 64, 64 * 1024);
  CHECK(eventually([&] { return f.closed.load(); }));
  CHECK(eventually([&] { return f.written == 64; }));
}
