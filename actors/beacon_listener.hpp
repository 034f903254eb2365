#pragma once

#include "actors/beacon_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

namespace pilot::actors {

/// Tunables of the beacon's UDP socket.
struct beacon_listener_config {
  /// How often the beacon sends Syncs to its peers and removes expired
  /// entries. The reference sends a Sync every 10 s.
  std::chrono::seconds sync_interval{10};
  /// How often the counters are logged, when they changed.
  std::chrono::seconds stats_interval{60};
  /// Maximum number of datagrams, and of their bytes, waiting to be sent.
  /// Datagrams beyond either limit are dropped.
  std::size_t max_queued_datagrams = 4096;
  std::size_t max_queued_bytes = 16 * 1024 * 1024;
  /// Receive buffer size requested from the kernel, in bytes.
  int receive_buffer_size = 4 * 1024 * 1024;
};

/// Counters of the socket since it started.
struct beacon_listener_stats {
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  /// Datagrams dropped because the send queue was full.
  std::uint64_t queue_full = 0;
  /// Datagrams the socket failed to send, including IPv6 destinations on an
  /// IPv4 socket.
  std::uint64_t send_errors = 0;
  std::uint64_t receive_errors = 0;
};

/// The beacon's UDP server: receives each datagram, hands it to a
/// `beacon_service` and queues the datagrams it returns. Runs on one
/// io_context thread, which is why `beacon_service` needs no locks. A
/// datagram that cannot be decoded is counted and dropped by the service.
/// A timer sends Syncs to the peers and removes expired entries.
class beacon_listener : public std::enable_shared_from_this<beacon_listener> {
public:
  beacon_listener(boost::asio::io_context& io, beacon_service& service,
                  beacon_listener_config config);

  /// Opens and binds the socket at `at`. For the IPv6 wildcard address it
  /// receives IPv4 too.
  boost::system::error_code listen(const boost::asio::ip::udp::endpoint& at);

  /// Returns the bound address, with the actual port when 0 was requested.
  boost::asio::ip::udp::endpoint local_endpoint() const;

  /// Starts receiving and the Sync timer.
  void start();

  /// Closes the socket and cancels the timers. Unsent datagrams are dropped
  /// and the io_context then runs out of work.
  void stop();

  const beacon_listener_stats& stats() const noexcept { return stats_; }

private:
  void do_receive();
  void on_receive(const boost::system::error_code& ec, std::size_t size);
  void enqueue(outgoing_datagram datagram);
  void do_send();
  void on_send(const boost::system::error_code& ec, std::size_t size);
  void do_sync();
  void on_sync(const boost::system::error_code& ec);
  void log_stats();

  beacon_service& service_;
  beacon_listener_config config_;
  boost::asio::ip::udp::socket socket_;
  /// The socket's address family, which every destination is converted to.
  boost::asio::ip::udp protocol_ = boost::asio::ip::udp::v4();
  boost::asio::steady_timer receive_retry_;
  boost::asio::steady_timer sync_timer_;
  std::array<std::uint8_t, 65535> buffer_{};
  boost::asio::ip::udp::endpoint sender_;
  std::deque<outgoing_datagram> queue_;
  std::size_t queued_bytes_ = 0;
  bool sending_ = false;
  bool stopped_ = false;
  beacon_listener_stats stats_;
  std::chrono::steady_clock::time_point last_stats_log_{};
  /// The counters as last logged, to log only changes.
  std::array<std::uint64_t, 16> last_logged_{};
};

} // namespace pilot::actors
