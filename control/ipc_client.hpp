#pragma once

#include "protocol/error.hpp"
#include "protocol/ipc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <string_view>

namespace pilot::control {

/// A blocking client of the daemon's control socket, for `pilotctl` and
/// tests. Every call has a deadline; when it passes, the call fails with
/// `boost::asio::error::timed_out` and the connection is closed, since a
/// late reply could otherwise be taken for the next request's. Not
/// thread-safe.
class ipc_client {
public:
  ipc_client();

  /// Connects to the socket at `path`. Fails with the connect error, such
  /// as `no_such_file_or_directory` or `connection_refused` when no daemon
  /// listens there.
  boost::system::error_code connect(const std::filesystem::path& path,
                                    std::chrono::milliseconds timeout);

  /// Sends one request and waits for the next frame, which is its reply or
  /// an error frame (0x0A). Fails with `protocol::errc::oversized`, sending
  /// nothing, when `payload` does not fit one frame.
  protocol::result<protocol::ipc_frame> call(protocol::ipc_command command,
                                             std::string_view payload,
                                             std::chrono::milliseconds timeout);

  /// Writes `bytes` as they are, framed or not.
  boost::system::error_code send_bytes(std::string_view bytes,
                                       std::chrono::milliseconds timeout);

  /// Waits for the next frame. Fails with `boost::asio::error::eof` when
  /// the daemon closed the connection and `protocol::errc::oversized` for
  /// a frame above the limit.
  protocol::result<protocol::ipc_frame>
  receive(std::chrono::milliseconds timeout);

  /// Returns whether the client is connected.
  bool is_open() const noexcept { return socket_.is_open(); }

  /// Closes the sending side, so that the daemon reads end-of-file, while
  /// replies can still be received.
  void shutdown_send() noexcept;

  /// Closes the connection.
  void close() noexcept;

private:
  /// Runs the started operation until it completes or `timeout` passes.
  boost::system::error_code run_for(std::chrono::milliseconds timeout,
                                    const boost::system::error_code& pending);

  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::socket socket_;
  protocol::ipc_frame_decoder decoder_;
  std::array<char, 16 * 1024> buffer_{};
};

} // namespace pilot::control
