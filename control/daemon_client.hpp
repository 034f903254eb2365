#pragma once

#include "control/ipc_client.hpp"
#include "protocol/ipc.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
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

/// Returns the Info reply of the daemon at `socket`, or an empty optional
/// when none accepts the connection and replies with a JSON object within
/// `timeout` each.
std::optional<boost::json::object>
query_daemon_info(const std::string& socket, std::chrono::milliseconds timeout);

/// pilotctl's connection to the running daemon. Every failure is thrown as
/// a `cli::error` with the code and hint the user needs.
class daemon_client {
public:
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
  boost::json::value call_json(protocol::ipc_command command,
                               std::string_view payload,
                               const char* error_code = "connection_failed");

  /// Returns the socket path.
  const std::string& socket() const noexcept { return socket_; }

private:
  std::string socket_;
  ipc_client client_;
};

} // namespace pilot::control::cli
