// Runs the webhook actor with the real HTTP client, as the daemon does, and
// prints one line of `key=value` results for bench/webhook_bench.py.
//
//   webhook_bench throughput --url URL [--concurrency N] [--seconds S]
//       Raises `data.datagram` events as fast as the actor delivers them, and
//       prints the events delivered per second after a warm-up. The producer
//       keeps about half of a 65536-event buffer filled, pacing itself on
//       the actor's counters, so that no event is dropped and no request
//       slot waits for an event.
//
//   webhook_bench produce [--url URL] [--events N] [--batch N] [--build-only]
//       Sends N events from a producer actor to the webhook actor, as the
//       tunnel and connection actors do, in batches, and prints the
//       producer's nanoseconds per event (building the event and sending
//       it). After each batch it waits until the webhook actor has handled
//       the batch, so the mailbox never grows past one batch. Without --url
//       webhooks are off. With --build-only the producer builds the events
//       and sends none.

#include "protocol/address.hpp"
#include "protocol/events.hpp"
#include "webhook/fwd.hpp"
#include "webhook/webhook_actor.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace {

using namespace pilot;
using clock_type = std::chrono::steady_clock;
using webhook::webhook_stats;

struct bench_options {
  std::string mode;
  std::string url;
  std::size_t concurrency = 1;
  double seconds = 3;
  double warmup_seconds = 0.5;
  std::uint64_t events = 1'000'000;
  std::uint64_t batch = 10'000;
  /// CAF's `work-stealing.moderate-poll-attempts`, or negative for CAF's
  /// default as in the daemon. In that phase an idle worker polls its queue
  /// with 50 us sleeps, so a message from another thread may wait that
  /// long. With 0 the worker goes straight to waiting on a condition
  /// variable, which the sender notifies.
  long moderate_polls = -1;
  /// `produce` only builds the events and sends none.
  bool build_only = false;
  /// Runs the webhook actor on a thread of its own (`own_thread`).
  bool own_thread = false;
};

/// Buffer of the throughput runs: the largest `webhook_buffer` allowed.
constexpr std::size_t throughput_buffer = 65'536;

/// Events waiting or in flight that the throughput producer aims for.
constexpr std::uint64_t throughput_backlog = throughput_buffer / 2;

/// How often the throughput producer reads the counters and tops up.
constexpr auto feed_interval = std::chrono::milliseconds{10};

/// Deadline of each request to the webhook actor.
constexpr auto request_deadline = std::chrono::seconds{30};

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Builds the event that the connection actor raises for one datagram, with
/// the source address formatted the same way.
protocol::event datagram_event(std::uint64_t sequence) {
  protocol::address source{0, static_cast<std::uint32_t>(sequence % 1000 + 1)};
  return protocol::data_datagram{protocol::to_string(source), 49152, 9000, 64};
}

/// Runs the webhook actor's I/O context on its own thread, as the daemon
/// does, until destroyed.
class io_thread {
public:
  explicit io_thread(boost::asio::io_context& io)
      : io_(io), work_(io.get_executor()), thread_([&io] { io.run(); }) {}

  ~io_thread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;

private:
  boost::asio::io_context& io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::thread thread_;
};

/// The actor system and the webhook actor of one run. The destructor stops
/// the actor before the I/O thread, so that its HTTP client goes first.
class webhook_fixture {
public:
  webhook_fixture(webhook::webhook_options options, long moderate_polls)
      : sys_(configure(cfg_, moderate_polls)), io_runner_(io_), self_(sys_) {
    hook_ = webhook::spawn_webhook(sys_, io_, std::move(options));
    caf::anon_send(hook_, actors::node_id_atom_v, std::uint32_t{1});
  }

  ~webhook_fixture() {
    caf::anon_send_exit(hook_, caf::exit_reason::user_shutdown);
    self_->wait_for(hook_);
  }

  webhook_fixture(const webhook_fixture&) = delete;
  webhook_fixture& operator=(const webhook_fixture&) = delete;

  caf::actor_system& system() { return sys_; }

  webhook::webhook_actor& hook() { return hook_; }

  /// Returns the counters once the actor has handled every message sent to
  /// it before this call.
  webhook_stats stats() {
    webhook_stats result;
    self_->request(hook_, request_deadline, webhook::stats_atom_v)
        .receive([&](webhook_stats& stats) { result = std::move(stats); },
                 [](caf::error& error) {
                   throw std::runtime_error("stats request failed: "
                                            + caf::to_string(error));
                 });
    return result;
  }

  /// Sends one event from the fixture's own actor.
  void raise(std::uint64_t sequence) {
    self_->send(hook_, datagram_event(sequence));
  }

  caf::scoped_actor& self() { return self_; }

private:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg,
                                             long moderate_polls) {
    if (moderate_polls >= 0)
      cfg.set("work-stealing.moderate-poll-attempts",
              static_cast<std::size_t>(moderate_polls));
    cfg.add_message_types<caf::id_block::pilot_actors>();
    cfg.add_message_types<caf::id_block::pilot_webhook>();
    return cfg;
  }

  caf::actor_system_config cfg_;
  boost::asio::io_context io_;
  caf::actor_system sys_;
  io_thread io_runner_;
  caf::scoped_actor self_;
  webhook::webhook_actor hook_;
};

std::uint64_t pending(const webhook_stats& stats) {
  return stats.in_flight + stats.buffered;
}

int run_throughput(const bench_options& options) {
  webhook::webhook_options hook_options;
  hook_options.url = options.url;
  hook_options.concurrency = options.concurrency;
  hook_options.buffer_size = throughput_buffer;
  hook_options.own_thread = options.own_thread;
  webhook_fixture fixture{std::move(hook_options), options.moderate_polls};
  std::uint64_t sent = 0;
  auto start = clock_type::now();
  auto measured_from = clock_type::time_point{};
  std::uint64_t delivered_before = 0;
  webhook_stats stats;
  for (;;) {
    // Step 1: top the backlog up to its target.
    for (auto backlog = pending(stats); backlog < throughput_backlog; ++backlog)
      fixture.raise(sent++);
    std::this_thread::sleep_for(feed_interval);
    stats = fixture.stats();
    // Step 2: start the clock once the warm-up is over, stop it at the end.
    auto elapsed = seconds_since(start);
    if (measured_from == clock_type::time_point{}
        && elapsed >= options.warmup_seconds) {
      measured_from = clock_type::now();
      delivered_before = stats.delivered;
    } else if (elapsed >= options.warmup_seconds + options.seconds) {
      break;
    }
  }
  auto measured = seconds_since(measured_from);
  auto delivered = stats.delivered - delivered_before;
  std::printf("events_per_second=%.1f delivered=%llu failed=%llu "
              "dropped=%llu latency_p50_ms=%.3f latency_p99_ms=%.3f\n",
              static_cast<double>(delivered) / measured,
              static_cast<unsigned long long>(delivered),
              static_cast<unsigned long long>(stats.failed),
              static_cast<unsigned long long>(stats.dropped),
              stats.latency_p50_ms, stats.latency_p99_ms);
  return 0;
}

std::atomic<std::size_t> built_bytes_sink{0};

/// An event source like the connection actor: each request `(count)` sends
/// `count` events to `sink` and returns the nanoseconds that took. With
/// `send_events` false it only builds the events, to show what building
/// them costs.
caf::behavior producer_actor(caf::event_based_actor* self,
                             actors::event_sink_actor sink, bool send_events) {
  return {
      [self, sink, send_events](std::uint64_t count) -> std::int64_t {
        auto start = clock_type::now();
        std::size_t built_bytes = 0;
        for (std::uint64_t i = 0; i < count; ++i) {
          auto event = datagram_event(i);
          if (send_events)
            self->send(sink, std::move(event));
          else
            built_bytes
                += std::get<protocol::data_datagram>(event).src_addr.size();
        }
        auto elapsed = clock_type::now() - start;
        // Keeps the compiler from dropping the events that are only built.
        built_bytes_sink.store(built_bytes, std::memory_order_relaxed);
        return std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed)
            .count();
      },
  };
}

int run_produce(const bench_options& options) {
  webhook::webhook_options hook_options;
  hook_options.url = options.url;
  hook_options.own_thread = options.own_thread;
  webhook_fixture fixture{std::move(hook_options), options.moderate_polls};
  auto producer = fixture.system().spawn(
      producer_actor, actors::event_sink_actor{fixture.hook()},
      !options.build_only);
  std::int64_t producer_ns = 0;
  std::uint64_t sent = 0;
  auto start = clock_type::now();
  while (sent < options.events) {
    auto batch = std::min(options.batch, options.events - sent);
    fixture.self()
        ->request(producer, request_deadline, batch)
        .receive([&](std::int64_t ns) { producer_ns += ns; },
                 [](caf::error& error) {
                   throw std::runtime_error("producer request failed: "
                                            + caf::to_string(error));
                 });
    sent += batch;
    // The reply to this request comes after the actor handled the batch.
    fixture.stats();
  }
  auto elapsed = seconds_since(start);
  auto stats = fixture.stats();
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
  std::printf("producer_ns_per_event=%.1f handled_per_second=%.1f "
              "emitted=%llu delivered=%llu dropped=%llu\n",
              static_cast<double>(producer_ns) / static_cast<double>(sent),
              static_cast<double>(sent) / elapsed,
              static_cast<unsigned long long>(stats.emitted),
              static_cast<unsigned long long>(stats.delivered),
              static_cast<unsigned long long>(stats.dropped));
  auto expected = options.build_only ? 0 : sent;
  if (stats.emitted != expected)
    throw std::runtime_error("the webhook actor counted "
                             + std::to_string(stats.emitted) + " events of "
                             + std::to_string(expected));
  return 0;
}

bench_options parse_options(int argc, char** argv) {
  if (argc < 2)
    throw std::invalid_argument("missing mode (throughput or produce)");
  bench_options options;
  options.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--build-only") {
      options.build_only = true;
      continue;
    }
    if (arg == "--own-thread") {
      options.own_thread = true;
      continue;
    }
    if (i + 1 >= argc)
      throw std::invalid_argument(std::string{arg} + " needs a value");
    std::string value = argv[++i];
    if (arg == "--url")
      options.url = value;
    else if (arg == "--concurrency")
      options.concurrency = std::stoul(value);
    else if (arg == "--seconds")
      options.seconds = std::stod(value);
    else if (arg == "--warmup")
      options.warmup_seconds = std::stod(value);
    else if (arg == "--events")
      options.events = std::stoull(value);
    else if (arg == "--batch")
      options.batch = std::stoull(value);
    else if (arg == "--moderate-polls")
      options.moderate_polls = std::stol(value);
    else
      throw std::invalid_argument("unknown option " + std::string{arg});
  }
  if (options.batch == 0)
    throw std::invalid_argument("--batch must be at least 1");
  if (options.mode == "throughput" && options.url.empty())
    throw std::invalid_argument("throughput needs --url");
  return options;
}

} // namespace

int main(int argc, char** argv) {
  bench_options options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "webhook_bench: %s\nusage: webhook_bench throughput --url "
                 "URL [--concurrency N] [--seconds S] [--warmup S]\n"
                 "       webhook_bench produce [--url URL] [--events N] "
                 "[--batch N] [--build-only]\n"
                 "both take --moderate-polls N (CAF work-stealing) and "
                 "--own-thread\n",
                 e.what());
    return 2;
  }
  try {
    if (options.mode == "throughput")
      return run_throughput(options);
    if (options.mode == "produce")
      return run_produce(options);
    std::fprintf(stderr, "webhook_bench: unknown mode %s\n",
                 options.mode.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webhook_bench: %s\n", e.what());
    return 1;
  }
}
