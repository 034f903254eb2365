#pragma once

#include "actors/detail/tunnel_peers.hpp"

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace pilot::actors {

/// One datagram of a `datagram_batch`.
struct received_datagram {
  std::uint32_t offset = 0; ///< First byte in `datagram_batch::bytes`.
  std::uint32_t size = 0;
  /// The sender, with an IPv4-mapped IPv6 address turned into IPv4.
  boost::asio::ip::udp::endpoint source;
};

/// The datagrams of one read of the socket, packed into one buffer.
struct datagram_batch {
  std::vector<std::uint8_t> bytes;
  std::vector<received_datagram> datagrams;

  std::span<const std::uint8_t>
  payload(const received_datagram& datagram) const noexcept {
    return std::span{bytes}.subspan(datagram.offset, datagram.size);
  }
};

/// Tunables of `udp_socket`.
struct udp_socket_options {
  /// Datagrams read with one `recvmmsg` call and posted as one batch.
  std::size_t max_batch_datagrams = 64;
  /// Batches posted but not yet processed, the tunnel actor's packet sink
  /// included. Past it the socket stops reading, and the kernel's receive
  /// buffer absorbs or drops what arrives, so a slow consumer never makes
  /// the process grow.
  std::size_t max_batches_in_flight = 8;
  /// Kernel buffer sizes requested for the socket, in bytes; 0 keeps the
  /// system default. The kernel may grant less.
  int receive_buffer_size = 4 * 1024 * 1024;
  int send_buffer_size = 4 * 1024 * 1024;
};

/// The outcome of one `udp_socket::send` call.
struct udp_send_report {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  /// Datagrams the kernel did not take: a full send buffer (EAGAIN), a
  /// destination of the wrong address family or unreachable, or too large.
  std::uint64_t dropped = 0;
  /// The error of the last dropped datagram.
  boost::system::error_code last_error;
};

/// The tunnel's UDP socket. Reading runs on the socket's io_context: once
/// Asio reports the socket readable, a non-blocking `recvmmsg` drains up to
/// `max_batch_datagrams` datagrams of up to 65573 bytes each into one
/// buffer, and the batch goes to the handler as one unit. Sending is a
/// non-blocking `sendmmsg` on the native socket from the caller's thread, so
/// the actor never waits for the io thread.
///
/// Thread safety: `start`, `close` and `batch_done` may be called from any
/// thread; `send` from one thread at a time. Call `close` only after the
/// last `send`, because the descriptor is released then.
class udp_socket : public std::enable_shared_from_this<udp_socket> {
public:
  /// Receives each batch on the io thread. It must return quickly and call
  /// `batch_done` once the batch has been processed, from any thread.
  using batch_handler = std::function<void(datagram_batch)>;

  /// Takes over a bound socket.
  udp_socket(boost::asio::ip::udp::socket socket, udp_socket_options options);

  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;
  ~udp_socket();

  /// Starts reading; each batch goes to `handler`.
  void start(batch_handler handler);

  /// Marks one batch as processed, which lets a paused reader go on.
  void batch_done();

  /// Stops reading and closes the socket on the io thread.
  void close();

  /// Sends each datagram, `head` then `body`, without blocking. Converts
  /// IPv4 destinations for an IPv6 socket.
  udp_send_report send(std::span<const detail::tunnel_datagram> datagrams);

  /// Returns the bound address.
  boost::asio::ip::udp::endpoint local_endpoint() const {
    return local_endpoint_;
  }

  /// Datagrams read but dropped because they were larger than the receive
  /// buffer, and read errors other than "no more data". Read from the io
  /// thread's counters, so the values may lag.
  std::uint64_t receive_drops() const noexcept {
    return receive_drops_.load(std::memory_order_relaxed);
  }

private:
  void do_wait();
  void on_readable(const boost::system::error_code& ec);
  void read_batch();
  void resume();

  boost::asio::ip::udp::socket socket_;
  boost::asio::strand<boost::asio::ip::udp::socket::executor_type> strand_;
  udp_socket_options options_;
  boost::asio::ip::udp::endpoint local_endpoint_;
  int descriptor_ = -1;
  bool is_v6_ = false;
  batch_handler handler_;
  /// Receive buffers of `max_batch_datagrams` datagrams and their
  /// `recvmmsg` headers, reused for every read; touched only on the strand.
  struct receive_area;
  std::unique_ptr<receive_area> receive_;
  std::atomic<std::size_t> batches_in_flight_{0};
  std::atomic<std::uint64_t> receive_drops_{0};
  bool paused_ = false;
  bool closed_ = false;
};

/// Asks the beacon for this socket's public endpoint (a Discover with node
/// ID 0) and waits up to `timeout` for the DiscoverReply from the beacon's
/// address. Because it uses the tunnel socket itself, the reply names the
/// port that peers reach, also when the socket was bound to port 0. Blocks
/// the calling thread, so use it at start-up before the tunnel starts
/// reading. Returns nothing on timeout or error.
std::optional<boost::asio::ip::udp::endpoint>
discover_public_endpoint(boost::asio::ip::udp::socket& socket,
                         const boost::asio::ip::udp::endpoint& beacon,
                         std::chrono::milliseconds timeout);

} // namespace pilot::actors
