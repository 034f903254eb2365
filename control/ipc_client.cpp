#include "control/ipc_client.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include <optional>

namespace pilot::control {

namespace {

using clock_type = std::chrono::steady_clock;

// The result of an operation that has not completed yet.
const boost::system::error_code in_progress = boost::asio::error::would_block;

std::chrono::milliseconds remaining(clock_type::time_point deadline) noexcept {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
  return left.count() > 0 ? left : std::chrono::milliseconds{0};
}

} // namespace

ipc_client::ipc_client() : socket_(io_) {
  // nop
}

boost::system::error_code
ipc_client::connect(const std::filesystem::path& path,
                    std::chrono::milliseconds timeout) {
  close();
  decoder_ = protocol::ipc_frame_decoder{};
  auto result = in_progress;
  socket_.async_connect(
      boost::asio::local::stream_protocol::endpoint{path.native()},
      [&result](boost::system::error_code ec) { result = ec; });
  return run_for(timeout, result);
}

protocol::result<protocol::ipc_frame>
ipc_client::call(protocol::ipc_command command, std::string_view payload,
                 std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  auto frame = protocol::encode_ipc_frame(command, payload);
  if (!frame)
    return frame.error();
  if (auto ec = send_bytes(*frame, timeout))
    return ec;
  return receive(remaining(deadline));
}

boost::system::error_code
ipc_client::send_bytes(std::string_view bytes,
                       std::chrono::milliseconds timeout) {
  if (!socket_.is_open())
    return boost::asio::error::not_connected;
  auto result = in_progress;
  boost::asio::async_write(
      socket_, boost::asio::buffer(bytes.data(), bytes.size()),
      [&result](boost::system::error_code ec, std::size_t) { result = ec; });
  return run_for(timeout, result);
}

protocol::result<protocol::ipc_frame>
ipc_client::receive(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    auto frame = decoder_.next();
    if (!frame) {
      close();
      return frame.error();
    }
    if (*frame)
      return std::move(**frame);
    if (!socket_.is_open())
      return boost::asio::error::not_connected;
    auto result = in_progress;
    std::size_t received = 0;
    socket_.async_read_some(boost::asio::buffer(buffer_),
                            [&](boost::system::error_code ec, std::size_t n) {
                              result = ec;
                              received = n;
                            });
    if (auto ec = run_for(remaining(deadline), result))
      return ec;
    decoder_.feed(std::string_view{buffer_.data(), received});
  }
}

void ipc_client::shutdown_send() noexcept {
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::socket_base::shutdown_send, ignored);
}

void ipc_client::close() noexcept {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

boost::system::error_code
ipc_client::run_for(std::chrono::milliseconds timeout,
                    const boost::system::error_code& pending) {
  io_.restart();
  io_.run_for(timeout);
  if (pending == in_progress) {
    // Cancel by closing, then let the aborted handler run so that nothing
    // refers to the caller's variables any more.
    close();
    io_.restart();
    io_.run();
    return boost::asio::error::timed_out;
  }
  if (pending)
    close();
  return pending;
}

} // namespace pilot::control
