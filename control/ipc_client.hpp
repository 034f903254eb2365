#pragma once

#include "protocol/error.hpp"
#include "protocol/ipc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string_view>

namespace pilot::control {

/// A blocking client of the daemon's control socket, for `pilotctl` and
/// tests. Every call has a deadline. `call` and `receive` close the
/// connection when theirs passes, because a late reply could otherwise be
/// taken for the next request's. `read_frames` leaves it open for callers
/// that sort replies themselves. Not thread-safe.
class ipc_client {
public:
  /// Receives each frame that arrives while a call waits.
  using frame_handler = std::function<void(protocol::ipc_frame frame)>;

  ipc_client();

  /// Connects to the socket at `path`. Fails with the connect error, such
  /// as `no_such_file_or_directory` or `connection_refused` when no daemon
  /// listens there.
  boost::system::error_code connect(const std::filesystem::path& path,
                                    std::chrono::milliseconds timeout);

  /// Sends one request and waits for its reply or an error frame (0x0A).
  /// Pushes that arrive first (Accept, Recv, RecvFrom, and CloseOK unless
  /// the request is a Close) are dropped. Fails with
  /// `protocol::errc::oversized`, sending nothing, when `payload` does not
  /// fit one frame.
  protocol::result<protocol::ipc_frame> call(protocol::ipc_command command,
                                             std::string_view payload,
                                             std::chrono::milliseconds timeout);

  /// Writes `bytes` as they are, framed or not.
  boost::system::error_code send_bytes(std::string_view bytes,
                                       std::chrono::milliseconds timeout);

  /// Writes `bytes` while passing the frames that arrive meanwhile to
  /// `on_frame`, as long as `may_read` returns true. Reading on keeps a
  /// daemon that pushes data to this client from blocking on its own write
  /// while this write waits for the daemon to read.
  boost::system::error_code write_reading(std::string_view bytes,
                                          const frame_handler& on_frame,
                                          const std::function<bool()>& may_read,
                                          std::chrono::milliseconds timeout);

  /// Waits for the next frame. Fails with `boost::asio::error::eof` when
  /// the daemon closed the connection and `protocol::errc::oversized` for
  /// a frame above the limit.
  protocol::result<protocol::ipc_frame>
  receive(std::chrono::milliseconds timeout);

  /// Passes each frame that arrives to `on_frame` until `done` returns true,
  /// checking it before each frame. Fails with `timed_out` when `timeout`
  /// passes first, keeping the connection open; a zero timeout handles only
  /// what has arrived. Fails like `receive` otherwise.
  boost::system::error_code read_frames(const frame_handler& on_frame,
                                        const std::function<bool()>& done,
                                        std::chrono::milliseconds timeout);

  /// Returns whether the client is connected.
  bool is_open() const noexcept { return socket_.is_open(); }

  /// Closes the sending side, so that the daemon reads end-of-file, while
  /// replies can still be received.
  void shutdown_send() noexcept;

  /// Closes the connection.
  void close() noexcept;

private:
  using clock_type = std::chrono::steady_clock;

  /// Keeps one read pending, whose data goes to the decoder.
  void start_read();

  /// Passes decoded frames to `on_frame` until `done` returns true or none
  /// is left. Fails, closing the connection, on an oversize frame.
  boost::system::error_code decode_frames(const frame_handler& on_frame,
                                          const std::function<bool()>& done);

  /// Runs handlers until `pending` completes or `deadline` passes.
  boost::system::error_code
  run_until_done(clock_type::time_point deadline,
                 const boost::system::error_code& pending);

  /// Runs one handler, waiting until `deadline` at most. Returns whether
  /// one ran.
  bool run_one(clock_type::time_point deadline);

  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::socket socket_;
  protocol::ipc_frame_decoder decoder_;
  std::array<char, 64 * 1024> buffer_{};
  bool reading_ = false;
  /// The error that ended reading, such as end-of-file.
  boost::system::error_code read_error_;
};

} // namespace pilot::control
