#include "actors/registry_connection.hpp"

#include "actors/log.hpp"
#include "protocol/registry_frame.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <stdexcept>
#include <utility>

namespace pilot::actors {

registry_transport::~registry_transport() = default;

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view log_component = "registry-client";

std::string seconds_text(std::chrono::milliseconds duration) {
  auto ms = duration.count();
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

class registry_connection final
    : public registry_transport,
      public std::enable_shared_from_this<registry_connection> {
public:
  registry_connection(asio::io_context& io, registry_connection_options options,
                      registry_reply_sink sink, std::string host,
                      std::string port)
      : options_(std::move(options)), sink_(std::move(sink)),
        host_(std::move(host)), port_(std::move(port)),
        strand_(asio::make_strand(io)), resolver_(strand_), socket_(strand_),
        connect_timer_(strand_), backoff_(options_.initial_backoff) {}

  void send(std::uint64_t request_id, std::string body,
            std::chrono::milliseconds deadline) override {
    asio::post(strand_, [self = shared_from_this(), request_id,
                         body = std::move(body), deadline]() mutable {
      self->do_enqueue(request_id, std::move(body), deadline);
    });
  }

  void close() override {
    asio::post(strand_, [self = shared_from_this()] { self->do_close(); });
  }

private:
  enum class phase {
    disconnected, ///< No socket; the next request starts a connection.
    backing_off,  ///< Waiting before the next connection attempt.
    connecting,   ///< Resolving or connecting, under `connect_timer_`.
    connected,    ///< Idle connection.
    exchanging,   ///< The head request is written or its response read.
  };

  struct request {
    request(const asio::strand<asio::io_context::executor_type>& strand,
            std::uint64_t request_id, std::string request_frame)
        : id(request_id), frame(std::move(request_frame)), deadline(strand) {}

    std::uint64_t id;
    std::string frame;
    asio::steady_timer deadline;
    std::size_t connect_failures = 0;
    std::size_t sends = 0;
  };

  using request_list = std::deque<std::unique_ptr<request>>;

  // -- queue ------------------------------------------------------------------

  void do_enqueue(std::uint64_t id, std::string body,
                  std::chrono::milliseconds deadline) {
    if (closed_)
      return;
    if (queue_.size() >= options_.max_queued) {
      reply_unsent(id, "too many registry requests waiting (maximum "
                           + std::to_string(options_.max_queued) + ")");
      return;
    }
    if (body.size() > protocol::max_registry_body_size) {
      reply_unsent(id, "registry request too large ("
                           + std::to_string(body.size()) + " bytes, maximum "
                           + std::to_string(protocol::max_registry_body_size)
                           + ")");
      return;
    }
    auto& req = queue_.emplace_back(std::make_unique<request>(
        strand_, id, protocol::encode_registry_frame(body)));
    req->deadline.expires_after(deadline);
    req->deadline.async_wait(
        [self = shared_from_this(), id, deadline](error_code ec) {
          if (!ec)
            self->on_deadline(id, deadline);
        });
    pump();
  }

  // Starts whatever the head request needs next: a connection or the
  // exchange. Does nothing while a step is already running.
  void pump() {
    if (closed_ || queue_.empty())
      return;
    if (phase_ == phase::connected)
      do_write();
    else if (phase_ == phase::disconnected)
      do_connect();
  }

  void on_deadline(std::uint64_t id, std::chrono::milliseconds deadline) {
    auto i = find(id);
    if (i == queue_.end())
      return;
    // The response may still arrive, and on a strict request/response stream
    // it would be taken for the next request's, so the connection goes.
    if (i == queue_.begin() && phase_ == phase::exchanging)
      reset_connection();
    auto reason = "registry " + options_.address + " did not respond within "
                  + seconds_text(deadline);
    if (failed_attempts_ > 0)
      reason += " (last connection error: " + last_connect_error_ + ")";
    finish(i, {id, {}, std::move(reason), true});
    pump();
  }

  request_list::iterator find(std::uint64_t id) {
    return std::find_if(queue_.begin(), queue_.end(),
                        [id](const auto& req) { return req->id == id; });
  }

  void finish(request_list::iterator i, registry_reply result) {
    (*i)->deadline.cancel();
    queue_.erase(i);
    reply(std::move(result));
  }

  void reply(registry_reply result) {
    caf::anon_send(sink_, std::move(result));
  }

  void reply_unsent(std::uint64_t id, std::string reason) {
    registry_reply result{id, {}, std::move(reason)};
    result.unsent = true;
    reply(std::move(result));
  }

  // -- connecting -------------------------------------------------------------

  void do_connect() {
    auto now = clock_type::now();
    if (now < next_attempt_) {
      phase_ = phase::backing_off;
      connect_timer_.expires_at(next_attempt_);
      connect_timer_.async_wait(
          [self = shared_from_this(), gen = generation_](error_code ec) {
            if (!ec && gen == self->generation_) {
              self->phase_ = phase::disconnected;
              self->pump();
            }
          });
      return;
    }
    phase_ = phase::connecting;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(),
                               gen = generation_](error_code ec) {
      if (!ec && gen == self->generation_)
        self->on_connect_failed("timed out after "
                                + seconds_text(self->options_.connect_timeout));
    });
    resolver_.async_resolve(
        host_, port_,
        [self = shared_from_this(), gen = generation_](
            error_code ec, tcp::resolver::results_type results) {
          self->on_resolve(gen, ec, std::move(results));
        });
  }

  void on_resolve(std::uint64_t gen, error_code ec,
                  tcp::resolver::results_type results) {
    if (gen != generation_)
      return;
    if (ec) {
      on_connect_failed(ec.message());
      return;
    }
    asio::async_connect(
        socket_, results,
        [self = shared_from_this(), gen](error_code ec, const tcp::endpoint&) {
          self->on_connect(gen, ec);
        });
  }

  void on_connect(std::uint64_t gen, error_code ec) {
    if (gen != generation_)
      return;
    if (ec) {
      on_connect_failed(ec.message());
      return;
    }
    connect_timer_.cancel();
    socket_.set_option(tcp::no_delay{true}, ec);
    phase_ = phase::connected;
    if (failed_attempts_ > 0)
      log::info(log_component, "registry-connected",
                "connected to the registry after failed attempts",
                {{"registry", options_.address},
                 {"failed_attempts", std::to_string(failed_attempts_)}});
    else
      log::debug(log_component, "registry-connected",
                 "connected to the registry", {{"registry", options_.address}});
    failed_attempts_ = 0;
    backoff_ = options_.initial_backoff;
    pump();
  }

  void on_connect_failed(const std::string& reason) {
    reset_connection();
    // One warning per outage; the repeats go to the debug level.
    auto lvl = failed_attempts_ == 0 ? log::level::warn : log::level::debug;
    ++failed_attempts_;
    last_connect_error_ = reason;
    log::write(lvl, log_component, "registry-connect-failed",
               "cannot connect to the registry",
               {{"registry", options_.address},
                {"error", reason},
                {"backoff", seconds_text(backoff_)}});
    next_attempt_ = clock_type::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    if (!queue_.empty()) {
      auto& head = *queue_.front();
      if (++head.connect_failures >= options_.max_connect_attempts) {
        registry_reply failure{head.id,
                               {},
                               "cannot connect to registry " + options_.address
                                   + ": " + reason};
        if (head.connect_failures > 1)
          failure.error
              += " (" + std::to_string(head.connect_failures) + " attempts)";
        finish(queue_.begin(), std::move(failure));
      }
    }
    pump();
  }

  // Closes the socket and stops every step in progress. Handlers of those
  // steps see a newer generation and do nothing.
  void reset_connection() {
    ++generation_;
    error_code ignored;
    resolver_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    connect_timer_.cancel();
    phase_ = phase::disconnected;
  }

  // -- exchange ---------------------------------------------------------------

  void do_write() {
    phase_ = phase::exchanging;
    auto& head = *queue_.front();
    ++head.sends;
    asio::async_write(socket_, asio::buffer(head.frame),
                      [self = shared_from_this(),
                       gen = generation_](error_code ec, std::size_t) {
                        self->on_write(gen, ec);
                      });
  }

  void on_write(std::uint64_t gen, error_code ec) {
    if (gen != generation_)
      return;
    if (ec) {
      on_exchange_failed("write failed: " + ec.message());
      return;
    }
    asio::async_read(
        socket_, asio::buffer(header_),
        [self = shared_from_this(), gen](error_code ec, std::size_t) {
          self->on_read_header(gen, ec);
        });
  }

  void on_read_header(std::uint64_t gen, error_code ec) {
    if (gen != generation_)
      return;
    if (ec) {
      on_exchange_failed(read_error_text(ec));
      return;
    }
    auto size = protocol::decode_registry_frame_header(header_);
    if (!size) {
      on_exchange_failed("invalid response frame: " + size.error().message());
      return;
    }
    body_.resize(*size);
    asio::async_read(
        socket_, asio::buffer(body_),
        [self = shared_from_this(), gen](error_code ec, std::size_t) {
          self->on_read_body(gen, ec);
        });
  }

  void on_read_body(std::uint64_t gen, error_code ec) {
    if (gen != generation_)
      return;
    if (ec) {
      on_exchange_failed(read_error_text(ec));
      return;
    }
    phase_ = phase::connected;
    auto id = queue_.front()->id;
    finish(queue_.begin(), {id, std::move(body_), {}});
    body_.clear();
    pump();
  }

  static std::string read_error_text(error_code ec) {
    if (ec == asio::error::eof)
      return "the registry closed the connection";
    return "read failed: " + ec.message();
  }

  // A request whose connection failed before its response arrived is sent
  // once more on a new connection; a second such failure fails it.
  void on_exchange_failed(const std::string& reason) {
    reset_connection();
    auto& head = *queue_.front();
    log::debug(log_component, "registry-exchange-failed",
               "registry connection failed during a request",
               {{"registry", options_.address},
                {"error", reason},
                {"sends", std::to_string(head.sends)}});
    if (head.sends >= 2) {
      registry_reply failure{head.id,
                             {},
                             "connection to registry " + options_.address
                                 + " failed: " + reason};
      finish(queue_.begin(), std::move(failure));
    }
    pump();
  }

  void do_close() {
    if (closed_)
      return;
    closed_ = true;
    reset_connection();
    for (auto& req : queue_)
      req->deadline.cancel();
    queue_.clear();
  }

  registry_connection_options options_;
  registry_reply_sink sink_;
  std::string host_;
  std::string port_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer connect_timer_;
  request_list queue_;
  phase phase_ = phase::disconnected;
  std::uint64_t generation_ = 0;
  std::chrono::milliseconds backoff_;
  clock_type::time_point next_attempt_{};
  /// Failed connection attempts since the last connection, and the error
  /// of the latest one.
  std::size_t failed_attempts_ = 0;
  std::string last_connect_error_;
  std::array<std::uint8_t, protocol::registry_frame_header_size> header_{};
  std::string body_;
  bool closed_ = false;
};

} // namespace

bool split_host_port(std::string_view address, std::string& host,
                     std::string& port) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos)
    return false;
  auto host_part = address.substr(0, colon);
  auto port_part = address.substr(colon + 1);
  if (host_part.size() >= 2 && host_part.front() == '['
      && host_part.back() == ']')
    host_part = host_part.substr(1, host_part.size() - 2);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_part.data(),
                                   port_part.data() + port_part.size(), value);
  if (host_part.empty() || port_part.empty() || ec != std::errc{}
      || end != port_part.data() + port_part.size() || value == 0
      || value > 65535)
    return false;
  host.assign(host_part);
  port.assign(port_part);
  return true;
}

std::shared_ptr<registry_transport>
make_registry_connection(boost::asio::io_context& io,
                         registry_connection_options options,
                         registry_reply_sink sink) {
  std::string host;
  std::string port;
  if (!split_host_port(options.address, host, port))
    throw std::invalid_argument("invalid registry address \"" + options.address
                                + "\": expected host:port");
  return std::make_shared<registry_connection>(io, std::move(options),
                                               std::move(sink), std::move(host),
                                               std::move(port));
}

} // namespace pilot::actors
