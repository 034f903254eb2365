#include "actors/registry_connection.hpp"

#include "protocol/registry_frame.hpp"

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using pilot::actors::make_registry_connection;
using pilot::actors::registry_connection_options;
using pilot::actors::registry_reply;
using pilot::actors::registry_reply_sink;

namespace {

/// A registry stand-in on 127.0.0.1 that responds to each request frame with
/// what `respond` returns, or not at all when it returns nothing.
class fake_registry {
public:
  using respond_function
      = std::function<std::optional<std::string>(const std::string& request)>;

  fake_registry(asio::io_context& io, respond_function respond,
                bool close_after_reply = false)
      : io_(io),
        acceptor_(io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}),
        state_(std::make_shared<shared_state>()) {
    state_->respond = std::move(respond);
    state_->close_after_reply = close_after_reply;
    do_accept();
  }

  ~fake_registry() {
    std::promise<void> closed;
    asio::post(io_, [this, &closed] {
      acceptor_.close();
      for (auto& weak : state_->sockets)
        if (auto socket = weak.lock())
          socket->close();
      closed.set_value();
    });
    closed.get_future().wait();
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

  int connections() const { return state_->connections.load(); }

private:
  struct shared_state {
    respond_function respond;
    bool close_after_reply = false;
    std::atomic<int> connections = 0;
    std::vector<std::weak_ptr<tcp::socket>> sockets;
  };

  struct session : std::enable_shared_from_this<session> {
    session(tcp::socket s, std::shared_ptr<shared_state> st)
        : socket(std::make_shared<tcp::socket>(std::move(s))),
          state(std::move(st)) {}

    void do_read() {
      asio::async_read(*socket, asio::buffer(header),
                       [self = shared_from_this()](auto ec, std::size_t) {
                         if (!ec)
                           self->on_header();
                       });
    }

    void on_header() {
      auto size = pilot::protocol::decode_registry_frame_header(header);
      if (!size)
        return;
      body.resize(*size);
      asio::async_read(*socket, asio::buffer(body),
                       [self = shared_from_this()](auto ec, std::size_t) {
                         if (!ec)
                           self->on_body();
                       });
    }

    void on_body() {
      auto response = state->respond(body);
      if (!response) {
        do_read();
        return;
      }
      frame = pilot::protocol::encode_registry_frame(*response);
      asio::async_write(*socket, asio::buffer(frame),
                        [self = shared_from_this()](auto ec, std::size_t) {
                          if (ec)
                            return;
                          if (self->state->close_after_reply)
                            self->socket->close();
                          else
                            self->do_read();
                        });
    }

    std::shared_ptr<tcp::socket> socket;
    std::shared_ptr<shared_state> state;
    std::array<std::uint8_t, 4> header{};
    std::string body;
    std::string frame;
  };

  void do_accept() {
    acceptor_.async_accept([this](auto ec, tcp::socket socket) {
      if (ec)
        return;
      ++state_->connections;
      auto s = std::make_shared<session>(std::move(socket), state_);
      state_->sockets.push_back(s->socket);
      s->do_read();
      do_accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::shared_ptr<shared_state> state_;
};

/// An io_context on its own thread plus an actor system whose scoped actor
/// receives the replies of the connection under test.
struct fixture {
  fixture() : sys(cfg), self(sys) {
    io_thread = std::thread{[this] {
      io.run();
    }};
  }

  ~fixture() {
    work.reset();
    io.stop();
    io_thread.join();
  }

  registry_reply_sink sink() {
    return caf::actor_cast<registry_reply_sink>(self);
  }

  /// Waits up to five seconds for the next reply.
  std::optional<registry_reply> next_reply(std::chrono::milliseconds wait
                                           = 5s) {
    std::optional<registry_reply> result;
    self->receive([&](registry_reply& reply) { result = std::move(reply); },
                  caf::after(wait) >> [] {});
    return result;
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work
      = asio::make_work_guard(io);
  std::thread io_thread;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
};

std::optional<std::string> echo(const std::string& request) {
  return R"({"type":"echo_ok","request":)" + request + "}";
}

/// Returns `127.0.0.1:port` for a port on which nothing listens: one that
/// was bound a moment ago and released.
std::string closed_port_address(asio::io_context& io) {
  tcp::acceptor probe{io,
                      tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  return "127.0.0.1:" + std::to_string(probe.local_endpoint().port());
}

registry_connection_options options_for(const std::string& address) {
  registry_connection_options options;
  options.address = address;
  options.initial_backoff = 10ms;
  options.max_backoff = 20ms;
  return options;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "registry connection returns responses in order") {
  fake_registry registry{io, echo};
  auto connection
      = make_registry_connection(io, options_for(registry.address()), sink());
  connection->send(1, R"({"type":"first"})", 5s);
  connection->send(2, R"({"type":"second"})", 5s);
  auto first = next_reply();
  auto second = next_reply();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->request_id == 1);
  CHECK(first->error == "");
  CHECK(first->body == R"({"type":"echo_ok","request":{"type":"first"}})");
  CHECK(second->request_id == 2);
  CHECK(second->body == R"({"type":"echo_ok","request":{"type":"second"}})");
  CHECK(registry.connections() == 1);
  connection->close();
}

TEST_CASE_FIXTURE(fixture, "registry connection times out a silent server") {
  std::atomic<int> requests = 0;
  fake_registry registry{io, [&](const std::string& request) {
                           // The first request gets no response.
                           return ++requests == 1
                                      ? std::nullopt
                                      : std::optional{echo(request)};
                         }};
  auto connection
      = make_registry_connection(io, options_for(registry.address()), sink());
  connection->send(7, R"({"type":"heartbeat"})", 300ms);
  auto timed_out = next_reply();
  REQUIRE(timed_out);
  CHECK(timed_out->request_id == 7);
  CHECK(timed_out->timed_out);
  CHECK(timed_out->body == "");
  CHECK(timed_out->error
        == "registry " + registry.address() + " did not respond within 300ms");
  // A late response could be taken for the next request's, so the next
  // request goes over a new connection.
  connection->send(8, R"({"type":"lookup"})", 5s);
  auto answered = next_reply();
  REQUIRE(answered);
  CHECK(answered->request_id == 8);
  CHECK(answered->error == "");
  CHECK(answered->body == R"({"type":"echo_ok","request":{"type":"lookup"}})");
  CHECK(registry.connections() == 2);
  connection->close();
}

TEST_CASE_FIXTURE(fixture, "registry connection reconnects after a close") {
  fake_registry registry{io, echo, true};
  auto connection
      = make_registry_connection(io, options_for(registry.address()), sink());
  connection->send(1, R"({"n":1})", 5s);
  auto first = next_reply();
  REQUIRE(first);
  CHECK(first->body == R"({"type":"echo_ok","request":{"n":1}})");
  // The server closed the connection after its response. The next request
  // fails on the old connection and is sent again on a new one.
  connection->send(2, R"({"n":2})", 5s);
  auto second = next_reply();
  REQUIRE(second);
  CHECK(second->request_id == 2);
  CHECK(second->error == "");
  CHECK(second->body == R"({"type":"echo_ok","request":{"n":2}})");
  CHECK(registry.connections() == 2);
  connection->close();
}

TEST_CASE_FIXTURE(fixture, "registry connection gives up on a closed port") {
  auto address = closed_port_address(io);
  auto options = options_for(address);
  options.max_connect_attempts = 2;
  auto connection = make_registry_connection(io, options, sink());
  connection->send(3, R"({"type":"register"})", 5s);
  auto reply = next_reply();
  REQUIRE(reply);
  CHECK(reply->request_id == 3);
  CHECK_FALSE(reply->timed_out);
  CHECK(reply->body == "");
  CHECK(reply->error.starts_with("cannot connect to registry " + address));
  CHECK(reply->error.ends_with("(2 attempts)"));
  connection->close();
}

TEST_CASE_FIXTURE(fixture, "registry connection bounds its queue") {
  fake_registry registry{io, [](const std::string&) {
                           return std::optional<std::string>{};
                         }};
  auto options = options_for(registry.address());
  options.max_queued = 1;
  auto connection = make_registry_connection(io, options, sink());
  connection->send(1, R"({"type":"a"})", 500ms);
  connection->send(2, R"({"type":"b"})", 500ms);
  auto rejected = next_reply();
  REQUIRE(rejected);
  CHECK(rejected->request_id == 2);
  CHECK(rejected->error == "too many registry requests waiting (maximum 1)");
  CHECK(rejected->unsent);
  auto timed_out = next_reply();
  REQUIRE(timed_out);
  CHECK(timed_out->request_id == 1);
  CHECK(timed_out->timed_out);
  connection->close();
}

TEST_CASE_FIXTURE(fixture, "registry connection is silent after close") {
  fake_registry registry{io, [](const std::string&) {
                           return std::optional<std::string>{};
                         }};
  auto connection
      = make_registry_connection(io, options_for(registry.address()), sink());
  connection->send(1, R"({"type":"a"})", 200ms);
  connection->close();
  CHECK_FALSE(next_reply(600ms).has_value());
}

TEST_CASE("registry addresses split into host and port") {
  std::string host;
  std::string port;
  CHECK(pilot::actors::split_host_port("34.71.57.205:9000", host, port));
  CHECK(host == "34.71.57.205");
  CHECK(port == "9000");
  CHECK(pilot::actors::split_host_port("[::1]:9000", host, port));
  CHECK(host == "::1");
  CHECK(pilot::actors::split_host_port("registry.example:1", host, port));
  CHECK(host == "registry.example");
  CHECK(port == "1");
  CHECK_FALSE(pilot::actors::split_host_port("127.0.0.1", host, port));
  CHECK_FALSE(pilot::actors::split_host_port(":9000", host, port));
  CHECK_FALSE(pilot::actors::split_host_port("host:", host, port));
  CHECK_FALSE(pilot::actors::split_host_port("host:0", host, port));
  CHECK_FALSE(pilot::actors::split_host_port("host:65536", host, port));
  CHECK_FALSE(pilot::actors::split_host_port("host:90x", host, port));
}

TEST_CASE_FIXTURE(fixture,
                  "registry connection deadline names the last error") {
  auto address = closed_port_address(io);
  auto options = options_for(address);
  options.max_connect_attempts = 1000;
  auto connection = make_registry_connection(io, options, sink());
  connection->send(4, R"({"type":"heartbeat"})", 300ms);
  auto reply = next_reply();
  REQUIRE(reply);
  CHECK(reply->request_id == 4);
  CHECK(reply->timed_out);
  CHECK(reply->error
        == "registry " + address
               + " did not respond within 300ms (last connection error: "
                 "Connection refused)");
  connection->close();
}

TEST_CASE_FIXTURE(fixture, "registry connection rejects a too large request") {
  fake_registry registry{io, echo};
  auto connection
      = make_registry_connection(io, options_for(registry.address()), sink());
  std::string body((1 << 20) + 1, 'x');
  connection->send(5, body, 5s);
  auto rejected = next_reply();
  REQUIRE(rejected);
  CHECK(rejected->request_id == 5);
  CHECK(rejected->unsent);
  CHECK_FALSE(rejected->timed_out);
  CHECK(rejected->error
        == "registry request too large (1048577 bytes, maximum 1048576)");
  // Requests that fit still go through.
  connection->send(6, R"({"type":"lookup"})", 5s);
  auto answered = next_reply();
  REQUIRE(answered);
  CHECK(answered->request_id == 6);
  CHECK_FALSE(answered->unsent);
  CHECK(answered->error == "");
  connection->close();
}
