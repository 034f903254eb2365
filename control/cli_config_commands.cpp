#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/config_keys.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "protocol/webhook_signature.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>

namespace pilot::control::cli {

namespace {

// Returns how many comma-separated secrets `value` holds, as output shows
// them in place of their text.
boost::json::value secrets_note(const boost::json::value& value) {
  if (!value.is_string())
    return "(not shown)";
  std::string_view text = value.get_string();
  if (text.empty())
    return "";
  auto count = 1 + std::count(text.begin(), text.end(), ',');
  return boost::json::string{"(" + std::to_string(count) + " set, not shown)"};
}

// Returns the config for output: the webhook URL redacted and the signing
// secrets counted.
// Returns `value` with every `whsec_` secret in its strings and keys
// hidden, wherever in the file it was put.
boost::json::value without_secrets(const boost::json::value& value) {
  if (value.is_string())
    return boost::json::string{
        protocol::hide_webhook_secrets(value.get_string())};
  if (value.is_array()) {
    boost::json::array items;
    for (const auto& item : value.get_array())
      items.push_back(without_secrets(item));
    return items;
  }
  if (value.is_object()) {
    boost::json::object members;
    for (const auto& [key, member] : value.get_object())
      members[protocol::hide_webhook_secrets(key)] = without_secrets(member);
    return members;
  }
  return value;
}

boost::json::object redacted_values(const pilot_config& config) {
  auto values = config.values();
  if (auto* webhook = values.if_contains("webhook");
      webhook && webhook->is_string())
    *webhook = redact_url(webhook->get_string());
  for (auto key : {"webhook-secret", "webhook_secret"})
    if (auto* secret = values.if_contains(key))
      *secret = secrets_note(*secret);
  return without_secrets(values).as_object();
}

// Returns the value of `entry` for output.
boost::json::value shown_value(const config_entry& entry) {
  if (entry.key == "webhook")
    return boost::json::string{redact_url(entry.value.as_string())};
  if (entry.key == "webhook-secret")
    return secrets_note(entry.value);
  return entry.value;
}

success set_config_key(const pilot_paths& paths, pilot_config config,
                       const flag& assignment) {
  std::string hint = "usage: pilotctl config --set key=value";
  if (!assignment.has_value)
    throw error{code::invalid_argument, "--set needs key=value", hint};
  auto eq = assignment.value.find('=');
  if (eq == std::string::npos || eq == 0)
    throw error{code::invalid_argument,
                "--set needs key=value, got \"" + assignment.value + "\"",
                hint};
  auto entry = make_config_entry(assignment.value.substr(0, eq),
                                 assignment.value.substr(eq + 1));
  // Keep one spelling of the key: the daemon reads `log_level` and
  // `log-level` alike.
  auto spelling = entry.key;
  std::replace(spelling.begin(), spelling.end(), '-', '_');
  if (spelling != entry.key)
    config.erase(spelling);
  config.set(entry.key, entry.value);
  save_config(config);
  auto shown = shown_value(entry);
  return {boost::json::object{{"key", entry.key},
                              {"value", shown},
                              {"config_path", paths.config.string()}},
          entry.key + " = " + plain_text(shown) + " (saved to "
              + paths.config.string() + ")"};
}

} // namespace

success run_init(const command_line& cmd) {
  check_operands(cmd, 0, 0,
                 "init [--registry A] [--beacon A] [--socket P] "
                 "[--hostname H]");
  auto paths = pilot_paths::resolve();
  auto lock = lock_config(paths.config);
  auto config = load_config(paths);
  // A flag wins, then the value already in the file, then the default.
  auto pick = [&](std::string_view key, std::string_view fallback) {
    if (auto flag = cmd.value(key); flag && !flag->empty())
      return *flag;
    return config.string_value(key).value_or(std::string{fallback});
  };
  auto registry = pick("registry", default_registry);
  auto beacon = pick("beacon", default_beacon);
  auto socket = pick("socket", default_socket);
  auto hostname = cmd.value("hostname").value_or("");
  // Each value is checked as the daemon reads it before any is saved.
  config.set("registry", make_config_entry("registry", registry).value);
  config.set("beacon", make_config_entry("beacon", beacon).value);
  config.set("socket", make_config_entry("socket", socket).value);
  if (!hostname.empty())
    config.set("hostname", make_config_entry("hostname", hostname).value);
  save_config(config);
  boost::json::object data{{"config_path", paths.config.string()},
                           {"registry", registry},
                           {"beacon", beacon},
                           {"socket", socket},
                           {"hostname", hostname}};
  auto text = "config written to " + paths.config.string() + "\n"
              + "  registry: " + registry + "\n  beacon:   " + beacon
              + "\n  socket:   " + socket
              + (hostname.empty() ? "" : "\n  hostname: " + hostname);
  return {std::move(data), text};
}

success run_config(const command_line& cmd) {
  check_operands(cmd, 0, 0, "config [--set key=value]");
  auto paths = pilot_paths::resolve();
  if (!cmd.flags.empty()) {
    auto lock = lock_config(paths.config);
    return set_config_key(paths, load_config(paths), cmd.flags.back());
  }
  auto config = load_config(paths);
  auto socket = socket_setting(cmd, config);
  std::string daemon_registry;
  if (auto info = query_daemon_info(socket.value, probe_timeout))
    daemon_registry = string_member(*info, "registry");
  auto registry = registry_setting(cmd, config, daemon_registry);
  auto data = redacted_values(config);
  data["config_path"] = paths.config.string();
  data["pid_file"] = paths.pid_file.string();
  data["log_file"] = paths.log_file.string();
  auto text_data = data;
  text_data["registry"] = origin_text(registry);
  text_data["socket"] = origin_text(socket);
  data["registry"] = registry.value;
  data["registry_source"] = to_string(registry.source);
  data["socket"] = socket.value;
  data["socket_source"] = to_string(socket.source);
  return {std::move(data), key_value_text(text_data)};
}

} // namespace pilot::control::cli
