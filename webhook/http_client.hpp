#pragma once

#include "webhook/transport.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace pilot::webhook {

/// Settings of the webhook HTTP client.
struct http_client_options {
  /// Maximum size of a response body. Bodies are read and discarded up to
  /// it; a larger body still counts its status, but the connection closes.
  std::size_t max_response_body = 64 * 1024;
  /// How long the body of a final response may take after its headers,
  /// within the attempt's deadline. A body that takes longer is not read to
  /// its end: its status still counts, but the connection closes.
  std::chrono::milliseconds body_timeout{500};
  /// Interim (1xx) responses read before the final one. After one more, the
  /// client stops reading, and the attempt fails as `timeout` at its
  /// deadline, as for any receiver that sends no final response.
  std::size_t max_interim_responses = 8;
  /// Maximum number of idle keep-alive connections kept for reuse.
  std::size_t max_idle_connections = 4;
  /// Maximum number of TLS contexts kept, one per CA file in use.
  std::size_t max_tls_contexts = 8;
  /// The `User-Agent` header.
  std::string user_agent = "pilot-daemon/" PILOT_VERSION;
};

/// Creates the HTTP/1.1 client that delivers webhook POSTs on `io`, which
/// the daemon runs on its own thread and which must outlive the client.
///
/// Each POST runs as one session on its own strand under one deadline
/// (`http_request::timeout`) that covers resolving, connecting, the TLS
/// handshake, writing and reading the whole response. Once the headers of
/// the final response are in, its status is the outcome: a body that fails,
/// exceeds `max_response_body` or outlasts `body_timeout` only closes the
/// connection. Connections are kept alive and reused, and redirects are
/// never followed. The client rejects every resolved address that
/// `protocol::is_refused_address` rejects. When a reused connection fails
/// before any response byte arrives, the request is sent once more on a new
/// connection, with a new `webhook-timestamp` and signature.
///
/// https targets use TLS 1.2 or newer through OpenSSL. The server's
/// certificate must chain to the system trust store, or to the CAs in
/// `http_request::ca_file` alone when it is set, and must name the URL's
/// host (an IP address for an IP literal, which is not sent as SNI).
/// Connections are reused only for the same CA file, and only while it is
/// unchanged: a file replaced in place applies to the next request.
///
/// Failure classes in `attempt_result`: `timeout` (no final response by the
/// deadline), `connect` (refused, reset or closed before a response,
/// invalid response, rejected address), `dns` and `tls` (handshake or
/// certificate verification failed, unusable CA file, TLS error before a
/// response).
std::shared_ptr<transport> make_http_client(boost::asio::io_context& io,
                                            http_client_options options = {});

} // namespace pilot::webhook
