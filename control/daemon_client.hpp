#pragma once

#include "control/ipc_client.hpp"
#include "control/ipc_inbox.hpp"
#include "protocol/address.hpp"
#include "protocol/ipc.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pilot::control::cli {

/// Deadline of connecting to the daemon's socket.
inline constexpr std::chrono::milliseconds connect_timeout{3'000};

/// Deadline of connecting and of the reply when pilotctl queries the
/// settings of a daemon that may not be running.
inline constexpr std::chrono::milliseconds probe_timeout{2'000};

/// Deadline of one reply. The daemon gives each request to the registry or
/// webhook actor 10 s, so 15 s leaves room for its error reply.
inline constexpr std::chrono::milliseconds reply_timeout{15'000};

/// Deadline of a Dial's reply. The daemon gives the connection actor 60 s,
/// so 65 s leaves room for its error reply.
inline constexpr std::chrono::milliseconds dial_reply_timeout{65'000};

/// Returns the Info reply of the daemon at `socket`, or an empty optional
/// when none accepts the connection and replies with a JSON object within
/// `timeout` each.
std::optional<boost::json::object>
query_daemon_info(const std::string& socket, std::chrono::milliseconds timeout);

/// pilotctl's connection to the running daemon. Every failure is thrown as
/// a `cli::error` with the code and hint the user needs.
///
/// Like the reference driver, it reads the daemon's pushes while it waits
/// for a reply or writes a request, and sorts all frames with an
/// `ipc_inbox`. An error that no request waits for, as the daemon sends for
/// a failed Send, is thrown by the next wait of any kind.
class daemon_client {
public:
  using clock_type = std::chrono::steady_clock;

  /// Connects to the daemon at `socket`. Throws `not_running` with a hint to
  /// start the daemon when nothing accepts connections there.
  explicit daemon_client(std::string socket);

  /// Sends a request and returns the reply frame, which may be an error
  /// frame. Throws `timeout` or `connection_failed` when no reply arrives.
  protocol::ipc_frame call(protocol::ipc_command command,
                           std::string_view payload,
                           std::chrono::milliseconds timeout = reply_timeout);

  /// Sends a request whose reply (the command byte after the request's) is a
  /// JSON document and returns it. An error frame is thrown as `error_code`
  /// with the daemon's message.
  boost::json::value
  call_json(protocol::ipc_command command, std::string_view payload,
            const char* error_code = "connection_failed",
            std::chrono::milliseconds timeout = reply_timeout);

  /// Returns the socket path.
  const std::string& socket() const noexcept { return socket_; }

  // -- connections and datagrams ----------------------------------------------

  /// Binds `port` for this client until it disconnects, and queues the
  /// Accepts for it. Throws `connection_failed` with the daemon's message,
  /// such as `port 1000 already bound`.
  void bind(std::uint16_t port);

  /// Opens a connection and returns its ID once it is established. Throws
  /// `connection_failed` with the daemon's reason, such as `dial timeout`,
  /// or when no answer arrives within `timeout`.
  std::uint32_t dial(protocol::address address, std::uint16_t port,
                     std::chrono::milliseconds timeout = dial_reply_timeout);

  /// Sends `data` on the connection as one Send, reading pushes meanwhile
  /// until `deadline`. The daemon replies only to a failed Send, so its
  /// error surfaces at the next wait.
  void send(std::uint32_t conn_id, std::string_view data,
            clock_type::time_point deadline);

  /// Sends one datagram to `address`:`port` from an ephemeral port. The
  /// daemon replies to SendTo only on failure, so an Info request follows
  /// to learn the outcome. A failure is thrown as `connection_failed` with
  /// the daemon's message, such as `resolve node 404: not found`.
  void send_datagram(protocol::address address, std::uint16_t port,
                     std::string_view data);

  /// Waits until `deadline` for the connection's next data and returns at
  /// most `max_bytes` of one Recv, or its end of stream. Returns nothing
  /// when the deadline passes first.
  std::optional<ipc_inbox::connection_data>
  read(std::uint32_t conn_id, std::size_t max_bytes,
       clock_type::time_point deadline);

  /// Sends Close without waiting for CloseOK and drops the connection's
  /// further data, as the reference driver's `Conn.Close` does.
  void close(std::uint32_t conn_id);

  /// Sends Close and waits for its CloseOK. Throws `timeout` when none
  /// arrives within `timeout`.
  void disconnect(std::uint32_t conn_id,
                  std::chrono::milliseconds timeout = reply_timeout);

  /// Waits until `deadline` for a connection to a port bound with `bind`.
  std::optional<protocol::accept_push> accept(std::uint16_t port,
                                              clock_type::time_point deadline);

  /// Waits until `deadline` for a datagram to any port.
  std::optional<protocol::recv_from_push>
  receive_datagram(clock_type::time_point deadline);

  /// Reads and sorts frames until `deadline`, as a pause that keeps up with
  /// the daemon's pushes.
  void pause_until(clock_type::time_point deadline);

private:
  /// Reads and sorts frames until `ready` returns true or `deadline`
  /// passes, and returns whether `ready` returned true. Throws on an I/O
  /// failure and for an unclaimed daemon error.
  bool wait_until(const std::function<bool()>& ready,
                  clock_type::time_point deadline);

  /// Writes one frame, sorting the frames read meanwhile.
  void write(protocol::ipc_command command, std::string_view payload,
             clock_type::time_point deadline);

  /// Sends a request and returns its reply or error frame. Throws `timeout`
  /// after `timeout`.
  protocol::ipc_frame
  request(protocol::ipc_command command, std::string_view payload,
          std::chrono::milliseconds timeout,
          std::optional<std::uint32_t> conn_id = std::nullopt);

  /// Throws the daemon error that no request took, if any.
  void throw_unclaimed_error();

  /// Throws `connection_failed` for a failed read or write.
  [[noreturn]] void throw_io_failure(boost::system::error_code ec);

  std::string socket_;
  ipc_client client_;
  ipc_inbox inbox_;
};

} // namespace pilot::control::cli
