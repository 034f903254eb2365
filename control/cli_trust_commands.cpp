#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/cli_target.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "protocol/ipc.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <ctime>
#include <string>
#include <vector>

namespace pilot::control::cli {

namespace {

using protocol::handshake_command;
using protocol::handshake_operation;
using protocol::ipc_command;

/// Operand count without an upper bound, for texts of several words.
constexpr std::size_t unlimited_operands = std::size_t(-1);

// Returns the error code of a failed trust request: `not_found` when the
// daemon reports that there is nothing to act on, and `connection_failed`
// otherwise, as for every other daemon error.
const char* trust_error_code(std::string_view message) {
  for (auto phrase : {"was not trusted", "no pending request"})
    if (message.find(phrase) != std::string_view::npos)
      return code::not_found;
  return code::connection_failed;
}

// Sends one Handshake request and returns the daemon's JSON object. A
// trust request may dial the peer for as long as a Dial takes before
// the daemon leaves it in the registry's mailbox instead.
boost::json::object call_trust(daemon_client& daemon,
                               const handshake_command& command) {
  auto timeout = command.operation == handshake_operation::send
                     ? dial_reply_timeout + 2 * reply_timeout
                     : reply_timeout;
  try {
    auto reply = daemon.call_json(ipc_command::handshake,
                                  protocol::encode_handshake_command(command),
                                  code::connection_failed, timeout);
    if (auto* object = reply.if_object())
      return std::move(*object);
    throw error{code::internal, "the daemon's handshake reply is not a JSON "
                                "object"};
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    throw error{trust_error_code(e.what()), e.what(), e.hint()};
  }
}

// Returns the node ID of a target: an address, a node ID or a hostname.
std::uint32_t target_node(daemon_client& daemon, const command_line& cmd) {
  return resolve_target(daemon, cmd, cmd.positional(1)).node;
}

// Joins the positionals from `first` on with spaces, so that a reason or
// justification need not be quoted.
std::string joined_text(const command_line& cmd, std::size_t first) {
  std::string text;
  for (auto i = first; i < cmd.positionals.size(); ++i) {
    if (!text.empty())
      text += ' ';
    text += cmd.positionals[i];
  }
  return text;
}

// Formats the Unix seconds at `key` as local time for tables, or "-" when
// the value is missing or 0.
std::string local_time_text(const boost::json::value& entry,
                            std::string_view key) {
  const auto* object = entry.if_object();
  const auto* value = object ? object->if_contains(key) : nullptr;
  if (value == nullptr || !value->is_number())
    return "-";
  auto seconds = static_cast<std::time_t>(value->to_number<double>());
  if (seconds == 0)
    return "-";
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

boost::json::array list_member(boost::json::object& reply,
                               std::string_view key) {
  if (auto* list = reply.if_contains(key); list && list->is_array())
    return std::move(list->as_array());
  return {};
}

// Sends a request about one peer and returns `{node_id, status}`.
success peer_operation(const command_line& cmd, handshake_operation operation,
                       std::string text, std::string_view done) {
  daemon_client daemon{configured_socket(cmd)};
  auto node = target_node(daemon, cmd);
  auto reply = call_trust(daemon, {operation, node, std::move(text)});
  boost::json::object data{{"node_id", node}};
  if (auto* status = reply.if_contains("status"))
    data["status"] = *status;
  return {std::move(data), std::string{done} + " node " + std::to_string(node)};
}

} // namespace

success run_handshake(const command_line& cmd) {
  check_operands(cmd, 1, unlimited_operands,
                 "handshake <address|node_id|hostname> [justification]");
  daemon_client daemon{configured_socket(cmd)};
  auto node = target_node(daemon, cmd);
  auto reply = call_trust(
      daemon, {handshake_operation::send, node, joined_text(cmd, 2)});
  auto status = string_member(reply, "status");
  std::string text
      = status == "already_trusted"
            ? "node " + std::to_string(node) + " is already trusted"
            : "trust request sent to node " + std::to_string(node)
                  + "\n  it waits in the peer's `pilotctl pending` until "
                    "they approve or reject it";
  return {boost::json::object{{"node_id", node}, {"status", status}}, text};
}

success run_approve(const command_line& cmd) {
  check_operands(cmd, 1, 1, "approve <node_id>");
  return peer_operation(cmd, handshake_operation::approve, {},
                        "approved the trust request of");
}

success run_reject(const command_line& cmd) {
  check_operands(cmd, 1, unlimited_operands, "reject <node_id> [reason]");
  return peer_operation(cmd, handshake_operation::reject, joined_text(cmd, 2),
                        "rejected the trust request of");
}

success run_untrust(const command_line& cmd) {
  check_operands(cmd, 1, 1, "untrust <node_id>");
  auto result = peer_operation(cmd, handshake_operation::revoke, {},
                               "stopped trusting");
  // The Go reference's `untrust` output contains only the node.
  result.data.as_object().erase("status");
  return result;
}

success run_pending(const command_line& cmd) {
  check_operands(cmd, 0, 0, "pending");
  daemon_client daemon{configured_socket(cmd)};
  auto reply = call_trust(daemon, {handshake_operation::pending, 0, {}});
  auto pending = list_member(reply, "pending");
  std::vector<std::vector<std::string>> rows;
  for (const auto& entry : pending)
    rows.push_back({member_text(entry, "node_id"),
                    local_time_text(entry, "received_at"),
                    member_text(entry, "justification")});
  std::string text
      = rows.empty()
            ? "no pending trust requests"
            : table_text({"NODE ID", "RECEIVED", "JUSTIFICATION"}, rows)
                  + "approve one with: pilotctl approve <node_id>";
  return {boost::json::object{{"pending", std::move(pending)}}, text};
}

success run_trust(const command_line& cmd) {
  check_operands(cmd, 0, 0, "trust");
  daemon_client daemon{configured_socket(cmd)};
  auto reply = call_trust(daemon, {handshake_operation::trusted, 0, {}});
  auto trusted = list_member(reply, "trusted");
  std::vector<std::vector<std::string>> rows;
  for (const auto& entry : trusted)
    rows.push_back({member_text(entry, "node_id"), yes_no(entry, "mutual"),
                    member_text(entry, "network"),
                    local_time_text(entry, "approved_at")});
  std::string text
      = rows.empty()
            ? "no trusted peers\n  request trust with: pilotctl handshake "
              "<node_id> \"why\""
            : table_text({"NODE ID", "MUTUAL", "NETWORK", "APPROVED"}, rows);
  return {boost::json::object{{"trusted", std::move(trusted)}}, text};
}

} // namespace pilot::control::cli
