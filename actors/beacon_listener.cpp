#include "actors/beacon_listener.hpp"

#include "actors/log.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/socket_base.hpp>

namespace pilot::actors {

namespace {

using boost::asio::ip::udp;

constexpr std::string_view component = "beacon";

// Delay before receiving again after an unexpected receive error, so that a
// persistent error cannot spin the thread.
constexpr auto receive_retry_delay = std::chrono::milliseconds{100};

// Converts `destination` to the socket's address family: an IPv4 address
// becomes IPv4-mapped on an IPv6 socket. Returns false for an IPv6
// destination on an IPv4 socket.
bool fit_to_family(udp::endpoint& destination, const udp& family) {
  const auto& ip = destination.address();
  if (family == udp::v6() && ip.is_v4()) {
    destination.address(boost::asio::ip::make_address_v6(
        boost::asio::ip::v4_mapped, ip.to_v4()));
    return true;
  }
  if (family == udp::v4() && ip.is_v6()) {
    if (!ip.to_v6().is_v4_mapped())
      return false;
    destination = unmap_endpoint(destination);
  }
  return true;
}

} // namespace

beacon_listener::beacon_listener(boost::asio::io_context& io,
                                 beacon_service& service,
                                 beacon_listener_config config)
    : service_(service), config_(config), socket_(io), receive_retry_(io),
      sync_timer_(io) {
  // nop
}

boost::system::error_code beacon_listener::listen(const udp::endpoint& at) {
  boost::system::error_code ec;
  socket_.open(at.protocol(), ec);
  // Without IPv6 support, the wildcard falls back to IPv4 only.
  if (ec && at.address().is_v6() && at.address().is_unspecified())
    return listen(udp::endpoint{udp::v4(), at.port()});
  if (ec)
    return ec;
  protocol_ = at.protocol();
  // The IPv6 wildcard also receives from IPv4 peers, as Go's ":port" does.
  if (at.address().is_v6() && at.address().is_unspecified())
    socket_.set_option(boost::asio::ip::v6_only(false), ec);
  if (!ec)
    socket_.bind(at, ec);
  if (ec) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    return ec;
  }
  // A smaller buffer than requested only means more drops under load.
  boost::system::error_code buffer_error;
  socket_.set_option(
      boost::asio::socket_base::receive_buffer_size{
          config_.receive_buffer_size},
      buffer_error);
  if (buffer_error)
    log::warn(component, "receive-buffer-failed",
              "cannot set the socket's receive buffer size",
              {{"bytes", std::to_string(config_.receive_buffer_size)},
               {"error", buffer_error.message()}});
  return {};
}

udp::endpoint beacon_listener::local_endpoint() const {
  boost::system::error_code ec;
  return socket_.local_endpoint(ec);
}

void beacon_listener::start() {
  log::info(component, "beacon-listening", "beacon receives datagrams",
            {{"address", format_endpoint(local_endpoint())},
             {"beacon_id", std::to_string(service_.config().beacon_id)},
             {"peers", std::to_string(service_.config().peers.size())}});
  last_stats_log_ = std::chrono::steady_clock::now();
  do_receive();
  do_sync();
}

void beacon_listener::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  receive_retry_.cancel();
  sync_timer_.cancel();
  log_stats();
  log::info(component, "beacon-stopped", "beacon stopped",
            {{"nodes", std::to_string(service_.node_count())}});
}

void beacon_listener::do_receive() {
  if (stopped_)
    return;
  socket_.async_receive_from(
      boost::asio::buffer(buffer_), sender_,
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  std::size_t size) {
        self->on_receive(ec, size);
      });
}

void beacon_listener::on_receive(const boost::system::error_code& ec,
                                 std::size_t size) {
  if (stopped_ || ec == boost::asio::error::operation_aborted)
    return;
  if (ec) {
    // An ICMP error from an earlier send can surface here; it concerns
    // that destination only, so keep receiving after a short pause.
    ++stats_.receive_errors;
    log::debug(component, "receive-failed", "cannot receive a datagram",
               {{"error", ec.message()}});
    receive_retry_.expires_after(receive_retry_delay);
    receive_retry_.async_wait(
        [self = shared_from_this()](const boost::system::error_code& wait_ec) {
          if (!wait_ec)
            self->do_receive();
        });
    return;
  }
  ++stats_.received;
  auto replies = service_.handle(std::span{buffer_.data(), size}, sender_,
                                 beacon_service::clock::now());
  for (auto& reply : replies)
    enqueue(std::move(reply));
  do_receive();
}

void beacon_listener::enqueue(outgoing_datagram datagram) {
  if (queue_.size() >= config_.max_queued_datagrams
      || queued_bytes_ + datagram.bytes.size() > config_.max_queued_bytes) {
    ++stats_.queue_full;
    log::debug(component, "send-queue-full", "dropped an outgoing datagram",
               {{"destination", format_endpoint(datagram.destination)},
                {"size", std::to_string(datagram.bytes.size())}});
    return;
  }
  if (!fit_to_family(datagram.destination, protocol_)) {
    ++stats_.send_errors;
    log::debug(component, "send-failed",
               "cannot send to an IPv6 address from an IPv4 socket",
               {{"destination", format_endpoint(datagram.destination)}});
    return;
  }
  queued_bytes_ += datagram.bytes.size();
  queue_.push_back(std::move(datagram));
  if (!sending_)
    do_send();
}

void beacon_listener::do_send() {
  if (stopped_ || queue_.empty()) {
    sending_ = false;
    return;
  }
  sending_ = true;
  const auto& next = queue_.front();
  socket_.async_send_to(boost::asio::buffer(next.bytes), next.destination,
                        [self = shared_from_this()](
                            const boost::system::error_code& ec,
                            std::size_t size) { self->on_send(ec, size); });
}

void beacon_listener::on_send(const boost::system::error_code& ec,
                              std::size_t) {
  if (stopped_ || ec == boost::asio::error::operation_aborted)
    return;
  auto& sent = queue_.front();
  if (ec) {
    ++stats_.send_errors;
    log::debug(component, "send-failed", "cannot send a datagram",
               {{"destination", format_endpoint(sent.destination)},
                {"error", ec.message()}});
  } else {
    ++stats_.sent;
  }
  queued_bytes_ -= sent.bytes.size();
  queue_.pop_front();
  do_send();
}

void beacon_listener::do_sync() {
  sync_timer_.expires_after(config_.sync_interval);
  sync_timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) {
        self->on_sync(ec);
      });
}

void beacon_listener::on_sync(const boost::system::error_code& ec) {
  if (ec || stopped_)
    return;
  auto now = beacon_service::clock::now();
  service_.expire(now);
  for (auto& sync : service_.sync_datagrams(now))
    enqueue(std::move(sync));
  if (now - last_stats_log_ >= config_.stats_interval) {
    last_stats_log_ = now;
    log_stats();
  }
  do_sync();
}

// Logs the counters when they changed. Called once per stats interval and
// on stop, so that an operator sees drops without one line per datagram.
void beacon_listener::log_stats() {
  const auto& served = service_.stats();
  auto counters = std::array{
      served.datagrams,      served.malformed,          served.unexpected,
      served.rate_limited,   served.takeovers_rejected, served.table_full,
      served.punches,        served.relays_delivered,   served.relays_forwarded,
      served.relays_dropped, served.syncs_accepted,     served.syncs_rejected,
      served.expired,        stats_.queue_full,         stats_.send_errors,
      stats_.receive_errors};
  if (counters == last_logged_)
    return;
  last_logged_ = counters;
  log::info(component, "beacon-stats", "beacon counters",
            {{"nodes", std::to_string(service_.node_count())},
             {"peer_nodes", std::to_string(service_.peer_node_count())},
             {"datagrams", std::to_string(served.datagrams)},
             {"malformed", std::to_string(served.malformed)},
             {"unexpected", std::to_string(served.unexpected)},
             {"rate_limited", std::to_string(served.rate_limited)},
             {"takeovers_rejected", std::to_string(served.takeovers_rejected)},
             {"table_full", std::to_string(served.table_full)},
             {"punches", std::to_string(served.punches)},
             {"relays_delivered", std::to_string(served.relays_delivered)},
             {"relays_forwarded", std::to_string(served.relays_forwarded)},
             {"relays_dropped", std::to_string(served.relays_dropped)},
             {"syncs_accepted", std::to_string(served.syncs_accepted)},
             {"syncs_rejected", std::to_string(served.syncs_rejected)},
             {"expired", std::to_string(served.expired)},
             {"send_queue_full", std::to_string(stats_.queue_full)},
             {"send_errors", std::to_string(stats_.send_errors)},
             {"receive_errors", std::to_string(stats_.receive_errors)}});
}

} // namespace pilot::actors
