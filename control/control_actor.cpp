#include "control/control_actor.hpp"

#include "actors/log.hpp"
#include "control/detail/control_state.hpp"
#include "control/error.hpp"
#include "control/ipc_listener.hpp"
#include "control/ipc_replies.hpp"
#include "protocol/ipc.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <unistd.h>

namespace pilot::control {

namespace log = actors::log;

using detail::control_self;
using detail::error_message;
using detail::reply_error;
using detail::reply_frame;
using detail::reply_json;
using protocol::ipc_command;

namespace {

constexpr std::string_view component = "control";

/// The registry accepts at most this many tags per node.
constexpr std::size_t max_tags = 3;

// Sends `args` to the registry actor and replies with its JSON reply under
// `ok`, or with the error.
template <class... Ts>
void forward_to_registry(control_self self, const reply_function& reply,
                         ipc_command request, ipc_command ok, Ts&&... args) {
  auto timeout = self->state.options.request_timeout;
  self->request(self->state.registry, timeout, std::forward<Ts>(args)...)
      .then([reply, ok](std::string& json) { reply_frame(reply, ok, json); },
            [reply, request, timeout](caf::error& err) {
              auto name = protocol::to_string(request);
              reply_error(reply, name,
                          error_message(name, "registry", err, timeout));
            });
}

std::uint64_t uptime_secs(const control_options& options) {
  auto elapsed = std::chrono::steady_clock::now() - options.started_at;
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
}

// Collects the parts of one Info reply and sends it once the last part is
// in. Every callback runs in the control actor, so no lock is needed.
struct info_collector {
  control_self self;
  reply_function reply;
  info_parts parts;
  int missing = 0;

  void part_done() {
    if (--missing > 0)
      return;
    const auto& options = self->state.options;
    info_settings settings{options.encrypt,       options.identity_configured,
                           uptime_secs(options),  options.config_file,
                           options.registry,      options.data_dir,
                           options.webhook_flags, ::getpid()};
    reply_json(reply, ipc_command::info_ok, make_info_json(parts, settings));
  }
};

// Requests one part of Info from `target` and stores it in `part`. The
// part stays empty when the actor is absent, fails or times out, so that
// Info still goes out.
template <class T, class Handle, class Atom>
void fetch_info_part(std::shared_ptr<info_collector> collector,
                     const Handle& target, std::string_view what,
                     std::optional<T> info_parts::*part, Atom atom) {
  auto self = collector->self;
  if (!target) {
    collector->part_done();
    return;
  }
  auto timeout = self->state.options.request_timeout;
  self->request(target, timeout, atom)
      .then(
          [collector, part](T& value) {
            collector->parts.*part = std::move(value);
            collector->part_done();
          },
          [collector, what = std::string{what}, timeout](caf::error& err) {
            log::warn(component, "info-part-missing",
                      "Info reply lacks the part of an actor that failed",
                      {{"actor", what},
                       {"error", error_message("info", what, err, timeout)}});
            collector->part_done();
          });
}

// Info: the registry, webhook, tunnel and connection actors all answer from
// memory, so the reply stays prompt while the registry is unreachable. Only
// a registry actor that fails fails Info; the other parts are optional.
void handle_info(control_self self, const reply_function& reply) {
  auto timeout = self->state.options.request_timeout;
  self->request(self->state.registry, timeout, actors::info_atom_v)
      .then(
          [self, reply](actors::node_info& node) {
            auto collector = std::make_shared<info_collector>();
            collector->self = self;
            collector->reply = reply;
            collector->parts.node = std::move(node);
            collector->missing = 3;
            const auto& state = self->state;
            fetch_info_part(collector, state.webhook, "webhook actor",
                            &info_parts::webhook, webhook::stats_atom_v);
            fetch_info_part(collector, state.tunnel, "tunnel actor",
                            &info_parts::tunnel, actors::info_atom_v);
            fetch_info_part(collector, state.connections, "connection actor",
                            &info_parts::transport, actors::info_atom_v);
          },
          [reply, timeout](caf::error& err) {
            reply_error(reply, "info",
                        error_message("info", "registry", err, timeout));
          });
}

void handle_set_webhook(control_self self, const reply_function& reply,
                        std::string url) {
  auto timeout = self->state.options.request_timeout;
  self->request(self->state.webhook, timeout, webhook::set_url_atom_v,
                std::move(url))
      .then(
          [reply](std::string& redacted) {
            log::info(component, "webhook-url-set",
                      "webhook URL changed over IPC", {{"url", redacted}});
            reply_json(reply, ipc_command::set_webhook_ok,
                       boost::json::object{{"webhook", redacted}});
          },
          [reply, timeout](caf::error& err) {
            reply_error(
                reply, "set_webhook",
                error_message("set_webhook", "webhook actor", err, timeout));
          });
}

void handle_webhook_stats(control_self self, const reply_function& reply) {
  auto timeout = self->state.options.request_timeout;
  self->request(self->state.webhook, timeout, webhook::stats_atom_v)
      .then(
          [reply](webhook::webhook_stats& stats) {
            reply_json(reply, ipc_command::webhook_stats_ok,
                       make_webhook_stats_json(stats));
          },
          [reply, timeout](caf::error& err) {
            reply_error(
                reply, "webhook_stats",
                error_message("webhook_stats", "webhook actor", err, timeout));
          });
}

void handle_set_visibility(control_self self, const reply_function& reply,
                           std::string_view payload) {
  auto is_public = protocol::decode_set_visibility(payload);
  if (!is_public) {
    reply_error(reply, "set_visibility", "set_visibility: missing visibility");
    return;
  }
  forward_to_registry(self, reply, ipc_command::set_visibility,
                      ipc_command::set_visibility_ok, actors::visibility_atom_v,
                      *is_public);
}

void handle_set_tags(control_self self, const reply_function& reply,
                     std::string_view payload) {
  auto tags = protocol::decode_set_tags(payload);
  if (!tags) {
    reply_error(reply, "set_tags",
                "set_tags: invalid tags: expected a JSON array of strings");
    return;
  }
  if (tags->size() > max_tags) {
    reply_error(reply, "set_tags", "set_tags: maximum 3 tags allowed");
    return;
  }
  forward_to_registry(self, reply, ipc_command::set_tags,
                      ipc_command::set_tags_ok, actors::tags_atom_v,
                      std::move(*tags));
}

void handle_resolve_hostname(control_self self, const reply_function& reply,
                             std::string hostname) {
  if (hostname.empty()) {
    reply_error(reply, "resolve_hostname",
                "resolve_hostname: missing hostname");
    return;
  }
  forward_to_registry(self, reply, ipc_command::resolve_hostname,
                      ipc_command::resolve_hostname_ok, actors::find_atom_v,
                      std::move(hostname));
}

void dispatch(control_self self, ipc_request& request) {
  auto command = static_cast<ipc_command>(request.command);
  const auto& reply = request.reply;
  log::debug(component, "ipc-request", "IPC request received",
             {{"client", std::to_string(request.client)},
              {"command", protocol::format_command_byte(request.command)},
              {"payload_bytes", std::to_string(request.payload.size())}});
  if (detail::handle_transport_request(self, request))
    return;
  switch (command) {
    case ipc_command::info:
      return handle_info(self, reply);
    case ipc_command::set_webhook:
      return handle_set_webhook(self, reply, std::move(request.payload));
    case ipc_command::webhook_stats:
      return handle_webhook_stats(self, reply);
    case ipc_command::set_webhook_config:
      return detail::handle_set_webhook_config(self, reply, request.payload);
    case ipc_command::webhook_test:
      return detail::handle_webhook_test(self, reply);
    case ipc_command::deregister:
      return forward_to_registry(self, reply, command,
                                 ipc_command::deregister_ok,
                                 actors::deregister_atom_v);
    case ipc_command::set_hostname:
      return forward_to_registry(
          self, reply, command, ipc_command::set_hostname_ok,
          actors::hostname_atom_v, std::move(request.payload));
    case ipc_command::set_visibility:
      return handle_set_visibility(self, reply, request.payload);
    case ipc_command::set_tags:
      return handle_set_tags(self, reply, request.payload);
    case ipc_command::resolve_hostname:
      return handle_resolve_hostname(self, reply, std::move(request.payload));
    case ipc_command::handshake:
      return detail::handle_trust_request(self, reply, request.payload);
    // SetTaskExec needs the task service, which this daemon lacks.
    case ipc_command::set_task_exec: {
      auto name = std::string{protocol::to_string(command)};
      return reply_error(reply, name,
                         name + ": not supported by this daemon yet");
    }
    default:
      return reply_error(reply, "unknown",
                         "unknown command: "
                             + protocol::format_command_byte(request.command));
  }
}

control_actor::behavior_type
control_behavior(control_self self, detail::control_state init,
                 std::shared_ptr<ipc_listener> listener) {
  self->state = std::move(init);
  // Closing the socket on exit also drops the listener's actor handle.
  self->attach_functor([listener] { listener->stop(); });
  return {
      [self](ipc_request& request) { dispatch(self, request); },
      [self](actors::client_opened_atom, actors::ipc_client& client) {
        detail::forward_client_opened(self, client);
      },
      [self](actors::client_closed_atom, std::uint64_t id) {
        detail::forward_client_closed(self, id);
      },
  };
}

} // namespace

caf::expected<control_actor>
start_control(caf::actor_system& sys, boost::asio::io_context& io,
              control_options options, actors::registry_actor registry,
              webhook::webhook_actor webhook, actors::tunnel_actor tunnel,
              actors::connection_actor connections, actors::trust_actor trust) {
  listener_limits limits;
  limits.max_clients = options.max_clients;
  if (!options.config_file.empty()) {
    std::error_code ec;
    auto absolute = std::filesystem::absolute(options.config_file, ec);
    if (!ec)
      options.config_file = absolute.string();
  }
  auto listener = ipc_listener::open(io, options.socket_path, limits);
  if (!listener)
    return std::move(listener.error());
  detail::control_state init;
  init.options = std::move(options);
  init.registry = std::move(registry);
  init.webhook = std::move(webhook);
  init.tunnel = std::move(tunnel);
  init.connections = std::move(connections);
  init.trust = std::move(trust);
  auto actor = sys.spawn(control_behavior, std::move(init), *listener);
  client_observer observer;
  observer.opened = [actor](actors::ipc_client client) {
    caf::anon_send(actor, actors::client_opened_atom_v, std::move(client));
  };
  observer.closed = [actor](std::uint64_t id) {
    caf::anon_send(actor, actors::client_closed_atom_v, id);
  };
  (*listener)->start(
      [actor](std::uint64_t client, std::uint8_t command, std::string payload,
              reply_function reply) {
        caf::anon_send(actor, ipc_request{client, command, std::move(payload),
                                          std::move(reply)});
      },
      std::move(observer));
  return actor;
}

} // namespace pilot::control
