#pragma once

#include "actors/fwd.hpp"

#include <cstdint>
#include <string>

/// Message types, atoms and the typed handle of the webhook actor.
namespace pilot::webhook {

/// The webhook counters of this daemon run. At every moment
/// `emitted == delivered + failed + dropped + in_flight + buffered`, where
/// `failed` and `dropped` are the sums of their per-class counters.
struct webhook_stats {
  std::string url;   ///< Redacted: no user info, no query. Empty if disabled.
  std::string state; ///< `up`, `down` or `disabled`.
  std::uint64_t emitted = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t failed_status_3xx = 0;
  std::uint64_t failed_status_4xx = 0;
  /// 5xx, and every final status outside 200 to 599 (0, 101, 600 to 999).
  std::uint64_t failed_status_5xx = 0;
  std::uint64_t failed_timeout = 0;
  std::uint64_t failed_connect = 0;
  std::uint64_t failed_dns = 0;
  std::uint64_t failed_tls = 0;
  std::uint64_t dropped = 0;
  std::uint64_t dropped_full = 0;
  std::uint64_t dropped_down = 0;
  std::uint64_t dropped_disabled = 0;
  std::uint64_t dropped_filtered = 0;
  std::uint64_t dropped_oversize = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t buffered = 0;
  std::string last_error;        ///< Redacted; empty when none.
  std::string last_delivered_at; ///< RFC 3339 UTC; empty when none.
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_stats& x) {
  return f(caf::meta::type_name("webhook_stats"), x.url, x.state, x.emitted,
           x.delivered, x.failed, x.failed_status_3xx, x.failed_status_4xx,
           x.failed_status_5xx, x.failed_timeout, x.failed_connect,
           x.failed_dns, x.failed_tls, x.dropped, x.dropped_full,
           x.dropped_down, x.dropped_disabled, x.dropped_filtered,
           x.dropped_oversize, x.in_flight, x.buffered, x.last_error,
           x.last_delivered_at, x.latency_p50_ms, x.latency_p99_ms);
}

/// The outcome of one HTTP attempt, sent by the HTTP client's completion
/// handler to the webhook actor.
struct attempt_result {
  std::uint64_t attempt_id = 0;
  /// The status of the final response as sent, from 0 to 999, when one
  /// arrived.
  int status = 0;
  /// Empty when a final response arrived, whatever its status. Otherwise
  /// `timeout`, `connect`, `dns` or `tls`.
  std::string failure_class;
  std::string detail; ///< Error text for logs; never a secret.
  std::int64_t latency_us = 0;

  /// Returns whether a final response arrived.
  bool responded() const noexcept { return failure_class.empty(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_result& x) {
  return f(caf::meta::type_name("attempt_result"), x.attempt_id, x.status,
           x.failure_class, x.detail, x.latency_us);
}

} // namespace pilot::webhook

CAF_BEGIN_TYPE_ID_BLOCK(pilot_webhook, caf::first_custom_type_id + 100)
CAF_ADD_TYPE_ID(pilot_webhook, (pilot::webhook::webhook_stats))
CAF_ADD_TYPE_ID(pilot_webhook, (pilot::webhook::attempt_result))

CAF_ADD_ATOM(pilot_webhook, pilot::webhook, set_url_atom, "set_url")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, stats_atom, "stats")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, drain_atom, "drain")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, probe_atom, "probe")
CAF_END_TYPE_ID_BLOCK(pilot_webhook)

namespace pilot::webhook {

/// The webhook actor: an event sink that POSTs each event to the current URL.
///
/// - `(set_url_atom, url)`: validate and switch to `url` at once ("" turns
///   webhooks off); answers the redacted URL, or an error naming the problem.
/// - `stats_atom`: the counters.
/// - `drain_atom`: answers the final counters once nothing is buffered or in
///   flight, or once the shutdown grace ran out.
/// - `probe_atom`, `attempt_result`: the actor's own back-off timer and the
///   answers of its HTTP client.
using webhook_actor = actors::event_sink_actor::extend<
    caf::replies_to<set_url_atom, std::string>::with<std::string>,
    caf::replies_to<stats_atom>::with<webhook_stats>,
    caf::replies_to<drain_atom>::with<webhook_stats>,
    caf::reacts_to<probe_atom>, caf::reacts_to<attempt_result>>;

} // namespace pilot::webhook
