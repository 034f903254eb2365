#include "webhook/webhook_actor.hpp"

#include "actors/error.hpp"
#include "protocol/webhook_signature.hpp"
#include "tests/actors/file_test_support.hpp"
#include "tests/webhook/test_certificates.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace pilot;
using namespace pilot::webhook;
using namespace std::chrono_literals;

namespace {

/// Records every POST and lets the test complete it: the fault injection
/// point of these tests.
class fake_transport : public transport {
public:
  struct call {
    http_request request;
    attempt_handler done;
  };

  void post(http_request request, attempt_handler done) override {
    calls.push_back({std::move(request), std::move(done)});
  }

  std::vector<call> calls;
};

template <class T>
using answer_slot = std::shared_ptr<std::optional<caf::expected<T>>>;

webhook_options test_options() {
  webhook_options options;
  options.buffer_size = 4;
  options.boot_id = "b00t";
  options.backoff_jitter = 0;
  return options;
}

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.add_message_types<caf::id_block::pilot_actors>();
  cfg.add_message_types<caf::id_block::pilot_webhook>();
  return cfg;
}

protocol::event some_event(std::uint32_t peer = 7) {
  return protocol::handshake_received{peer, "want to collaborate"};
}

std::uint64_t event_id_of(const http_request& request) {
  return boost::json::parse(request.body).at("event_id").to_number<uint64_t>();
}

struct fixture {
  explicit fixture(webhook_options options = test_options())
      : sys(configure(cfg)),
        sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        http(std::make_shared<fake_transport>()) {
    actor = spawn_webhook(sys, http, std::move(options));
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    sched.run();
  }

  template <class T, class... Ts>
  answer_slot<T> ask(Ts... xs) {
    auto slot = std::make_shared<std::optional<caf::expected<T>>>();
    sys.spawn([slot, target = actor, xs...](caf::event_based_actor* self) {
      self->request(target, caf::infinite, xs...)
          .then([slot](T& value) { *slot = std::move(value); },
                [slot](caf::error& err) {
                  *slot = caf::expected<T>{std::move(err)};
                });
    });
    sched.run();
    return slot;
  }

  webhook_stats stats() {
    auto slot = ask<webhook_stats>(stats_atom_v);
    REQUIRE(slot->has_value());
    REQUIRE(**slot);
    return ***slot;
  }

  /// Checks the counters' invariant; called after every step.
  void check_invariant() {
    auto s = stats();
    CHECK(s.emitted
          == s.delivered + s.failed + s.dropped + s.in_flight + s.buffered);
    CHECK(s.failed
          == s.failed_status_3xx + s.failed_status_4xx + s.failed_status_5xx
                 + s.failed_timeout + s.failed_connect + s.failed_dns
                 + s.failed_tls);
    CHECK(s.dropped
          == s.dropped_full + s.dropped_down + s.dropped_disabled
                 + s.dropped_filtered + s.dropped_oversize);
  }

  std::string set_url(const std::string& url) {
    auto slot = ask<std::string>(set_url_atom_v, url);
    REQUIRE(slot->has_value());
    REQUIRE(**slot);
    check_invariant();
    return ***slot;
  }

  std::string rejected_url_message(const std::string& url) {
    auto slot = ask<std::string>(set_url_atom_v, url);
    REQUIRE(slot->has_value());
    REQUIRE_FALSE(**slot);
    check_invariant();
    return actors::error_text((*slot)->error());
  }

  std::string reconfigure(const webhook_config& config) {
    auto slot = ask<std::string>(configure_atom_v, config);
    REQUIRE(slot->has_value());
    REQUIRE(**slot);
    check_invariant();
    return ***slot;
  }

  std::string rejected_config_message(const webhook_config& config) {
    auto slot = ask<std::string>(configure_atom_v, config);
    REQUIRE(slot->has_value());
    REQUIRE_FALSE(**slot);
    check_invariant();
    return actors::error_text((*slot)->error());
  }

  webhook_config config() {
    auto slot = ask<webhook_config>(config_atom_v);
    REQUIRE(slot->has_value());
    REQUIRE(**slot);
    return ***slot;
  }

  /// Sends `test_atom`; the slot fills once the test attempt finished.
  answer_slot<attempt_result> test() {
    auto slot = ask<attempt_result>(test_atom_v);
    check_invariant();
    return slot;
  }

  void raise(protocol::event e = some_event()) {
    caf::anon_send(actor, std::move(e));
    sched.run();
    check_invariant();
  }

  void raise_many(int count) {
    for (int i = 0; i < count; ++i)
      raise(some_event(static_cast<std::uint32_t>(i)));
  }

  void complete(std::size_t call, attempt_result result) {
    REQUIRE(call < http->calls.size());
    result.attempt_id = http->calls[call].request.attempt_id;
    http->calls[call].done(std::move(result));
    sched.run();
    check_invariant();
  }

  void respond(std::size_t call, int status, std::int64_t latency_us = 1000) {
    attempt_result result;
    result.status = status;
    result.latency_us = latency_us;
    complete(call, std::move(result));
  }

  void fail(std::size_t call, std::string failure_class = "connect") {
    attempt_result result;
    result.failure_class = failure_class;
    result.detail = "connecting to http://127.0.0.1:9 failed: refused";
    complete(call, std::move(result));
  }

  void advance(caf::timespan duration) {
    sched.advance_time(duration);
    sched.run();
    check_invariant();
  }

  std::size_t calls() const { return http->calls.size(); }

  const http_request& request(std::size_t call) const {
    REQUIRE(call < http->calls.size());
    return http->calls[call].request;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<fake_transport> http;
  webhook_actor actor;
};

const std::string url_a = "http://127.0.0.1:8080/events";
const std::string url_b = "http://[::1]:9090/v2/events";

} // namespace

TEST_CASE("events are POSTed one at a time in raise order") {
  fixture f;
  CHECK(f.set_url(url_a) == url_a);
  f.raise_many(3);
  REQUIRE(f.calls() == 1);
  auto s = f.stats();
  CHECK(s.in_flight == 1);
  CHECK(s.buffered == 2);
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(f.calls() == i + 1);
    CHECK(event_id_of(f.request(i)) == i + 1);
    f.respond(i, 200);
  }
  CHECK(f.calls() == 3);
  s = f.stats();
  CHECK(s.delivered == 3);
  CHECK(s.in_flight == 0);
  CHECK(s.buffered == 0);
  CHECK(s.state == "up");
  CHECK(s.url == url_a);
  CHECK_FALSE(s.last_delivered_at.empty());
}

TEST_CASE("requests to replaced URLs count toward a bound") {
  auto options = test_options();
  options.concurrency = max_webhook_concurrency;
  fixture f{options};
  f.set_url(url_a);
  f.raise_many(64);
  f.set_url(url_b);
  f.raise_many(64);
  CHECK(f.calls() == 128);
  // Back on the first URL, no request goes out while 128 are in flight.
  f.set_url(url_a);
  f.raise_many(64);
  CHECK(f.calls() == 128);
  auto s = f.stats();
  CHECK(s.in_flight == 128);
  CHECK(s.buffered == 4);
  CHECK(s.dropped_full == 60);
  auto test = f.test();
  REQUIRE(test->has_value());
  REQUIRE_FALSE(**test);
  CHECK(actors::error_text((*test)->error()).find("in flight")
        != std::string::npos);
  // Each finished request lets one buffered event go out.
  f.respond(0, 204);
  CHECK(f.calls() == 129);
  CHECK(f.request(128).target->redacted == url_a);
}

TEST_CASE("a request carries the event, its id and the timeout") {
  auto options = test_options();
  options.timeout = 1234ms;
  fixture f{options};
  caf::anon_send(f.actor, actors::node_id_atom_v, std::uint32_t{5});
  f.set_url(url_a);
  f.raise(protocol::trust_revoked{9});
  REQUIRE(f.calls() == 1);
  const auto& request = f.request(0);
  CHECK(request.event_name == "trust.revoked");
  CHECK(request.webhook_id == "5-b00t-1");
  CHECK(request.timeout == 1234ms);
  REQUIRE(request.target != nullptr);
  CHECK(request.target->redacted == url_a);
  auto body = boost::json::parse(request.body);
  CHECK(body.at("event").as_string() == "trust.revoked");
  CHECK(body.at("node_id").as_int64() == 5);
  CHECK(body.at("data").at("peer_node_id").as_int64() == 9);
}

TEST_CASE("events without a URL are dropped as disabled") {
  fixture f;
  f.raise_many(2);
  CHECK(f.calls() == 0);
  auto s = f.stats();
  CHECK(s.emitted == 2);
  CHECK(s.dropped_disabled == 2);
  CHECK(s.state == "disabled");
  CHECK(s.url.empty());
}

TEST_CASE("a full buffer drops new events as full") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(7);
  auto s = f.stats();
  CHECK(s.in_flight == 1);
  CHECK(s.buffered == 4);
  CHECK(s.dropped_full == 2);
  CHECK(f.calls() == 1);
}

TEST_CASE("a connection failure marks the endpoint down") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(3);
  f.fail(0, "connect");
  auto s = f.stats();
  CHECK(s.state == "down");
  CHECK(s.failed_connect == 1);
  CHECK(s.dropped_down == 2);
  CHECK(s.buffered == 0);
  CHECK(s.last_error == "connecting to http://127.0.0.1:9 failed: refused");
  f.raise();
  CHECK(f.calls() == 1);
  CHECK(f.stats().dropped_down == 3);
}

TEST_CASE("timeout and dns failures count by class and mark down") {
  for (auto failure_class : {"timeout", "dns", "tls", "connect"}) {
    CAPTURE(failure_class);
    fixture f;
    f.set_url(url_a);
    f.raise();
    f.fail(0, failure_class);
    auto s = f.stats();
    CHECK(s.state == "down");
    CHECK(s.failed == 1);
    CHECK(s.failed_timeout == (std::string{failure_class} == "timeout"));
    CHECK(s.failed_dns == (std::string{failure_class} == "dns"));
    CHECK(s.failed_tls == (std::string{failure_class} == "tls"));
    CHECK(s.failed_connect == (std::string{failure_class} == "connect"));
  }
}

TEST_CASE("after the back-off the next event probes and any response is up") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  f.fail(0);
  f.advance(999ms);
  f.raise();
  CHECK(f.calls() == 1);
  f.advance(1ms);
  f.raise();
  REQUIRE(f.calls() == 2);
  // Only one probe at a time.
  f.raise();
  CHECK(f.calls() == 2);
  CHECK(f.stats().state == "down");
  f.respond(1, 503);
  auto s = f.stats();
  CHECK(s.state == "up");
  CHECK(s.failed_status_5xx == 1);
  f.raise();
  CHECK(f.calls() == 3);
}

TEST_CASE("failed probes double the back-off up to 30 seconds") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  f.fail(0);
  std::size_t probes = 1;
  for (auto pause : {1s, 2s, 4s, 8s, 16s, 30s, 30s}) {
    CAPTURE(pause.count());
    f.advance(pause - 1ms);
    f.raise();
    CHECK(f.calls() == probes);
    f.advance(1ms);
    f.raise();
    REQUIRE(f.calls() == probes + 1);
    f.fail(probes);
    ++probes;
    CHECK(f.stats().state == "down");
  }
}

TEST_CASE("a successful probe resets the back-off") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  f.fail(0);
  f.advance(1s);
  f.raise();
  f.fail(1);
  f.advance(2s);
  f.raise();
  f.respond(2, 204);
  CHECK(f.stats().state == "up");
  f.raise();
  f.fail(3);
  f.advance(1s);
  f.raise();
  CHECK(f.calls() == 5);
}

TEST_CASE("3xx, 4xx and 5xx fail the event but keep the endpoint up") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(4);
  f.respond(0, 302);
  f.respond(1, 404);
  f.respond(2, 500);
  f.respond(3, 200);
  auto s = f.stats();
  CHECK(s.state == "up");
  CHECK(s.failed_status_3xx == 1);
  CHECK(s.failed_status_4xx == 1);
  CHECK(s.failed_status_5xx == 1);
  CHECK(s.delivered == 1);
  CHECK(s.last_error == "HTTP 500 from " + url_a);
}

TEST_CASE("a status outside 200 to 599 keeps the endpoint up") {
  for (auto status : {0, 101, 199, 600, 999}) {
    CAPTURE(status);
    fixture f;
    f.set_url(url_a);
    f.raise();
    f.respond(0, status);
    auto s = f.stats();
    CHECK(s.state == "up");
    CHECK(s.failed == 1);
    CHECK(s.failed_status_5xx == 1);
    CHECK(s.failed_connect == 0);
    CHECK(s.delivered == 0);
    CHECK(s.last_error
          == "unexpected HTTP status " + std::to_string(status) + " from "
                 + url_a);
  }
}

TEST_CASE("a status 0 answer to a probe marks the endpoint up") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  f.fail(0);
  f.advance(1s);
  f.raise();
  REQUIRE(f.calls() == 2);
  f.respond(1, 0);
  auto s = f.stats();
  CHECK(s.state == "up");
  CHECK(s.failed_status_5xx == 1);
}

TEST_CASE("a failure without detail still sets last_error") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  attempt_result result;
  result.failure_class = "connect";
  f.complete(0, std::move(result));
  auto s = f.stats();
  CHECK(s.failed_connect == 1);
  CHECK(s.state == "down");
  CHECK(s.last_error == "webhook delivery to " + url_a + " failed (connect)");
}

TEST_CASE("last_error shows the URL without user info or query") {
  fixture f;
  f.set_url("http://alice:s3cret@127.0.0.1:8080/in?token=abc");
  f.raise();
  f.respond(0, 401);
  auto s = f.stats();
  CHECK(s.last_error == "HTTP 401 from http://127.0.0.1:8080/in");
  CHECK(s.url == "http://127.0.0.1:8080/in");
}

TEST_CASE("a hot swap sends buffered events to the new URL at once") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(3);
  REQUIRE(f.calls() == 1);
  CHECK(f.set_url(url_b) == url_b);
  // The request to the old URL keeps going; the buffer moves on.
  REQUIRE(f.calls() == 2);
  CHECK(f.request(1).target->redacted == url_b);
  CHECK(event_id_of(f.request(1)) == 2);
  auto s = f.stats();
  CHECK(s.in_flight == 2);
  CHECK(s.buffered == 1);
  CHECK(s.url == url_b);
  // The old request times out, which is no sign of the new endpoint.
  f.fail(0, "timeout");
  s = f.stats();
  CHECK(s.failed_timeout == 1);
  CHECK(s.state == "up");
  f.respond(1, 200);
  REQUIRE(f.calls() == 3);
  CHECK(f.request(2).target->redacted == url_b);
  f.respond(2, 200);
  CHECK(f.stats().delivered == 2);
}

TEST_CASE("a hot swap brings a down endpoint back up") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  f.fail(0);
  CHECK(f.stats().state == "down");
  f.set_url(url_b);
  CHECK(f.stats().state == "up");
  f.raise();
  REQUIRE(f.calls() == 2);
  CHECK(f.request(1).target->redacted == url_b);
}

TEST_CASE("setting the current URL again changes nothing") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(2);
  CHECK(f.set_url(url_a) == url_a);
  CHECK(f.calls() == 1);
  CHECK(f.stats().buffered == 1);
  f.fail(0);
  CHECK(f.set_url(url_a) == url_a);
  CHECK(f.stats().state == "down");
}

TEST_CASE("clearing the URL drops buffered events as disabled") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(3);
  CHECK(f.set_url("").empty());
  auto s = f.stats();
  CHECK(s.dropped_disabled == 2);
  CHECK(s.in_flight == 1);
  CHECK(s.state == "disabled");
  f.respond(0, 200);
  CHECK(f.stats().delivered == 1);
  f.raise();
  CHECK(f.calls() == 1);
  CHECK(f.stats().dropped_disabled == 3);
}

TEST_CASE("an invalid URL is rejected and changes nothing") {
  fixture f;
  f.set_url(url_a);
  CHECK(f.rejected_url_message("ftp://example.com/")
        == "webhook URL must start with http:// or https://");
  CHECK(f.rejected_url_message("http://169.254.169.254/")
        == "webhook URL host 169.254.169.254 is a link-local or cloud "
           "metadata address");
  CHECK(f.rejected_url_message("http://") == "webhook URL has no host");
  auto s = f.stats();
  CHECK(s.url == url_a);
  CHECK(s.state == "up");
}

TEST_CASE("spawn rejects an invalid initial URL") {
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  auto options = test_options();
  options.url = "http://[fe80::1]/";
  CHECK_THROWS_AS(
      spawn_webhook(sys, std::make_shared<fake_transport>(), options),
      std::invalid_argument);
  options.url = "ftp://example.com/";
  CHECK_THROWS_WITH(
      spawn_webhook(sys, std::make_shared<fake_transport>(), options),
      "webhook URL must start with http:// or https://");
}

TEST_CASE("an initial URL is used from the start") {
  auto options = test_options();
  options.url = url_a;
  fixture f{options};
  CHECK(f.stats().state == "up");
  f.raise();
  CHECK(f.calls() == 1);
}

TEST_CASE("drain answers at once when nothing is pending") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  f.respond(0, 200);
  auto slot = f.ask<webhook_stats>(drain_atom_v);
  REQUIRE(slot->has_value());
  CHECK((**slot)->delivered == 1);
}

TEST_CASE("drain waits for in-flight and buffered events") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(2);
  auto slot = f.ask<webhook_stats>(drain_atom_v);
  CHECK_FALSE(slot->has_value());
  f.respond(0, 200);
  CHECK_FALSE(slot->has_value());
  f.respond(1, 200);
  REQUIRE(slot->has_value());
  REQUIRE(**slot);
  CHECK((**slot)->delivered == 2);
  CHECK((**slot)->in_flight == 0);
  CHECK((**slot)->buffered == 0);
}

TEST_CASE("drain answers when the grace runs out") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(2);
  auto slot = f.ask<webhook_stats>(drain_atom_v);
  f.advance(2999ms);
  CHECK_FALSE(slot->has_value());
  f.advance(1ms);
  REQUIRE(slot->has_value());
  REQUIRE(**slot);
  CHECK((**slot)->in_flight == 1);
  CHECK((**slot)->buffered == 1);
  CHECK((**slot)->emitted == 2);
}

TEST_CASE("drain completes when the endpoint goes down") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(3);
  auto slot = f.ask<webhook_stats>(drain_atom_v);
  f.fail(0);
  REQUIRE(slot->has_value());
  CHECK((**slot)->dropped_down == 2);
}

TEST_CASE("event ids start at 1 and leave gaps where events were dropped") {
  fixture f;
  f.raise_many(2);
  f.set_url(url_a);
  f.raise_many(6);
  REQUIRE(f.calls() == 1);
  CHECK(event_id_of(f.request(0)) == 3);
  CHECK(f.request(0).webhook_id == "0-b00t-3");
  for (std::size_t i = 0; i < 5; ++i)
    f.respond(i, 200);
  // Events 3..7 were sent, event 8 was dropped as full.
  REQUIRE(f.calls() == 5);
  CHECK(event_id_of(f.request(4)) == 7);
  f.raise();
  REQUIRE(f.calls() == 6);
  CHECK(event_id_of(f.request(5)) == 9);
  CHECK(f.stats().dropped_full == 1);
}

TEST_CASE("the node ID in force when an event is raised is stamped on it") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  caf::anon_send(f.actor, actors::node_id_atom_v, std::uint32_t{42});
  f.raise();
  f.respond(0, 200);
  REQUIRE(f.calls() == 2);
  auto first = boost::json::parse(f.request(0).body);
  auto second = boost::json::parse(f.request(1).body);
  CHECK(first.at("node_id").as_int64() == 0);
  CHECK(second.at("node_id").as_int64() == 42);
  CHECK(f.request(1).webhook_id == "42-b00t-2");
}

TEST_CASE("an event larger than the body limit is dropped as oversize") {
  auto options = test_options();
  options.max_body_size = 300;
  fixture f{options};
  f.set_url(url_a);
  f.raise(protocol::handshake_received{7, std::string(400, 'j')});
  CHECK(f.calls() == 0);
  CHECK(f.stats().dropped_oversize == 1);
  f.raise(protocol::handshake_received{7, "short"});
  CHECK(f.calls() == 1);
}

TEST_CASE("latency percentiles come from delivered events") {
  auto options = test_options();
  options.buffer_size = 100;
  fixture f{options};
  f.set_url(url_a);
  f.raise_many(100);
  for (std::size_t i = 0; i < 100; ++i)
    f.respond(i, 200, static_cast<std::int64_t>((i + 1) * 1000));
  auto s = f.stats();
  CHECK(s.latency_p50_ms == doctest::Approx(50));
  CHECK(s.latency_p99_ms == doctest::Approx(99));
}

TEST_CASE("a higher concurrency runs requests side by side") {
  auto options = test_options();
  options.concurrency = 2;
  fixture f{options};
  f.set_url(url_a);
  f.raise_many(3);
  CHECK(f.calls() == 2);
  CHECK(f.stats().buffered == 1);
  f.respond(1, 200);
  CHECK(f.calls() == 3);
}

TEST_CASE("a generated boot ID is 16 hex digits") {
  auto options = test_options();
  options.boot_id.clear();
  fixture f{options};
  f.set_url(url_a);
  f.raise();
  const auto& id = f.request(0).webhook_id;
  auto first = id.find('-');
  auto last = id.rfind('-');
  REQUIRE(first != std::string::npos);
  REQUIRE(last != first);
  auto boot_id = id.substr(first + 1, last - first - 1);
  CHECK(boot_id.size() == 16);
  CHECK(boot_id.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("a result for an unknown attempt is ignored") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  attempt_result stray;
  stray.attempt_id = 999;
  stray.status = 200;
  caf::anon_send(f.actor, stray);
  f.sched.run();
  f.check_invariant();
  CHECK(f.stats().delivered == 0);
  CHECK(f.stats().in_flight == 1);
}

// -- settings at run time -----------------------------------------------------

namespace {

const std::string secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string secret_b
    = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

webhook_config config_with(std::string url) {
  webhook_config config;
  config.url = std::move(url);
  config.buffer_size = 4;
  return config;
}

webhook_config retrying(std::uint32_t retries) {
  auto config = config_with(url_a);
  config.retries = retries;
  return config;
}

} // namespace

TEST_CASE("unselected events are dropped as filtered and leave id gaps") {
  fixture f;
  auto config = config_with(url_a);
  config.events = {"trust.*", "conn.fin"};
  f.reconfigure(config);
  f.raise(protocol::handshake_received{7, "hi"});
  CHECK(f.calls() == 0);
  auto s = f.stats();
  CHECK(s.dropped_filtered == 1);
  CHECK(s.events == "trust.*,conn.fin");
  f.raise(protocol::trust_revoked{7});
  REQUIRE(f.calls() == 1);
  CHECK(f.request(0).event_name == "trust.revoked");
  CHECK(event_id_of(f.request(0)) == 2);
  f.raise(protocol::conn_fin{});
  f.raise(protocol::conn_rst{});
  s = f.stats();
  CHECK(s.dropped_filtered == 2);
  CHECK(s.buffered == 1);
}

TEST_CASE("with webhooks off, events count as disabled, not filtered") {
  fixture f;
  auto config = config_with("");
  config.events = {"trust.*"};
  f.reconfigure(config);
  f.raise(protocol::conn_fin{});
  auto s = f.stats();
  CHECK(s.dropped_disabled == 1);
  CHECK(s.dropped_filtered == 0);
}

TEST_CASE("a 5xx and then a 200 is one delivery with one retry") {
  fixture f;
  f.reconfigure(retrying(2));
  f.raise();
  f.respond(0, 503);
  CHECK(f.calls() == 1);
  auto s = f.stats();
  CHECK(s.in_flight == 1);
  CHECK(s.failed == 0);
  CHECK(s.retried == 0);
  f.advance(99ms);
  CHECK(f.calls() == 1);
  f.advance(1ms);
  REQUIRE(f.calls() == 2);
  CHECK(f.request(1).body == f.request(0).body);
  CHECK(f.request(1).webhook_id == f.request(0).webhook_id);
  CHECK(f.stats().retried == 1);
  f.respond(1, 200);
  s = f.stats();
  CHECK(s.delivered == 1);
  CHECK(s.failed == 0);
  CHECK(s.retried == 1);
  CHECK(s.in_flight == 0);
  CHECK(s.emitted == 1);
}

TEST_CASE("a retry keeps the request slot, so order is kept") {
  fixture f;
  f.reconfigure(retrying(1));
  f.raise_many(2);
  f.respond(0, 500);
  f.advance(100ms);
  REQUIRE(f.calls() == 2);
  CHECK(event_id_of(f.request(1)) == 1);
  f.respond(1, 200);
  REQUIRE(f.calls() == 3);
  CHECK(event_id_of(f.request(2)) == 2);
}

TEST_CASE("a 4xx and a 3xx are not retried") {
  for (auto status : {404, 400, 301}) {
    CAPTURE(status);
    fixture f;
    f.reconfigure(retrying(3));
    f.raise();
    f.respond(0, status);
    f.advance(1s);
    CHECK(f.calls() == 1);
    auto s = f.stats();
    CHECK(s.failed == 1);
    CHECK(s.retried == 0);
  }
}

TEST_CASE("a 429 is retried") {
  fixture f;
  f.reconfigure(retrying(1));
  f.raise();
  f.respond(0, 429);
  f.advance(100ms);
  REQUIRE(f.calls() == 2);
  f.respond(1, 204);
  CHECK(f.stats().delivered == 1);
}

TEST_CASE("retries wait 100 ms and double for each further retry") {
  fixture f;
  f.reconfigure(retrying(3));
  f.raise();
  f.respond(0, 500);
  std::size_t sent = 1;
  for (auto pause : {100ms, 200ms, 400ms}) {
    CAPTURE(pause.count());
    f.advance(pause - 1ms);
    CHECK(f.calls() == sent);
    f.advance(1ms);
    REQUIRE(f.calls() == sent + 1);
    f.respond(sent, 502);
    ++sent;
  }
  f.advance(10s);
  CHECK(f.calls() == 4);
  auto s = f.stats();
  CHECK(s.failed == 1);
  CHECK(s.failed_status_5xx == 1);
  CHECK(s.retried == 3);
  CHECK(s.in_flight == 0);
  CHECK(s.state == "up");
  CHECK(s.last_error == "HTTP 502 from " + url_a);
}

TEST_CASE("a connection error is retried before the endpoint goes down") {
  fixture f;
  f.reconfigure(retrying(2));
  f.raise_many(3);
  f.fail(0, "connect");
  auto s = f.stats();
  CHECK(s.state == "up");
  CHECK(s.buffered == 2);
  CHECK(s.failed == 0);
  f.advance(100ms);
  REQUIRE(f.calls() == 2);
  f.fail(1, "timeout");
  CHECK(f.stats().state == "up");
  f.advance(200ms);
  REQUIRE(f.calls() == 3);
  f.fail(2, "connect");
  s = f.stats();
  CHECK(s.state == "down");
  CHECK(s.failed == 1);
  CHECK(s.failed_connect == 1);
  CHECK(s.dropped_down == 2);
  CHECK(s.retried == 2);
}

TEST_CASE("a connection error and then a response keeps the endpoint up") {
  fixture f;
  f.reconfigure(retrying(1));
  f.raise();
  f.fail(0, "dns");
  f.advance(100ms);
  f.respond(1, 200);
  auto s = f.stats();
  CHECK(s.state == "up");
  CHECK(s.delivered == 1);
  CHECK(s.failed == 0);
}

TEST_CASE("a waiting retry gives up when the endpoint goes down") {
  fixture f;
  f.reconfigure(retrying(1));
  f.raise();
  f.respond(0, 500);
  auto answer = f.test();
  REQUIRE(f.calls() == 2);
  f.fail(1, "connect");
  CHECK(f.stats().state == "down");
  CHECK(f.stats().in_flight == 1);
  f.advance(100ms);
  CHECK(f.calls() == 2);
  auto s = f.stats();
  CHECK(s.in_flight == 0);
  CHECK(s.failed_status_5xx == 1);
  CHECK(s.failed_connect == 1);
  CHECK(s.retried == 0);
}

TEST_CASE("a probe of a down endpoint is never retried") {
  fixture f;
  f.reconfigure(retrying(0));
  f.raise();
  f.fail(0);
  f.reconfigure(retrying(3));
  CHECK(f.stats().state == "down");
  f.advance(1s);
  f.raise();
  REQUIRE(f.calls() == 2);
  f.fail(1);
  f.advance(500ms);
  CHECK(f.calls() == 2);
  CHECK(f.stats().retried == 0);
}

TEST_CASE("a retry after a URL change gives up with its last result") {
  fixture f;
  f.reconfigure(retrying(1));
  f.raise();
  f.respond(0, 500);
  f.set_url(url_b);
  f.advance(100ms);
  CHECK(f.calls() == 1);
  auto s = f.stats();
  CHECK(s.failed_status_5xx == 1);
  CHECK(s.in_flight == 0);
}

TEST_CASE("configure applies every setting at once") {
  test::temp_dir dir;
  test::test_ca ca;
  auto ca_file = test::write_file(dir.path, "ca.pem", ca.certificate_pem());
  fixture f;
  webhook_config config;
  config.url = "http://user:pw@127.0.0.1:8080/in?token=x";
  config.events = {" conn.* ", "trust.revoked"};
  config.secrets = {secret_a, secret_b};
  config.ca_file = ca_file;
  config.retries = 2;
  config.concurrency = 3;
  config.buffer_size = 10;
  config.timeout_ms = 2'500;
  CHECK(f.reconfigure(config) == "http://127.0.0.1:8080/in");
  CHECK(f.config() == config);
  auto s = f.stats();
  CHECK(s.url == "http://127.0.0.1:8080/in");
  CHECK(s.events == "conn.*,trust.revoked");
  CHECK(s.retries == 2);
  CHECK(s.concurrency == 3);
  CHECK(s.buffer_size == 10);
  CHECK(s.timeout_ms == 2'500);
  CHECK(s.secrets == 2);
  CHECK(s.ca_file == ca_file);
  f.raise(protocol::trust_revoked{1});
  REQUIRE(f.calls() == 1);
  const auto& request = f.request(0);
  CHECK(request.timeout == 2'500ms);
  CHECK(request.ca_file == ca_file);
  REQUIRE(request.signing_keys != nullptr);
  CHECK(*request.signing_keys
        == std::vector<std::string>{
            protocol::parse_webhook_secret(secret_a).value(),
            protocol::parse_webhook_secret(secret_b).value()});
}

TEST_CASE("requests carry no signing keys without secrets") {
  fixture f;
  f.set_url(url_a);
  f.raise();
  REQUIRE(f.calls() == 1);
  CHECK((f.request(0).signing_keys == nullptr
         || f.request(0).signing_keys->empty()));
  CHECK(f.request(0).ca_file.empty());
  CHECK(f.stats().secrets == 0);
}

TEST_CASE("an invalid setting rejects the whole change") {
  test::temp_dir dir;
  fixture f;
  auto good = config_with(url_a);
  good.retries = 1;
  good.events = {"trust.*"};
  f.reconfigure(good);
  struct bad_case {
    std::string name;
    webhook_config config;
    std::string message;
  };
  std::vector<bad_case> cases;
  auto with = [&](std::string name, auto change, std::string message) {
    auto config = config_with(url_b);
    change(config);
    cases.push_back({std::move(name), std::move(config), std::move(message)});
  };
  with(
      "url", [](webhook_config& c) { c.url = "ftp://x/"; },
      "webhook URL must start with http:// or https://");
  with(
      "events", [](webhook_config& c) { c.events = {"conn.open"}; },
      "unknown webhook event \"conn.open\" in webhook_events; use *, an event "
      "name such as conn.fin, or a category such as conn.*");
  with(
      "secret", [](webhook_config& c) { c.secrets = {"secret"}; },
      protocol::parse_webhook_secret("secret").error().message);
  with(
      "three secrets",
      [](webhook_config& c) {
        c.secrets = {secret_a, secret_b, secret_a};
      },
      "at most 2 webhook secrets can be active at once, got 3");
  with(
      "ca file",
      [&](webhook_config& c) { c.ca_file = (dir.path / "none.pem").string(); },
      *protocol::ca_file_problem((dir.path / "none.pem").string()));
  with(
      "retries", [](webhook_config& c) { c.retries = 4; },
      "webhook_retries must be from 0 to 3, got 4");
  with(
      "concurrency 0", [](webhook_config& c) { c.concurrency = 0; },
      "webhook_concurrency must be from 1 to 64, got 0");
  with(
      "concurrency 65", [](webhook_config& c) { c.concurrency = 65; },
      "webhook_concurrency must be from 1 to 64, got 65");
  with(
      "buffer 0", [](webhook_config& c) { c.buffer_size = 0; },
      "webhook_buffer must be from 1 to 65536, got 0");
  with(
      "buffer 65537", [](webhook_config& c) { c.buffer_size = 65'537; },
      "webhook_buffer must be from 1 to 65536, got 65537");
  with(
      "timeout", [](webhook_config& c) { c.timeout_ms = 999; },
      "webhook_timeout must be from 1000 ms to 30000 ms, got 999 ms");
  with(
      "timeout", [](webhook_config& c) { c.timeout_ms = 30'001; },
      "webhook_timeout must be from 1000 ms to 30000 ms, got 30001 ms");
  for (const auto& bad : cases) {
    CAPTURE(bad.name);
    CHECK(f.rejected_config_message(bad.config) == bad.message);
    CHECK(f.config() == good);
    CHECK(f.stats().url == url_a);
  }
}

TEST_CASE("the error of a rejected secret never shows the secret") {
  fixture f;
  auto config = config_with(url_a);
  config.secrets = {"whsec_not*base64*at*all"};
  auto message = f.rejected_config_message(config);
  CHECK(message.find("not*base64") == std::string::npos);
}

TEST_CASE("set_url keeps the other settings") {
  fixture f;
  auto config = retrying(2);
  config.secrets = {secret_a};
  config.events = {"conn.*"};
  f.reconfigure(config);
  f.set_url(url_b);
  auto now = f.config();
  CHECK(now.url == url_b);
  CHECK(now.retries == 2);
  CHECK(now.secrets == std::vector<std::string>{secret_a});
  CHECK(now.events == std::vector<std::string>{"conn.*"});
  f.raise(protocol::conn_fin{});
  REQUIRE(f.calls() == 1);
  CHECK(f.request(0).target->redacted == url_b);
  REQUIRE(f.request(0).signing_keys != nullptr);
  CHECK(f.request(0).signing_keys->size() == 1);
}

TEST_CASE("configure with the current URL keeps the endpoint state") {
  fixture f;
  f.reconfigure(retrying(0));
  f.raise_many(2);
  f.fail(0);
  CHECK(f.stats().state == "down");
  f.reconfigure(retrying(1));
  CHECK(f.stats().state == "down");
  auto other = retrying(1);
  other.url = url_b;
  f.reconfigure(other);
  CHECK(f.stats().state == "up");
}

TEST_CASE("a smaller buffer drops the newest buffered events as full") {
  fixture f;
  f.reconfigure(config_with(url_a));
  f.raise_many(5);
  CHECK(f.stats().buffered == 4);
  auto smaller = config_with(url_a);
  smaller.buffer_size = 1;
  f.reconfigure(smaller);
  auto s = f.stats();
  CHECK(s.buffered == 1);
  CHECK(s.dropped_full == 3);
  f.respond(0, 200);
  REQUIRE(f.calls() == 2);
  CHECK(event_id_of(f.request(1)) == 2);
}

TEST_CASE("a lower concurrency lets requests in flight finish") {
  fixture f;
  auto wide = config_with(url_a);
  wide.concurrency = 3;
  f.reconfigure(wide);
  f.raise_many(5);
  CHECK(f.calls() == 3);
  f.reconfigure(config_with(url_a));
  CHECK(f.stats().in_flight == 3);
  f.respond(0, 200);
  f.respond(1, 200);
  CHECK(f.calls() == 3);
  f.respond(2, 200);
  CHECK(f.calls() == 4);
}

TEST_CASE("a higher concurrency sends buffered events at once") {
  fixture f;
  f.reconfigure(config_with(url_a));
  f.raise_many(3);
  CHECK(f.calls() == 1);
  auto wide = config_with(url_a);
  wide.concurrency = 4;
  f.reconfigure(wide);
  CHECK(f.calls() == 3);
}

TEST_CASE("clearing the URL through configure drops the buffer") {
  fixture f;
  f.reconfigure(config_with(url_a));
  f.raise_many(3);
  CHECK(f.reconfigure(config_with("")).empty());
  auto s = f.stats();
  CHECK(s.state == "disabled");
  CHECK(s.dropped_disabled == 2);
}

TEST_CASE("spawn rejects invalid initial settings") {
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  auto options = test_options();
  options.events = {"conn.open"};
  CHECK_THROWS_AS(
      spawn_webhook(sys, std::make_shared<fake_transport>(), options),
      std::invalid_argument);
  options = test_options();
  options.retries = 9;
  CHECK_THROWS_WITH(
      spawn_webhook(sys, std::make_shared<fake_transport>(), options),
      "webhook_retries must be from 0 to 3, got 9");
}

TEST_CASE("initial settings apply from the start") {
  auto options = test_options();
  options.url = url_a;
  options.events = {"trust.revoked"};
  options.secrets = {secret_b};
  options.retries = 1;
  fixture f{options};
  auto config = f.config();
  CHECK(config.url == url_a);
  CHECK(config.retries == 1);
  CHECK(config.buffer_size == 4);
  f.raise(protocol::conn_fin{});
  CHECK(f.calls() == 0);
  f.raise(protocol::trust_revoked{1});
  REQUIRE(f.calls() == 1);
  REQUIRE(f.request(0).signing_keys != nullptr);
  CHECK(f.request(0).signing_keys->size() == 1);
}

// -- test event ---------------------------------------------------------------

TEST_CASE("a test event is sent at once and answered with its outcome") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(3);
  auto answer = f.test();
  REQUIRE(f.calls() == 2);
  const auto& request = f.request(1);
  CHECK(request.event_name == "webhook.test");
  auto body = boost::json::parse(request.body);
  CHECK(body.at("event").as_string() == "webhook.test");
  CHECK(body.at("data").at("message").as_string()
        == "test event from pilotctl webhook test");
  CHECK(body.at("event_id").to_number<std::uint64_t>() == 4);
  CHECK_FALSE(answer->has_value());
  CHECK(f.stats().in_flight == 2);
  f.respond(1, 202, 1500);
  REQUIRE(answer->has_value());
  REQUIRE(**answer);
  CHECK((**answer)->status == 202);
  CHECK((**answer)->latency_us == 1500);
  CHECK((**answer)->responded());
  auto s = f.stats();
  CHECK(s.emitted == 4);
  CHECK(s.delivered == 1);
  // The test took no request slot: the first event is still the one in
  // flight.
  CHECK(s.buffered == 2);
}

TEST_CASE("a test bypasses the filter and a down endpoint") {
  fixture f;
  auto config = config_with(url_a);
  config.events = {"conn.fin"};
  config.retries = 3;
  f.reconfigure(config);
  f.raise(protocol::conn_fin{});
  f.fail(0);
  f.advance(100ms);
  f.fail(1);
  f.advance(200ms);
  f.fail(2);
  f.advance(400ms);
  f.fail(3);
  CHECK(f.stats().state == "down");
  auto answer = f.test();
  REQUIRE(f.calls() == 5);
  CHECK(f.request(4).event_name == "webhook.test");
  f.respond(4, 500);
  REQUIRE(answer->has_value());
  REQUIRE(**answer);
  CHECK((**answer)->status == 500);
  auto s = f.stats();
  CHECK(s.state == "up");
  CHECK(s.failed_status_5xx == 1);
  CHECK(s.retried == 3);
}

TEST_CASE("a failed test is never retried and reports its class") {
  fixture f;
  f.reconfigure(retrying(3));
  auto answer = f.test();
  REQUIRE(f.calls() == 1);
  f.fail(0, "tls");
  REQUIRE(answer->has_value());
  REQUIRE(**answer);
  CHECK((**answer)->failure_class == "tls");
  CHECK((**answer)->detail
        == "connecting to http://127.0.0.1:9 failed: refused");
  f.advance(1s);
  CHECK(f.calls() == 1);
  auto s = f.stats();
  CHECK(s.failed_tls == 1);
  CHECK(s.state == "down");
}

TEST_CASE("a test without a URL is an error and counts nothing") {
  fixture f;
  auto answer = f.test();
  REQUIRE(answer->has_value());
  REQUIRE_FALSE(**answer);
  CHECK(actors::error_text((*answer)->error()) == "no webhook URL is set");
  CHECK(f.calls() == 0);
  CHECK(f.stats().emitted == 0);
}

TEST_CASE("a test while the buffer is full is still sent") {
  fixture f;
  f.set_url(url_a);
  f.raise_many(5);
  CHECK(f.stats().buffered == 4);
  auto answer = f.test();
  CHECK(f.calls() == 2);
  f.respond(1, 200);
  REQUIRE(answer->has_value());
  CHECK(f.stats().buffered == 4);
}

TEST_CASE("drain waits for a retry and its pause") {
  fixture f;
  f.reconfigure(retrying(1));
  f.raise();
  auto slot = f.ask<webhook_stats>(drain_atom_v);
  f.respond(0, 500);
  CHECK_FALSE(slot->has_value());
  f.advance(100ms);
  CHECK_FALSE(slot->has_value());
  f.respond(1, 200);
  REQUIRE(slot->has_value());
  REQUIRE(**slot);
  CHECK((**slot)->delivered == 1);
}
