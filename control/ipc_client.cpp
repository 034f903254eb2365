#include "control/ipc_client.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include <optional>

namespace pilot::control {

using protocol::ipc_command;

namespace {

// The result of an operation that has not completed yet.
const boost::system::error_code in_progress = boost::asio::error::would_block;

// Returns whether `frame` is a push rather than the reply to `request`.
bool is_push(const protocol::ipc_frame& frame, ipc_command request) {
  switch (frame.command) {
    case ipc_command::accept:
    case ipc_command::recv:
    case ipc_command::recv_from:
      return true;
    case ipc_command::close_ok:
      return request != ipc_command::close;
    default:
      return false;
  }
}

} // namespace

ipc_client::ipc_client() : socket_(io_) {
  // nop
}

boost::system::error_code
ipc_client::connect(const std::filesystem::path& path,
                    std::chrono::milliseconds timeout) {
  close();
  // Let an aborted read finish before the decoder starts over.
  io_.restart();
  io_.poll();
  decoder_ = protocol::ipc_frame_decoder{};
  read_error_.clear();
  auto result = in_progress;
  socket_.async_connect(
      boost::asio::local::stream_protocol::endpoint{path.native()},
      [&result](boost::system::error_code ec) { result = ec; });
  return run_until_done(clock_type::now() + timeout, result);
}

protocol::result<protocol::ipc_frame>
ipc_client::call(ipc_command command, std::string_view payload,
                 std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  auto frame = protocol::encode_ipc_frame(command, payload);
  if (!frame)
    return frame.error();
  if (auto ec = send_bytes(*frame, timeout))
    return ec;
  std::optional<protocol::ipc_frame> reply;
  auto ec = read_frames(
      [&](protocol::ipc_frame received) {
        if (!is_push(received, command))
          reply = std::move(received);
      },
      [&] { return reply.has_value(); },
      std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - clock_type::now()));
  if (ec == boost::asio::error::timed_out)
    close();
  if (ec)
    return ec;
  return std::move(*reply);
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
  return run_until_done(clock_type::now() + timeout, result);
}

boost::system::error_code
ipc_client::write_reading(std::string_view bytes, const frame_handler& on_frame,
                          const std::function<bool()>& may_read,
                          std::chrono::milliseconds timeout) {
  if (!socket_.is_open())
    return boost::asio::error::not_connected;
  auto deadline = clock_type::now() + timeout;
  auto result = in_progress;
  boost::asio::async_write(
      socket_, boost::asio::buffer(bytes.data(), bytes.size()),
      [&result](boost::system::error_code ec, std::size_t) { result = ec; });
  auto no_more = [] {
    return false;
  };
  while (result == in_progress) {
    if (auto ec = decode_frames(on_frame, no_more))
      return ec;
    if (may_read() && !read_error_)
      start_read();
    if (!run_one(deadline))
      return run_until_done(deadline, result);
  }
  if (result)
    close();
  return result;
}

protocol::result<protocol::ipc_frame>
ipc_client::receive(std::chrono::milliseconds timeout) {
  std::optional<protocol::ipc_frame> frame;
  auto ec = read_frames(
      [&frame](protocol::ipc_frame received) { frame = std::move(received); },
      [&frame] { return frame.has_value(); }, timeout);
  if (ec == boost::asio::error::timed_out)
    close();
  if (ec)
    return ec;
  return std::move(*frame);
}

boost::system::error_code
ipc_client::read_frames(const frame_handler& on_frame,
                        const std::function<bool()>& done,
                        std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (auto ec = decode_frames(on_frame, done))
      return ec;
    if (done())
      return {};
    if (read_error_)
      return read_error_;
    if (!socket_.is_open())
      return boost::asio::error::not_connected;
    start_read();
    if (!run_one(deadline))
      return boost::asio::error::timed_out;
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

void ipc_client::start_read() {
  if (reading_ || !socket_.is_open())
    return;
  reading_ = true;
  socket_.async_read_some(boost::asio::buffer(buffer_),
                          [this](boost::system::error_code ec, std::size_t n) {
                            reading_ = false;
                            if (ec) {
                              if (ec != boost::asio::error::operation_aborted)
                                read_error_ = ec;
                              return;
                            }
                            decoder_.feed(std::string_view{buffer_.data(), n});
                          });
}

boost::system::error_code
ipc_client::decode_frames(const frame_handler& on_frame,
                          const std::function<bool()>& done) {
  while (!done()) {
    auto frame = decoder_.next();
    if (!frame) {
      close();
      return frame.error();
    }
    if (!*frame)
      return {};
    on_frame(std::move(**frame));
  }
  return {};
}

boost::system::error_code
ipc_client::run_until_done(clock_type::time_point deadline,
                           const boost::system::error_code& pending) {
  while (pending == in_progress) {
    if (!run_one(deadline) && pending == in_progress) {
      // Cancel by closing, then let the aborted handlers run so that
      // nothing refers to the caller's variables any more.
      close();
      io_.restart();
      io_.run();
      return boost::asio::error::timed_out;
    }
  }
  if (pending)
    close();
  return pending;
}

bool ipc_client::run_one(clock_type::time_point deadline) {
  io_.restart();
  if (clock_type::now() >= deadline)
    return io_.poll_one() > 0;
  return io_.run_one_until(deadline) > 0;
}

} // namespace pilot::control
