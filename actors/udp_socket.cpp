#include "actors/udp_socket.hpp"

#include "actors/beacon_service.hpp"
#include "actors/log.hpp"
#include "protocol/beacon_message.hpp"
#include "protocol/tunnel_frame.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace pilot::actors {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::string_view log_component = "tunnel-socket";

/// Receive buffer per datagram: the largest frame the reference daemon
/// reads (65535 + 38 bytes).
constexpr std::size_t datagram_buffer_size = protocol::max_tunnel_frame_size;

/// Datagrams handed to one `sendmmsg` call.
constexpr std::size_t send_chunk = 64;

boost::system::error_code last_system_error() {
  return {errno, boost::system::system_category()};
}

// Converts `destination` to the address family of the socket, or returns
// nothing when an IPv4 socket cannot reach an IPv6 destination.
std::optional<udp::endpoint> for_socket(const udp::endpoint& destination,
                                        bool socket_is_v6) {
  const auto& ip = destination.address();
  if (socket_is_v6 && ip.is_v4())
    return udp::endpoint{
        asio::ip::make_address_v6(asio::ip::v4_mapped, ip.to_v4()),
        destination.port()};
  if (!socket_is_v6 && ip.is_v6()) {
    if (!ip.to_v6().is_v4_mapped())
      return std::nullopt;
    return unmap_endpoint(destination);
  }
  return destination;
}

udp::endpoint endpoint_of(const sockaddr_storage& name, socklen_t size) {
  udp::endpoint endpoint;
  auto length = std::min<std::size_t>(size, endpoint.capacity());
  std::memcpy(endpoint.data(), &name, length);
  endpoint.resize(length);
  return unmap_endpoint(endpoint);
}

} // namespace

struct udp_socket::receive_area {
  explicit receive_area(std::size_t count)
      : buffer(count * datagram_buffer_size), headers(count), vectors(count),
        names(count) {}

  // Resets the headers that `recvmmsg` changes.
  void prepare() noexcept {
    for (std::size_t i = 0; i < headers.size(); ++i) {
      vectors[i].iov_base = buffer.data() + i * datagram_buffer_size;
      vectors[i].iov_len = datagram_buffer_size;
      auto& header = headers[i].msg_hdr;
      header = msghdr{};
      header.msg_name = &names[i];
      header.msg_namelen = sizeof(sockaddr_storage);
      header.msg_iov = &vectors[i];
      header.msg_iovlen = 1;
      headers[i].msg_len = 0;
    }
  }

  std::vector<std::uint8_t> buffer;
  std::vector<mmsghdr> headers;
  std::vector<iovec> vectors;
  std::vector<sockaddr_storage> names;
};

udp_socket::udp_socket(udp::socket socket, udp_socket_options options)
    : socket_(std::move(socket)),
      strand_(asio::make_strand(socket_.get_executor())), options_(options),
      receive_(std::make_unique<receive_area>(
          std::max<std::size_t>(1, options.max_batch_datagrams))) {
  local_endpoint_ = socket_.local_endpoint();
  is_v6_ = local_endpoint_.address().is_v6();
  descriptor_ = socket_.native_handle();
  boost::system::error_code ignored;
  if (options_.receive_buffer_size > 0)
    socket_.set_option(
        udp::socket::receive_buffer_size{options_.receive_buffer_size},
        ignored);
  if (options_.send_buffer_size > 0)
    socket_.set_option(udp::socket::send_buffer_size{options_.send_buffer_size},
                       ignored);
}

udp_socket::~udp_socket() = default;

void udp_socket::start(batch_handler handler) {
  asio::post(strand_, [self = shared_from_this(),
                       handler = std::move(handler)]() mutable {
    self->handler_ = std::move(handler);
    self->do_wait();
  });
}

void udp_socket::close() {
  asio::post(strand_, [self = shared_from_this()] {
    self->closed_ = true;
    self->handler_ = nullptr;
    boost::system::error_code ignored;
    self->socket_.close(ignored);
  });
}

void udp_socket::batch_done() {
  batches_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  asio::post(strand_, [self = shared_from_this()] { self->resume(); });
}

void udp_socket::resume() {
  if (!paused_ || closed_
      || batches_in_flight_.load(std::memory_order_acquire)
             >= options_.max_batches_in_flight)
    return;
  paused_ = false;
  read_batch();
}

void udp_socket::do_wait() {
  if (closed_)
    return;
  socket_.async_wait(
      udp::socket::wait_read,
      asio::bind_executor(strand_, [self = shared_from_this()](
                                       const boost::system::error_code& ec) {
        self->on_readable(ec);
      }));
}

void udp_socket::on_readable(const boost::system::error_code& ec) {
  if (closed_ || ec == asio::error::operation_aborted)
    return;
  if (ec) {
    log::error(log_component, "wait-failed",
               "waiting for the tunnel socket failed; no more datagrams are "
               "read",
               {{"error", ec.message()}});
    return;
  }
  read_batch();
}

void udp_socket::read_batch() {
  if (closed_)
    return;
  auto& area = *receive_;
  area.prepare();
  int count = 0;
  do {
    count = ::recvmmsg(descriptor_, area.headers.data(),
                       static_cast<unsigned>(area.headers.size()), MSG_DONTWAIT,
                       nullptr);
  } while (count < 0 && errno == EINTR);
  if (count < 0) {
    // EAGAIN means drained. Anything else is a pending socket error, which
    // reading has now cleared.
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      receive_drops_.fetch_add(1, std::memory_order_relaxed);
    do_wait();
    return;
  }
  datagram_batch batch;
  std::size_t total = 0;
  for (int i = 0; i < count; ++i)
    total += area.headers[i].msg_len;
  batch.bytes.reserve(total);
  batch.datagrams.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    const auto& header = area.headers[i];
    if (header.msg_hdr.msg_flags & MSG_TRUNC) {
      receive_drops_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    auto* data = static_cast<const std::uint8_t*>(area.vectors[i].iov_base);
    batch.datagrams.push_back(
        {static_cast<std::uint32_t>(batch.bytes.size()), header.msg_len,
         endpoint_of(area.names[i], header.msg_hdr.msg_namelen)});
    batch.bytes.insert(batch.bytes.end(), data, data + header.msg_len);
  }
  if (!batch.datagrams.empty() && handler_) {
    batches_in_flight_.fetch_add(1, std::memory_order_acq_rel);
    handler_(std::move(batch));
  }
  if (batches_in_flight_.load(std::memory_order_acquire)
      >= options_.max_batches_in_flight) {
    paused_ = true;
    return;
  }
  // A full batch suggests more datagrams wait; reading them in a new
  // handler lets the io thread's other work run in between.
  if (static_cast<std::size_t>(count) == area.headers.size())
    asio::post(strand_, [self = shared_from_this()] { self->read_batch(); });
  else
    do_wait();
}

udp_send_report
udp_socket::send(std::span<const detail::tunnel_datagram> datagrams) {
  udp_send_report report;
  std::array<mmsghdr, send_chunk> headers;
  std::array<std::array<iovec, 2>, send_chunk> vectors;
  std::array<udp::endpoint, send_chunk> destinations;
  while (!datagrams.empty()) {
    auto chunk = datagrams.first(std::min(send_chunk, datagrams.size()));
    datagrams = datagrams.subspan(chunk.size());
    // Step 1: build the headers, dropping unreachable address families.
    std::size_t filled = 0;
    for (const auto& datagram : chunk) {
      auto destination = for_socket(datagram.destination, is_v6_);
      if (!destination) {
        ++report.dropped;
        report.last_error = asio::error::address_family_not_supported;
        continue;
      }
      destinations[filled] = *destination;
      auto head = datagram.head_bytes();
      auto& iov = vectors[filled];
      iov[0].iov_base = const_cast<std::uint8_t*>(head.data());
      iov[0].iov_len = head.size();
      iov[1].iov_base = const_cast<std::uint8_t*>(datagram.body.data());
      iov[1].iov_len = datagram.body.size();
      auto& header = headers[filled].msg_hdr;
      header = msghdr{};
      header.msg_name = destinations[filled].data();
      header.msg_namelen = static_cast<socklen_t>(destinations[filled].size());
      header.msg_iov = iov.data();
      header.msg_iovlen = 2;
      headers[filled].msg_len = 0;
      ++filled;
    }
    // Step 2: send; a failed datagram is dropped and the rest go on.
    std::size_t next = 0;
    while (next < filled) {
      int sent = ::sendmmsg(descriptor_, headers.data() + next,
                            static_cast<unsigned>(filled - next), MSG_DONTWAIT);
      if (sent < 0 && errno == EINTR)
        continue;
      if (sent < 0) {
        ++report.dropped;
        report.last_error = last_system_error();
        ++next;
        continue;
      }
      for (int i = 0; i < sent; ++i)
        report.bytes_sent += headers[next + i].msg_len;
      report.datagrams_sent += static_cast<std::uint64_t>(sent);
      next += static_cast<std::size_t>(sent);
    }
  }
  return report;
}

std::optional<udp::endpoint>
discover_public_endpoint(udp::socket& socket, const udp::endpoint& beacon,
                         std::chrono::milliseconds timeout) {
  auto is_v6 = socket.local_endpoint().address().is_v6();
  auto destination = for_socket(beacon, is_v6);
  if (!destination)
    return std::nullopt;
  boost::system::error_code ec;
  auto probe = protocol::encode_beacon_message(protocol::beacon_discover{0});
  socket.send_to(asio::buffer(probe), *destination, 0, ec);
  if (ec)
    return std::nullopt;
  auto expected_source = unmap_endpoint(beacon);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::uint8_t> buffer(datagram_buffer_size);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd readable{socket.native_handle(), POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
      continue;
    udp::endpoint source;
    auto size
        = socket.receive_from(asio::buffer(buffer), source, MSG_DONTWAIT, ec);
    if (ec || unmap_endpoint(source) != expected_source)
      continue;
    auto message
        = protocol::decode_beacon_message(std::span{buffer}.first(size));
    if (!message)
      continue;
    if (auto* reply = std::get_if<protocol::beacon_discover_reply>(&*message))
      return unmap_endpoint({reply->observed.ip, reply->observed.port});
  }
}

} // namespace pilot::actors
