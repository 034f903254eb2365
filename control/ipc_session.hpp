#pragma once

#include "actors/transport_fwd.hpp"
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
#include <unordered_set>

namespace pilot::control {

/// Receives each request frame that a client sends: the client's ID, the
/// command byte, the payload, and the function that delivers the reply.
/// Runs on the client's strand and must not block.
using request_handler
    = std::function<void(std::uint64_t client, std::uint8_t command,
                         std::string payload, reply_function reply)>;

/// Bounds of one IPC client.
struct session_limits {
  /// Requests read whose reply has not been written yet. At the limit the
  /// session stops reading, so a client that floods requests or never reads
  /// its replies holds at most this many replies in memory.
  std::size_t max_outstanding = 32;
  /// Deadline of each frame written, reply or push; a client that does not
  /// read for this long is disconnected.
  std::chrono::milliseconds write_timeout{10'000};
  /// Bytes of pushed frames (Accept, Recv, CloseOK, RecvFrom) queued for the
  /// client and not written yet. A RecvFrom beyond it is dropped, as UDP
  /// would drop it. Any other push beyond it disconnects the client,
  /// because losing stream data or an Accept would corrupt its connections.
  /// The connection actor keeps the Recv pushes of each connection within
  /// its receive window, so only a client that stops reading reaches it.
  std::size_t max_push_bytes = std::size_t{16} << 20;
};

/// One client of the control socket. Reads frames without a deadline, since
/// clients may stay idle, hands each request to the request handler with a
/// sequence number, and writes the replies in request order whatever order
/// they arrive in. Pushes from the daemon go out between replies as they
/// come. One exception keeps a connection's data behind its DialOK: while a
/// Dial is outstanding, the Recv and CloseOK pushes of a connection that the
/// client has not learned of yet wait for the Dial's reply. An oversize frame
/// or an I/O error closes this client only. When the client closes its sending
/// side, the requests already read still get their replies before the
/// session closes.
///
/// Owned by its pending operations and by the reply functions of its
/// outstanding requests, so that a session that stopped reading at
/// `max_outstanding` lives until the replies arrive. Push functions hold it
/// weakly. All state lives on the socket's strand.
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

  /// Calls the closed handler unless `close` or a failure already did, and
  /// runs the `written` callbacks of pushes still queued.
  ~ipc_session();

  /// Starts reading requests.
  void start();

  /// Closes the connection. Safe to call from any thread.
  void close();

  /// Returns a function that queues a push frame for this client from any
  /// thread (see `actors::push_function`). Once the session has closed or
  /// is gone, the function drops the frame and runs `written` at once.
  actors::push_function make_push();

  /// Returns the ID the listener gave this session.
  std::uint64_t id() const noexcept { return id_; }

private:
  /// A frame waiting to be written: a reply, or a push with its callback.
  struct outgoing_frame {
    std::string bytes;
    bool push = false;
    std::function<void()> written;
  };

  void do_read();
  void on_read(boost::system::error_code ec, std::size_t size);
  void handle_frames();
  reply_function make_reply(std::uint64_t sequence);
  void on_reply(std::uint64_t sequence, std::string frame);
  void queue_reply(std::uint64_t sequence, std::string frame);
  void on_push(std::string frame, std::function<void()> written);
  bool must_hold(const std::string& frame) const;
  void queue_push(outgoing_frame frame);
  void release_held_pushes();
  void note_connection(const std::string& frame);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t size);
  void on_write_timeout(boost::system::error_code ec);
  void shutdown();
  void notify_closed();
  void run_push_callbacks();
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
  std::deque<outgoing_frame> write_queue_;
  /// Pushes that wait for an outstanding Dial's reply, in arrival order.
  std::deque<outgoing_frame> held_pushes_;
  /// Bytes of the pushes in `write_queue_` and `held_pushes_`.
  std::size_t queued_push_bytes_ = 0;
  /// Sequence numbers of the Dial requests whose reply is not queued yet.
  std::unordered_set<std::uint64_t> pending_dials_;
  /// Connections the client has learned of through a DialOK or an Accept
  /// and that have not ended with a CloseOK. The connection actor bounds
  /// the connections of a client, and with them this set.
  std::unordered_set<std::uint32_t> known_connections_;
  /// RecvFrom pushes dropped at `max_push_bytes`.
  std::uint64_t dropped_datagrams_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  /// The client closed its sending side; no more requests come.
  bool peer_finished_ = false;
  bool closed_ = false;
};

} // namespace pilot::control
