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
#include <functional>
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

/// Learns of each client that connects and disconnects. `opened` runs before
/// the client's first request is handled and `closed` once for each client
/// opened; both run on I/O threads and must not block.
struct client_observer {
  std::function<void(actors::ipc_client client)> opened;
  std::function<void(std::uint64_t id)> closed;
};

/// The Unix-socket server of the control plane: accepts clients on an
/// io_context and runs one `ipc_session` for each. Knows nothing of actors;
/// requests leave through the request handler, clients' arrivals and
/// departures through the client observer.
class ipc_listener : public std::enable_shared_from_this<ipc_listener> {
public:
  /// Creates the socket file at `path` with mode 0600 (see
  /// `bind_private_socket`). Accepts no client until `start`.
  static caf::expected<std::shared_ptr<ipc_listener>>
  open(boost::asio::io_context& io, const std::filesystem::path& path,
       listener_limits limits);

  ipc_listener(boost::asio::io_context& io, listener_limits limits);

  ~ipc_listener();

  /// Starts accepting clients, reports them to `observer` and hands their
  /// requests to `handler`.
  void start(request_handler handler, client_observer observer = {});

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
  /// Accessed on the acceptor's strand only, as is `observer_`.
  request_handler handler_;
  client_observer observer_;
  mutable std::mutex mutex_;
  /// Guarded by `mutex_`, as are the two below.
  std::unordered_map<std::uint64_t, std::weak_ptr<ipc_session>> clients_;
  std::uint64_t next_client_id_ = 1;
  bool stopped_ = false;
};

} // namespace pilot::control
