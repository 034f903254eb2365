#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/daemon_client.hpp"
#include "protocol/go_json.hpp"
#include "protocol/webhook_url.hpp"

#include <boost/json/object.hpp>

#include <cstdio>
#include <sstream>

namespace pilot::control::cli {

namespace {

// Applies `url` ("" turns webhooks off) to the running daemon. Returns
// false when no daemon runs. The control actor passes the URL validator's
// message unchanged and prefixes its own failures with "set_webhook: ", so
// that a refused URL is an invalid argument and anything else a failed
// request. Either way the config file stays as it was.
bool apply_webhook(const command_line& cmd, const pilot_config& config,
                   const std::string& url) {
  std::optional<daemon_client> daemon;
  try {
    daemon.emplace(resolve_socket(cmd, config));
  } catch (const error& e) {
    if (e.code() == code::not_running)
      return false;
    throw;
  }
  auto reply = daemon->call(protocol::ipc_command::set_webhook, url);
  if (reply.command == protocol::ipc_command::set_webhook_ok)
    return true;
  auto decoded = protocol::decode_ipc_error(reply.payload);
  std::string message = decoded ? *decoded : "daemon sent a short error";
  const char* failure = message.starts_with("set_webhook: ")
                            ? code::connection_failed
                            : code::invalid_argument;
  throw error{failure, message,
              "the running daemon did not take the change; config.json was "
              "not changed"};
}

std::string applied_text(bool applied) {
  return applied ? " (applied to running daemon)"
                 : " (will take effect on next daemon start)";
}

// Returns the config for output: the webhook URL redacted.
boost::json::object redacted_values(const pilot_config& config) {
  auto values = config.values();
  if (auto* webhook = values.if_contains("webhook");
      webhook && webhook->is_string())
    *webhook = redact_url(webhook->get_string());
  return values;
}

// Returns the number under `key` as JSON text, or "?" when it is missing.
std::string number_text(const boost::json::object& stats,
                        std::string_view key) {
  auto* value = stats.if_contains(key);
  return value ? protocol::to_go_json(*value) : std::string{"?"};
}

std::string counters_line(const boost::json::object& stats,
                          std::string_view label, std::string_view total,
                          std::initializer_list<std::string_view> parts) {
  std::ostringstream line;
  line << label << number_text(stats, total);
  const char* separator = "  (";
  for (auto key : parts) {
    auto name = key.substr(total.size() + 1);
    line << separator << name << ' ' << number_text(stats, key);
    separator = ", ";
  }
  line << ")\n";
  return line.str();
}

std::string string_field(const boost::json::object& object,
                         std::string_view key) {
  auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string())
    return {};
  return std::string{value->get_string()};
}

std::string webhook_table(const boost::json::object& stats) {
  auto url = string_field(stats, "url");
  std::ostringstream text;
  text << "url:            " << (url.empty() ? "(none)" : url) << '\n'
       << "state:          " << string_field(stats, "state") << '\n'
       << "emitted:        " << number_text(stats, "emitted") << '\n'
       << "delivered:      " << number_text(stats, "delivered") << '\n'
       << counters_line(stats, "failed:         ", "failed",
                        {"failed_status_3xx", "failed_status_4xx",
                         "failed_status_5xx", "failed_timeout",
                         "failed_connect", "failed_dns", "failed_tls"})
       << counters_line(stats, "dropped:        ", "dropped",
                        {"dropped_full", "dropped_down", "dropped_disabled",
                         "dropped_filtered", "dropped_oversize"})
       << "in flight:      " << number_text(stats, "in_flight") << '\n'
       << "buffered:       " << number_text(stats, "buffered") << '\n'
       << "latency:        p50 " << number_text(stats, "latency_p50_ms")
       << " ms, p99 " << number_text(stats, "latency_p99_ms") << " ms\n";
  if (auto at = string_field(stats, "last_delivered_at"); !at.empty())
    text << "last delivered: " << at << '\n';
  if (auto last = string_field(stats, "last_error"); !last.empty())
    text << "last error:     " << last << '\n';
  return text.str();
}

} // namespace

success run_init(const command_line& cmd) {
  check_operands(cmd, 0, 0,
                 "init [--registry A] [--beacon A] [--socket P] "
                 "[--hostname H]");
  auto paths = pilot_paths::resolve();
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
  config.set_string("registry", registry);
  config.set_string("beacon", beacon);
  config.set_string("socket", socket);
  if (!hostname.empty())
    config.set_string("hostname", hostname);
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
  auto config = load_config(paths);
  if (auto assignment = cmd.value("set")) {
    auto eq = assignment->find('=');
    if (eq == std::string::npos || eq == 0)
      throw error{code::invalid_argument,
                  "--set needs key=value, got \"" + *assignment + "\"",
                  "usage: pilotctl config --set key=value"};
    auto key = assignment->substr(0, eq);
    auto value = assignment->substr(eq + 1);
    if (key == "webhook" && !value.empty())
      if (auto target = protocol::parse_webhook_url(value); !target)
        throw error{code::invalid_argument, target.error().message};
    config.set_string(key, value);
    save_config(config);
    auto shown = key == "webhook" ? redact_url(value) : value;
    return {boost::json::object{{"key", key}, {"value", shown}},
            key + " = " + shown};
  }
  auto data = redacted_values(config);
  if (!data.contains("registry"))
    data["registry"] = default_registry;
  if (!data.contains("socket"))
    data["socket"] = default_socket;
  data["config_path"] = paths.config.string();
  data["pid_file"] = paths.pid_file.string();
  data["log_file"] = paths.log_file.string();
  return {std::move(data), {}};
}

success run_set_webhook(const command_line& cmd) {
  check_operands(cmd, 1, 1, "set-webhook <url>");
  auto url = cmd.positional(1);
  auto target = protocol::parse_webhook_url(url);
  if (!target)
    throw error{code::invalid_argument, target.error().message,
                "example: pilotctl set-webhook http://localhost:8080/events"};
  auto config = load_config(pilot_paths::resolve());
  bool applied = apply_webhook(cmd, config, url);
  config.set_string("webhook", url);
  save_config(config);
  return {
      boost::json::object{{"webhook", target->redacted}, {"applied", applied}},
      "webhook set: " + target->redacted + applied_text(applied)};
}

success run_clear_webhook(const command_line& cmd) {
  check_operands(cmd, 0, 0, "clear-webhook");
  auto config = load_config(pilot_paths::resolve());
  bool applied = apply_webhook(cmd, config, "");
  config.erase("webhook");
  save_config(config);
  return {boost::json::object{{"webhook", ""}, {"applied", applied}},
          "webhook cleared" + applied_text(applied)};
}

success run_webhook(const command_line& cmd) {
  check_operands(cmd, 0, 0, "webhook");
  daemon_client daemon{configured_socket(cmd)};
  auto stats = daemon.call_json(protocol::ipc_command::webhook_stats, {});
  if (!stats.is_object())
    throw error{code::internal, "daemon sent webhook counters that are not "
                                "a JSON object"};
  auto text = webhook_table(stats.as_object());
  return {std::move(stats), text};
}

} // namespace pilot::control::cli
