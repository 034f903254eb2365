#pragma once

#include "actors/fwd.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pilot::actors {

/// The actor that receives the `registry_reply` messages of a transport.
using registry_reply_sink = caf::typed_actor<caf::reacts_to<registry_reply>>;

/// Carries registry requests and delivers each response as a message, so the
/// registry actor never waits on the network. Tests implement it to play the
/// registry's side.
class registry_transport {
public:
  virtual ~registry_transport();

  /// Queues the JSON request `body`. Unless `close` comes first, exactly one
  /// `registry_reply` with `request_id` reaches the sink within `deadline`
  /// of this call: the response body, or the reason why none arrived. A
  /// request that is too large or finds the queue full fails at once with
  /// `unsent` set. Thread-safe.
  virtual void send(std::uint64_t request_id, std::string body,
                    std::chrono::milliseconds deadline)
      = 0;

  /// Drops every queued request without replying and closes the connection.
  /// Nothing reaches the sink afterwards. Thread-safe and idempotent.
  virtual void close() = 0;
};

/// Settings of the TCP client for the registry.
struct registry_connection_options {
  /// The registry's `host:port`; an IPv6 host is written in brackets.
  std::string address;
  /// Deadline of one attempt to resolve and connect.
  std::chrono::milliseconds connect_timeout{5'000};
  /// Pause after the first failed connection attempt. Each further failure
  /// doubles it up to `max_backoff`, and a connection resets it.
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{10'000};
  /// Failed connection attempts after which the request at the head of the
  /// queue fails, unless its deadline ends it first.
  std::size_t max_connect_attempts = 5;
  /// Requests waiting or in flight; a request beyond this fails at once.
  std::size_t max_queued = 64;
};

/// Creates the registry client: one plain TCP connection on `io`, opened on
/// demand, that sends the queued requests one at a time in order (frame out,
/// frame in). A request whose connection fails before the response arrives
/// is sent once more on a new connection, as the Go client does. Replies go
/// to `sink` with `caf::anon_send`. `io` must outlive the returned object.
// TODO: TLS with certificate pinning (`--registry-tls`,
// `--registry-fingerprint`) is not implemented; only plain TCP is.
std::shared_ptr<registry_transport>
make_registry_connection(boost::asio::io_context& io,
                         registry_connection_options options,
                         registry_reply_sink sink);

/// Splits `host:port` (or `[v6host]:port`) into host and port. Returns false
/// when the port is missing or not a decimal number from 1 to 65535, or the
/// host is empty.
bool split_host_port(std::string_view address, std::string& host,
                     std::string& port);

} // namespace pilot::actors
