#pragma once

#include "actors/registry_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pilot::actors {

class registry_session;

/// Tunables of the registry's TCP server.
struct registry_listener_config {
  /// A connection is closed when its next request frame is not complete
  /// this long after the previous response (or the accept). The deadline is
  /// set once per frame, so a client that sends a byte now and then cannot
  /// keep a connection and its unfinished frame.
  std::chrono::seconds idle_timeout{300};
  /// A connection is closed when one response takes longer to write.
  std::chrono::seconds write_timeout{30};
  /// How often stale nodes are reaped.
  std::chrono::seconds reap_interval{60};
  /// How often the store is written when it changed.
  std::chrono::milliseconds save_interval{1000};
  /// Maximum number of open connections, in total and per source address.
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_ip = 64;
  /// Maximum bytes of unfinished request frames over all connections. Past
  /// it, the connection with the largest unfinished frame is closed.
  std::size_t max_partial_frame_bytes = std::size_t{64} << 20;
  /// The store file; empty means no persistence.
  std::filesystem::path store_path;
};

/// Counters of the TCP server since it started.
struct registry_listener_stats {
  std::uint64_t accepted = 0;
  /// Connections closed at once because a connection limit was reached.
  std::uint64_t rejected = 0;
  /// Connections closed for a frame with a length of 0 or above 1 MiB.
  std::uint64_t bad_frames = 0;
  /// Connections closed for a body that is not a JSON object.
  std::uint64_t malformed_bodies = 0;
  std::uint64_t idle_timeouts = 0;
  /// Connections closed because unfinished frames exceeded
  /// `max_partial_frame_bytes`.
  std::uint64_t partial_frame_closes = 0;
  std::uint64_t saves = 0;
  std::uint64_t failed_saves = 0;
};

/// Parses a listen address: `:9000` (every interface, IPv6 and IPv4),
/// `127.0.0.1:0`, `[::1]:9000` or `localhost:9000`. Throws
/// `std::invalid_argument` for text without a valid port or host.
boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view text);

/// The registry's TCP server: accepts connections, reads registry frames,
/// hands each body to a `registry_service` and writes the response, one
/// request at a time per connection. Runs on one io_context thread, which
/// is why `registry_service` needs no locks and sessions need no strands.
/// A frame with a length of 0 or above 1 MiB, or a body that is not a JSON
/// object, closes the connection without a reply. Timers reap stale nodes
/// and save the store at most once per `save_interval` when it changed.
class registry_listener
    : public std::enable_shared_from_this<registry_listener> {
public:
  registry_listener(boost::asio::io_context& io, registry_service& service,
                    registry_listener_config config);

  /// Binds and listens on `endpoint`. For the IPv6 wildcard address it
  /// accepts IPv4 too.
  boost::system::error_code listen(const boost::asio::ip::tcp::endpoint& at);

  /// Returns the bound address, with the actual port when 0 was requested.
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  /// Starts accepting and the reap and save timers.
  void start();

  /// Stops accepting, closes every connection, cancels the timers and saves
  /// the store when it changed. The io_context then runs out of work.
  void stop();

  /// Writes the store now when it changed. Returns false when writing
  /// failed (the store then stays dirty).
  bool save_if_dirty();

  /// Handles one request for a session; nothing means "close without reply".
  std::optional<std::string> handle(std::string_view body,
                                    const source_info& source);

  /// Called by a session once its socket is closed.
  void on_session_closed(registry_session* session,
                         const boost::asio::ip::address& ip);

  /// Called by a session that buffered `n` more bytes of an unfinished frame.
  /// While the total exceeds `max_partial_frame_bytes`, closes the session
  /// with the largest unfinished frame, which may be the caller.
  void on_partial_frame_grown(std::size_t n);

  /// Called by a session whose unfinished frame of `n` bytes completed or
  /// was dropped.
  void on_partial_frame_released(std::size_t n) noexcept;

  /// Returns the bytes of unfinished frames over all connections.
  std::size_t partial_frame_bytes() const noexcept {
    return partial_frame_bytes_;
  }

  const registry_listener_config& config() const noexcept { return config_; }

  registry_listener_stats& stats() noexcept { return stats_; }

  /// Returns how many connections are open.
  std::size_t connection_count() const noexcept { return sessions_.size(); }

private:
  void do_accept();
  void on_accept(const boost::system::error_code& ec,
                 boost::asio::ip::tcp::socket socket);
  void do_reap();
  void on_reap(const boost::system::error_code& ec);
  void do_save();
  void on_save(const boost::system::error_code& ec);
  void log_stats();

  registry_service& service_;
  registry_listener_config config_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  boost::asio::steady_timer reap_timer_;
  boost::asio::steady_timer save_timer_;
  std::unordered_map<registry_session*, std::weak_ptr<registry_session>>
      sessions_;
  std::map<boost::asio::ip::address, std::size_t> connections_per_ip_;
  unsigned accept_failures_ = 0;
  std::size_t partial_frame_bytes_ = 0;
  bool stopped_ = false;
  registry_listener_stats stats_;
  /// The counters as last logged, to log only changes.
  std::array<std::uint64_t, 12> last_logged_{};
};

} // namespace pilot::actors
