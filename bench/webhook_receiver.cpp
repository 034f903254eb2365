// An HTTP/1.1 receiver for the webhook benchmarks, on 127.0.0.1. It reads
// each request with Beast and returns `204 No Content` at once on the same
// keep-alive connection, so that the client under test is what limits the
// rate. With --black-hole it accepts connections and never reads from them
// or writes to them, like an endpoint behind a firewall that lets the TCP
// handshake through and drops everything else.
//
// Usage: webhook_receiver [--port N] [--threads N] [--black-hole]
//                         [--save-request FILE]
//
// Prints `port=N` on stdout once it listens. --save-request writes the
// first request it reads (header block and body, as sent) to FILE, so that
// a load generator can send the same request. On SIGINT or SIGTERM it
// prints `requests=N body_bytes=N connections=N` and exits.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

/// The response to every request. A 204 has no body, so it needs no
/// Content-Length, and HTTP/1.1 keeps the connection open by default.
constexpr std::string_view no_content = "HTTP/1.1 204 No Content\r\n\r\n";

/// Largest request body read; the webhook client's default maximum body is
/// 1 MiB.
constexpr std::uint64_t max_body_size = 1024 * 1024;

/// Connections a black hole keeps open; it closes any beyond them at once.
constexpr std::size_t max_held_connections = 4096;

struct receiver_options {
  std::uint16_t port = 0;
  unsigned threads = 1;
  bool black_hole = false;
  std::string save_request;
};

/// Request, body byte and connection counts, printed at exit.
struct receiver_counters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> body_bytes{0};
  std::atomic<std::uint64_t> connections{0};
};

/// Writes the first request it is given to a file, once.
class request_recorder {
public:
  explicit request_recorder(std::string path) : path_(std::move(path)) {}

  void record(const http::request<http::string_body>& request) {
    if (path_.empty() || saved_.exchange(true))
      return;
    std::ostringstream text;
    text << request;
    std::ofstream out{path_, std::ios::binary};
    out << text.str();
  }

private:
  std::string path_;
  std::atomic<bool> saved_{false};
};

/// One keep-alive connection: read a request, write the 204, repeat. Bench
/// clients close their connections when they finish, so reads wait without a
/// deadline.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, receiver_counters& counters,
          request_recorder& recorder)
      : socket_(std::move(socket)), counters_(counters), recorder_(recorder) {}

  void run() { do_read(); }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(max_body_size);
    http::async_read(
        socket_, buffer_, *parser_,
        beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    // End of stream, a reset or a malformed request: drop the connection.
    if (ec)
      return;
    const auto& request = parser_->get();
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    counters_.body_bytes.fetch_add(request.body().size(),
                                   std::memory_order_relaxed);
    recorder_.record(request);
    keep_alive_ = request.keep_alive();
    asio::async_write(
        socket_, asio::buffer(no_content.data(), no_content.size()),
        beast::bind_front_handler(&session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec)
      return;
    if (!keep_alive_) {
      socket_.shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    do_read();
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  receiver_counters& counters_;
  request_recorder& recorder_;
};

/// Accepts connections and either serves them or, for a black hole, keeps
/// them open without reading.
class listener {
public:
  listener(asio::io_context& io, const receiver_options& options,
           receiver_counters& counters, request_recorder& recorder)
      : io_(io),
        acceptor_(io, {asio::ip::make_address("127.0.0.1"), options.port}),
        black_hole_(options.black_hole), counters_(counters),
        recorder_(recorder) {}

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void do_accept() {
    acceptor_.async_accept(
        asio::make_strand(io_),
        beast::bind_front_handler(&listener::on_accept, this));
  }

  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    std::lock_guard guard{held_mutex_};
    held_.clear();
  }

private:
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted)
      return;
    if (!ec) {
      counters_.connections.fetch_add(1, std::memory_order_relaxed);
      socket.set_option(tcp::no_delay{true}, ec);
      if (black_hole_)
        hold(std::move(socket));
      else
        std::make_shared<session>(std::move(socket), counters_, recorder_)
            ->run();
    }
    do_accept();
  }

  void hold(tcp::socket socket) {
    std::lock_guard guard{held_mutex_};
    if (held_.size() < max_held_connections)
      held_.push_back(std::move(socket));
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  bool black_hole_;
  receiver_counters& counters_;
  request_recorder& recorder_;
  std::mutex held_mutex_;
  std::vector<tcp::socket> held_;
};

receiver_options parse_options(int argc, char** argv) {
  receiver_options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(std::string{arg} + " needs a value");
      return argv[++i];
    };
    if (arg == "--port")
      options.port = static_cast<std::uint16_t>(std::stoul(value()));
    else if (arg == "--threads")
      options.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--black-hole")
      options.black_hole = true;
    else if (arg == "--save-request")
      options.save_request = value();
    else
      throw std::invalid_argument("unknown option " + std::string{arg});
  }
  if (options.threads == 0)
    throw std::invalid_argument("--threads must be at least 1");
  return options;
}

} // namespace

int main(int argc, char** argv) {
  receiver_options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "webhook_receiver: %s\nusage: webhook_receiver [--port N] "
                 "[--threads N] [--black-hole] [--save-request FILE]\n",
                 e.what());
    return 2;
  }
  asio::io_context io{static_cast<int>(options.threads)};
  receiver_counters counters;
  request_recorder recorder{options.save_request};
  listener server{io, options, counters, recorder};
  server.do_accept();
  std::printf("port=%u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](beast::error_code, int) {
    server.stop();
    io.stop();
  });
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < options.threads; ++i)
    threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : threads)
    thread.join();
  std::printf("requests=%llu body_bytes=%llu connections=%llu\n",
              static_cast<unsigned long long>(counters.requests.load()),
              static_cast<unsigned long long>(counters.body_bytes.load()),
              static_cast<unsigned long long>(counters.connections.load()));
}
