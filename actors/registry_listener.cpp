#include "actors/registry_listener.hpp"

#include "actors/atomic_file.hpp"
#include "actors/log.hpp"
#include "protocol/registry_frame.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <utility>

namespace pilot::actors {

namespace {

using boost::asio::ip::tcp;

constexpr std::string_view component = "registry";

std::string to_string(const tcp::endpoint& endpoint) {
  auto ip = endpoint.address();
  auto host = ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

} // namespace

// -- session ------------------------------------------------------------------

/// One client connection: reads a frame, lets the listener handle it, writes
/// the response, and repeats. Owned by the handlers in flight through
/// `shared_from_this`; the listener keeps only a weak reference to close it.
/// One deadline runs at a time: `idle_timeout` from the accept or the last
/// response until the next frame is complete, then `write_timeout` for the
/// response.
class registry_session : public std::enable_shared_from_this<registry_session> {
public:
  registry_session(tcp::socket socket,
                   std::shared_ptr<registry_listener> listener,
                   source_info source)
      : socket_(std::move(socket)), deadline_(socket_.get_executor()),
        listener_(std::move(listener)), source_(std::move(source)) {
    // nop
  }

  void start() {
    deadline_.expires_after(listener_->config().idle_timeout);
    on_deadline({});
    do_read();
  }

  /// Returns the bytes of the unfinished frame this session holds.
  std::size_t partial_frame_size() const noexcept { return partial_size_; }

  /// Returns the client's IP address as text.
  std::string source_address() const { return source_.ip.to_string(); }

  /// Closes the socket and cancels the deadline; the handlers in flight
  /// then finish with errors and release the session.
  void close(std::string_view reason) {
    if (closed_)
      return;
    closed_ = true;
    log::debug(
        component, "connection-closed", "closed a registry connection",
        {{"source", source_.ip.to_string()}, {"reason", std::string{reason}}});
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    deadline_.cancel();
    listener_->on_partial_frame_released(std::exchange(partial_size_, 0));
    listener_->on_session_closed(this, source_.ip);
  }

private:
  // Reads without moving the deadline, which bounds the whole frame.
  void do_read() {
    socket_.async_read_some(
        boost::asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (ec) {
      close(ec == boost::asio::error::eof ? "peer closed" : ec.message());
      return;
    }
    pending_ = std::string_view{buffer_.data(), n};
    process_pending();
  }

  // Feeds buffered bytes to the decoder until a body is complete, handles it
  // and writes the response; reads again once the buffer is used up.
  void process_pending() {
    while (!pending_.empty()) {
      auto used = decoder_.feed(pending_);
      if (!used) {
        ++listener_->stats().bad_frames;
        close("invalid frame length: " + used.error().message());
        return;
      }
      pending_.remove_prefix(*used);
      if (!decoder_.has_body()) {
        if (!hold_partial_frame(*used))
          return;
        continue;
      }
      listener_->on_partial_frame_released(std::exchange(partial_size_, 0));
      auto response = listener_->handle(decoder_.pop_body(), source_);
      if (!response) {
        ++listener_->stats().malformed_bodies;
        close("body is not a JSON object");
        return;
      }
      do_write(protocol::encode_registry_frame(*response));
      return;
    }
    do_read();
  }

  void do_write(std::string frame) {
    out_ = std::move(frame);
    deadline_.expires_after(listener_->config().write_timeout);
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    std::size_t n) { self->on_write(ec, n); });
  }

  void on_write(const boost::system::error_code& ec, std::size_t) {
    if (ec) {
      close(ec.message());
      return;
    }
    out_.clear();
    deadline_.expires_after(listener_->config().idle_timeout);
    process_pending();
  }

  // Counts `n` more bytes of the unfinished frame against the listener's
  // budget. Returns false when that closed this session.
  bool hold_partial_frame(std::size_t n) {
    partial_size_ += n;
    listener_->on_partial_frame_grown(n);
    return !closed_;
  }

  // Runs until the session closes: each time the deadline passes without
  // being moved, the connection has been idle (or stuck writing) too long.
  void on_deadline(const boost::system::error_code&) {
    if (closed_)
      return;
    if (deadline_.expiry() <= std::chrono::steady_clock::now()) {
      if (out_.empty())
        ++listener_->stats().idle_timeouts;
      if (!out_.empty())
        close("write timeout");
      else
        close(partial_size_ > 0 ? "request frame incomplete at the idle timeout"
                                : "idle timeout");
      return;
    }
    deadline_.async_wait(
        [self = shared_from_this()](const boost::system::error_code& ec) {
          self->on_deadline(ec);
        });
  }

  tcp::socket socket_;
  boost::asio::steady_timer deadline_;
  std::shared_ptr<registry_listener> listener_;
  source_info source_;
  std::array<char, 16 * 1024> buffer_{};
  std::string_view pending_;
  protocol::registry_frame_decoder decoder_;
  std::size_t partial_size_ = 0;
  std::string out_;
  bool closed_ = false;
};

// -- listen address -----------------------------------------------------------

tcp::endpoint parse_listen_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    throw std::invalid_argument("listen address needs a port: "
                                + std::string{text});
  auto host = std::string{text.substr(0, colon)};
  auto port_text = text.substr(colon + 1);
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{}
      || end != port_text.data() + port_text.size())
    throw std::invalid_argument("invalid port in listen address: "
                                + std::string{text});
  if (host.empty())
    return {tcp::v6(), port};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code parse_error;
  auto ip = boost::asio::ip::make_address(host, parse_error);
  if (!parse_error)
    return {ip, port};
  // A host name such as "localhost": resolve it once, at start-up.
  boost::asio::io_context io;
  tcp::resolver resolver{io};
  boost::system::error_code resolve_error;
  auto results
      = resolver.resolve(host, std::to_string(port),
                         tcp::resolver::numeric_service, resolve_error);
  if (resolve_error || results.empty())
    throw std::invalid_argument("cannot resolve listen host " + host + ": "
                                + resolve_error.message());
  return results.begin()->endpoint();
}

// -- listener -----------------------------------------------------------------

registry_listener::registry_listener(boost::asio::io_context& io,
                                     registry_service& service,
                                     registry_listener_config config)
    : service_(service), config_(std::move(config)), acceptor_(io),
      accept_retry_(io), reap_timer_(io), save_timer_(io) {
  // nop
}

boost::system::error_code registry_listener::listen(const tcp::endpoint& at) {
  boost::system::error_code ec;
  acceptor_.open(at.protocol(), ec);
  // Without IPv6 support, the wildcard falls back to IPv4 only.
  if (ec && at.address().is_v6() && at.address().is_unspecified())
    return listen(tcp::endpoint{tcp::v4(), at.port()});
  if (ec)
    return ec;
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  // The IPv6 wildcard also takes IPv4 clients, as Go's ":port" does.
  if (at.address().is_v6() && at.address().is_unspecified())
    acceptor_.set_option(boost::asio::ip::v6_only(false), ec);
  if (!ec)
    acceptor_.bind(at, ec);
  if (!ec)
    acceptor_.listen(tcp::socket::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  return ec;
}

tcp::endpoint registry_listener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void registry_listener::start() {
  log::info(component, "registry-listening", "registry accepts connections",
            {{"address", to_string(local_endpoint())},
             {"store", config_.store_path.string()}});
  do_accept();
  do_reap();
  if (!config_.store_path.empty())
    do_save();
}

void registry_listener::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  reap_timer_.cancel();
  save_timer_.cancel();
  // Closing a session removes it from the map, so close a copy.
  auto sessions = sessions_;
  for (auto& [raw, weak] : sessions)
    if (auto session = weak.lock())
      session->close("registry stopping");
  save_if_dirty();
  log_stats();
  log::info(component, "registry-stopped", "registry stopped",
            {{"nodes", std::to_string(service_.node_count())}});
}

bool registry_listener::save_if_dirty() {
  if (config_.store_path.empty() || !service_.dirty())
    return true;
  auto ec = write_file_atomically(config_.store_path, service_.snapshot());
  if (ec) {
    ++stats_.failed_saves;
    log::error(
        component, "store-save-failed", "cannot write the store",
        {{"path", config_.store_path.string()}, {"error", ec.message()}});
    return false;
  }
  service_.mark_saved();
  ++stats_.saves;
  return true;
}

std::optional<std::string>
registry_listener::handle(std::string_view body, const source_info& source) {
  return service_.handle(body, source, registry_service::clock::now());
}

void registry_listener::on_session_closed(registry_session* session,
                                          const boost::asio::ip::address& ip) {
  sessions_.erase(session);
  auto count = connections_per_ip_.find(ip);
  if (count != connections_per_ip_.end() && --count->second == 0)
    connections_per_ip_.erase(count);
}

void registry_listener::on_partial_frame_grown(std::size_t n) {
  partial_frame_bytes_ += n;
  while (partial_frame_bytes_ > config_.max_partial_frame_bytes) {
    std::shared_ptr<registry_session> largest;
    for (auto& [raw, weak] : sessions_) {
      auto session = weak.lock();
      if (session
          && (!largest
              || session->partial_frame_size() > largest->partial_frame_size()))
        largest = std::move(session);
    }
    if (!largest || largest->partial_frame_size() == 0)
      return;
    // The first close is a warning; the registry-stats line counts the rest.
    auto lvl = stats_.partial_frame_closes++ == 0 ? log::level::warn
                                                  : log::level::debug;
    log::write(lvl, component, "partial-frames-over-limit",
               "closed the connection with the largest unfinished frame",
               {{"source", largest->source_address()},
                {"frame_bytes", std::to_string(largest->partial_frame_size())},
                {"limit", std::to_string(config_.max_partial_frame_bytes)}});
    largest->close("unfinished frames over the memory limit");
  }
}

void registry_listener::on_partial_frame_released(std::size_t n) noexcept {
  partial_frame_bytes_ -= std::min(n, partial_frame_bytes_);
}

void registry_listener::do_accept() {
  if (stopped_)
    return;
  acceptor_.async_accept(
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  tcp::socket socket) {
        self->on_accept(ec, std::move(socket));
      });
}

void registry_listener::on_accept(const boost::system::error_code& ec,
                                  tcp::socket socket) {
  if (stopped_)
    return;
  if (ec) {
    // Back off 100 ms per consecutive failure, at most 2 s, e.g. while the
    // process is out of file descriptors.
    ++accept_failures_;
    auto delay = std::min(std::chrono::milliseconds{100} * accept_failures_,
                          std::chrono::milliseconds{2000});
    log::warn(
        component, "accept-failed", "cannot accept a connection",
        {{"error", ec.message()}, {"retry_ms", std::to_string(delay.count())}});
    accept_retry_.expires_after(delay);
    accept_retry_.async_wait(
        [self = shared_from_this()](const boost::system::error_code& wait_ec) {
          if (!wait_ec)
            self->do_accept();
        });
    return;
  }
  accept_failures_ = 0;
  boost::system::error_code peer_error;
  auto peer = socket.remote_endpoint(peer_error);
  if (peer_error) {
    do_accept();
    return;
  }
  // Enforce the connection limits before any byte is read.
  auto& per_ip = connections_per_ip_[peer.address()];
  if (sessions_.size() >= config_.max_connections
      || per_ip >= config_.max_connections_per_ip) {
    ++stats_.rejected;
    if (per_ip == 0)
      connections_per_ip_.erase(peer.address());
    log::debug(component, "connection-rejected",
               "closed a connection over the connection limit",
               {{"source", peer.address().to_string()}});
    boost::system::error_code ignored;
    socket.close(ignored);
    do_accept();
    return;
  }
  ++per_ip;
  ++stats_.accepted;
  auto session = std::make_shared<registry_session>(
      std::move(socket), shared_from_this(),
      source_info{peer.address(), peer.port()});
  sessions_.emplace(session.get(), session);
  session->start();
  do_accept();
}

void registry_listener::do_reap() {
  reap_timer_.expires_after(config_.reap_interval);
  reap_timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) {
        self->on_reap(ec);
      });
}

void registry_listener::on_reap(const boost::system::error_code& ec) {
  if (ec || stopped_)
    return;
  service_.reap(registry_service::clock::now());
  log_stats();
  do_reap();
}

void registry_listener::do_save() {
  save_timer_.expires_after(config_.save_interval);
  save_timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) {
        self->on_save(ec);
      });
}

void registry_listener::on_save(const boost::system::error_code& ec) {
  if (ec || stopped_)
    return;
  save_if_dirty();
  do_save();
}

// Logs the counters once per reap interval, and only when they changed, so
// that an operator sees failures and drops without one line per request.
void registry_listener::log_stats() {
  const auto& served = service_.stats();
  auto counters = std::array{served.requests,
                             served.failures,
                             served.bad_signatures,
                             served.rate_limited,
                             served.reaped,
                             stats_.accepted,
                             stats_.rejected,
                             stats_.bad_frames,
                             stats_.malformed_bodies,
                             stats_.idle_timeouts,
                             stats_.partial_frame_closes,
                             stats_.failed_saves};
  if (counters == last_logged_)
    return;
  last_logged_ = counters;
  log::info(
      component, "registry-stats", "registry counters",
      {{"nodes", std::to_string(service_.node_count())},
       {"connections", std::to_string(sessions_.size())},
       {"requests", std::to_string(served.requests)},
       {"failures", std::to_string(served.failures)},
       {"bad_signatures", std::to_string(served.bad_signatures)},
       {"rate_limited", std::to_string(served.rate_limited)},
       {"reaped", std::to_string(served.reaped)},
       {"accepted", std::to_string(stats_.accepted)},
       {"rejected_connections", std::to_string(stats_.rejected)},
       {"bad_frames", std::to_string(stats_.bad_frames)},
       {"malformed_bodies", std::to_string(stats_.malformed_bodies)},
       {"idle_timeouts", std::to_string(stats_.idle_timeouts)},
       {"partial_frame_closes", std::to_string(stats_.partial_frame_closes)},
       {"failed_saves", std::to_string(stats_.failed_saves)}});
}

} // namespace pilot::actors
