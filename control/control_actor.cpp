#include "control/control_actor.hpp"

#include "actors/log.hpp"
#include "control/error.hpp"
#include "control/ipc_listener.hpp"
#include "control/ipc_replies.hpp"
#include "protocol/go_json.hpp"
#include "protocol/ipc.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string_view>
#include <utility>

namespace pilot::control {

namespace log = actors::log;

using protocol::encode_ipc_error;
using protocol::encode_ipc_frame;
using protocol::ipc_command;

namespace {

constexpr std::string_view component = "control";

/// The registry accepts at most this many tags per node.
constexpr std::size_t max_tags = 3;

/// Longest error message written to the log. The client gets the whole
/// message, which may echo a value of nearly 1 MiB.
constexpr std::size_t max_logged_error_size = 1024;

struct control_state {
  control_options options;
  actors::registry_actor registry;
  webhook::webhook_actor webhook;
  static inline const char* name = "pilot.control";
};

using self_pointer = control_actor::stateful_pointer<control_state>;

// Turns a failed request to another actor into the text of an error reply.
// Errors whose context is one string already carry the user-facing message
// (the registry actor prefixes it with the command, the webhook actor names
// the problem with the URL), so they pass unchanged.
std::string error_message(std::string_view command, std::string_view target,
                          const caf::error& err,
                          std::chrono::milliseconds timeout) {
  std::string text{command};
  text += ": ";
  if (err == caf::sec::request_timeout) {
    text += "the ";
    text += target;
    text += " did not answer within ";
    text += std::to_string(timeout.count());
    text += " ms";
    return text;
  }
  if (err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  text += "the ";
  text += target;
  text += " failed: ";
  text += to_string(err);
  return text;
}

// Logs a failed request and sends the error reply.
void reply_error(const reply_function& reply, std::string_view command,
                 std::string message) {
  log::info(
      component, "ipc-request-failed", "IPC request failed",
      {{"command", std::string{command}},
       {"error", protocol::truncate_text(message, max_logged_error_size)}});
  reply(encode_ipc_error(message));
}

// Sends `payload` as the reply `ok`, or an error reply when it does not fit
// one frame, as when the registry echoes a value of nearly 1 MiB.
void reply_frame(const reply_function& reply, ipc_command ok,
                 std::string_view payload) {
  auto frame = encode_ipc_frame(ok, payload);
  if (frame) {
    reply(std::move(*frame));
    return;
  }
  // Each reply's command byte follows its request's.
  auto request = static_cast<ipc_command>(static_cast<std::uint8_t>(ok) - 1);
  auto name = std::string{protocol::to_string(request)};
  reply_error(reply, name,
              name + ": the reply of " + std::to_string(payload.size())
                  + " bytes exceeds the IPC frame limit of "
                  + std::to_string(protocol::max_ipc_payload_size) + " bytes");
}

void reply_json(const reply_function& reply, ipc_command ok,
                const boost::json::object& body) {
  reply_frame(reply, ok, protocol::to_go_json(body));
}

// Sends `args` to the registry actor and replies with its JSON reply under
// `ok`, or with the error.
template <class... Ts>
void forward_to_registry(self_pointer self, const reply_function& reply,
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

// Info: the registry actor and the webhook actor both answer from memory,
// so the reply stays prompt while the registry is unreachable.
void handle_info(self_pointer self, const reply_function& reply) {
  auto timeout = self->state.options.request_timeout;
  auto send_info = [self, reply](const actors::node_info& node,
                                 std::optional<webhook::webhook_stats> stats) {
    const auto& options = self->state.options;
    info_settings settings{options.encrypt, options.identity_configured,
                           uptime_secs(options), options.config_file,
                           options.registry};
    reply_json(reply, ipc_command::info_ok,
               make_info_json(node, settings, stats));
  };
  self->request(self->state.registry, timeout, actors::info_atom_v)
      .then(
          [self, send_info, timeout](actors::node_info& node) {
            self->request(self->state.webhook, timeout, webhook::stats_atom_v)
                .then(
                    [send_info, node](webhook::webhook_stats& stats) {
                      send_info(node, std::move(stats));
                    },
                    [send_info, node, timeout](caf::error& err) {
                      log::warn(
                          component, "info-without-webhook",
                          "Info reply carries no webhook counters",
                          {{"error", error_message("info", "webhook actor", err,
                                                   timeout)}});
                      send_info(node, std::nullopt);
                    });
          },
          [reply, timeout](caf::error& err) {
            reply_error(reply, "info",
                        error_message("info", "registry", err, timeout));
          });
}

void handle_set_webhook(self_pointer self, const reply_function& reply,
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

void handle_webhook_stats(self_pointer self, const reply_function& reply) {
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

void handle_set_visibility(self_pointer self, const reply_function& reply,
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

void handle_set_tags(self_pointer self, const reply_function& reply,
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

void handle_resolve_hostname(self_pointer self, const reply_function& reply,
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

// The reference daemon v0.5 replies CloseOK to every Close, whether the
// connection exists or not. No connection exists here, so that is the
// truthful reply.
void handle_close(const reply_function& reply, std::string_view payload) {
  auto conn_id = protocol::decode_conn_id(payload);
  if (!conn_id) {
    reply_error(reply, "close", "close: missing conn_id");
    return;
  }
  reply_frame(reply, ipc_command::close_ok, protocol::encode_conn_id(*conn_id));
}

// Send fails the way the reference fails for a connection that does not
// exist, which is every connection while this daemon has no tunnels.
void handle_send(const reply_function& reply, std::string_view payload) {
  auto conn_id = protocol::decode_conn_id(payload);
  if (!conn_id) {
    reply_error(reply, "send", "send: missing conn_id");
    return;
  }
  reply_error(reply, "send",
              "connection " + std::to_string(*conn_id) + " not found");
}

void dispatch(self_pointer self, ipc_request& request) {
  auto command = static_cast<ipc_command>(request.command);
  const auto& reply = request.reply;
  log::debug(component, "ipc-request", "IPC request received",
             {{"command", protocol::format_command_byte(request.command)},
              {"payload_bytes", std::to_string(request.payload.size())}});
  switch (command) {
    case ipc_command::info:
      return handle_info(self, reply);
    case ipc_command::set_webhook:
      return handle_set_webhook(self, reply, std::move(request.payload));
    case ipc_command::webhook_stats:
      return handle_webhook_stats(self, reply);
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
    case ipc_command::close:
      return handle_close(reply, request.payload);
    case ipc_command::send:
      return handle_send(reply, request.payload);
    // TODO: Bind, Dial, SendTo, Handshake and SetTaskExec need the tunnel,
    // port table, trust and task services, which this daemon lacks so far.
    case ipc_command::bind:
    case ipc_command::dial:
    case ipc_command::send_to:
    case ipc_command::handshake:
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

control_actor::behavior_type control_behavior(
    self_pointer self, control_options options, actors::registry_actor registry,
    webhook::webhook_actor webhook, std::shared_ptr<ipc_listener> listener) {
  self->state.options = std::move(options);
  self->state.registry = std::move(registry);
  self->state.webhook = std::move(webhook);
  // Closing the socket on exit also drops the listener's actor handle.
  self->attach_functor([listener] { listener->stop(); });
  return {
      [self](ipc_request& request) { dispatch(self, request); },
  };
}

} // namespace

caf::expected<control_actor> start_control(caf::actor_system& sys,
                                           boost::asio::io_context& io,
                                           control_options options,
                                           actors::registry_actor registry,
                                           webhook::webhook_actor webhook) {
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
  auto actor = sys.spawn(control_behavior, std::move(options),
                         std::move(registry), std::move(webhook), *listener);
  (*listener)->start([actor](std::uint8_t command, std::string payload,
                             reply_function reply) {
    caf::anon_send(actor,
                   ipc_request{command, std::move(payload), std::move(reply)});
  });
  return actor;
}

} // namespace pilot::control
