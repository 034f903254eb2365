#pragma once

#include <boost/beast/core/tcp_stream.hpp>

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace pilot::webhook::detail {

/// A connected TCP socket. Its executor is the strand of the session that
/// opened it, and every later session on it keeps that strand.
using socket_type = boost::beast::tcp_stream::socket_type;

/// Idle keep-alive connections of the HTTP client, keyed by scheme, host and
/// port. Keeps at most `capacity` and closes the oldest beyond that.
/// Thread-safe.
class connection_pool {
public:
  explicit connection_pool(std::size_t capacity);

  ~connection_pool();

  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  /// Removes and returns the newest idle connection to `key` that the peer
  /// has not closed yet. Closes the stale ones it finds on the way.
  std::optional<socket_type> take(const std::string& key);

  /// Keeps `socket`, which has no operation pending, for the next request to
  /// `key`.
  void put(std::string key, socket_type socket);

  /// Returns the number of idle connections.
  std::size_t size() const;

  /// Closes every idle connection.
  void clear();

private:
  using entry = std::pair<std::string, socket_type>;

  mutable std::mutex mutex_;
  std::deque<entry> idle_;
  std::size_t capacity_;
};

} // namespace pilot::webhook::detail
