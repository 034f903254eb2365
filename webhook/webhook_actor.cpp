#include "webhook/webhook_actor.hpp"

#include "actors/error.hpp"
#include "actors/log.hpp"
#include "protocol/webhook_envelope.hpp"
#include "protocol/webhook_url.hpp"
#include "webhook/detail/backoff.hpp"
#include "webhook/detail/delivery_counters.hpp"
#include "webhook/detail/log_limiter.hpp"
#include "webhook/http_client.hpp"

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
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

constexpr std::size_t max_concurrency = 64;

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

/// A request that has not completed yet.
struct attempt {
  /// The `url_generation` it was sent with; a later URL change makes it an
  /// attempt to an old URL, which no longer moves the endpoint state.
  std::uint64_t url_generation = 0;
  /// The redacted URL it was sent to.
  std::string url;
  /// Whether it is the probe of a down endpoint.
  bool probe = false;
};

struct webhook_state {
  webhook_options options;
  std::shared_ptr<transport> http;
  /// The current URL; null while webhooks are off.
  std::shared_ptr<const protocol::webhook_target> target;
  /// Counts URL changes.
  std::uint64_t url_generation = 0;
  endpoint_state endpoint = endpoint_state::disabled;
  std::deque<pending_event> buffer;
  std::unordered_map<std::uint64_t, attempt> attempts;
  /// The attempts to the current URL, which take the request slots.
  std::size_t current_attempts = 0;
  std::uint64_t next_event_id = 1;
  std::uint64_t next_attempt_id = 1;
  std::uint32_t node_id = 0;
  std::optional<detail::backoff> probe_backoff;
  caf::actor_clock::time_point probe_due{};
  /// The back-off has passed, so the next event is the probe.
  bool probe_armed = false;
  bool probe_in_flight = false;
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

webhook_options normalized(webhook_options options) {
  options.concurrency
      = std::clamp<std::size_t>(options.concurrency, 1, max_concurrency);
  if (options.boot_id.empty())
    options.boot_id = random_boot_id();
  return options;
}

std::string current_url(const webhook_state& st) {
  return st.target ? st.target->redacted : std::string{};
}

webhook_stats make_stats(const webhook_state& st) {
  return st.counters.snapshot(current_url(st), to_string(st.endpoint),
                              st.attempts.size(), st.buffer.size());
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
  // Dropping with webhooks off is what the user asked for.
  auto level
      = reason == drop_reason::disabled ? log::level::debug : log::level::warn;
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

void send(webhook_pointer self, pending_event event, bool probe) {
  auto& st = self->state;
  auto attempt_id = st.next_attempt_id++;
  st.attempts.emplace(attempt_id,
                      attempt{st.url_generation, st.target->redacted, probe});
  ++st.current_attempts;
  if (probe) {
    st.probe_armed = false;
    st.probe_in_flight = true;
  }
  http_request request;
  request.attempt_id = attempt_id;
  request.target = st.target;
  request.body = std::move(event.body);
  request.event_name = std::move(event.name);
  request.webhook_id = std::move(event.webhook_id);
  request.timeout = st.options.timeout;
  // Runs on the transport's thread: it only sends the result to the actor.
  auto done = [handle = caf::actor_cast<webhook_actor>(self),
               attempt_id](attempt_result result) {
    result.attempt_id = attempt_id;
    caf::anon_send(handle, std::move(result));
  };
  st.http->post(std::move(request), std::move(done));
}

void pump(webhook_pointer self) {
  auto& st = self->state;
  while (st.endpoint == endpoint_state::up
         && st.current_attempts < st.options.concurrency
         && !st.buffer.empty()) {
    auto next = std::move(st.buffer.front());
    st.buffer.pop_front();
    send(self, std::move(next), false);
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
bool admit(webhook_pointer self) {
  auto& st = self->state;
  switch (st.endpoint) {
    case endpoint_state::disabled:
      drop(self, drop_reason::disabled);
      return false;
    case endpoint_state::down:
      if (st.probe_armed && !st.probe_in_flight)
        return true;
      drop(self, drop_reason::down);
      return false;
    case endpoint_state::up:
      if (st.current_attempts < st.options.concurrency
          || st.buffer.size() < st.options.buffer_size)
        return true;
      drop(self, drop_reason::full);
      return false;
  }
  return false;
}

void on_event(webhook_pointer self, const protocol::event& e) {
  auto& st = self->state;
  auto event_id = st.next_event_id++;
  st.counters.count_emitted();
  // TODO: the `webhook_events` filter drops unselected event types here,
  // counted as `filtered`, before anything is serialized.
  if (!admit(self))
    return;
  auto event = serialize(st, event_id, e);
  if (!event) {
    drop(self, drop_reason::oversize);
    return;
  }
  if (st.endpoint == endpoint_state::down) {
    send(self, std::move(*event), true);
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

// The typed interface has one timer message, `probe_atom`, so each one
// checks both deadlines: the end of a back-off and the end of a grace.
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

// Counts the outcome of `done`. Returns the error text of a failure, or
// nothing for a delivery.
std::optional<std::string> count_result(webhook_pointer self,
                                        const attempt& done,
                                        const attempt_result& result) {
  auto& counters = self->state.counters;
  if (result.responded() && result.status >= 200 && result.status < 300) {
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
      && (st.endpoint == endpoint_state::up || done.probe)) {
    mark_down(self, error);
    return true;
  }
  return false;
}

void on_result(webhook_pointer self, const attempt_result& result) {
  auto& st = self->state;
  auto i = st.attempts.find(result.attempt_id);
  if (i == st.attempts.end())
    return;
  auto done = std::move(i->second);
  st.attempts.erase(i);
  auto is_current = done.url_generation == st.url_generation;
  if (is_current) {
    --st.current_attempts;
    if (done.probe)
      st.probe_in_flight = false;
  }
  auto error = count_result(self, done, result);
  // TODO: `webhook_retries` (0 to 3) resends connection failures, 429 and
  // 5xx here with back-off, in the same request slot.
  auto changed = is_current && st.endpoint != endpoint_state::disabled
                 && update_endpoint(self, done, result, error.value_or(""));
  if (error && !changed)
    log_failure(self, done.url, *error);
  pump(self);
  check_drained(self);
}

// -- URL changes --------------------------------------------------------------

void forget_current_url(webhook_state& st) {
  ++st.url_generation;
  st.current_attempts = 0;
  st.probe_armed = false;
  st.probe_in_flight = false;
  st.probe_backoff->reset();
}

void apply_url(webhook_pointer self,
               std::shared_ptr<const protocol::webhook_target> target) {
  auto& st = self->state;
  forget_current_url(st);
  st.target = std::move(target);
  st.endpoint = endpoint_state::up;
  log::info(component, "webhook-url-set", "webhook URL set",
            {{"url", st.target->redacted},
             {"buffered", std::to_string(st.buffer.size())}});
  pump(self);
}

void clear_url(webhook_pointer self) {
  auto& st = self->state;
  auto dropped = st.buffer.size();
  drop_buffer(self, drop_reason::disabled);
  forget_current_url(st);
  st.target.reset();
  st.endpoint = endpoint_state::disabled;
  log::info(component, "webhook-url-cleared", "webhook URL cleared",
            {{"dropped", std::to_string(dropped)}});
  check_drained(self);
}

caf::result<std::string> set_url(webhook_pointer self, const std::string& url) {
  if (url.empty()) {
    clear_url(self);
    return std::string{};
  }
  auto target = protocol::parse_webhook_url(url);
  if (!target)
    return actors::make_error(actors::errc::invalid_argument,
                              target.error().message);
  // Setting the current URL again changes nothing, so requests to it stay
  // in order and a down endpoint keeps its back-off.
  auto& st = self->state;
  if (st.target && *st.target == *target)
    return st.target->redacted;
  apply_url(self, std::make_shared<const protocol::webhook_target>(
                      std::move(*target)));
  return self->state.target->redacted;
}

// -- behavior -----------------------------------------------------------------

webhook_actor::behavior_type
webhook_behavior(webhook_pointer self, std::shared_ptr<transport> http,
                 webhook_options options,
                 std::shared_ptr<const protocol::webhook_target> target) {
  auto& st = self->state;
  st.probe_backoff.emplace(options.initial_backoff, options.max_backoff,
                           options.backoff_jitter, std::random_device{}());
  st.options = std::move(options);
  st.http = std::move(http);
  if (target)
    apply_url(self, std::move(target));
  return {
      [self](protocol::event& e) { on_event(self, e); },
      [self](actors::node_id_atom, std::uint32_t node_id) {
        self->state.node_id = node_id;
      },
      [self](set_url_atom, std::string& url) { return set_url(self, url); },
      [self](stats_atom) { return make_stats(self->state); },
      [self](drain_atom) { return drain(self); },
      [self](probe_atom) { on_timer(self); },
      [self](attempt_result& result) { on_result(self, result); },
  };
}

} // namespace

webhook_actor spawn_webhook(caf::actor_system& sys, boost::asio::io_context& io,
                            webhook_options options) {
  http_client_options client_options;
  client_options.max_idle_connections
      = std::clamp<std::size_t>(options.concurrency, 1, max_concurrency);
  return spawn_webhook(sys, make_http_client(io, std::move(client_options)),
                       std::move(options));
}

webhook_actor spawn_webhook(caf::actor_system& sys,
                            std::shared_ptr<transport> http,
                            webhook_options options) {
  std::shared_ptr<const protocol::webhook_target> target;
  if (!options.url.empty()) {
    auto checked = protocol::parse_webhook_url(options.url);
    if (!checked)
      throw std::invalid_argument(checked.error().message);
    target
        = std::make_shared<const protocol::webhook_target>(std::move(*checked));
  }
  return sys.spawn(webhook_behavior, std::move(http),
                   normalized(std::move(options)), std::move(target));
}

} // namespace pilot::webhook
