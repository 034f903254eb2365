#include "control/detail/control_state.hpp"

#include "actors/log.hpp"
#include "protocol/go_json.hpp"
#include "protocol/webhook_signature.hpp"

#include <caf/sec.hpp>

namespace pilot::control::detail {

namespace log = actors::log;

namespace {

constexpr std::string_view component = "control";

/// Longest error message written to the log. The client gets the whole
/// message, which may echo a value of nearly 1 MiB.
constexpr std::size_t max_logged_error_size = 1024;

} // namespace

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

void reply_error(const reply_function& reply, std::string_view command,
                 std::string message) {
  // Messages quote the values a client sent, which may be a secret sent
  // under the wrong name.
  message = protocol::hide_webhook_secrets(message);
  log::info(
      component, "ipc-request-failed", "IPC request failed",
      {{"command", std::string{command}},
       {"error", protocol::truncate_text(message, max_logged_error_size)}});
  reply(protocol::encode_ipc_error(message));
}

void reply_frame(const reply_function& reply, protocol::ipc_command ok,
                 std::string_view payload) {
  auto frame = protocol::encode_ipc_frame(ok, payload);
  if (frame) {
    reply(std::move(*frame));
    return;
  }
  // Each reply's command byte follows its request's.
  auto request
      = static_cast<protocol::ipc_command>(static_cast<std::uint8_t>(ok) - 1);
  auto name = std::string{protocol::to_string(request)};
  reply_error(reply, name,
              name + ": the reply of " + std::to_string(payload.size())
                  + " bytes exceeds the IPC frame limit of "
                  + std::to_string(protocol::max_ipc_payload_size) + " bytes");
}

void reply_json(const reply_function& reply, protocol::ipc_command ok,
                const boost::json::object& body) {
  reply_frame(reply, ok, protocol::to_go_json(body));
}

} // namespace pilot::control::detail
