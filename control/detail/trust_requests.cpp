#include "control/detail/control_state.hpp"

#include "protocol/ipc.hpp"

#include <caf/event_based_actor.hpp>

#include <cstdio>
#include <string>
#include <utility>

namespace pilot::control::detail {

namespace {

using protocol::handshake_operation;
using protocol::ipc_command;

constexpr std::string_view target_name = "trust service";

// Returns the operation's name, which starts the Go reference's error texts.
std::string_view operation_name(handshake_operation operation) {
  switch (operation) {
    case handshake_operation::send:
      return "handshake request";
    case handshake_operation::approve:
      return "handshake approve";
    case handshake_operation::reject:
      return "handshake reject";
    case handshake_operation::revoke:
      return "handshake revoke";
    case handshake_operation::pending:
      return "handshake pending";
    case handshake_operation::trusted:
      return "handshake trusted";
  }
  return "handshake";
}

// Returns the error text of a failed trust request: the operation's name
// followed by the reason from the trust actor.
std::string failure_text(std::string_view name, const caf::error& err,
                         std::chrono::milliseconds timeout) {
  if (err != caf::sec::request_timeout
      && err.context().match_elements<std::string>())
    return std::string{name} + ": " + err.context().get_as<std::string>(0);
  return error_message(name, target_name, err, timeout);
}

// Sends `args` to the trust actor and replies with its JSON under
// HandshakeOK, or with the error.
template <class... Ts>
void forward(control_self self, const reply_function& reply,
             std::string_view name, std::chrono::milliseconds timeout,
             Ts&&... args) {
  self->request(self->state.trust, timeout, std::forward<Ts>(args)...)
      .then(
          [reply](std::string& json) {
            reply_frame(reply, ipc_command::handshake_ok, json);
          },
          [reply, name = std::string{name}, timeout](caf::error& err) {
            reply_error(reply, name, failure_text(name, err, timeout));
          });
}

std::string unknown_operation_text(std::string_view payload) {
  char text[64];
  std::snprintf(text, sizeof(text), "handshake: unknown sub-command 0x%02X",
                static_cast<unsigned>(static_cast<std::uint8_t>(payload[0])));
  return text;
}

} // namespace

void handle_trust_request(control_self self, const reply_function& reply,
                          std::string_view payload) {
  auto command = protocol::decode_handshake_command(payload);
  if (!command) {
    if (payload.empty())
      return reply_error(reply, "handshake", "handshake: missing sub-command");
    if (command.error() == protocol::errc::unknown_type)
      return reply_error(reply, "handshake", unknown_operation_text(payload));
    auto operation = static_cast<handshake_operation>(payload[0]);
    auto name = std::string{operation_name(operation)};
    return reply_error(reply, name, name + ": missing node_id");
  }
  auto name = operation_name(command->operation);
  if (!self->state.trust)
    return reply_error(
        reply, name, std::string{name} + ": the trust service is not running");
  const auto& options = self->state.options;
  auto timeout = options.request_timeout;
  auto node = command->node;
  switch (command->operation) {
    case handshake_operation::send:
      // The reply waits for a direct send, which may dial for as long as a
      // Dial does, and then for the registry's mailbox.
      return forward(self, reply, name, options.dial_timeout + 2 * timeout,
                     actors::handshake_atom_v, node, std::move(command->text));
    case handshake_operation::approve:
      return forward(self, reply, name, timeout, actors::approve_atom_v, node);
    case handshake_operation::reject:
      return forward(self, reply, name, timeout, actors::reject_atom_v, node,
                     std::move(command->text));
    case handshake_operation::revoke:
      return forward(self, reply, name, timeout, actors::revoke_atom_v, node);
    case handshake_operation::pending:
      return forward(self, reply, name, timeout, actors::pending_atom_v);
    case handshake_operation::trusted:
      return forward(self, reply, name, timeout, actors::trusted_atom_v);
  }
}

} // namespace pilot::control::detail
