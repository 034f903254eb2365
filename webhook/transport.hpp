#pragma once

#include "protocol/webhook_url.hpp"
#include "webhook/fwd.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pilot::webhook {

/// One webhook POST for a transport to deliver.
struct http_request {
  /// Identifies the attempt in its `attempt_result`.
  std::uint64_t attempt_id = 0;
  /// The destination URL.
  std::shared_ptr<const protocol::webhook_target> target;
  /// The JSON body.
  std::string body;
  /// The event name, sent as `X-Pilot-Event`.
  std::string event_name;
  /// `<node_id>-<boot_id>-<event_id>`, sent as `webhook-id`.
  std::string webhook_id;
  /// The raw keys (decoded from `whsec_` secrets) that sign the request in
  /// `webhook-signature`; null or empty for no signature. Secrets: never log.
  std::shared_ptr<const std::vector<std::string>> signing_keys;
  /// PEM file of the CAs trusted for https instead of the system store;
  /// empty for the system store.
  std::string ca_file;
  /// The one deadline of the whole attempt: resolve, connect, the TLS
  /// handshake, write and reading the complete response.
  std::chrono::milliseconds timeout{5'000};
};

/// Receives the outcome of one attempt. Transports call it from their own
/// threads, so it must be thread-safe; the webhook actor's handler only
/// sends the result to the actor.
using attempt_handler = std::function<void(attempt_result)>;

/// Delivers webhook POSTs. The webhook actor owns one; `http_client` is the
/// real one and tests implement it to inject faults.
class transport {
public:
  virtual ~transport();

  /// Starts delivering `request` and returns at once. Calls `done` exactly
  /// once with the outcome, never from inside `post`. Thread-safe.
  virtual void post(http_request request, attempt_handler done) = 0;
};

} // namespace pilot::webhook
