#include "webhook/http_client.hpp"

#include "tests/actors/file_test_support.hpp"
#include "tests/webhook/test_certificates.hpp"
#include "webhook/detail/http_session.hpp"
#include "webhook/webhook_actor.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace pilot;
using namespace pilot::webhook;
using namespace std::chrono_literals;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

using http_message = http::request<http::string_body>;

class loopback_server;

/// Serves one accepted connection of a test server.
using connection_handler
    = std::function<asio::awaitable<void>(tcp::socket, loopback_server&)>;

/// A real HTTP server on a loopback address and a free port, with its own
/// thread, that records what it receives. Each test scripts the behaviour
/// of its connections.
class loopback_server {
public:
  explicit loopback_server(connection_handler handler,
                           const char* address = "127.0.0.1")
      : acceptor_(io_, tcp::endpoint{asio::ip::make_address(address), 0}),
        handler_(std::move(handler)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread{[this] {
      io_.run();
    }};
  }

  ~loopback_server() {
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  std::size_t connections() const { return connections_; }

  std::vector<http_message> requests() const {
    std::lock_guard guard{mutex_};
    return requests_;
  }

  /// Reads one request from `stream`, a TCP socket or a TLS stream, and
  /// records it.
  template <class Stream>
  asio::awaitable<http_message> read_request(Stream& stream,
                                             beast::flat_buffer& buffer) {
    http_message request;
    co_await http::async_read(stream, buffer, request, asio::use_awaitable);
    std::lock_guard guard{mutex_};
    requests_.push_back(request);
    co_return request;
  }

private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
      ++connections_;
      asio::co_spawn(io_, handler_(std::move(socket), *this), asio::detached);
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  connection_handler handler_;
  std::thread thread_;
  std::atomic<std::size_t> connections_ = 0;
  mutable std::mutex mutex_;
  std::vector<http_message> requests_;
};

asio::awaitable<void> write_text(tcp::socket& socket, std::string text) {
  co_await asio::async_write(socket, asio::buffer(text), asio::use_awaitable);
}

template <class Stream>
asio::awaitable<void> write_response(Stream& stream, int status,
                                     bool keep_alive = true,
                                     std::string body = "ok") {
  http::response<http::string_body> response{static_cast<http::status>(status),
                                             11};
  response.keep_alive(keep_alive);
  // These statuses have no body.
  if (status != 204 && status != 304)
    response.body() = std::move(body);
  response.prepare_payload();
  co_await http::async_write(stream, response, asio::use_awaitable);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer{co_await asio::this_coro::executor};
  timer.expires_after(duration);
  co_await timer.async_wait(asio::use_awaitable);
}

/// Responds to every request on the connection with `status`.
connection_handler answer_all(int status) {
  return [status](tcp::socket socket,
                  loopback_server& server) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (;;) {
      co_await server.read_request(socket, buffer);
      co_await write_response(socket, status);
    }
  };
}

std::shared_ptr<const protocol::webhook_target>
target_of(const std::string& url) {
  auto parsed = protocol::parse_webhook_url(url);
  REQUIRE(parsed.has_value());
  return std::make_shared<const protocol::webhook_target>(*parsed);
}

std::string url_of(const loopback_server& server,
                   const std::string& path = "/events") {
  return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

/// The client under test on its own I/O thread, as in the daemon.
class client_fixture {
public:
  explicit client_fixture(http_client_options options = {})
      : work_(asio::make_work_guard(io_)),
        client_(make_http_client(io_, std::move(options))) {
    thread_ = std::thread{[this] {
      io_.run();
    }};
  }

  ~client_fixture() {
    client_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  /// Posts one request and waits for its result. The default deadline is
  /// long enough that a busy machine does not fail tests that expect a
  /// response; tests of deadlines pass their own.
  attempt_result post(std::shared_ptr<const protocol::webhook_target> target,
                      std::chrono::milliseconds timeout = 2s,
                      std::string body = R"({"event":"trust.revoked"})") {
    http_request request;
    request.target = std::move(target);
    request.body = std::move(body);
    request.timeout = timeout;
    return post(std::move(request));
  }

  /// Posts `request` with the next attempt ID and the webhook ID and event
  /// name of the other tests, and waits for its result.
  attempt_result post(http_request request) {
    request.attempt_id = ++attempts_;
    request.event_name = "trust.revoked";
    request.webhook_id = "5-a1b2c3-" + std::to_string(attempts_);
    auto promise = std::make_shared<std::promise<attempt_result>>();
    auto future = promise->get_future();
    client_->post(std::move(request), [promise](attempt_result result) {
      promise->set_value(std::move(result));
    });
    // A safety net against a hung test, not a speed check.
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    auto result = future.get();
    CHECK(result.attempt_id == attempts_);
    return result;
  }

  attempt_result post(const std::string& url,
                      std::chrono::milliseconds timeout = 2s) {
    return post(target_of(url), timeout);
  }

private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<transport> client_;
  std::thread thread_;
  std::uint64_t attempts_ = 0;
};

std::uint16_t unused_port() {
  asio::io_context io;
  tcp::acceptor acceptor{io,
                         tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  return acceptor.local_endpoint().port();
}

} // namespace

TEST_CASE("a 2xx response is delivered over one kept-alive connection") {
  loopback_server server{answer_all(200)};
  client_fixture client;
  for (int i = 0; i < 3; ++i) {
    auto result = client.post(url_of(server));
    CHECK(result.status == 200);
    CHECK(result.failure_class.empty());
    CHECK(result.latency_us > 0);
  }
  CHECK(server.requests().size() == 3);
  CHECK(server.connections() == 1);
}

TEST_CASE("the request carries the webhook headers and body") {
  loopback_server server{answer_all(204)};
  client_fixture client;
  auto body = std::string{R"({"event":"trust.revoked","data":{"x":"\u00e9"}})"};
  auto target = target_of("http://alice:s3cret@127.0.0.1:"
                          + std::to_string(server.port()) + "/in?k=v");
  auto before = std::chrono::system_clock::now();
  auto result = client.post(target, 2s, body);
  auto after = std::chrono::system_clock::now();
  CHECK(result.status == 204);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const auto& request = requests[0];
  CHECK(request.method() == http::verb::post);
  CHECK(request.target() == "/in?k=v");
  CHECK(request.version() == 11);
  CHECK(request.body() == body);
  CHECK(request[http::field::content_type] == "application/json");
  CHECK(request[http::field::content_length] == std::to_string(body.size()));
  CHECK(request.count(http::field::transfer_encoding) == 0);
  CHECK(request[http::field::user_agent] == "pilot-daemon/" PILOT_VERSION);
  CHECK(request[http::field::host]
        == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(request["webhook-id"] == "5-a1b2c3-1");
  CHECK(request["X-Pilot-Event"] == "trust.revoked");
  CHECK(request[http::field::authorization] == "Basic YWxpY2U6czNjcmV0");
  auto seconds = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(
               t.time_since_epoch())
        .count();
  };
  auto timestamp = std::stoll(std::string{request["webhook-timestamp"]});
  CHECK(timestamp >= seconds(before));
  CHECK(timestamp <= seconds(after));
}

TEST_CASE("no Authorization header without user info") {
  loopback_server server{answer_all(200)};
  client_fixture client;
  client.post(url_of(server));
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].count(http::field::authorization) == 0);
}

TEST_CASE("an IPv6 literal is sent in brackets in the Host header") {
  loopback_server server{answer_all(200), "::1"};
  client_fixture client;
  auto url = "http://[::1]:" + std::to_string(server.port()) + "/v6";
  auto result = client.post(url);
  CHECK(result.status == 200);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0][http::field::host]
        == "[::1]:" + std::to_string(server.port()));
}

TEST_CASE("a host name is resolved before connecting") {
  loopback_server server{answer_all(200)};
  client_fixture client;
  auto url = "http://localhost:" + std::to_string(server.port()) + "/";
  auto result = client.post(url);
  CHECK(result.status == 200);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0][http::field::host]
        == "localhost:" + std::to_string(server.port()));
}

TEST_CASE("a refused port fails with class connect") {
  client_fixture client;
  auto port = unused_port();
  auto result = client.post("http://127.0.0.1:" + std::to_string(port) + "/");
  CHECK(result.status == 0);
  CHECK(result.failure_class == "connect");
  CHECK(result.detail.find("connecting to http://127.0.0.1:") == 0);
}

TEST_CASE("a server that never answers times out") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await sleep_for(60s);
      }};
  client_fixture client;
  auto result = client.post(url_of(server), 300ms);
  CHECK(result.status == 0);
  CHECK(result.failure_class == "timeout");
  CHECK(server.requests().size() == 1);
}

TEST_CASE("a server that accepts but never reads times out") {
  loopback_server server{
      [](tcp::socket, loopback_server&) -> asio::awaitable<void> {
        co_await sleep_for(60s);
      }};
  client_fixture client;
  auto result = client.post(url_of(server), 200ms);
  CHECK(result.failure_class == "timeout");
}

TEST_CASE("a slowly dripping body keeps its status") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_text(socket,
                            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        for (;;) {
          co_await write_text(socket, "x");
          co_await sleep_for(20ms);
        }
      }};
  client_fixture client;
  for (int i = 0; i < 2; ++i) {
    auto result = client.post(url_of(server), 300ms);
    CHECK(result.status == 200);
    CHECK(result.failure_class.empty());
  }
  // The body was not read to its end, so the connection was not reused.
  CHECK(server.connections() == 2);
}

/// Sends `head` and `body`, then keeps the connection open without a word.
connection_handler answer_then_stall(std::string head, std::string body) {
  return [head, body](tcp::socket socket,
                      loopback_server& server) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    co_await server.read_request(socket, buffer);
    co_await write_text(socket, head + body);
    co_await sleep_for(60s);
  };
}

/// Sends `head` and `body`, then closes the connection.
connection_handler answer_then_close(std::string head, std::string body) {
  return [head, body](tcp::socket socket,
                      loopback_server& server) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    co_await server.read_request(socket, buffer);
    co_await write_text(socket, head + body);
    socket.shutdown(tcp::socket::shutdown_both);
    socket.close();
  };
}

TEST_CASE("a body that never ends keeps its status") {
  // HTTP/1.1 without a length: the body ends when the server closes, which
  // this one never does.
  loopback_server server{answer_then_stall(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", "ok")};
  client_fixture client;
  for (int i = 0; i < 2; ++i) {
    auto result = client.post(url_of(server), 5s);
    CHECK(result.status == 200);
    CHECK(result.failure_class.empty());
    // Ended by the 500 ms body deadline, well before the attempt's 5 s.
    CHECK(result.latency_us < 4'000'000);
  }
  CHECK(server.connections() == 2);
}

TEST_CASE("a body that outlasts the attempt deadline keeps its status") {
  loopback_server server{answer_then_stall(
      "HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\n", "abc")};
  http_client_options options;
  options.body_timeout = 60s;
  client_fixture client{options};
  auto result = client.post(url_of(server), 300ms);
  CHECK(result.status == 202);
  CHECK(result.failure_class.empty());
  CHECK(result.latency_us >= 300'000);
}

TEST_CASE("a body cut short keeps its status") {
  for (auto status : {200, 503}) {
    CAPTURE(status);
    loopback_server server{
        answer_then_close("HTTP/1.1 " + std::to_string(status)
                              + " Cut\r\nContent-Length: 100\r\n\r\n",
                          "abc")};
    client_fixture client;
    for (int i = 0; i < 2; ++i) {
      auto result = client.post(url_of(server));
      CHECK(result.status == status);
      CHECK(result.failure_class.empty());
    }
    CHECK(server.connections() == 2);
  }
}

TEST_CASE("a reset after the headers keeps the status") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_text(socket,
                            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        // Linger 0 turns the close into a reset.
        socket.set_option(asio::socket_base::linger{true, 0});
        socket.close();
      }};
  client_fixture client;
  auto result = client.post(url_of(server));
  CHECK(result.status == 200);
  CHECK(result.failure_class.empty());
}

TEST_CASE("slowly dripping headers cannot outlast the deadline") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_text(socket, "HTTP/1.1 200 OK\r\n");
        for (;;) {
          co_await write_text(socket, "X-Slow: y\r\n");
          co_await sleep_for(20ms);
        }
      }};
  client_fixture client;
  auto result = client.post(url_of(server), 300ms);
  CHECK(result.failure_class == "timeout");
}

TEST_CASE("a redirect is reported and never followed") {
  for (auto status : {301, 302, 303, 307, 308}) {
    CAPTURE(status);
    loopback_server target{answer_all(200)};
    auto location = url_of(target, "/elsewhere");
    loopback_server server{
        [status, location](tcp::socket socket,
                           loopback_server& server) -> asio::awaitable<void> {
          beast::flat_buffer buffer;
          for (;;) {
            co_await server.read_request(socket, buffer);
            co_await write_text(socket, "HTTP/1.1 " + std::to_string(status)
                                            + " Moved\r\nLocation: " + location
                                            + "\r\nContent-Length: 0\r\n\r\n");
          }
        }};
    client_fixture client;
    auto result = client.post(url_of(server));
    CHECK(result.status == status);
    CHECK(result.failure_class.empty());
    CHECK(target.connections() == 0);
    CHECK(server.requests().size() == 1);
  }
}

TEST_CASE("4xx and 5xx statuses are reported on a kept connection") {
  for (auto status : {400, 404, 429, 500, 503}) {
    CAPTURE(status);
    loopback_server server{answer_all(status)};
    client_fixture client;
    CHECK(client.post(url_of(server)).status == status);
    CHECK(client.post(url_of(server)).status == status);
    CHECK(server.connections() == 1);
  }
}

TEST_CASE("Connection close makes the next request open a new connection") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_response(socket, 200, false);
        socket.close();
      }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 200);
  CHECK(client.post(url_of(server)).status == 200);
  CHECK(server.requests().size() == 2);
  CHECK(server.connections() == 2);
}

TEST_CASE("an HTTP/1.0 response without a length ends at close") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_text(socket, "HTTP/1.0 201 Created\r\n"
                                    "Content-Type: text/plain\r\n\r\n"
                                    "body until the server closes");
        socket.shutdown(tcp::socket::shutdown_both);
        socket.close();
      }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 201);
  CHECK(client.post(url_of(server)).status == 201);
  CHECK(server.connections() == 2);
}

TEST_CASE("a reused connection closed before the response is resent once") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_response(socket, 200);
        if (server.connections() == 1) {
          // The first connection takes the second request and closes, as a
          // server does when its idle timer fires at the wrong moment.
          co_await server.read_request(socket, buffer);
          socket.close();
          co_return;
        }
        co_await sleep_for(60s);
      }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 200);
  auto result = client.post(url_of(server));
  CHECK(result.status == 200);
  CHECK(result.failure_class.empty());
  CHECK(server.connections() == 2);
  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1]["webhook-id"] == "5-a1b2c3-2");
  CHECK(requests[2]["webhook-id"] == "5-a1b2c3-2");
  CHECK(requests[1].body() == requests[2].body());
}

TEST_CASE("a reused connection is resent only once") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        if (server.connections() == 1) {
          co_await write_response(socket, 200);
          co_await server.read_request(socket, buffer);
        }
        socket.close();
      }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 200);
  auto result = client.post(url_of(server));
  CHECK(result.status == 0);
  CHECK(result.failure_class == "connect");
  CHECK(server.connections() == 2);
  CHECK(server.requests().size() == 3);
}

TEST_CASE("a new connection closed before the response is not resent") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        socket.close();
      }};
  client_fixture client;
  auto result = client.post(url_of(server));
  CHECK(result.failure_class == "connect");
  CHECK(result.detail.find("closed the connection without a response")
        != std::string::npos);
  CHECK(server.requests().size() == 1);
  CHECK(server.connections() == 1);
}

TEST_CASE("a response body over 64 KiB counts but closes the connection") {
  loopback_server server{[](tcp::socket socket,
                            loopback_server& server) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (;;) {
      co_await server.read_request(socket, buffer);
      co_await write_response(socket, 200, true, std::string(100 * 1024, 'b'));
    }
  }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 200);
  CHECK(client.post(url_of(server)).status == 200);
  CHECK(server.connections() == 2);
}

TEST_CASE("a response body up to 64 KiB is read and the connection kept") {
  loopback_server server{[](tcp::socket socket,
                            loopback_server& server) -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (;;) {
      co_await server.read_request(socket, buffer);
      co_await write_response(socket, 200, true, std::string(64 * 1024, 'b'));
    }
  }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 200);
  CHECK(client.post(url_of(server)).status == 200);
  CHECK(server.connections() == 1);
}

TEST_CASE("an interim 100 response is skipped") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_text(socket, "HTTP/1.1 100 Continue\r\n\r\n");
        co_await write_response(socket, 202);
        co_await sleep_for(60s);
      }};
  client_fixture client;
  CHECK(client.post(url_of(server)).status == 202);
}

/// Responds to the first request with interim 100 responses without end.
asio::awaitable<void> flood_interim_responses(tcp::socket socket,
                                              loopback_server& server) {
  beast::flat_buffer buffer;
  co_await server.read_request(socket, buffer);
  std::string burst;
  for (int i = 0; i < 64; ++i)
    burst += "HTTP/1.1 100 Continue\r\n\r\n";
  for (;;)
    co_await write_text(socket, burst);
}

TEST_CASE("reading stops after eight interim responses") {
  loopback_server server{flood_interim_responses};
  client_fixture client;
  auto result = client.post(url_of(server), 300ms);
  CHECK(result.status == 0);
  CHECK(result.failure_class == "timeout");
  CHECK(result.detail
        == "no final response from http://127.0.0.1:"
               + std::to_string(server.port())
               + " within 300 ms; stopped reading after 8 interim (1xx) "
                 "responses");
  CHECK(result.latency_us >= 300'000);
}

TEST_CASE("a flood of interim responses ends at the deadline") {
  loopback_server server{flood_interim_responses};
  http_client_options options;
  options.max_interim_responses = std::numeric_limits<std::size_t>::max();
  client_fixture client{options};
  auto result = client.post(url_of(server), 300ms);
  CHECK(result.status == 0);
  CHECK(result.failure_class == "timeout");
  CHECK(result.detail
        == "no final response from http://127.0.0.1:"
               + std::to_string(server.port()) + " within 300 ms");
  CHECK(result.latency_us >= 300'000);
}

TEST_CASE("any three-digit status is reported as a response") {
  for (auto status : {0, 600, 999}) {
    CAPTURE(status);
    char status_text[4];
    std::snprintf(status_text, sizeof(status_text), "%03d", status);
    loopback_server server{
        answer_then_stall("HTTP/1.1 " + std::string{status_text}
                              + " Odd\r\nContent-Length: 0\r\n\r\n",
                          "")};
    client_fixture client;
    auto result = client.post(url_of(server));
    CHECK(result.status == status);
    CHECK(result.failure_class.empty());
  }
}

TEST_CASE("a status line Beast cannot parse fails with class connect") {
  loopback_server server{
      answer_then_stall("HTTP/1.1 20 Short\r\nContent-Length: 0\r\n\r\n", "")};
  client_fixture client;
  auto result = client.post(url_of(server));
  CHECK(result.status == 0);
  CHECK(result.failure_class == "connect");
  CHECK(result.detail
        == "invalid HTTP response from http://127.0.0.1:"
               + std::to_string(server.port()) + ": bad status");
}

TEST_CASE("a response that is not HTTP fails with class connect") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_text(socket, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
        co_await sleep_for(60s);
      }};
  client_fixture client;
  auto result = client.post(url_of(server));
  CHECK(result.failure_class == "connect");
  CHECK(result.detail.find("invalid HTTP response") == 0);
}

TEST_CASE("resolved link-local and metadata addresses are removed") {
  std::vector<tcp::endpoint> endpoints{
      {asio::ip::make_address("169.254.169.254"), 80},
      {asio::ip::make_address("127.0.0.1"), 80},
      {asio::ip::make_address("fe80::1"), 80},
      {asio::ip::make_address("::ffff:169.254.169.254"), 80},
      {asio::ip::make_address("::1"), 80},
  };
  auto removed = detail::remove_refused_endpoints(endpoints);
  CHECK(removed == "::ffff:169.254.169.254");
  REQUIRE(endpoints.size() == 2);
  CHECK(endpoints[0].address().to_string() == "127.0.0.1");
  CHECK(endpoints[1].address().to_string() == "::1");
}

namespace {

// Raises three events at a webhook actor with the real HTTP client and
// checks that they arrive in order.
void check_delivery_in_order(bool own_thread) {
  CAPTURE(own_thread);
  loopback_server server{answer_all(200)};
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread io_thread{[&io] {
    io.run();
  }};
  {
    caf::actor_system_config cfg;
    cfg.add_message_types<caf::id_block::pilot_actors>();
    cfg.add_message_types<caf::id_block::pilot_webhook>();
    caf::actor_system sys{cfg};
    webhook_options options;
    options.url = url_of(server);
    options.timeout = 2s;
    options.boot_id = "e2e";
    options.own_thread = own_thread;
    auto actor = spawn_webhook(sys, io, options);
    caf::anon_send(actor, actors::node_id_atom_v, std::uint32_t{5});
    for (std::uint32_t peer = 1; peer <= 3; ++peer)
      caf::anon_send(actor, protocol::event{protocol::trust_revoked{peer}});
    caf::scoped_actor self{sys};
    std::optional<webhook_stats> drained;
    self->request(actor, 10s, drain_atom_v)
        .receive([&](webhook_stats& stats) { drained = std::move(stats); },
                 [&](caf::error& err) { FAIL(to_string(err)); });
    REQUIRE(drained.has_value());
    CHECK(drained->delivered == 3);
    CHECK(drained->emitted == 3);
    CHECK(drained->in_flight == 0);
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto body = boost::json::parse(requests[i].body());
    CHECK(body.at("event_id").as_int64() == static_cast<std::int64_t>(i + 1));
    CHECK(body.at("node_id").as_int64() == 5);
    CHECK(body.at("data").at("peer_node_id").as_int64()
          == static_cast<std::int64_t>(i + 1));
    CHECK(requests[i]["webhook-id"] == "5-e2e-" + std::to_string(i + 1));
  }
  CHECK(server.connections() == 1);
  work.reset();
  io.stop();
  io_thread.join();
}

} // namespace

TEST_CASE("webhook actor delivers in order") {
  check_delivery_in_order(false);
}

TEST_CASE("own-thread webhook actor delivers in order") {
  check_delivery_in_order(true);
}

namespace {

namespace ssl = asio::ssl;

/// Settings of a `tls_server`.
struct tls_server_options {
  /// Adjusts the server's TLS context, such as the protocol versions.
  std::function<void(SSL_CTX*)> configure;
  /// The request on the first connection after which the server closes the
  /// TCP connection, with no response and no TLS close_notify alert. 0 for
  /// none.
  std::size_t drop_request = 0;
  /// Responses on a connection after which the server closes it with a TLS
  /// close_notify alert. 0 for no limit.
  std::size_t responses_per_connection = 0;
};

ssl::context make_server_context(const test::pem_identity& identity,
                                 const tls_server_options& options) {
  ssl::context context{ssl::context::tls_server};
  context.use_certificate_chain(asio::buffer(identity.certificate));
  context.use_private_key(asio::buffer(identity.private_key),
                          ssl::context::pem);
  if (options.configure)
    options.configure(context.native_handle());
  return context;
}

/// A real HTTPS server on 127.0.0.1 and a free port, with its own thread,
/// that responds 200 to every request and records the requests and the
/// server names (SNI) of its handshakes.
class tls_server {
public:
  explicit tls_server(const test::pem_identity& identity,
                      tls_server_options options = {})
      : context_(make_server_context(identity, options)),
        options_(std::move(options)),
        server_([this](tcp::socket socket, loopback_server& server) {
          return serve(std::move(socket), server);
        }) {
    // nop
  }

  std::uint16_t port() const { return server_.port(); }

  std::size_t connections() const { return server_.connections(); }

  std::size_t handshakes() const { return handshakes_; }

  std::vector<http_message> requests() const { return server_.requests(); }

  std::vector<std::string> server_names() const {
    std::lock_guard guard{mutex_};
    return server_names_;
  }

private:
  asio::awaitable<void> serve(tcp::socket socket, loopback_server& server) {
    auto number = server.connections();
    ssl::stream<tcp::socket> stream{std::move(socket), context_};
    co_await stream.async_handshake(ssl::stream_base::server,
                                    asio::use_awaitable);
    ++handshakes_;
    record_server_name(stream.native_handle());
    beast::flat_buffer buffer;
    for (std::size_t served = 1;; ++served) {
      co_await server.read_request(stream, buffer);
      if (number == 1 && served == options_.drop_request) {
        stream.next_layer().close();
        co_return;
      }
      co_await write_response(stream, 200);
      if (served == options_.responses_per_connection) {
        // Sends close_notify and then waits for the peer's alert, which
        // ends with an error when the client closes without one.
        co_await stream.async_shutdown(asio::use_awaitable);
        co_return;
      }
    }
  }

  void record_server_name(SSL* ssl) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::lock_guard guard{mutex_};
    server_names_.emplace_back(name != nullptr ? name : "");
  }

  ssl::context context_;
  tls_server_options options_;
  std::atomic<std::size_t> handshakes_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> server_names_;
  // Declared last, so that its thread stops before the members it uses
  // are destroyed.
  loopback_server server_;
};

/// The CA, its file and the certificates of the TLS tests.
struct tls_fixture {
  std::string write(const std::string& name, std::string_view content) {
    return test::write_file(dir.path, name, content);
  }

  test::temp_dir dir;
  test::test_ca ca;
  std::string ca_file = write("ca.pem", ca.certificate_pem());
  test::pem_identity server_identity = ca.issue();
};

http_request https_request(std::uint16_t port, const std::string& ca_file,
                           const std::string& host = "localhost") {
  http_request request;
  request.target
      = target_of("https://" + host + ":" + std::to_string(port) + "/events");
  request.body = R"({"event":"trust.revoked"})";
  request.ca_file = ca_file;
  request.timeout = 5s;
  return request;
}

/// The `webhook-signature` entry for `key`, computed with OpenSSL's
/// one-shot HMAC apart from the signing code under test.
std::string expected_signature(const std::string& key,
                               const std::string& signed_text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(signed_text.data()),
               signed_text.size(), mac, &size)
          != nullptr);
  std::string encoded(4 * ((size + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), mac,
                  static_cast<int>(size));
  return "v1," + encoded;
}

std::string signed_text(const http_message& request) {
  return std::string{request["webhook-id"]} + "."
         + std::string{request["webhook-timestamp"]} + "." + request.body();
}

} // namespace

TEST_CASE("an https POST is delivered with the CA file") {
  tls_fixture pki;
  tls_server server{pki.server_identity};
  client_fixture client;
  auto result = client.post(https_request(server.port(), pki.ca_file));
  CHECK(result.status == 200);
  CHECK(result.failure_class == "");
  CHECK(result.detail == "");
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target() == "/events");
  CHECK(requests[0].body() == R"({"event":"trust.revoked"})");
  CHECK(requests[0][http::field::host]
        == "localhost:" + std::to_string(server.port()));
  CHECK(server.server_names() == std::vector<std::string>{"localhost"});
}

TEST_CASE("an https IP literal is verified and sent without SNI") {
  tls_fixture pki;
  tls_server server{pki.server_identity};
  client_fixture client;
  auto result
      = client.post(https_request(server.port(), pki.ca_file, "127.0.0.1"));
  CHECK(result.status == 200);
  CHECK(result.failure_class == "");
  CHECK(server.server_names() == std::vector<std::string>{""});
}

TEST_CASE("a kept-alive TLS connection is reused") {
  tls_fixture pki;
  tls_server server{pki.server_identity};
  client_fixture client;
  for (int i = 0; i < 3; ++i)
    CHECK(client.post(https_request(server.port(), pki.ca_file)).status == 200);
  CHECK(server.requests().size() == 3);
  CHECK(server.connections() == 1);
  CHECK(server.handshakes() == 1);
}

TEST_CASE("a TLS connection is reused only under the same CA file") {
  tls_fixture pki;
  auto other_ca_file = pki.write("same-ca.pem", pki.ca.certificate_pem());
  tls_server server{pki.server_identity};
  client_fixture client;
  CHECK(client.post(https_request(server.port(), pki.ca_file)).status == 200);
  CHECK(client.post(https_request(server.port(), other_ca_file)).status == 200);
  CHECK(client.post(https_request(server.port(), pki.ca_file)).status == 200);
  CHECK(server.connections() == 2);
}

TEST_CASE("the system trust store rejects the test CA") {
  tls_fixture pki;
  tls_server server{pki.server_identity};
  client_fixture client;
  auto result = client.post(https_request(server.port(), ""));
  CHECK(result.status == 0);
  CHECK(result.failure_class == "tls");
  CHECK(result.detail
        == "TLS handshake with https://localhost:"
               + std::to_string(server.port())
               + " failed: certificate verify failed: unable to get local "
                 "issuer certificate");
  CHECK(server.requests().empty());
}

TEST_CASE("a certificate for another host fails with class tls") {
  tls_fixture pki;
  test::certificate_request request;
  request.subject_alt_names = "DNS:other.example,IP:192.0.2.1";
  tls_server server{pki.ca.issue(request)};
  client_fixture client;
  auto by_name = client.post(https_request(server.port(), pki.ca_file));
  CHECK(by_name.failure_class == "tls");
  CHECK(by_name.detail
        == "TLS handshake with https://localhost:"
               + std::to_string(server.port())
               + " failed: certificate verify failed: hostname mismatch");
  auto by_address
      = client.post(https_request(server.port(), pki.ca_file, "127.0.0.1"));
  CHECK(by_address.failure_class == "tls");
  CHECK(by_address.detail
        == "TLS handshake with https://127.0.0.1:"
               + std::to_string(server.port())
               + " failed: certificate verify failed: IP address mismatch");
  CHECK(server.requests().empty());
}

TEST_CASE("a wildcard covers one label only") {
  tls_fixture pki;
  test::certificate_request request;
  request.subject_alt_names = "DNS:*.localhost";
  tls_server server{pki.ca.issue(request)};
  client_fixture client;
  auto result = client.post(https_request(server.port(), pki.ca_file));
  CHECK(result.failure_class == "tls");
  CHECK(result.detail.ends_with("hostname mismatch"));
}

TEST_CASE("an expired certificate fails with class tls") {
  tls_fixture pki;
  test::certificate_request request;
  request.valid_from = -48h;
  request.valid_until = -24h;
  tls_server server{pki.ca.issue(request)};
  client_fixture client;
  auto result = client.post(https_request(server.port(), pki.ca_file));
  CHECK(result.failure_class == "tls");
  CHECK(result.detail
        == "TLS handshake with https://localhost:"
               + std::to_string(server.port())
               + " failed: certificate verify failed: certificate has "
                 "expired");
}

/// Limits a TLS context to TLS 1.1 and allows its weak algorithms.
void allow_only_tls_1_1(SSL_CTX* context) {
  SSL_CTX_set_security_level(context, 0);
  REQUIRE(SSL_CTX_set_min_proto_version(context, TLS1_1_VERSION) == 1);
  REQUIRE(SSL_CTX_set_max_proto_version(context, TLS1_1_VERSION) == 1);
}

TEST_CASE("a TLS 1.1 server fails with class tls") {
  tls_fixture pki;
  tls_server_options options;
  options.configure = allow_only_tls_1_1;
  tls_server server{pki.server_identity, options};
  // A client that allows TLS 1.1 completes the handshake, so the server
  // itself works and the failure below comes from the version.
  {
    asio::io_context io;
    ssl::context context{ssl::context::tls_client};
    allow_only_tls_1_1(context.native_handle());
    ssl::stream<tcp::socket> stream{io, context};
    stream.next_layer().connect(
        {asio::ip::make_address("127.0.0.1"), server.port()});
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::client, ec);
    CHECK_MESSAGE(!ec, ec.message());
  }
  client_fixture client;
  auto result = client.post(https_request(server.port(), pki.ca_file));
  CHECK(result.status == 0);
  CHECK(result.failure_class == "tls");
  CHECK(result.detail.starts_with("TLS handshake with https://localhost:"
                                  + std::to_string(server.port())
                                  + " failed: "));
  CHECK(server.handshakes() == 1);
}

TEST_CASE("an unusable CA file fails with class tls") {
  tls_fixture pki;
  tls_server server{pki.server_identity};
  client_fixture client;
  auto missing = pki.ca_file + ".missing";
  auto result = client.post(https_request(server.port(), missing));
  CHECK(result.failure_class == "tls");
  CHECK(result.detail
        == "webhook CA file " + missing
               + " cannot be read: No such file or directory");
  CHECK(server.connections() == 0);
}

TEST_CASE("a changed CA file is loaded again") {
  tls_fixture pki;
  test::test_ca other_ca{"Another test CA"};
  auto ca_file = pki.write("rotating.pem", other_ca.certificate_pem());
  tls_server server{pki.server_identity};
  client_fixture client;
  CHECK(client.post(https_request(server.port(), ca_file)).failure_class
        == "tls");
  pki.write("rotating.pem", pki.ca.certificate_pem());
  test::touch_later(ca_file);
  CHECK(client.post(https_request(server.port(), ca_file)).status == 200);
}

TEST_CASE("kept TLS connection ends on CA change") {
  tls_fixture pki;
  auto ca_file = pki.write("replaced.pem", pki.ca.certificate_pem());
  tls_server server{pki.server_identity};
  client_fixture client;
  CHECK(client.post(https_request(server.port(), ca_file)).status == 200);
  test::test_ca other_ca{"Another test CA"};
  pki.write("replaced.pem", other_ca.certificate_pem());
  test::touch_later(ca_file);
  auto result = client.post(https_request(server.port(), ca_file));
  CHECK(result.failure_class == "tls");
  CHECK(server.requests().size() == 1);
  CHECK(server.connections() == 2);
}

TEST_CASE("a plain HTTP server on an https URL fails with class tls") {
  loopback_server server{answer_all(200)};
  tls_fixture pki;
  client_fixture client;
  auto result
      = client.post(https_request(server.port(), pki.ca_file, "127.0.0.1"));
  CHECK(result.failure_class == "tls");
  CHECK(result.detail.starts_with("TLS handshake with https://127.0.0.1:"));
}

TEST_CASE("a TLS handshake that never ends times out") {
  loopback_server server{
      [](tcp::socket, loopback_server&) -> asio::awaitable<void> {
        co_await sleep_for(60s);
      }};
  tls_fixture pki;
  client_fixture client;
  auto request = https_request(server.port(), pki.ca_file, "127.0.0.1");
  request.timeout = 300ms;
  auto result = client.post(std::move(request));
  CHECK(result.failure_class == "timeout");
  CHECK(result.detail
        == "TLS handshake with https://127.0.0.1:"
               + std::to_string(server.port()) + " timed out after 300 ms");
  CHECK(result.latency_us >= 300'000);
}

TEST_CASE("a reused TLS connection cut before the response is resent") {
  tls_fixture pki;
  tls_server_options options;
  options.drop_request = 2;
  tls_server server{pki.server_identity, options};
  client_fixture client;
  CHECK(client.post(https_request(server.port(), pki.ca_file)).status == 200);
  auto result = client.post(https_request(server.port(), pki.ca_file));
  CHECK(result.status == 200);
  CHECK(result.failure_class == "");
  CHECK(server.connections() == 2);
  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1]["webhook-id"] == requests[2]["webhook-id"]);
}

TEST_CASE("a TLS connection closed by the server while idle is not reused") {
  tls_fixture pki;
  tls_server_options options;
  options.responses_per_connection = 1;
  tls_server server{pki.server_identity, options};
  client_fixture client;
  for (int i = 0; i < 3; ++i) {
    auto result = client.post(https_request(server.port(), pki.ca_file));
    CAPTURE(result.detail);
    CHECK(result.status == 200);
    // Gives the close_notify alert time to arrive before the next request,
    // which then opens a new connection at once instead of resending.
    std::this_thread::sleep_for(50ms);
  }
  CHECK(server.requests().size() == 3);
  CHECK(server.connections() == 3);
}

TEST_CASE("every key signs the request") {
  tls_fixture pki;
  tls_server server{pki.server_identity};
  client_fixture client;
  auto keys = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{std::string(32, 'k'), std::string(24, 'r')});
  auto request = https_request(server.port(), pki.ca_file);
  request.signing_keys = keys;
  CHECK(client.post(std::move(request)).status == 200);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  auto text = signed_text(requests[0]);
  CHECK(text.starts_with("5-a1b2c3-1."));
  CHECK(requests[0]["webhook-signature"]
        == expected_signature((*keys)[0], text) + " "
               + expected_signature((*keys)[1], text));
}

TEST_CASE("a request without keys has no signature header") {
  loopback_server server{answer_all(200)};
  client_fixture client;
  http_request request;
  request.target = target_of(url_of(server));
  request.signing_keys = std::make_shared<const std::vector<std::string>>();
  CHECK(client.post(std::move(request)).status == 200);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].count("webhook-signature") == 0);
}

TEST_CASE("a resent request is signed for its new timestamp") {
  loopback_server server{
      [](tcp::socket socket, loopback_server& server) -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        co_await server.read_request(socket, buffer);
        co_await write_response(socket, 200);
        if (server.connections() == 1) {
          co_await server.read_request(socket, buffer);
          // Waits into the next second, so that the resent request has a
          // later timestamp.
          co_await sleep_for(1100ms);
          socket.close();
          co_return;
        }
        co_await sleep_for(60s);
      }};
  client_fixture client;
  auto key = std::string(32, 'k');
  auto keys = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{key});
  for (int i = 0; i < 2; ++i) {
    http_request request;
    request.target = target_of(url_of(server));
    request.signing_keys = keys;
    request.timeout = 3s;
    CHECK(client.post(std::move(request)).status == 200);
  }
  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1]["webhook-timestamp"] != requests[2]["webhook-timestamp"]);
  for (const auto& request : requests)
    CHECK(request["webhook-signature"]
          == expected_signature(key, signed_text(request)));
}
