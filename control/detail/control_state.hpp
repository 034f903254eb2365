#pragma once

#include "actors/fwd.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "control/control_actor.hpp"
#include "control/fwd.hpp"
#include "protocol/ipc.hpp"
#include "webhook/fwd.hpp"

#include <boost/json/object.hpp>
#include <caf/error.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <string>
#include <string_view>

/// Internals of the control actor, shared by the files that implement its
/// handlers.
namespace pilot::control::detail {

/// The control actor's state: its settings and the actors it forwards to.
/// `tunnel`, `connections` and `trust` may be invalid handles.
struct control_state {
  control_options options;
  actors::registry_actor registry;
  webhook::webhook_actor webhook;
  actors::tunnel_actor tunnel;
  actors::connection_actor connections;
  actors::trust_actor trust;
  static inline const char* name = "pilot.control";
};

using control_self = control_actor::stateful_pointer<control_state>;

/// Turns a failed request to another actor into the text of an error reply.
/// Errors whose context is one string already carry the user-facing message
/// (the registry actor prefixes it with the command, the connection actor
/// uses the IPC error texts, the webhook actor names the problem with the
/// URL), so they pass unchanged. Other errors become
/// "<command>: the <target> ..." with the reason.
std::string error_message(std::string_view command, std::string_view target,
                          const caf::error& err,
                          std::chrono::milliseconds timeout);

/// Logs a failed request and sends the error reply.
void reply_error(const reply_function& reply, std::string_view command,
                 std::string message);

/// Sends `payload` as the reply `ok`, or an error reply when it does not fit
/// one frame, as when the registry echoes a value of nearly 1 MiB.
void reply_frame(const reply_function& reply, protocol::ipc_command ok,
                 std::string_view payload);

/// Sends `body` in Go's JSON encoding as the reply `ok`.
void reply_json(const reply_function& reply, protocol::ipc_command ok,
                const boost::json::object& body);

/// Serves Bind, Dial, Send, Close and SendTo through the connection actor.
/// Returns false for any other command.
bool handle_transport_request(control_self self, ipc_request& request);

/// Serves one Handshake request (its payload) through the trust actor.
void handle_trust_request(control_self self, const reply_function& reply,
                          std::string_view payload);

/// Serves SetWebhookConfig (its payload): merges the change into the
/// settings in effect, checks them as the daemon's flags do and applies
/// them through the webhook actor. Holds back other requests until the
/// webhook actor sent its settings, so that changes never overlap.
void handle_set_webhook_config(control_self self, const reply_function& reply,
                               std::string_view payload);

/// Serves WebhookTest: has the webhook actor send one test event and
/// replies with the outcome once its delivery finished.
void handle_webhook_test(control_self self, const reply_function& reply);

/// Tells the connection actor, if any, that `client` connected.
void forward_client_opened(control_self self, actors::ipc_client& client);

/// Tells the connection actor, if any, that the client `id` disconnected.
void forward_client_closed(control_self self, std::uint64_t id);

} // namespace pilot::control::detail
