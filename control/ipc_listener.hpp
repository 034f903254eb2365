#pragma once

#include "control/ipc_session.hpp"
#include "control/socket_file.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace pilot::control {

/// Bounds of the control socket.
struct listener_limits {
  /// Clients connected at once. A connection beyond it is accepted and
  /// closed at once, so its client reads end-of-file instead of waiting in the
  /// kernel's backlog.
  std::size_t max_clients = 64;
  /// Bounds of each client.
  session_limits session;
};

/// The Unix-socket server of the control plane: accepts clients on an
/// io_context and runs one `ipc_session` for each. Knows nothing of actors;
/// requests leave through the request handler.
class ipc_listener : public std::enable_shared_from_this<ipc_listener> {
public:
  /// Creates the socket file at `path` with mode 0600 (see
  /// `bind_private_socket`). Accepts no client until `start`.
  static caf::expected<std::shared_ptr<ipc_listener>>
  open(boost::asio::io_context& io, const std::filesystem::path& path,
       listener_limits limits);

  ipc_listener(boost::asio::io_context& io, listener_limits limits);

  ~ipc_listener();

  /// Starts accepting clients and hands their requests to `handler`.
  void start(request_handler handler);

  /// Stops accepting, closes every client and removes the socket file.
  /// Safe to call from any thread and more than once.
  void stop();

  /// Returns the number of connected clients.
  std::size_t client_count() const;

private:
  void do_accept();
  void on_accept(boost::system::error_code ec, ipc_session::socket_type socket);
  void on_session_closed(std::uint64_t id);

  boost::asio::io_context& io_;
  const listener_limits limits_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  socket_file file_;
  /// Accessed on the acceptor's strand only.
  request_handler handler_;
  mutable std::mutex mutex_;
  /// Guarded by `mutex_`, as are the two below.
  std::unordered_map<std::uint64_t, std::weak_ptr<ipc_session>> clients_;
  std::uint64_t next_client_id_ = 1;
  bool stopped_ = false;
};

} // namespace pilot::control
