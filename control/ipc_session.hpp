#pragma once

#include "control/fwd.hpp"
#include "protocol/ipc.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace pilot::control {

/// Receives each request frame that a client sends: the command byte, the
/// payload, and the function that delivers the reply. Runs on the client's
/// strand and must not block.
using request_handler = std::function<void(
    std::uint8_t command, std::string payload, reply_function reply)>;

/// Bounds of one IPC client.
struct session_limits {
  /// Requests read whose reply has not been written yet. At the limit the
  /// session stops reading, so a client that floods requests or never reads
  /// its replies holds at most this many replies in memory.
  std::size_t max_outstanding = 32;
  /// Deadline of each reply write; a client that does not read for this
  /// long is disconnected.
  std::chrono::milliseconds write_timeout{10'000};
};

/// One client of the control socket. Reads frames without a deadline, since
/// clients may stay idle, hands each request to the request handler with a
/// sequence number, and writes the replies in request order whatever order
/// they arrive in. An oversize frame or an I/O error closes this client only.
/// When the client closes its sending side, the requests already read still
/// get their replies before the session closes.
///
/// Owned by its pending operations and by the reply functions of its
/// outstanding requests, so that a session that stopped reading at
/// `max_outstanding` lives until the replies arrive. All state lives on the
/// socket's strand.
class ipc_session : public std::enable_shared_from_this<ipc_session> {
public:
  using socket_type = boost::asio::local::stream_protocol::socket;

  /// Called exactly once when the session ends: on the session's strand
  /// when it closes, or from the destructor when its last owner let go
  /// first.
  using closed_handler = std::function<void(std::uint64_t id)>;

  /// Creates a session for `socket`, whose executor must be a strand.
  ipc_session(socket_type socket, std::uint64_t id, session_limits limits,
              request_handler on_request, closed_handler on_closed);

  ipc_session(const ipc_session&) = delete;
  ipc_session& operator=(const ipc_session&) = delete;

  /// Calls the closed handler unless `close` or a failure already did.
  ~ipc_session();

  /// Starts reading requests.
  void start();

  /// Closes the connection. Safe to call from any thread.
  void close();

  /// Returns the ID the listener gave this session.
  std::uint64_t id() const noexcept { return id_; }

private:
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t size);
  void handle_frames();
  reply_function make_reply(std::uint64_t sequence);
  void on_reply(std::uint64_t sequence, std::string frame);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t size);
  void on_write_timeout(boost::system::error_code ec);
  void shutdown();
  void notify_closed();
  std::uint64_t outstanding() const noexcept {
    return next_sequence_ - completed_;
  }

  socket_type socket_;
  const boost::asio::any_io_executor executor_;
  boost::asio::steady_timer write_timer_;
  const std::uint64_t id_;
  const session_limits limits_;
  request_handler on_request_;
  closed_handler on_closed_;
  protocol::ipc_frame_decoder decoder_;
  std::array<char, 16 * 1024> read_buffer_{};
  /// Sequence number of the next request read.
  std::uint64_t next_sequence_ = 0;
  /// Sequence number of the next reply to queue for writing.
  std::uint64_t next_reply_ = 0;
  /// Requests whose reply has been written or that need none.
  std::uint64_t completed_ = 0;
  /// Replies that arrived before an earlier one, by sequence number.
  std::map<std::uint64_t, std::string> early_replies_;
  std::deque<std::string> write_queue_;
  bool reading_ = false;
  bool writing_ = false;
  /// The client closed its sending side; no more requests come.
  bool peer_finished_ = false;
  bool closed_ = false;
};

} // namespace pilot::control
