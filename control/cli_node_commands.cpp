#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "control/registry_client.hpp"
#include "protocol/go_json.hpp"
#include "protocol/registry_message.hpp"

#include <boost/asio/error.hpp>
#include <boost/json/object.hpp>

#include <charconv>
#include <optional>

namespace pilot::control::cli {

namespace {

using protocol::ipc_command;

/// The registry accepts at most this many tags per node.
constexpr std::size_t max_tags = 3;

/// Deadline of `lookup`'s whole exchange with the registry.
constexpr std::chrono::milliseconds registry_timeout{10'000};

boost::json::object as_object(boost::json::value value, std::string_view what) {
  if (!value.is_object())
    throw error{code::internal,
                std::string{what} + " reply is not a JSON object"};
  return std::move(value.as_object());
}

boost::json::value member(const boost::json::object& object,
                          std::string_view key) {
  auto* value = object.if_contains(key);
  return value ? *value : boost::json::value{};
}

// Sends one request to the daemon and returns its JSON object reply.
boost::json::object call_daemon(const command_line& cmd, ipc_command command,
                                std::string_view payload,
                                const char* error_code
                                = code::connection_failed) {
  daemon_client daemon{configured_socket(cmd)};
  return as_object(daemon.call_json(command, payload, error_code),
                   protocol::to_string(command));
}

// Sets or clears the hostname in the daemon, then in the config file that
// the daemon reads (else config.json), so that a restart keeps it.
struct hostname_change {
  boost::json::object reply;
  /// None when the daemon reads no config file.
  std::optional<std::filesystem::path> config_path;
};

hostname_change change_hostname(const command_line& cmd,
                                const std::string& hostname) {
  daemon_client daemon{configured_socket(cmd)};
  auto path = daemon_config_path(daemon);
  std::optional<config_lock> lock;
  std::optional<pilot_config> config;
  if (path) {
    lock.emplace(lock_config(*path));
    config = load_config(*path);
  }
  auto reply = as_object(daemon.call_json(ipc_command::set_hostname, hostname),
                         "set_hostname");
  if (config && hostname.empty())
    config->erase("hostname");
  else if (config)
    config->set_string("hostname", hostname);
  if (config)
    save_applied_config(*config);
  return {std::move(reply), path};
}

success set_visibility(const command_line& cmd, bool is_public) {
  check_operands(cmd, 0, 0, is_public ? "set-public" : "set-private");
  auto reply = call_daemon(cmd, ipc_command::set_visibility,
                           protocol::encode_set_visibility(is_public));
  return {reply,
          std::string{"visibility: "} + (is_public ? "public" : "private")};
}

std::uint32_t parse_node_id(const std::string& text) {
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id == 0)
    throw error{code::invalid_argument,
                "invalid node ID \"" + text
                    + "\": expected a decimal number from 1 to 4294967295",
                "usage: pilotctl lookup <node_id>"};
  return id;
}

[[noreturn]] void throw_registry_failure(const resolved_setting& registry,
                                         boost::system::error_code ec) {
  std::string hint = "the registry address came from " + registry.origin
                     + ". Pass --registry HOST:PORT to ask another one";
  if (ec == boost::asio::error::timed_out)
    throw error{code::timeout,
                "registry " + registry.value + " did not reply within 10s",
                hint};
  throw error{code::connection_failed,
              "cannot reach the registry at " + registry.value + ": "
                  + ec.message(),
              hint};
}

// Returns the line that states whether the node is registered, or "" for a
// daemon whose Info lacks `registered`.
std::string registration_line(const boost::json::object& info) {
  auto* registered = info.if_contains("registered");
  if (registered == nullptr || !registered->is_bool())
    return {};
  auto registry = string_member(info, "registry");
  if (registry.empty())
    registry = "the registry";
  if (registered->get_bool())
    return "registration: registered with " + registry + "\n";
  std::string line = "registration: not registered, retrying " + registry;
  if (auto last = string_member(info, "registry_error"); !last.empty())
    line += " (last error: " + last + ")";
  return line + "\n";
}

} // namespace

success run_info(const command_line& cmd) {
  check_operands(cmd, 0, 0, "info");
  auto info = call_daemon(cmd, ipc_command::info, {});
  auto text
      = escape_control(registration_line(info), true)
        + key_value_text(info, {"registered", "registry", "registry_error"});
  return {std::move(info), text};
}

success run_set_hostname(const command_line& cmd) {
  check_operands(cmd, 1, 1, "set-hostname <name>");
  auto hostname = cmd.positional(1);
  auto change = change_hostname(cmd, hostname);
  return {
      boost::json::object{{"hostname", member(change.reply, "hostname")},
                          {"node_id", member(change.reply, "node_id")},
                          {"config_file", path_or_null(change.config_path)}},
      "hostname set: " + escape_control(hostname) + "\n"
          + change_text(true, change.config_path)};
}

success run_clear_hostname(const command_line& cmd) {
  check_operands(cmd, 0, 0, "clear-hostname");
  auto change = change_hostname(cmd, "");
  return {
      boost::json::object{{"hostname", ""},
                          {"config_file", path_or_null(change.config_path)}},
      "hostname cleared\n" + change_text(true, change.config_path)};
}

success run_set_public(const command_line& cmd) {
  return set_visibility(cmd, true);
}

success run_set_private(const command_line& cmd) {
  return set_visibility(cmd, false);
}

success run_set_tags(const command_line& cmd) {
  if (cmd.positionals.size() > max_tags + 1)
    throw error{code::invalid_argument,
                "at most 3 tags allowed, got "
                    + std::to_string(cmd.positionals.size() - 1),
                "usage: pilotctl set-tags <tag> [tag] [tag]"};
  check_operands(cmd, 1, max_tags, "set-tags <tag> [tag] [tag]");
  std::vector<std::string> tags(cmd.positionals.begin() + 1,
                                cmd.positionals.end());
  auto reply = call_daemon(cmd, ipc_command::set_tags,
                           protocol::encode_set_tags(tags));
  std::string text = "tags set:";
  for (const auto& tag : tags)
    text += " " + tag;
  return {boost::json::object{{"node_id", member(reply, "node_id")},
                              {"tags", member(reply, "tags")}},
          text};
}

success run_clear_tags(const command_line& cmd) {
  check_operands(cmd, 0, 0, "clear-tags");
  call_daemon(cmd, ipc_command::set_tags, protocol::encode_set_tags({}));
  return {boost::json::object{{"tags", boost::json::array{}}}, "tags cleared"};
}

const char* find_error_code(std::string_view message) {
  // IPC error replies carry only text. This is the registry actor's text
  // for a registry that has no node with the hostname.
  return message.find("no node has the hostname") != std::string_view::npos
             ? code::not_found
             : code::connection_failed;
}

success run_find(const command_line& cmd) {
  check_operands(cmd, 1, 1, "find <hostname>");
  boost::json::object reply;
  try {
    reply = call_daemon(cmd, ipc_command::resolve_hostname, cmd.positional(1));
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    throw error{find_error_code(e.what()), e.what(), e.hint()};
  }
  boost::json::object data{{"hostname", member(reply, "hostname")},
                           {"node_id", member(reply, "node_id")},
                           {"address", member(reply, "address")},
                           {"public", member(reply, "public")}};
  auto text = escape_control(cmd.positional(1)) + ": node "
              + plain_text(data["node_id"]) + " (" + plain_text(data["address"])
              + ")";
  return {std::move(data), text};
}

success run_deregister(const command_line& cmd) {
  check_operands(cmd, 0, 0, "deregister");
  return {call_daemon(cmd, ipc_command::deregister, {}), "node deregistered"};
}

success run_lookup(const command_line& cmd) {
  check_operands(cmd, 1, 1, "lookup <node_id>");
  auto id = parse_node_id(cmd.positional(1));
  auto config = load_config(pilot_paths::resolve());
  std::string daemon_registry;
  if (!cmd.has("registry"))
    if (auto info
        = query_daemon_info(resolve_socket(cmd, config), probe_timeout))
      daemon_registry = string_member(*info, "registry");
  auto registry = registry_setting(cmd, config, daemon_registry);
  protocol::lookup_request request;
  request.node_id = id;
  auto body = registry_request(registry.value,
                               protocol::encode_registry_message(request),
                               registry_timeout);
  if (!body)
    throw_registry_failure(registry, body.error());
  if (protocol::is_error_response(*body))
    throw error{code::not_found, "node " + std::to_string(id)
                                     + " not found (registry: "
                                     + protocol::error_text(*body) + ")"};
  auto json = parse_json(*body);
  if (!json || !json->is_object())
    throw error{code::internal, "registry sent invalid JSON to lookup"};
  auto text = "registry: " + origin_text(registry) + "\n"
              + key_value_text(json->as_object(), {"type"});
  return {std::move(*json), text};
}

} // namespace pilot::control::cli
