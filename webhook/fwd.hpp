#pragma once

#include "actors/fwd.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
  /// Attempts sent again under `webhook_retries`; not events, so outside
  /// the invariant.
  std::uint64_t retried = 0;
  /// The settings in effect, for `pilotctl webhook`. Secrets are never
  /// shown: only how many are set.
  std::string events; ///< The filter as given; `*` for all events.
  std::uint32_t retries = 0;
  std::uint32_t concurrency = 1;
  std::uint32_t buffer_size = 1024;
  std::int64_t timeout_ms = 5'000;
  std::uint32_t secrets = 0;
  std::string ca_file; ///< Empty: the system trust store.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_stats& x) {
  return f(caf::meta::type_name("webhook_stats"), x.url, x.state, x.emitted,
           x.delivered, x.failed, x.failed_status_3xx, x.failed_status_4xx,
           x.failed_status_5xx, x.failed_timeout, x.failed_connect,
           x.failed_dns, x.failed_tls, x.dropped, x.dropped_full,
           x.dropped_down, x.dropped_disabled, x.dropped_filtered,
           x.dropped_oversize, x.in_flight, x.buffered, x.last_error,
           x.last_delivered_at, x.latency_p50_ms, x.latency_p99_ms, x.retried,
           x.events, x.retries, x.concurrency, x.buffer_size, x.timeout_ms,
           x.secrets, x.ca_file);
}

/// Limits of the settings in `webhook_config`, checked wherever a setting
/// enters the daemon.
inline constexpr std::uint32_t max_webhook_retries = 3;
inline constexpr std::uint32_t max_webhook_concurrency = 64;
inline constexpr std::uint32_t max_webhook_buffer_size = 65'536;
inline constexpr std::int64_t min_webhook_timeout_ms = 1'000;
inline constexpr std::int64_t max_webhook_timeout_ms = 30'000;
inline constexpr std::size_t max_webhook_secrets = 2;

/// Every webhook setting that can change at run time, applied at once by
/// `configure_atom`. Holds secrets: never log it.
struct webhook_config {
  /// The URL; empty turns webhooks off.
  std::string url;
  /// The `webhook_events` filter: event names, `*` and `prefix.*` globs.
  /// Empty selects every event.
  std::vector<std::string> events;
  /// Zero to two `whsec_` secrets; each signs every request.
  std::vector<std::string> secrets;
  /// A PEM file of CA certificates trusted instead of the system store for
  /// https URLs; empty for the system trust store.
  std::string ca_file;
  std::uint32_t retries = 0;        ///< 0 to 3.
  std::uint32_t concurrency = 1;    ///< 1 to 64.
  std::uint32_t buffer_size = 1024; ///< 1 to 65536.
  std::int64_t timeout_ms = 5'000;  ///< 1000 to 30000.

  friend bool operator==(const webhook_config&, const webhook_config&)
      = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_config& x) {
  return f(caf::meta::type_name("webhook_config"), x.url, x.events, x.secrets,
           x.ca_file, x.retries, x.concurrency, x.buffer_size, x.timeout_ms);
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
CAF_ADD_TYPE_ID(pilot_webhook, (pilot::webhook::webhook_config))

CAF_ADD_ATOM(pilot_webhook, pilot::webhook, set_url_atom, "set_url")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, stats_atom, "stats")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, drain_atom, "drain")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, probe_atom, "probe")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, configure_atom, "configure")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, config_atom, "config")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, test_atom, "test")
CAF_ADD_ATOM(pilot_webhook, pilot::webhook, retry_atom, "retry")
CAF_END_TYPE_ID_BLOCK(pilot_webhook)

namespace pilot::webhook {

/// The webhook actor: an event sink that POSTs each event to the current URL.
///
/// - `(set_url_atom, url)`: validate and switch to `url` at once ("" turns
///   webhooks off); answers the redacted URL, or an error naming the problem.
/// - `(configure_atom, config)`: validate every setting and apply them all
///   at once, or none; replies with the redacted URL, or an error naming
///   the problem.
/// - `config_atom`: the settings in effect, secrets included, so that a
///   change of some settings can keep the others.
/// - `test_atom`: sends one `webhook.test` event at once, whatever the
///   filter, the buffer and the endpoint state, and answers the outcome of
///   its attempt; an error when no URL is set.
/// - `stats_atom`: the counters.
/// - `drain_atom`: answers the final counters once nothing is buffered or in
///   flight, or once the shutdown grace ran out.
/// - `probe_atom`, `(retry_atom, attempt_id)`, `attempt_result`: the
///   actor's own timers and the results of its HTTP client.
using webhook_actor = actors::event_sink_actor::extend<
    caf::replies_to<set_url_atom, std::string>::with<std::string>,
    caf::replies_to<configure_atom, webhook_config>::with<std::string>,
    caf::replies_to<config_atom>::with<webhook_config>,
    caf::replies_to<test_atom>::with<attempt_result>,
    caf::replies_to<stats_atom>::with<webhook_stats>,
    caf::replies_to<drain_atom>::with<webhook_stats>,
    caf::reacts_to<probe_atom>, caf::reacts_to<retry_atom, std::uint64_t>,
    caf::reacts_to<attempt_result>>;

} // namespace pilot::webhook
