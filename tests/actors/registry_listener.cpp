#include "actors/registry_listener.hpp"

#include "protocol/registry_frame.hpp"

#include <doctest/doctest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

using namespace pilot;
using boost::asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// A registry listener on a free loopback port, run on its own thread.
struct server {
  boost::asio::io_context io{1};
  actors::registry_service service;
  std::shared_ptr<actors::registry_listener> listener;
  std::thread thread;

  explicit server(actors::registry_listener_config config = {}) {
    listener = std::make_shared<actors::registry_listener>(io, service,
                                                           std::move(config));
    REQUIRE_FALSE(
        listener->listen({boost::asio::ip::make_address("127.0.0.1"), 0}));
    listener->start();
    thread = std::thread{[this] {
      io.run();
    }};
  }

  ~server() { stop(); }

  void stop() {
    if (!thread.joinable())
      return;
    boost::asio::post(io, [l = listener] { l->stop(); });
    thread.join();
  }

  tcp::endpoint endpoint() const { return listener->local_endpoint(); }
};

// A blocking client whose reads give up after 5 seconds.
struct client {
  boost::asio::io_context io;
  tcp::socket socket{io};

  explicit client(const tcp::endpoint& at) {
    socket.connect(at);
    timeval timeout{5, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                 sizeof(timeout));
  }

  void send_bytes(std::string_view bytes) {
    boost::asio::write(socket, boost::asio::buffer(bytes));
  }

  // Returns the next response body, or "" when the server closed.
  std::string receive() {
    std::array<std::uint8_t, 4> header{};
    boost::system::error_code ec;
    boost::asio::read(socket, boost::asio::buffer(header), ec);
    if (ec)
      return {};
    auto size = protocol::decode_registry_frame_header(header).value();
    std::string body(size, '\0');
    boost::asio::read(socket, boost::asio::buffer(body), ec);
    return ec ? std::string{} : body;
  }

  std::string call(std::string_view body) {
    send_bytes(protocol::encode_registry_frame(body));
    return receive();
  }

  // Returns whether the server closed the connection (EOF), as opposed to
  // sending data or letting the read time out.
  bool closed_by_server() {
    char byte;
    boost::system::error_code ec;
    socket.read_some(boost::asio::buffer(&byte, 1), ec);
    return ec == boost::asio::error::eof
           || ec == boost::asio::error::connection_reset;
  }
};

std::filesystem::path make_temp_dir() {
  std::string pattern
      = std::filesystem::temp_directory_path() / "pilot-registry-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

} // namespace

TEST_CASE("listen address parser accepts Go forms") {
  auto any = actors::parse_listen_address(":9000");
  CHECK(any.address().is_unspecified());
  CHECK_EQ(any.port(), 9000);
  auto v4 = actors::parse_listen_address("127.0.0.1:0");
  CHECK_EQ(v4.address().to_string(), "127.0.0.1");
  auto v6 = actors::parse_listen_address("[::1]:9001");
  CHECK_EQ(v6.address().to_string(), "::1");
  CHECK_EQ(v6.port(), 9001);
  CHECK(actors::parse_listen_address("localhost:9000").address().is_loopback());
  for (std::string_view bad : {"9000", ":", ":x", ":65536", "1.2.3.4:-1"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(actors::parse_listen_address(bad), std::invalid_argument);
  }
}

TEST_CASE("listener answers requests in order over TCP") {
  server s;
  client c{s.endpoint()};
  CHECK_EQ(c.call(R"({"type":"beacon_list"})"),
           R"({"beacons":[],"type":"beacon_list_ok"})");
  // Two frames in one write, and a frame split across writes.
  c.send_bytes(protocol::encode_registry_frame(R"({"type":"beacon_list"})")
               + protocol::encode_registry_frame(R"({"type":"lookup"})"));
  CHECK_EQ(c.receive(), R"({"beacons":[],"type":"beacon_list_ok"})");
  CHECK_EQ(c.receive(), protocol::generic_error_body);
  auto frame = protocol::encode_registry_frame(R"({"type":"list_networks"})");
  c.send_bytes(frame.substr(0, 3));
  std::this_thread::sleep_for(20ms);
  c.send_bytes(frame.substr(3));
  CHECK_NE(c.receive().find("list_networks_ok"), std::string::npos);
  CHECK_EQ(c.call("null"), protocol::generic_error_body);
}

TEST_CASE("listener closes on a malformed body without reply") {
  server s;
  client c{s.endpoint()};
  c.send_bytes(protocol::encode_registry_frame("[1,2]"));
  CHECK(c.closed_by_server());
  s.stop();
  CHECK_EQ(s.listener->stats().malformed_bodies, 1);
}

TEST_CASE("listener closes on invalid frame lengths") {
  server s;
  for (std::string header :
       {std::string("\0\0\0\0", 4), std::string("\0\x10\0\x01", 4)}) {
    client c{s.endpoint()};
    c.send_bytes(header);
    CHECK(c.closed_by_server());
  }
  s.stop();
  CHECK_EQ(s.listener->stats().bad_frames, 2);
}

TEST_CASE("listener closes idle connections") {
  actors::registry_listener_config config;
  config.idle_timeout = 1s;
  server s{config};
  client c{s.endpoint()};
  CHECK_EQ(c.call(R"({"type":"beacon_list"})"),
           R"({"beacons":[],"type":"beacon_list_ok"})");
  CHECK(c.closed_by_server());
  s.stop();
  CHECK_EQ(s.listener->stats().idle_timeouts, 1);
}

TEST_CASE("listener closes a client that trickles a frame") {
  actors::registry_listener_config config;
  config.idle_timeout = 1s;
  server s{config};
  client c{s.endpoint()};
  // Each byte arrives well within the idle timeout, but the frame never
  // completes within it.
  auto frame = protocol::encode_registry_frame(R"({"type":"beacon_list"})"
                                               + std::string(100, ' '));
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  c.socket.non_blocking(true);
  for (char byte : frame) {
    boost::system::error_code ec;
    boost::asio::write(c.socket, boost::asio::buffer(&byte, 1), ec);
    std::this_thread::sleep_for(100ms);
    char answer;
    if (!ec)
      c.socket.read_some(boost::asio::buffer(&answer, 1), ec);
    if (ec && ec != boost::asio::error::would_block) {
      closed = true;
      break;
    }
    if (std::chrono::steady_clock::now() - start > 3s)
      break;
  }
  CHECK(closed);
  s.stop();
  CHECK_EQ(s.listener->stats().idle_timeouts, 1);
}

TEST_CASE("listener bounds the memory of unfinished frames") {
  actors::registry_listener_config config;
  config.max_partial_frame_bytes = 100'000;
  server s{config};
  // A client that declares a large frame and sends 80 kB of it.
  client hog{s.endpoint()};
  hog.send_bytes(std::string{"\0\x0F\0\0", 4} + std::string(80'000, ' '));
  std::this_thread::sleep_for(100ms);
  // A client whose unfinished frame pushes the total over the limit.
  auto frame = protocol::encode_registry_frame(R"({"type":"beacon_list"})"
                                               + std::string(30'000, ' '));
  client small{s.endpoint()};
  small.send_bytes(frame.substr(0, 25'000));
  CHECK(hog.closed_by_server());
  // The smaller frame stays and completes.
  small.send_bytes(frame.substr(25'000));
  CHECK_EQ(small.receive(), R"({"beacons":[],"type":"beacon_list_ok"})");
  s.stop();
  CHECK_EQ(s.listener->stats().partial_frame_closes, 1);
}

TEST_CASE("listener limits connections per address") {
  actors::registry_listener_config config;
  config.max_connections_per_ip = 2;
  server s{config};
  client first{s.endpoint()};
  client second{s.endpoint()};
  CHECK_FALSE(first.call(R"({"type":"beacon_list"})").empty());
  CHECK_FALSE(second.call(R"({"type":"beacon_list"})").empty());
  client third{s.endpoint()};
  CHECK(third.closed_by_server());
  // Closing one makes room again.
  first.socket.close();
  std::this_thread::sleep_for(100ms);
  client fourth{s.endpoint()};
  CHECK_FALSE(fourth.call(R"({"type":"beacon_list"})").empty());
  s.stop();
  CHECK_EQ(s.listener->stats().rejected, 1);
}

TEST_CASE("listener saves the store on stop with mode 0600") {
  auto dir = make_temp_dir();
  actors::registry_listener_config config;
  config.store_path = dir / "new" / "registry.json";
  {
    server s{config};
    client c{s.endpoint()};
    auto reply = c.call(
        R"({"type":"register","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="})");
    CHECK_NE(reply.find(R"("node_id":1)"), std::string::npos);
    s.stop();
    CHECK_FALSE(s.service.dirty());
  }
  struct stat st {};
  REQUIRE(::stat(config.store_path.c_str(), &st) == 0);
  CHECK_EQ(st.st_mode & 0777, 0600);
  std::ifstream in{config.store_path};
  std::stringstream text;
  text << in.rdbuf();
  CHECK_NE(
      text.str().find(
          R"("pub_key_idx":{"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=":1})"),
      std::string::npos);
  std::filesystem::remove_all(dir);
}
