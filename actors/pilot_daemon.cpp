#include "actors/beacon_service.hpp"
#include "actors/connection_actor.hpp"
#include "actors/daemon_options.hpp"
#include "actors/data_exchange_actor.hpp"
#include "actors/error.hpp"
#include "actors/event_stream_actor.hpp"
#include "actors/fwd.hpp"
#include "actors/log.hpp"
#include "actors/registry_actor.hpp"
#include "actors/sd_notify.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "actors/trust_actor.hpp"
#include "actors/tunnel_actor.hpp"
#include "actors/udp_socket.hpp"
#include "control/control_actor.hpp"
#include "control/webhook_settings.hpp"
#include "protocol/webhook_url.hpp"
#include "webhook/fwd.hpp"
#include "webhook/webhook_actor.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <csignal>
#include <cstring>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace actors = pilot::actors;
namespace control = pilot::control;
namespace log = pilot::actors::log;
namespace sd = pilot::actors::sd;
namespace webhook = pilot::webhook;
using namespace std::chrono_literals;

constexpr std::string_view log_component = "daemon";

/// Exit codes: 1 for a failure at start, 2 for a usage error.
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

// Messages of the supervisor, which never leave this process.
using signal_atom = caf::atom_constant<caf::atom("signal")>;
using watchdog_atom = caf::atom_constant<caf::atom("watchdog")>;
using io_alive_atom = caf::atom_constant<caf::atom("io_alive")>;

std::string redacted_url(const std::string& url) {
  if (url.empty())
    return {};
  auto target = pilot::protocol::parse_webhook_url(url);
  return target ? target->redacted : std::string{"(invalid)"};
}

// -- tunnel socket ------------------------------------------------------------

// Binds the tunnel's UDP socket on `listen` and returns the endpoint to
// register: `endpoint` when set, else the socket's address with a wildcard
// host replaced by loopback, as the reference daemon does. The tunnel actor
// takes the socket over.
std::string bind_tunnel_socket(asio::ip::udp::socket& socket,
                               const std::string& listen,
                               const std::string& endpoint) {
  auto colon = listen.rfind(':');
  auto host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  auto port = listen.substr(colon + 1);
  asio::ip::udp::endpoint bound;
  try {
    asio::ip::udp::resolver resolver{socket.get_executor()};
    auto local = resolver
                     .resolve(host.empty() ? "0.0.0.0" : host, port,
                              asio::ip::udp::resolver::passive)
                     .begin()
                     ->endpoint();
    socket.open(local.protocol());
    socket.bind(local);
    bound = socket.local_endpoint();
  } catch (const boost::system::system_error& e) {
    throw actors::options_error("cannot bind --listen " + listen + ": "
                                + e.code().message());
  }
  if (!endpoint.empty())
    return endpoint;
  auto address = bound.address();
  if (address.is_unspecified() && address.is_v4())
    address = asio::ip::address_v4::loopback();
  else if (address.is_unspecified())
    address = asio::ip::address_v6::loopback();
  return actors::format_endpoint({address, bound.port()});
}

// Asks the beacon which address and port peers see for the tunnel socket,
// as the reference's STUN step does, so that a node bound to a wildcard
// address or behind NAT registers an endpoint peers can reach. Returns
// `fallback` when `--endpoint` is set, no beacon is configured or the beacon
// does not answer within the deadline.
std::string discover_endpoint(asio::io_context& io,
                              asio::ip::udp::socket& socket,
                              const actors::daemon_options& opts,
                              std::string fallback) {
  if (!opts.endpoint.empty() || opts.beacon.empty())
    return fallback;
  auto beacon = actors::resolve_beacon(
      io, opts.beacon, socket.local_endpoint().address().is_v6());
  if (!beacon)
    return fallback;
  auto seen = actors::discover_public_endpoint(socket, *beacon, 3s);
  if (!seen) {
    log::warn(log_component, "discovery-failed",
              "the beacon did not report the public endpoint within 3 s; "
              "registering the listen address",
              {{"beacon", opts.beacon}, {"endpoint", fallback}});
    return fallback;
  }
  return actors::format_endpoint(*seen);
}

/// Hands messages from the registry actor (its registrations, its handshake
/// mailbox) to actors spawned after it; the registry actor calls it from its
/// own thread. What arrives before the first target joins is kept, up to a
/// bound, for that target, and each later target gets the latest message,
/// which for a registration is the one that counts.
template <class Message>
class late_fanout {
public:
  void add(caf::actor target) {
    std::lock_guard guard{mutex_};
    if (targets_.empty()) {
      for (const auto& message : early_)
        caf::anon_send(target, message);
      early_.clear();
    } else if (latest_) {
      caf::anon_send(target, *latest_);
    }
    targets_.push_back(std::move(target));
  }

  void operator()(const Message& message) {
    std::lock_guard guard{mutex_};
    latest_ = message;
    if (targets_.empty()) {
      if (early_.size() < max_early_messages)
        early_.push_back(message);
      return;
    }
    for (const auto& target : targets_)
      caf::anon_send(target, message);
  }

private:
  static constexpr std::size_t max_early_messages = 16;

  std::mutex mutex_;
  std::vector<caf::actor> targets_;
  std::vector<Message> early_;
  std::optional<Message> latest_;
};

using registration_fanout = late_fanout<actors::node_info>;
using mailbox_fanout = late_fanout<pilot::protocol::poll_handshakes_response>;

/// The built-in services as spawned; each is absent when turned off.
struct started_services {
  actors::trust_actor trust;
  /// Every service, to stop before the connection actor.
  std::vector<caf::actor> all;
};

// Spawns the trust handshake (port 444), data exchange (port 1001) and the
// event stream (port 1002). Each binds its port through the connection
// actor as an IPC client does, so a port a client took first stays the
// client's.
started_services spawn_services(
    caf::actor_system& sys, const actors::daemon_options& opts,
    const pilot::protocol::identity& identity,
    actors::registry_client_actor registry, actors::tunnel_actor tunnel,
    actors::connection_actor connections, webhook::webhook_actor hook,
    registration_fanout& registrations, mailbox_fanout& mailboxes) {
  started_services result;
  auto events = caf::actor_cast<actors::event_sink_actor>(hook);
  actors::trust_options trust{identity};
  // trust.json lives next to the identity file; without one, trust is
  // kept in memory only, as the reference does.
  if (!opts.identity.empty())
    trust.trust_file
        = std::filesystem::path{opts.identity}.parent_path() / "trust.json";
  result.trust = actors::spawn_trust(sys, std::move(trust), connections,
                                     registry, registry, tunnel, events);
  registrations.add(caf::actor_cast<caf::actor>(result.trust));
  mailboxes.add(caf::actor_cast<caf::actor>(result.trust));
  result.all.push_back(caf::actor_cast<caf::actor>(result.trust));
  if (opts.transport.data_exchange) {
    actors::data_exchange_options exchange;
    exchange.data_dir = opts.data_dir;
    result.all.push_back(
        caf::actor_cast<caf::actor>(actors::spawn_data_exchange(
            sys, std::move(exchange), connections, events)));
  }
  if (opts.transport.event_stream)
    result.all.push_back(caf::actor_cast<caf::actor>(
        actors::spawn_event_stream(sys, {}, connections, events)));
  return result;
}

// -- supervisor ---------------------------------------------------------------

/// The supervisor turns signals into the start and stop steps of the daemon
/// and reports them to the service manager. It is the only place that waits
/// for other actors, and only with deadlines.
struct supervisor_state {
  static inline const char* name = "pilot.supervisor";

  supervisor_state() = default;
  supervisor_state(supervisor_state&&) = default;
  supervisor_state& operator=(supervisor_state&&) = default;

  ~supervisor_state() {
    // An actor that ends without `finish` must not leave main waiting.
    if (finished)
      finished->set_value(exit_failure);
  }

  std::vector<std::string> arguments;
  actors::daemon_options options;
  actors::registry_actor registry;
  webhook::webhook_actor webhook;
  pilot::control::control_actor control;
  actors::tunnel_actor tunnel;
  actors::connection_actor connections;
  /// The built-in services; they stop before the connections.
  std::vector<caf::actor> services;
  std::optional<std::chrono::microseconds> watchdog_interval;
  bool stopping = false;
  /// Receives the exit code; set once, by `finish` or when the actor ends
  /// any other way.
  std::shared_ptr<std::promise<int>> finished;
  asio::io_context* io = nullptr;
};

using supervisor_pointer = caf::stateful_actor<supervisor_state>*;

void finish(supervisor_pointer self, int exit_code) {
  self->state.finished->set_value(exit_code);
  self->state.finished.reset();
  self->quit();
}

// Gives the webhook the shutdown grace to deliver what it holds, then ends
// the daemon.
void drain_webhook(supervisor_pointer self) {
  auto& st = self->state;
  // The webhook actor responds once the grace ran out at the latest. The
  // extra second only guards against an actor that never responds.
  auto timeout = st.options.shutdown_grace + 1s;
  self->request(st.webhook, timeout, webhook::drain_atom_v)
      .then(
          [self](const webhook::webhook_stats& stats) {
            // The webhook actor logs all of its counters itself. Events
            // still in flight or buffered when the grace ran out are lost.
            auto abandoned = stats.in_flight + stats.buffered;
            log::info(log_component, "daemon-stopped", "stopped",
                      {{"webhook_delivered", std::to_string(stats.delivered)},
                       {"webhook_failed", std::to_string(stats.failed)},
                       {"webhook_dropped", std::to_string(stats.dropped)},
                       {"webhook_abandoned", std::to_string(abandoned)}});
            finish(self, 0);
          },
          [self](const caf::error& err) {
            log::warn(log_component, "drain-failed",
                      "the webhook did not report its final counters",
                      {{"error", actors::error_text(err)}});
            log::info(log_component, "daemon-stopped", "stopped");
            finish(self, 0);
          });
}

// Stops in the order that loses nothing. The IPC socket closes first, so no
// new requests arrive, and the connection actor sends a FIN on every open
// connection while the tunnel still carries it. Then the registry actor
// raises node.deregistered and deregisters, and last the webhook delivers
// what it holds. The tunnel ends with the process.
void begin_shutdown(supervisor_pointer self, int signal_number) {
  auto& st = self->state;
  st.stopping = true;
  log::info(log_component, "daemon-stopping", "stopping",
            {{"signal", strsignal(signal_number)}});
  sd::notify_stopping("stopping");
  self->send_exit(st.control, caf::exit_reason::user_shutdown);
  for (const auto& service : st.services)
    self->send_exit(service, caf::exit_reason::user_shutdown);
  self->send_exit(st.connections, caf::exit_reason::user_shutdown);
  // The registry actor responds within its 2 s deregister deadline.
  self->request(st.registry, 5s, actors::stop_atom_v)
      .then([self](bool) { drain_webhook(self); },
            [self](const caf::error& err) {
              log::warn(log_component, "deregister-failed",
                        "the registry actor did not finish stopping",
                        {{"error", actors::error_text(err)}});
              drain_webhook(self);
            });
}

// Parses the command line and config file again, or returns nothing when
// they are no longer valid (logged).
std::optional<actors::daemon_options> reread_options(supervisor_pointer self) {
  std::vector<const char*> argv;
  for (const auto& arg : self->state.arguments)
    argv.push_back(arg.c_str());
  try {
    auto fresh = actors::parse_daemon_options(static_cast<int>(argv.size()),
                                              argv.data());
    for (const auto& warning : fresh.warnings)
      log::warn(log_component, "config-warning", warning);
    return fresh;
  } catch (const std::exception& e) {
    log::error(log_component, "reload-failed",
               "cannot reload the config file; nothing changed",
               {{"error", e.what()}});
    return std::nullopt;
  }
}

// Applies the webhook settings of the config file and logs which of them
// changed, by name only, because they may hold secrets.
void configure_webhook(supervisor_pointer self, webhook::webhook_config wanted,
                       std::string changed) {
  self->request(self->state.webhook, 5s, webhook::configure_atom_v,
                std::move(wanted))
      .then(
          [changed](const std::string& redacted) {
            log::info(log_component, "webhook-updated",
                      "webhook settings changed by the config file",
                      {{"url", redacted}, {"changed", changed}});
          },
          [](const caf::error& err) {
            log::error(log_component, "webhook-update-failed",
                       "cannot apply the webhook settings of the config "
                       "file; the settings in effect stay",
                       {{"error", actors::error_text(err)}});
          });
}

// Makes `wanted` the webhook settings in effect. IPC clients change the
// settings at run time, so `wanted` is compared with the actor's own
// settings. Equal settings are not sent, which leaves the connections to
// the endpoint alone.
void apply_webhook_settings(supervisor_pointer self,
                            webhook::webhook_config wanted) {
  self->request(self->state.webhook, 5s, webhook::config_atom_v)
      .then(
          [self, wanted](const webhook::webhook_config& current) {
            auto changed = control::changed_webhook_settings(current, wanted);
            if (changed.empty()) {
              log::info(log_component, "reloaded",
                        "config file reloaded; the webhook settings in "
                        "effect are the file's");
              return;
            }
            configure_webhook(self, wanted, changed);
          },
          [self, wanted](const caf::error&) {
            configure_webhook(self, wanted, "unknown");
          });
}

// Rereads the config file on SIGHUP and makes its webhook settings the ones
// in effect, also when an IPC client changed them since the start. A bad
// file changes nothing.
void reload(supervisor_pointer self) {
  auto& st = self->state;
  if (st.options.config_file.empty()) {
    log::info(log_component, "reload-skipped",
              "SIGHUP received, but no --config file to reload");
    return;
  }
  auto fresh = reread_options(self);
  if (!fresh)
    return;
  apply_webhook_settings(self, control::to_webhook_config(fresh->webhook));
}

// Pings the service manager's watchdog only when the I/O thread, the actor
// scheduler and the registry actor all respond.
void check_liveness(supervisor_pointer self) {
  auto& st = self->state;
  self->delayed_send(self, *st.watchdog_interval, watchdog_atom::value);
  auto handle = caf::actor_cast<caf::actor>(self);
  asio::post(*st.io,
             [handle] { caf::anon_send(handle, io_alive_atom::value); });
}

caf::behavior supervisor(supervisor_pointer self, supervisor_state init) {
  self->state = std::move(init);
  auto& st = self->state;
  self->request(st.registry, caf::infinite, actors::registered_atom_v)
      .then(
          [self](const actors::node_info& info) {
            log::info(log_component, "registered", "the node is registered",
                      {{"node_id", std::to_string(info.node_id)},
                       {"address", info.address}});
            self->send(self->state.tunnel, info);
            self->send(self->state.connections, info);
            sd::notify_ready("registered as " + info.address);
          },
          [](const caf::error&) {
            // Only a stop before the first registration ends up here.
          });
  if (st.watchdog_interval)
    self->send(self, watchdog_atom::value);
  return {
      [self](signal_atom, int signal_number) {
        if (signal_number == SIGHUP) {
          reload(self);
          return;
        }
        if (self->state.stopping) {
          log::info(log_component, "already-stopping",
                    "already stopping; the shutdown grace bounds the wait");
          return;
        }
        begin_shutdown(self, signal_number);
      },
      [self](watchdog_atom) { check_liveness(self); },
      [self](io_alive_atom) {
        auto& st = self->state;
        if (st.stopping)
          return;
        self->request(st.registry,
                      std::chrono::duration_cast<caf::timespan>(
                          *st.watchdog_interval),
                      actors::info_atom_v)
            .then([](const actors::node_info&) { sd::notify_watchdog(); },
                  [](const caf::error& err) {
                    log::warn(log_component, "watchdog-missed",
                              "the registry actor did not respond in time",
                              {{"error", actors::error_text(err)}});
                  });
      },
  };
}

// -- main ---------------------------------------------------------------------

// Runs the I/O thread's loop, logging what escapes a handler, until the
// loop is stopped.
void run_io(asio::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      log::error(log_component, "io-handler-failed",
                 "an I/O handler threw; continuing", {{"error", e.what()}});
    }
  }
}

webhook::webhook_options
webhook_options_of(const actors::daemon_options& opts) {
  webhook::webhook_options result;
  result.url = opts.webhook.url;
  result.timeout = opts.webhook.timeout;
  result.buffer_size = opts.webhook.buffer;
  result.concurrency = opts.webhook.concurrency;
  result.events = opts.webhook.events;
  result.secrets = opts.webhook.secrets;
  result.ca_file = opts.webhook.ca_file;
  result.retries = opts.webhook.retries;
  result.shutdown_grace = opts.shutdown_grace;
  // In bench/webhook this delivered 1.5 to 1.7 times the events per second
  // of CAF's shared workers to a fast receiver.
  result.own_thread = true;
  return result;
}

actors::registry_actor_options
registry_options_of(const actors::daemon_options& opts,
                    pilot::protocol::identity identity, std::string endpoint) {
  actors::registry_actor_options result{std::move(identity)};
  result.registry_address = opts.registry;
  result.endpoint = std::move(endpoint);
  result.owner = opts.owner;
  result.hostname = opts.hostname;
  result.is_public = opts.is_public;
  result.keepalive = opts.keepalive;
  result.status_listener = [](const std::string& status) {
    sd::notify_status(status);
  };
  return result;
}

// Returns the `--config` path with `~` expanded and made absolute, so that
// pilotctl finds the file from any working directory, or "" without one.
std::string absolute_config_path(const actors::daemon_options& opts) {
  if (opts.config_file.empty())
    return {};
  std::filesystem::path path = actors::expand_home(opts.config_file);
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path.string() : absolute.string();
}

actors::tunnel_options tunnel_options_of(const actors::daemon_options& opts,
                                         pilot::protocol::identity identity,
                                         asio::ip::udp::socket socket) {
  actors::tunnel_options result{std::move(identity), std::move(socket)};
  result.encrypt = opts.encrypt;
  result.beacon = opts.beacon;
  return result;
}

actors::connection_options
connection_options_of(const actors::daemon_options& opts) {
  actors::connection_options result;
  result.idle_timeout = opts.transport.idle_timeout;
  result.keepalive = opts.keepalive;
  result.time_wait = opts.transport.time_wait;
  result.syn_rate_limit
      = static_cast<std::uint32_t>(opts.transport.syn_rate_limit);
  result.max_conns_per_port = opts.transport.max_conns_per_port;
  result.max_conns_total = opts.transport.max_conns_total;
  result.echo = opts.transport.echo;
  result.relay_fallback = !opts.beacon.empty();
  return result;
}

pilot::control::control_options
control_options_of(const actors::daemon_options& opts,
                   std::chrono::milliseconds registry_deadline) {
  pilot::control::control_options result;
  result.socket_path = opts.socket;
  result.encrypt = opts.encrypt;
  result.identity_configured = !opts.identity.empty();
  result.config_file = absolute_config_path(opts);
  for (const auto& flag : opts.command_line_flags)
    if (flag.starts_with("webhook"))
      result.webhook_flags.push_back(flag);
  result.registry = opts.registry;
  result.data_dir = opts.data_dir;
  // Longer than the registry actor's own deadline, so that IPC clients get
  // its precise error rather than a generic timeout.
  result.request_timeout = registry_deadline + 5s;
  return result;
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the supervisor until cancelled.
struct signal_forwarder {
  asio::signal_set& signals;
  caf::actor supervisor;

  void do_wait() {
    signals.async_wait(
        [this](const boost::system::error_code& ec, int signal_number) {
          on_signal(ec, signal_number);
        });
  }

  void on_signal(const boost::system::error_code& ec, int signal_number) {
    if (ec)
      return;
    caf::anon_send(supervisor, signal_atom::value, signal_number);
    do_wait();
  }
};

/// Runs an io_context on its own thread and stops it on destruction, so
/// that no handler runs after the objects it uses are gone.
class io_thread {
public:
  explicit io_thread(asio::io_context& io)
      : io_(io), work_(asio::make_work_guard(io)),
        thread_([&io] { run_io(io); }) {}

  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;

  ~io_thread() { stop(); }

  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable())
      thread_.join();
  }

private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

int run_daemon(const actors::daemon_options& opts,
               std::vector<std::string> arguments) {
  log::info(log_component, "daemon-starting", "starting",
            {{"version", PILOT_VERSION},
             {"registry", opts.registry},
             {"socket", opts.socket},
             {"webhook", redacted_url(opts.webhook.url)}});
  auto identity = actors::load_identity(opts.identity);
  asio::io_context io;
  asio::ip::udp::socket tunnel_socket{io};
  auto endpoint = discover_endpoint(
      io, tunnel_socket, opts,
      bind_tunnel_socket(tunnel_socket, opts.listen, opts.endpoint));
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::pilot_actors>();
  cfg.add_message_types<caf::id_block::pilot_webhook>();
  cfg.add_message_types<caf::id_block::pilot_transport>();
  cfg.add_message_types<caf::id_block::pilot_services>();
  actors::add_error_renderer(cfg);
  caf::actor_system sys{cfg};
  // Declared after the actor system, so the I/O thread stops before it.
  io_thread io_runner{io};
  // Step 1: the webhook first, so that no event is lost.
  auto hook = webhook::spawn_webhook(sys, io, webhook_options_of(opts));
  // Step 2: the registry actor starts registering at once.
  auto registry_opts = registry_options_of(opts, identity, endpoint);
  auto registrations = std::make_shared<registration_fanout>();
  registry_opts.registration_listener
      = [registrations](const actors::node_info& info) {
          (*registrations)(info);
        };
  auto mailboxes = std::make_shared<mailbox_fanout>();
  registry_opts.handshake_listener
      = [mailboxes](pilot::protocol::poll_handshakes_response mailbox) {
          (*mailboxes)(mailbox);
        };
  auto registry_deadline = registry_opts.request_deadline;
  auto registry = actors::spawn_registry_actor(
      sys, io, std::move(registry_opts), actors::event_sink_actor{hook});
  // Step 3: the tunnel and the connections on top of it. Both learn the
  // node's address once it is registered.
  auto tunnel_opts
      = tunnel_options_of(opts, identity, std::move(tunnel_socket));
  tunnel_opts.registry = registry;
  tunnel_opts.events = hook;
  auto tunnel = actors::spawn_tunnel(sys, io, std::move(tunnel_opts));
  auto connections = actors::spawn_connections(sys, connection_options_of(opts),
                                               tunnel, hook);
  caf::anon_send(tunnel, actors::deliver_atom_v,
                 actors::packet_sink_actor{connections});
  // A registration that finished before this line reaches each actor as it
  // joins.
  registrations->add(caf::actor_cast<caf::actor>(tunnel));
  registrations->add(caf::actor_cast<caf::actor>(connections));
  // Step 3b: the built-in services, each a client of the connection actor.
  auto services = spawn_services(sys, opts, identity, registry, tunnel,
                                 connections, hook, *registrations, *mailboxes);
  auto stop_actors = [&] {
    for (const auto& service : services.all)
      caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    for (auto handle : {caf::actor_cast<caf::actor>(connections),
                        caf::actor_cast<caf::actor>(tunnel),
                        caf::actor_cast<caf::actor>(registry),
                        caf::actor_cast<caf::actor>(hook)})
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  };
  // Step 4: IPC serves `info` while the registration still retries.
  auto control = pilot::control::start_control(
      sys, io, control_options_of(opts, registry_deadline), registry, hook,
      tunnel, connections, services.trust);
  if (!control) {
    log::error(log_component, "socket-failed", "cannot serve the IPC socket",
               {{"socket", opts.socket},
                {"error", actors::error_text(control.error())}});
    stop_actors();
    return exit_failure;
  }
  log::info(log_component, "ipc-listening", "serving the IPC socket",
            {{"socket", opts.socket}});
  // Step 5: the supervisor waits for registration and for signals.
  auto finished = std::make_shared<std::promise<int>>();
  auto exit_code = finished->get_future();
  supervisor_state init;
  init.arguments = std::move(arguments);
  init.options = opts;
  init.registry = registry;
  init.webhook = hook;
  init.control = *control;
  init.tunnel = tunnel;
  init.connections = connections;
  init.services = services.all;
  init.watchdog_interval = sd::watchdog_interval();
  init.finished = finished;
  init.io = &io;
  asio::signal_set signals{io, SIGINT, SIGTERM, SIGHUP};
  signal_forwarder forwarder{signals, sys.spawn(supervisor, std::move(init))};
  forwarder.do_wait();
  finished.reset();
  auto result = exit_code.get();
  // Step 6: every actor ends before the I/O thread does.
  stop_actors();
  sys.await_all_actors_done();
  io_runner.stop();
  return result;
}

} // namespace

int main(int argc, char** argv) {
  actors::daemon_options opts;
  try {
    opts = actors::parse_daemon_options(argc, argv);
  } catch (const actors::options_error& e) {
    std::cerr << "pilot-daemon: " << e.what() << '\n';
    return exit_usage;
  }
  if (opts.show_help) {
    std::cout << actors::daemon_usage();
    return 0;
  }
  if (opts.show_version) {
    std::cout << "pilot-daemon " << PILOT_VERSION << '\n';
    return 0;
  }
  log::configure(opts.log_level, opts.log_format);
  for (const auto& warning : opts.warnings)
    log::warn(log_component, "config-warning", warning);
  try {
    return run_daemon(opts, std::vector<std::string>(argv, argv + argc));
  } catch (const std::exception& e) {
    log::error(log_component, "daemon-failed", "cannot start",
               {{"error", e.what()}});
    sd::notify_status(std::string{"failed to start: "} + e.what());
    return exit_failure;
  }
}
