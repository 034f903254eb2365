#include "webhook/webhook_actor.hpp"

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "protocol/webhook_envelope.hpp"
#include "protocol/webhook_url.hpp"
#include "webhook/detail/backoff.hpp"
#include "webhook/detail/delivery_counters.hpp"
#include "webhook/detail/log_limiter.hpp"
#include "webhook/detail/webhook_settings.hpp"
#include "webhook/http_client.hpp"

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/weak_intrusive_ptr.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pilot::webhook {

namespace {

namespace log = actors::log;

using detail::drop_reason;

constexpr std::string_view component = "webhook";

/// Requests in flight at once to the current URL and to URLs it replaced,
/// tests included. Requests to a replaced URL finish on their own, so
/// without this bound each URL change could add `webhook_concurrency` more
/// open connections until their timeouts.
constexpr std::size_t max_attempts = 2 * max_webhook_concurrency;

enum class endpoint_state { up, down, disabled };

std::string to_string(endpoint_state state) {
  switch (state) {
    case endpoint_state::up:
      return "up";
    case endpoint_state::down:
      return "down";
    case endpoint_state::disabled:
      return "disabled";
  }
  return "disabled";
}

/// A serialized event that waits for a free request slot.
struct pending_event {
  std::string name;
  std::string body;
  std::string webhook_id;
};

/// Why an attempt was sent, which decides what its result may change.
enum class attempt_kind {
  /// A raised event; it takes a request slot and may be retried.
  event,
  /// The first event after the back-off of a down endpoint; it takes a
  /// request slot and is never retried.
  probe,
  /// The `webhook.test` event of `test_atom`: it takes no request slot, is
  /// never retried and replies to its requester.
  test,
};

/// An event on its way: sent and waiting for its result, or waiting for
/// the pause before a retry.
struct attempt {
  /// The `url_generation` it was sent with; a later URL change makes it an
  /// attempt to an old URL, which no longer moves the endpoint state.
  std::uint64_t url_generation = 0;
  /// The redacted URL it was sent to.
  std::string url;
  attempt_kind kind = attempt_kind::event;
  /// How often it may still be sent again under `webhook_retries`.
  std::uint32_t retries_left = 0;
  /// How often it was sent again so far, which doubles the next pause.
  std::uint32_t retries_sent = 0;
  /// The event, kept only while a retry may need it.
  pending_event event;
  /// The result of the last attempt while the pause before a retry runs.
  std::optional<attempt_result> pending_retry;
  /// The requester of `test_atom`.
  std::optional<caf::typed_response_promise<attempt_result>> reply;

  /// Returns whether the attempt takes one of the request slots.
  bool takes_slot() const noexcept { return kind != attempt_kind::test; }
};

struct webhook_state {
  webhook_options options;
  std::shared_ptr<transport> http;
  /// The settings in effect.
  detail::webhook_settings settings;
  /// Counts URL changes.
  std::uint64_t url_generation = 0;
  endpoint_state endpoint = endpoint_state::disabled;
  std::deque<pending_event> buffer;
  std::unordered_map<std::uint64_t, attempt> attempts;
  /// The attempts to the current URL that take request slots.
  std::size_t current_attempts = 0;
  std::uint64_t next_event_id = 1;
  std::uint64_t next_attempt_id = 1;
  std::uint32_t node_id = 0;
  std::optional<detail::backoff> probe_backoff;
  caf::actor_clock::time_point probe_due{};
  /// The back-off has passed, so the next event is the probe.
  bool probe_armed = false;
  bool probe_in_flight = false;
  /// The jitter of the pauses before retries.
  std::mt19937_64 random{std::random_device{}()};
  detail::delivery_counters counters;
  std::vector<caf::typed_response_promise<webhook_stats>> drains;
  caf::actor_clock::time_point grace_ends{};
  std::array<detail::log_limiter, 5> drop_logs;
  detail::log_limiter failure_log;

  static inline const char* name = "webhook";
};

using webhook_pointer = webhook_actor::stateful_pointer<webhook_state>;

// -- helpers ------------------------------------------------------------------

std::string random_boot_id() {
  std::random_device random;
  char text[17];
  std::snprintf(text, sizeof(text), "%08x%08x", random(), random());
  return text;
}

std::uint32_t narrowed(std::size_t value) {
  return static_cast<std::uint32_t>(
      std::min<std::size_t>(value, std::numeric_limits<std::uint32_t>::max()));
}

webhook_config config_of(const webhook_options& options) {
  webhook_config result;
  result.url = options.url;
  result.events = options.events;
  result.secrets = options.secrets;
  result.ca_file = options.ca_file;
  result.retries = narrowed(options.retries);
  result.concurrency = narrowed(options.concurrency);
  result.buffer_size = narrowed(options.buffer_size);
  result.timeout_ms = options.timeout.count();
  return result;
}

std::string current_url(const webhook_state& st) {
  return st.settings.target ? st.settings.target->redacted : std::string{};
}

webhook_stats make_stats(const webhook_state& st) {
  auto result = st.counters.snapshot(current_url(st), to_string(st.endpoint),
                                     st.attempts.size(), st.buffer.size());
  const auto& config = st.settings.config;
  result.events = st.settings.filter.text();
  result.retries = config.retries;
  result.concurrency = config.concurrency;
  result.buffer_size = config.buffer_size;
  result.timeout_ms = config.timeout_ms;
  result.secrets = narrowed(config.secrets.size());
  result.ca_file = config.ca_file;
  return result;
}

bool is_idle(const webhook_state& st) {
  return st.attempts.empty() && st.buffer.empty();
}

// -- logging ------------------------------------------------------------------

void log_drop(webhook_pointer self, drop_reason reason) {
  auto& limiter = self->state.drop_logs[static_cast<std::size_t>(reason)];
  auto count = limiter.count(self->clock().now());
  if (count == 0)
    return;
  // Dropping with webhooks off or by the filter is what the user asked for.
  auto level
      = reason == drop_reason::disabled || reason == drop_reason::filtered
            ? log::level::debug
            : log::level::warn;
  log::write(level, component, "webhook-events-dropped",
             "webhook events dropped",
             {{"reason", std::string{to_string(reason)}},
              {"count", std::to_string(count)},
              {"url", current_url(self->state)}});
}

void flush_drop_logs(webhook_pointer self) {
  for (std::size_t i = 0; i < self->state.drop_logs.size(); ++i) {
    auto count = self->state.drop_logs[i].flush();
    if (count == 0)
      continue;
    log::info(component, "webhook-events-dropped", "webhook events dropped",
              {{"reason", std::string{to_string(static_cast<drop_reason>(i))}},
               {"count", std::to_string(count)},
               {"url", current_url(self->state)}});
  }
}

void log_failure(webhook_pointer self, const std::string& url,
                 const std::string& error) {
  auto count = self->state.failure_log.count(self->clock().now());
  if (count == 0)
    return;
  log::warn(component, "webhook-delivery-failed", "webhook delivery failed",
            {{"url", url}, {"error", error}, {"count", std::to_string(count)}});
}

// -- endpoint state -----------------------------------------------------------

void drop(webhook_pointer self, drop_reason reason) {
  self->state.counters.count_dropped(reason);
  log_drop(self, reason);
}

void drop_buffer(webhook_pointer self, drop_reason reason) {
  auto& st = self->state;
  st.counters.count_dropped(reason, st.buffer.size());
  st.buffer.clear();
}

void mark_down(webhook_pointer self, const std::string& error) {
  auto& st = self->state;
  auto was_up = st.endpoint == endpoint_state::up;
  auto dropped = st.buffer.size();
  st.endpoint = endpoint_state::down;
  drop_buffer(self, drop_reason::down);
  auto pause = st.probe_backoff->next();
  st.probe_due = self->clock().now() + pause;
  st.probe_armed = false;
  self->delayed_send(self, pause, probe_atom_v);
  if (was_up)
    log::warn(component, "webhook-endpoint-down",
              "webhook endpoint down; dropping events until a probe succeeds",
              {{"url", current_url(st)},
               {"error", error},
               {"dropped", std::to_string(dropped)},
               {"probe_in_ms", std::to_string(pause.count())}});
  else
    log::debug(component, "webhook-probe-failed", "webhook probe failed",
               {{"url", current_url(st)},
                {"error", error},
                {"probe_in_ms", std::to_string(pause.count())}});
}

void mark_up(webhook_pointer self) {
  auto& st = self->state;
  st.endpoint = endpoint_state::up;
  st.probe_backoff->reset();
  st.probe_armed = false;
  flush_drop_logs(self);
  log::info(component, "webhook-endpoint-up", "webhook endpoint up",
            {{"url", current_url(st)}});
}

// -- delivery -----------------------------------------------------------------

// Sends `event` as `next` with the current URL and settings, and keeps
// `next` until its result arrives.
void start_attempt(webhook_pointer self, attempt next, pending_event event) {
  auto& st = self->state;
  auto attempt_id = st.next_attempt_id++;
  http_request request;
  request.attempt_id = attempt_id;
  request.target = st.settings.target;
  request.event_name = event.name;
  request.webhook_id = event.webhook_id;
  request.signing_keys = st.settings.signing_keys;
  request.ca_file = st.settings.config.ca_file;
  request.timeout = std::chrono::milliseconds{st.settings.config.timeout_ms};
  // Copy the body only when a retry may send it again.
  if (next.retries_left > 0) {
    request.body = event.body;
    next.event = std::move(event);
  } else {
    request.body = std::move(event.body);
  }
  st.attempts.emplace(attempt_id, std::move(next));
  // Runs on the transport's thread: it only sends the result to the actor.
  // A request in flight must not keep the actor alive, because CAF destroys
  // an actor on its own thread only once nothing refers to it, and the
  // daemon's shutdown waits for that.
  auto done = [weak = caf::weak_actor_ptr{self->ctrl()},
               attempt_id](attempt_result result) {
    auto strong = weak.lock();
    if (!strong)
      return;
    result.attempt_id = attempt_id;
    caf::anon_send(caf::actor_cast<webhook_actor>(strong), std::move(result));
  };
  st.http->post(std::move(request), std::move(done));
}

void send(webhook_pointer self, pending_event event, attempt_kind kind) {
  auto& st = self->state;
  attempt next;
  next.url_generation = st.url_generation;
  next.url = st.settings.target->redacted;
  next.kind = kind;
  if (kind == attempt_kind::event)
    next.retries_left = st.settings.config.retries;
  if (next.takes_slot())
    ++st.current_attempts;
  if (kind == attempt_kind::probe) {
    st.probe_armed = false;
    st.probe_in_flight = true;
  }
  start_attempt(self, std::move(next), std::move(event));
}

// Returns whether an event may be sent now: a request slot is free and the
// requests to all URLs stay within `max_attempts`.
bool may_send(const webhook_state& st) {
  return st.current_attempts < st.settings.config.concurrency
         && st.attempts.size() < max_attempts;
}

void pump(webhook_pointer self) {
  auto& st = self->state;
  while (st.endpoint == endpoint_state::up && may_send(st)
         && !st.buffer.empty()) {
    auto next = std::move(st.buffer.front());
    st.buffer.pop_front();
    send(self, std::move(next), attempt_kind::event);
  }
}

std::optional<pending_event>
serialize(webhook_state& st, std::uint64_t event_id, const protocol::event& e) {
  protocol::envelope_header header{event_id, st.node_id,
                                   std::chrono::system_clock::now()};
  auto body = protocol::serialize_envelope(header, e);
  // An empty body means serialization ran out of memory, which counts as
  // `oversize` too.
  if (body.empty() || body.size() > st.options.max_body_size)
    return std::nullopt;
  auto webhook_id = std::to_string(st.node_id) + '-' + st.options.boot_id + '-'
                    + std::to_string(event_id);
  return pending_event{std::string{protocol::event_name(e)}, std::move(body),
                       std::move(webhook_id)};
}

// Returns whether a new event may be sent or buffered now. Otherwise
// counts it as dropped.
bool admit(webhook_pointer self, const protocol::event& e) {
  auto& st = self->state;
  if (st.endpoint == endpoint_state::disabled) {
    drop(self, drop_reason::disabled);
    return false;
  }
  if (!st.settings.filter.matches(e)) {
    drop(self, drop_reason::filtered);
    return false;
  }
  if (st.endpoint == endpoint_state::down) {
    if (st.probe_armed && !st.probe_in_flight
        && st.attempts.size() < max_attempts)
      return true;
    drop(self, drop_reason::down);
    return false;
  }
  if (may_send(st) || st.buffer.size() < st.settings.config.buffer_size)
    return true;
  drop(self, drop_reason::full);
  return false;
}

void on_event(webhook_pointer self, const protocol::event& e) {
  auto& st = self->state;
  auto event_id = st.next_event_id++;
  st.counters.count_emitted();
  if (!admit(self, e))
    return;
  auto event = serialize(st, event_id, e);
  if (!event) {
    drop(self, drop_reason::oversize);
    return;
  }
  if (st.endpoint == endpoint_state::down) {
    send(self, std::move(*event), attempt_kind::probe);
    return;
  }
  st.buffer.push_back(std::move(*event));
  pump(self);
}

// -- drain --------------------------------------------------------------------

webhook_stats final_stats(webhook_pointer self, std::string_view outcome) {
  flush_drop_logs(self);
  auto stats = make_stats(self->state);
  log::info(component, "webhook-final-counters", "webhook final counters",
            {{"outcome", std::string{outcome}},
             {"emitted", std::to_string(stats.emitted)},
             {"delivered", std::to_string(stats.delivered)},
             {"failed", std::to_string(stats.failed)},
             {"dropped", std::to_string(stats.dropped)},
             {"retried", std::to_string(stats.retried)},
             {"in_flight", std::to_string(stats.in_flight)},
             {"buffered", std::to_string(stats.buffered)}});
  return stats;
}

void finish_drains(webhook_pointer self, std::string_view outcome) {
  auto& st = self->state;
  auto stats = final_stats(self, outcome);
  for (auto& promise : st.drains)
    promise.deliver(stats);
  st.drains.clear();
}

void check_drained(webhook_pointer self) {
  if (!self->state.drains.empty() && is_idle(self->state))
    finish_drains(self, "drained");
}

caf::result<webhook_stats> drain(webhook_pointer self) {
  auto& st = self->state;
  if (is_idle(st))
    return final_stats(self, "drained");
  st.drains.push_back(self->make_response_promise<webhook_stats>());
  if (st.drains.size() == 1) {
    st.grace_ends = self->clock().now() + st.options.shutdown_grace;
    self->delayed_send(self, st.options.shutdown_grace, probe_atom_v);
  }
  return st.drains.back();
}

// The typed interface has one timer message for the endpoint, `probe_atom`,
// so each one checks both deadlines: the end of a back-off and the end of a
// grace.
void on_timer(webhook_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (st.endpoint == endpoint_state::down && now >= st.probe_due)
    st.probe_armed = true;
  if (!st.drains.empty() && now >= st.grace_ends)
    finish_drains(self, "grace-expired");
}

// -- results ------------------------------------------------------------------

// Returns the `last_error` text of a failed attempt, which is never empty.
std::string failure_text(const attempt& done, const attempt_result& result) {
  auto status = std::to_string(result.status);
  if (!result.responded() && !result.detail.empty())
    return result.detail;
  if (!result.responded())
    return "webhook delivery to " + done.url + " failed ("
           + result.failure_class + ")";
  if (!detail::is_standard_final_status(result.status))
    return "unexpected HTTP status " + status + " from " + done.url;
  return "HTTP " + status + " from " + done.url;
}

bool is_delivered(const attempt_result& result) {
  return result.responded() && result.status >= 200 && result.status < 300;
}

// Counts the outcome of `done`. Returns the error text of a failure, or
// nothing for a delivery.
std::optional<std::string> count_result(webhook_pointer self,
                                        const attempt& done,
                                        const attempt_result& result) {
  auto& counters = self->state.counters;
  if (is_delivered(result)) {
    counters.count_delivered(
        std::chrono::microseconds{result.latency_us},
        protocol::format_utc_timestamp(std::chrono::system_clock::now()));
    return std::nullopt;
  }
  auto error = failure_text(done, result);
  counters.count_failed(result, error);
  return error;
}

// Moves the endpoint state after a result for the current URL: any final
// response, whatever its status, means the endpoint is up. Returns whether
// the state changed, which `mark_up` and `mark_down` log.
bool update_endpoint(webhook_pointer self, const attempt& done,
                     const attempt_result& result, const std::string& error) {
  auto& st = self->state;
  if (result.responded() && st.endpoint == endpoint_state::down) {
    mark_up(self);
    return true;
  }
  if (!result.responded()
      && (st.endpoint == endpoint_state::up
          || done.kind == attempt_kind::probe)) {
    mark_down(self, error);
    return true;
  }
  return false;
}

// Counts the final result of `done`, frees its request slot and moves the
// endpoint state.
void finish(webhook_pointer self, attempt done, attempt_result result) {
  auto& st = self->state;
  auto is_current = done.url_generation == st.url_generation;
  if (is_current && done.takes_slot())
    --st.current_attempts;
  if (is_current && done.kind == attempt_kind::probe)
    st.probe_in_flight = false;
  auto error = count_result(self, done, result);
  auto changed = is_current && st.endpoint != endpoint_state::disabled
                 && update_endpoint(self, done, result, error.value_or(""));
  if (error && !changed)
    log_failure(self, done.url, *error);
  if (done.reply)
    done.reply->deliver(std::move(result));
  pump(self);
  check_drained(self);
}

// Returns whether `result` is worth another attempt: no response at all,
// 429 Too Many Requests or a 5xx.
bool is_retryable(const attempt_result& result) {
  return !result.responded() || result.status == 429
         || (result.status >= 500 && result.status < 600);
}

// Returns whether `done` may be sent again after `result`: never while the
// endpoint is down or after the URL changed.
bool may_retry(const webhook_state& st, const attempt& done,
               const attempt_result& result) {
  return done.retries_left > 0 && is_retryable(result)
         && done.url_generation == st.url_generation
         && st.endpoint == endpoint_state::up;
}

// Keeps attempt `attempt_id` in flight, with its slot, for the pause before
// its next attempt: `retry_backoff` doubled for each retry sent before.
void schedule_retry(webhook_pointer self, std::uint64_t attempt_id,
                    attempt& waiting, attempt_result result) {
  auto& st = self->state;
  auto pause = detail::with_jitter(
      st.options.retry_backoff * (1 << std::min(waiting.retries_sent, 8u)),
      st.options.backoff_jitter, st.random);
  log::debug(component, "webhook-retry-scheduled", "webhook retry scheduled",
             {{"url", waiting.url},
              {"error", failure_text(waiting, result)},
              {"retry_in_ms", std::to_string(pause.count())},
              {"retries_left", std::to_string(waiting.retries_left)}});
  waiting.pending_retry = std::move(result);
  self->delayed_send(self, pause, retry_atom_v, attempt_id);
}

void on_result(webhook_pointer self, attempt_result& result) {
  auto& st = self->state;
  auto i = st.attempts.find(result.attempt_id);
  if (i == st.attempts.end() || i->second.pending_retry)
    return;
  if (may_retry(st, i->second, result)) {
    schedule_retry(self, i->first, i->second, std::move(result));
    return;
  }
  auto done = std::move(i->second);
  st.attempts.erase(i);
  finish(self, std::move(done), std::move(result));
}

// Sends attempt `attempt_id` again after its pause, or gives up with the
// result of its last attempt when the endpoint went down or the URL changed
// in the meantime.
void on_retry(webhook_pointer self, std::uint64_t attempt_id) {
  auto& st = self->state;
  auto i = st.attempts.find(attempt_id);
  if (i == st.attempts.end() || !i->second.pending_retry)
    return;
  auto waiting = std::move(i->second);
  st.attempts.erase(i);
  auto last = std::move(*waiting.pending_retry);
  waiting.pending_retry.reset();
  if (!may_retry(st, waiting, last)) {
    finish(self, std::move(waiting), std::move(last));
    return;
  }
  --waiting.retries_left;
  ++waiting.retries_sent;
  st.counters.count_retried();
  auto event = std::move(waiting.event);
  start_attempt(self, std::move(waiting), std::move(event));
}

// -- test event ---------------------------------------------------------------

caf::result<attempt_result> send_test(webhook_pointer self) {
  auto& st = self->state;
  if (!st.settings.target)
    return actors::make_error(actors::errc::invalid_argument,
                              "no webhook URL is set");
  if (st.attempts.size() >= max_attempts)
    return actors::make_error(actors::errc::busy,
                              std::to_string(max_attempts)
                                  + " webhook requests are in flight; try "
                                    "again once they finish");
  auto event_id = st.next_event_id++;
  st.counters.count_emitted();
  auto event = serialize(st, event_id, protocol::webhook_test{});
  if (!event) {
    drop(self, drop_reason::oversize);
    return actors::make_error(actors::errc::invalid_argument,
                              "the webhook.test event is larger than the "
                              "body limit");
  }
  auto reply = self->make_response_promise<attempt_result>();
  attempt next;
  next.url_generation = st.url_generation;
  next.url = st.settings.target->redacted;
  next.kind = attempt_kind::test;
  next.reply = reply;
  start_attempt(self, std::move(next), std::move(*event));
  return reply;
}

// -- settings -----------------------------------------------------------------

void forget_current_url(webhook_state& st) {
  ++st.url_generation;
  st.current_attempts = 0;
  st.probe_armed = false;
  st.probe_in_flight = false;
  st.probe_backoff->reset();
}

// Starts using the URL in `st.settings`: buffered events go to the new URL,
// or are dropped as `disabled` when there is none.
void switch_url(webhook_pointer self) {
  auto& st = self->state;
  forget_current_url(st);
  if (!st.settings.target) {
    auto dropped = st.buffer.size();
    drop_buffer(self, drop_reason::disabled);
    st.endpoint = endpoint_state::disabled;
    log::info(component, "webhook-url-cleared", "webhook URL cleared",
              {{"dropped", std::to_string(dropped)}});
    check_drained(self);
    return;
  }
  st.endpoint = endpoint_state::up;
  log::info(component, "webhook-url-set", "webhook URL set",
            {{"url", st.settings.target->redacted},
             {"buffered", std::to_string(st.buffer.size())}});
  pump(self);
}

// Drops the newest buffered events beyond a smaller `webhook_buffer` as
// `full`, the reason a new event would have been dropped for.
void trim_buffer(webhook_pointer self) {
  auto& st = self->state;
  auto limit = static_cast<std::size_t>(st.settings.config.buffer_size);
  if (st.buffer.size() <= limit)
    return;
  auto excess = st.buffer.size() - limit;
  st.counters.count_dropped(drop_reason::full, excess);
  st.buffer.resize(limit);
}

void log_settings(webhook_pointer self) {
  const auto& st = self->state;
  const auto& config = st.settings.config;
  log::info(component, "webhook-settings-applied", "webhook settings applied",
            {{"url", current_url(st)},
             {"events", st.settings.filter.text()},
             {"retries", std::to_string(config.retries)},
             {"concurrency", std::to_string(config.concurrency)},
             {"buffer", std::to_string(config.buffer_size)},
             {"timeout_ms", std::to_string(config.timeout_ms)},
             {"secrets", std::to_string(config.secrets.size())},
             {"ca_file", config.ca_file}});
}

bool same_target(const detail::webhook_settings& x,
                 const detail::webhook_settings& y) {
  if (!x.target || !y.target)
    return x.target == y.target;
  return *x.target == *y.target;
}

// Applies `next` at once. Setting the current URL again keeps the endpoint
// state, so that requests stay in order and a down endpoint keeps its
// back-off.
void apply(webhook_pointer self, detail::webhook_settings next) {
  auto& st = self->state;
  auto url_changed = !same_target(st.settings, next);
  if (!url_changed)
    next.target = st.settings.target;
  st.settings = std::move(next);
  if (url_changed)
    switch_url(self);
  trim_buffer(self);
  pump(self);
  check_drained(self);
}

caf::result<std::string> configure(webhook_pointer self,
                                   webhook_config config) {
  auto next = detail::check_settings(std::move(config));
  if (!next)
    return std::move(next.error());
  apply(self, std::move(*next));
  log_settings(self);
  return current_url(self->state);
}

caf::result<std::string> set_url(webhook_pointer self, std::string url) {
  auto next = detail::with_url(self->state.settings, std::move(url));
  if (!next)
    return std::move(next.error());
  apply(self, std::move(*next));
  return current_url(self->state);
}

// -- behavior -----------------------------------------------------------------

webhook_actor::behavior_type webhook_behavior(webhook_pointer self,
                                              std::shared_ptr<transport> http,
                                              webhook_options options,
                                              detail::webhook_settings start) {
  auto& st = self->state;
  st.probe_backoff.emplace(options.initial_backoff, options.max_backoff,
                           options.backoff_jitter, std::random_device{}());
  st.options = std::move(options);
  st.http = std::move(http);
  apply(self, std::move(start));
  return {
      [self](protocol::event& e) { on_event(self, e); },
      [self](actors::node_id_atom, std::uint32_t node_id) {
        self->state.node_id = node_id;
      },
      [self](set_url_atom, std::string& url) {
        return set_url(self, std::move(url));
      },
      [self](configure_atom, webhook_config& config) {
        return configure(self, std::move(config));
      },
      [self](config_atom) { return self->state.settings.config; },
      [self](test_atom) { return send_test(self); },
      [self](stats_atom) { return make_stats(self->state); },
      [self](drain_atom) { return drain(self); },
      [self](probe_atom) { on_timer(self); },
      [self](retry_atom, std::uint64_t attempt_id) {
        on_retry(self, attempt_id);
      },
      [self](attempt_result& result) { on_result(self, result); },
  };
}

} // namespace

webhook_actor spawn_webhook(caf::actor_system& sys, boost::asio::io_context& io,
                            webhook_options options) {
  // The pool keeps only connections that requests opened, so it never
  // holds more than the highest concurrency in use. Its capacity is the
  // maximum, so that a concurrency raised at run time keeps its
  // connections alive.
  http_client_options client_options;
  client_options.max_idle_connections = max_webhook_concurrency;
  return spawn_webhook(sys, make_http_client(io, std::move(client_options)),
                       std::move(options));
}

webhook_actor spawn_webhook(caf::actor_system& sys,
                            std::shared_ptr<transport> http,
                            webhook_options options) {
  auto start = detail::check_settings(config_of(options));
  if (!start)
    throw std::invalid_argument(actors::error_text(start.error()));
  if (options.boot_id.empty())
    options.boot_id = random_boot_id();
  if (options.own_thread)
    return sys.spawn<caf::detached>(webhook_behavior, std::move(http),
                                    std::move(options), std::move(*start));
  return sys.spawn(webhook_behavior, std::move(http), std::move(options),
                   std::move(*start));
}

} // namespace pilot::webhook
