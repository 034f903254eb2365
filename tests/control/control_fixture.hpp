#pragma once

// A control actor on a temporary socket, with stand-ins for the registry
// and webhook actors, for the tests of the control socket and of pilotctl.

#include "actors/error.hpp"
#include "actors/transport_fwd.hpp"
#include "control/control_actor.hpp"
#include "control/ipc_client.hpp"
#include "protocol/ipc.hpp"
#include "protocol/webhook_url.hpp"
#include "tests/control/scoped_env.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pilot::test {

using namespace std::chrono_literals;
using protocol::ipc_command;

// -- fake registry actor ------------------------------------------------------

// Replies with a fixed node, and injects the faults the tests need through
// the hostname it is asked to set: "slow" is answered only after the next
// hostname request, "stall" never, and "taken" with the registry actor's
// error.
struct fake_registry_state {
  std::optional<caf::typed_response_promise<std::string>> slow_reply;
  /// The node that Info reports; a test may change it.
  std::shared_ptr<actors::node_info> node;
  static inline const char* name = "fake_registry";
};

inline actors::node_info registered_node() {
  actors::node_info node;
  node.registered = true;
  node.node_id = 7;
  node.address = "0:0000.0000.0007";
  node.hostname = "alpha";
  node.public_key = "cHVibGljIGtleQ==";
  node.owner = "ops@example.com";
  return node;
}

inline std::string hostname_json(const std::string& hostname) {
  return R"({"hostname":")" + hostname
         + R"(","node_id":7,"type":"set_hostname_ok"})";
}

inline actors::registry_actor::behavior_type fake_registry(
    actors::registry_actor::stateful_pointer<fake_registry_state> self,
    std::shared_ptr<actors::node_info> node) {
  self->state.node = std::move(node);
  return {
      [self](actors::info_atom) { return *self->state.node; },
      [](actors::registered_atom) { return registered_node(); },
      [self](actors::hostname_atom, std::string& hostname) {
        auto promise = self->make_response_promise<std::string>();
        if (hostname == "slow") {
          self->state.slow_reply = promise;
        } else if (hostname == "taken") {
          promise.deliver(actors::make_error(actors::errc::registry_rejected,
                                             "set_hostname: request failed"));
        } else if (hostname != "stall") {
          promise.deliver(hostname_json(hostname));
          // Release the held request only after this one.
          if (self->state.slow_reply)
            self->delayed_send(self, 100ms, actors::heartbeat_atom_v);
        }
        return promise;
      },
      [](actors::visibility_atom, bool is_public) -> std::string {
        return std::string{R"({"node_id":7,"type":"set_visibility_ok",)"}
               + R"("visibility":")" + (is_public ? "public" : "private")
               + R"("})";
      },
      [](actors::tags_atom, std::vector<std::string>& tags) -> std::string {
        std::string json = R"({"node_id":7,"tags":[)";
        for (std::size_t i = 0; i < tags.size(); ++i)
          json += (i > 0 ? ",\"" : "\"") + tags[i] + "\"";
        return json + R"(],"type":"set_tags_ok"})";
      },
      [](actors::find_atom, std::string& hostname) -> std::string {
        return R"({"address":"0:0000.0000.0009","hostname":")" + hostname
               + R"(","node_id":9,"public":true,"type":"resolve_hostname_ok"})";
      },
      [](actors::deregister_atom) -> std::string {
        return R"({"type":"deregister_ok"})";
      },
      [](actors::stop_atom) { return true; },
      [](actors::register_atom) {},
      [self](actors::heartbeat_atom) {
        if (self->state.slow_reply) {
          self->state.slow_reply->deliver(hostname_json("slow"));
          self->state.slow_reply.reset();
        }
      },
      [](actors::registry_reply&) {},
  };
}

// -- fake webhook actor -------------------------------------------------------

// Validates URLs with the real validator and keeps the last accepted
// settings, so that a test can see whether a rejected change reached it.
// The test event gets the outcome that the test stores in `test_outcome`,
// or the webhook actor's error when no URL is set.
struct fake_webhook_state {
  std::shared_ptr<std::string> current_url;
  std::shared_ptr<webhook::webhook_config> config;
  std::shared_ptr<webhook::attempt_result> test_outcome;
  static inline const char* name = "fake_webhook";
};

inline caf::error url_error(const std::string& message) {
  return caf::error{1, caf::atom("webhook"), caf::make_message(message)};
}

inline webhook::webhook_actor::behavior_type
fake_webhook(webhook::webhook_actor::stateful_pointer<fake_webhook_state> self,
             std::shared_ptr<std::string> current_url,
             std::shared_ptr<webhook::webhook_config> config,
             std::shared_ptr<webhook::attempt_result> test_outcome) {
  self->state.current_url = std::move(current_url);
  self->state.config = std::move(config);
  self->state.test_outcome = std::move(test_outcome);
  return {
      [](protocol::event&) {},
      [](actors::node_id_atom, std::uint32_t) {},
      [self](webhook::set_url_atom,
             std::string& url) -> caf::result<std::string> {
        if (url.empty()) {
          *self->state.current_url = "";
          self->state.config->url = "";
          return std::string{};
        }
        auto target = protocol::parse_webhook_url(url);
        if (!target)
          return url_error(target.error().message);
        *self->state.current_url = target->redacted;
        self->state.config->url = url;
        return target->redacted;
      },
      [self](webhook::configure_atom,
             webhook::webhook_config& config) -> caf::result<std::string> {
        std::string redacted;
        if (!config.url.empty()) {
          auto target = protocol::parse_webhook_url(config.url);
          if (!target)
            return url_error(target.error().message);
          redacted = target->redacted;
        }
        *self->state.current_url = redacted;
        *self->state.config = std::move(config);
        return redacted;
      },
      [self](webhook::config_atom) { return *self->state.config; },
      [self](webhook::test_atom) -> caf::result<webhook::attempt_result> {
        if (self->state.config->url.empty())
          return caf::error{1, caf::atom("webhook"),
                            caf::make_message("no webhook URL is set")};
        return *self->state.test_outcome;
      },
      [self](webhook::stats_atom) {
        webhook::webhook_stats stats;
        stats.url = *self->state.current_url;
        stats.state = stats.url.empty() ? "disabled" : "up";
        stats.emitted = 5;
        stats.delivered = 3;
        stats.failed = 1;
        stats.failed_status_5xx = 1;
        stats.dropped = 1;
        stats.dropped_down = 1;
        stats.latency_p50_ms = 1.5;
        const auto& config = *self->state.config;
        for (const auto& item : config.events)
          stats.events += (stats.events.empty() ? "" : ",") + item;
        if (stats.events.empty())
          stats.events = "*";
        stats.retries = config.retries;
        stats.concurrency = config.concurrency;
        stats.buffer_size = config.buffer_size;
        stats.timeout_ms = config.timeout_ms;
        stats.secrets = static_cast<std::uint32_t>(config.secrets.size());
        stats.ca_file = config.ca_file;
        return stats;
      },
      [](webhook::drain_atom) { return webhook::webhook_stats{}; },
      [](webhook::probe_atom) {},
      [](webhook::retry_atom, std::uint64_t) {},
      [](webhook::attempt_result&) {},
  };
}

// -- fixture ------------------------------------------------------------------

inline caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::pilot_actors>();
  cfg.add_message_types<caf::id_block::pilot_webhook>();
  cfg.add_message_types<caf::id_block::pilot_transport>();
  return cfg;
}

inline std::filesystem::path make_temp_dir() {
  std::string name = "/tmp/pilot-control-test-XXXXXX";
  REQUIRE(::mkdtemp(name.data()) != nullptr);
  return name;
}

struct fixture {
  fixture()
      : dir(make_temp_dir()), sys(configure(cfg)),
        io_thread([this] { io.run(); }) {
    registry = sys.spawn(fake_registry, node);
    webhook_actor
        = sys.spawn(fake_webhook, webhook_url, webhook_config, test_outcome);
  }

  ~fixture() {
    for (auto& control : controls)
      caf::anon_send_exit(control, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(webhook_actor, caf::exit_reason::user_shutdown);
    if (tunnel)
      caf::anon_send_exit(tunnel, caf::exit_reason::user_shutdown);
    if (connections)
      caf::anon_send_exit(connections, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    work.reset();
    io.stop();
    io_thread.join();
    // The control actor removes the socket file as it exits, which may be
    // while this runs, so a vanished file is no error.
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  control::control_options options() {
    control::control_options opts;
    opts.socket_path = socket_path();
    opts.request_timeout = 2s;
    opts.identity_configured = true;
    return opts;
  }

  std::filesystem::path socket_path() const { return dir / "pilot.sock"; }

  control::control_actor start(control::control_options opts) {
    auto control = control::start_control(sys, io, std::move(opts), registry,
                                          webhook_actor, tunnel, connections);
    REQUIRE(control);
    controls.push_back(*control);
    return *control;
  }

  control::control_actor start() { return start(options()); }

  std::unique_ptr<control::ipc_client> connect() {
    auto client = std::make_unique<control::ipc_client>();
    REQUIRE_FALSE(client->connect(socket_path(), 2s));
    return client;
  }

  std::filesystem::path dir;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work
      = boost::asio::make_work_guard(io);
  caf::actor_system_config cfg;
  caf::actor_system sys;
  std::thread io_thread;
  actors::registry_actor registry;
  /// The node that the fake registry reports; written before `start` only.
  std::shared_ptr<actors::node_info> node
      = std::make_shared<actors::node_info>(registered_node());
  std::shared_ptr<std::string> webhook_url = std::make_shared<std::string>();
  /// The settings the fake webhook actor holds.
  std::shared_ptr<webhook::webhook_config> webhook_config
      = std::make_shared<webhook::webhook_config>();
  /// The outcome of the fake webhook actor's test event.
  std::shared_ptr<webhook::attempt_result> test_outcome
      = std::make_shared<webhook::attempt_result>();
  webhook::webhook_actor webhook_actor;
  /// Stand-ins a test may spawn before `start`; invalid otherwise.
  actors::tunnel_actor tunnel;
  actors::connection_actor connections;
  std::vector<control::control_actor> controls;
};

inline protocol::ipc_frame call(std::unique_ptr<control::ipc_client>& client,
                                ipc_command command,
                                std::string_view payload = {}) {
  auto reply = client->call(command, payload, 5s);
  REQUIRE(reply.has_value());
  return *reply;
}

inline std::string frame_bytes(ipc_command command,
                               std::string_view payload = {}) {
  auto frame = protocol::encode_ipc_frame(command, payload);
  REQUIRE(frame.has_value());
  return *frame;
}

inline std::string error_text(const protocol::ipc_frame& frame) {
  REQUIRE(frame.command == ipc_command::error);
  return protocol::decode_ipc_error(frame.payload).value();
}

// Waits up to five seconds for `condition`.
template <class Predicate>
bool eventually(Predicate condition) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Points pilotctl's HOME and socket at the fixture and keeps the real
// environment's registry out.
struct cli_fixture : fixture {
  cli_fixture()
      : home(dir / "home"), home_env("HOME", home.c_str()),
        socket_env("PILOT_SOCKET", socket_path().c_str()),
        registry_env("PILOT_REGISTRY", nullptr) {
    std::filesystem::create_directories(home);
  }

  // Returns the path of a config file that the daemon reads, written with
  // `text`.
  std::filesystem::path daemon_config(const std::string& text) {
    auto path = dir / "etc" / "config.json";
    std::filesystem::create_directories(path.parent_path());
    std::ofstream{path} << text;
    return path;
  }

  std::filesystem::path home_config() const {
    return home / ".pilot" / "config.json";
  }

  // Starts the control actor of a daemon that reads `home_config()`, as
  // `pilotctl daemon start` runs it.
  control::control_actor start_with_home_config() {
    auto opts = options();
    opts.config_file = home_config().string();
    return start(opts);
  }

  std::filesystem::path home;
  scoped_env home_env;
  scoped_env socket_env;
  scoped_env registry_env;
};

} // namespace pilot::test
