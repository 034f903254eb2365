#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace pilot::webhook::detail {

/// The TLS client contexts of the HTTP client, one per CA file. Each
/// context verifies the server's certificate chain, accepts TLS 1.2 or
/// newer and rejects renegotiation. Keeps at most `capacity` contexts and
/// drops the least recently used beyond that. Thread-safe.
class tls_context_cache {
public:
  /// A context, or the reason it could not be made, for the user.
  using lookup_result
      = boost::system::result<std::shared_ptr<boost::asio::ssl::context>,
                              std::string>;

  explicit tls_context_cache(std::size_t capacity);

  /// Returns the context that trusts only the CA certificates in
  /// `ca_file`, or the system trust store when `ca_file` is empty. Loads the
  /// file on first use, and again once it changed (another inode, size,
  /// change or modification time).
  lookup_result get(const std::string& ca_file);

  /// Returns the number of cached contexts.
  std::size_t size() const;

private:
  using entry
      = std::pair<std::string, std::shared_ptr<boost::asio::ssl::context>>;

  mutable std::mutex mutex_;
  // The most recently used entry is at the back.
  std::deque<entry> entries_;
  std::size_t capacity_;
};

} // namespace pilot::webhook::detail
