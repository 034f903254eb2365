#include "control/daemon_client.hpp"

#include "control/cli_output.hpp"
#include "control/json_text.hpp"

#include <boost/asio/error.hpp>

namespace pilot::control::cli {

namespace {

std::string seconds_text(std::chrono::milliseconds duration) {
  return std::to_string(duration.count() / 1000) + "s";
}

} // namespace

std::optional<boost::json::object>
query_daemon_info(const std::string& socket,
                  std::chrono::milliseconds timeout) {
  ipc_client client;
  if (client.connect(socket, timeout))
    return std::nullopt;
  auto reply = client.call(protocol::ipc_command::info, {}, timeout);
  if (!reply || reply->command != protocol::ipc_command::info_ok)
    return std::nullopt;
  auto json = parse_json(reply->payload);
  if (!json || !json->is_object())
    return std::nullopt;
  return std::move(json->as_object());
}

daemon_client::daemon_client(std::string socket) : socket_(std::move(socket)) {
  if (auto ec = client_.connect(socket_, connect_timeout))
    throw error{code::not_running,
                "daemon is not running (cannot connect to " + socket_ + ": "
                    + ec.message() + ")",
                "start the daemon with: pilotctl daemon start"};
}

protocol::ipc_frame daemon_client::call(protocol::ipc_command command,
                                        std::string_view payload,
                                        std::chrono::milliseconds timeout) {
  auto name = std::string{protocol::to_string(command)};
  if (payload.size() > protocol::max_ipc_payload_size)
    throw error{code::invalid_argument,
                "the " + name + " request of " + std::to_string(payload.size())
                    + " bytes exceeds the IPC frame limit of "
                    + std::to_string(protocol::max_ipc_payload_size)
                    + " bytes"};
  auto reply = client_.call(command, payload, timeout);
  if (reply)
    return std::move(*reply);
  if (reply.error() == boost::asio::error::timed_out)
    throw error{code::timeout,
                "daemon did not reply to " + name + " within "
                    + seconds_text(timeout),
                "check logs: tail -f ~/.pilot/pilot.log"};
  throw error{code::connection_failed,
              "IPC request " + name + " failed: " + reply.error().message()};
}

boost::json::value daemon_client::call_json(protocol::ipc_command command,
                                            std::string_view payload,
                                            const char* error_code) {
  auto reply = call(command, payload);
  if (reply.command == protocol::ipc_command::error) {
    auto message = protocol::decode_ipc_error(reply.payload);
    throw error{error_code, message ? *message : "daemon sent a short error"};
  }
  // Each reply byte follows its request byte.
  auto expected = static_cast<protocol::ipc_command>(
      static_cast<std::uint8_t>(command) + 1);
  if (reply.command != expected)
    throw error{code::internal,
                "daemon replied to " + std::string{protocol::to_string(command)}
                    + " with command "
                    + protocol::format_command_byte(
                        static_cast<std::uint8_t>(reply.command))};
  auto json = parse_json(reply.payload);
  if (!json)
    throw error{code::internal,
                "daemon sent invalid JSON in reply to "
                    + std::string{protocol::to_string(command)}};
  return std::move(*json);
}

} // namespace pilot::control::cli
