#pragma once

#include "webhook/fwd.hpp"
#include "webhook/transport.hpp"

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace pilot::webhook {

/// Settings of the webhook actor.
struct webhook_options {
  /// The URL to start with; empty leaves webhooks off until `set_url_atom`.
  std::string url;
  /// The one deadline of each attempt, from resolving to the whole response.
  std::chrono::milliseconds timeout{5'000};
  /// Events that may wait while the endpoint is up and busy. One more is
  /// dropped as `full`.
  std::size_t buffer_size = 1024;
  /// Requests in flight at once, from 1 to 64. With 1, events are POSTed in
  /// the order they were raised.
  std::size_t concurrency = 1;
  /// The `webhook_events` filter; empty selects every event.
  std::vector<std::string> events;
  /// Zero to two `whsec_` secrets that sign every request.
  std::vector<std::string> secrets;
  /// PEM file of the CAs trusted for https URLs; empty for the system store.
  std::string ca_file;
  /// How often a failed attempt is sent again, from 0 to 3.
  std::size_t retries = 0;
  /// How long `drain_atom` waits for buffered and in-flight events.
  std::chrono::milliseconds shutdown_grace{3'000};
  /// Random per daemon start, so `webhook-id` is unique across restarts.
  /// Generated (16 hex digits) when empty.
  std::string boot_id;
  /// Maximum size of a serialized body; a larger event is dropped as
  /// `oversize`. Peers control most strings in events, so this bounds the
  /// memory that the buffer can take.
  std::size_t max_body_size = 1024 * 1024;
  /// Pause before the first probe of a down endpoint. It doubles after
  /// each failed probe up to `max_backoff`.
  std::chrono::milliseconds initial_backoff{1'000};
  std::chrono::milliseconds max_backoff{30'000};
  /// Pause before the first retry of an attempt; it doubles for each
  /// further retry.
  std::chrono::milliseconds retry_backoff{100};
  /// Each pause of a back-off or before a retry is scaled by a random factor
  /// in [1 - jitter, 1 + jitter].
  double backoff_jitter = 0.2;
  /// Runs the actor on a thread of its own instead of CAF's shared workers.
  /// A result from the HTTP client then wakes it at once, where an idle CAF
  /// 0.17.6 worker may first sleep up to 50 µs between checks of its queue.
  bool own_thread = false;
};

/// Spawns the webhook actor with the HTTP client on `io`, which the daemon
/// runs on its own thread. `io` must outlive the actor, because the client
/// keeps idle connections on it until the actor's state is destroyed.
///
/// The actor never makes a producer wait. It numbers every raised event
/// (`event_id`, from 1, one step per raised event, so a filtered or dropped
/// event leaves a gap) and then delivers, buffers or drops it, checking in
/// this order:
/// - no URL: dropped as `disabled`;
/// - not selected by `webhook_events`: dropped as `filtered`, before it is
///   serialized;
/// - endpoint down: dropped as `down`, except that the first event after
///   the back-off is sent as the probe. Events raised while the probe is in
///   flight are dropped as `down` too, because the endpoint stays down until
///   the probe gets a response;
/// - endpoint up: POSTed when a request slot is free, else buffered, else
///   dropped as `full`.
/// An event that is sent or buffered is serialized at once, with the node ID
/// and the time at which it was raised.
///
/// A connection-level failure (timeout, connect, dns, tls) on the current URL
/// marks the endpoint down and drops the buffer as `down`. Any HTTP response
/// marks it up again. 3xx, 4xx and 5xx are failed deliveries that keep the
/// endpoint up, and so is any status outside 200 to 599 (counted as
/// `status_5xx`).
///
/// With `webhook_retries` N, an event whose attempt failed with a
/// connection-level failure, 429 or 5xx is sent again up to N times, after
/// `retry_backoff` (100 ms) doubling with jitter, each attempt under its own
/// deadline. It keeps its request slot and counts as in flight during the
/// pause, and its outcome counts once: delivered, or failed with the class
/// of its last attempt. `retried` counts the attempts sent again. A
/// connection failure marks the endpoint down only when no retry is left.
/// Probes, tests and attempts to a URL that was replaced are never retried,
/// and a retry whose endpoint went down in its pause fails with the result
/// of its last attempt.
///
/// `configure_atom` checks every setting (see `detail::check_settings`) and
/// applies all or none: a new URL as `set_url_atom` does, a smaller
/// `webhook_buffer` drops the newest buffered events beyond it as `full`, a
/// lower `webhook_concurrency` lets the requests in flight finish, and a
/// higher one sends buffered events at once. `set_url_atom` changes the URL
/// alone, validated with `protocol::parse_webhook_url`: buffered events go
/// to the new URL, and requests in flight finish on their own. Requests to
/// all URLs together, tests included, never exceed twice the maximum
/// `webhook_concurrency` (128); beyond that, events wait in the buffer. Setting
/// the current URL again keeps the endpoint state. Invalid settings get an
/// `actors::errc::invalid_argument` error whose context is the message for
/// the user.
///
/// `test_atom` sends one `webhook.test` event at once, whatever the filter,
/// the buffer, the free slots and the endpoint state. It takes an `event_id`
/// and counts like any event (emitted, in flight, then delivered or failed),
/// is never retried, and moves the endpoint state like a probe: any response
/// marks a down endpoint up, a connection failure marks an up endpoint down.
/// The reply is its `attempt_result`. Without a URL the reply is an
/// `invalid_argument` error and nothing is counted.
///
/// `drain_atom` is answered once nothing is buffered or in flight, or after
/// `shutdown_grace`, and logs the final counters.
///
/// Throws `std::invalid_argument` with the message for the user when the
/// settings in `options` are invalid.
webhook_actor spawn_webhook(caf::actor_system& sys, boost::asio::io_context& io,
                            webhook_options options);

/// Spawns the webhook actor on `http`; tests pass a transport that injects
/// faults.
webhook_actor spawn_webhook(caf::actor_system& sys,
                            std::shared_ptr<transport> http,
                            webhook_options options);

} // namespace pilot::webhook
