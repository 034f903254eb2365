#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pilot::webhook::detail {

/// A connected TCP socket. Its executor is the strand of the session that
/// opened it, and every later session on it keeps that strand.
using socket_type = boost::beast::tcp_stream::socket_type;

/// A TLS stream over TCP, with the same strand rule as `socket_type`.
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// A TLS connection and the context that made it, which must outlive the
/// stream.
struct tls_connection {
  std::shared_ptr<boost::asio::ssl::context> context;
  tls_stream stream;
};

/// An idle connection: a plain TCP socket, or a TLS connection whose
/// handshake is done.
using idle_connection = std::variant<socket_type, tls_connection>;

/// Idle keep-alive connections of the HTTP client, keyed by scheme, host,
/// port and, for TLS, the trusted CA file. Keeps at most `capacity` and
/// closes the oldest beyond that. Thread-safe.
class connection_pool {
public:
  explicit connection_pool(std::size_t capacity);

  ~connection_pool();

  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  /// Removes and returns the newest idle connection to `key` that the peer
  /// has not closed yet. Closes the stale ones it finds on the way.
  std::optional<idle_connection> take(const std::string& key);

  /// Keeps `connection`, which has no operation pending, for the next
  /// request to `key`.
  void put(std::string key, idle_connection connection);

  /// Returns the number of idle connections.
  std::size_t size() const;

  /// Closes every idle connection.
  void clear();

private:
  using entry = std::pair<std::string, idle_connection>;

  mutable std::mutex mutex_;
  std::deque<entry> idle_;
  std::size_t capacity_;
};

/// Returns the TCP socket under `connection`.
socket_type& socket_of(idle_connection& connection);

} // namespace pilot::webhook::detail
