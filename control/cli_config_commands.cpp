#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/config_keys.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "protocol/go_json.hpp"
#include "protocol/webhook_url.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <memory>
#include <sstream>

namespace pilot::control::cli {

namespace {

// Applies `url` ("" turns webhooks off) to the running daemon. The control
// actor passes the URL validator's message unchanged and prefixes its own
// failures with "set_webhook: ", so that a rejected URL is an invalid
// argument and anything else a failed request. Either way the config file
// stays as it was.
void apply_webhook(daemon_client& daemon, const std::string& url) {
  auto reply = daemon.call(protocol::ipc_command::set_webhook, url);
  if (reply.command == protocol::ipc_command::set_webhook_ok)
    return;
  auto decoded = protocol::decode_ipc_error(reply.payload);
  std::string message = decoded ? *decoded : "daemon sent a short error";
  const char* failure = message.starts_with("set_webhook: ")
                            ? code::connection_failed
                            : code::invalid_argument;
  throw error{failure, message,
              "the running daemon did not take the change; the config file "
              "was not changed"};
}

// The running daemon, if any, and the config file that keeps a webhook
// change across restarts.
struct change_target {
  std::unique_ptr<daemon_client> daemon;
  std::filesystem::path config_path;
};

change_target find_change_target(const command_line& cmd) {
  auto paths = pilot_paths::resolve();
  change_target target{nullptr, paths.config};
  try {
    target.daemon = std::make_unique<daemon_client>(
        resolve_socket(cmd, load_config(paths)));
  } catch (const error& e) {
    if (e.code() != code::not_running)
      throw;
    return target;
  }
  target.config_path = daemon_config_path(*target.daemon, paths.config);
  return target;
}

// Loads the config file, checks that it can be replaced, applies `url` to
// the running daemon and then saves the file. The caller has validated
// `url`. Returns whether a daemon took the change.
bool change_webhook(change_target& target, const std::string& url) {
  auto config = load_config(target.config_path);
  check_writable(target.config_path);
  if (target.daemon)
    apply_webhook(*target.daemon, url);
  if (url.empty())
    config.erase("webhook");
  else
    config.set_string("webhook", url);
  save_config(config);
  return target.daemon != nullptr;
}

std::string change_text(bool applied, const std::filesystem::path& path) {
  if (applied)
    return "applied to the running daemon and saved to " + path.string();
  return "saved to " + path.string()
         + " for the next daemon start (no daemon is running)";
}

// Returns the note on what the redacted URL leaves out, or "".
std::string hidden_parts_note(const protocol::webhook_target& target) {
  bool credentials = !target.authorization.empty();
  bool query = target.target.find('?') != std::string::npos;
  if (credentials && query)
    return " (credentials and query kept, not shown)";
  if (credentials)
    return " (credentials kept, not shown)";
  if (query)
    return " (query kept, not shown)";
  return {};
}

// The daemon reports its URL redacted. When the URL saved in the config
// file that the daemon reads redacts to the same text, returns the note on
// what it leaves out. A URL that reached the daemon only through its
// --webhook flag is in no file, so it gets no note.
std::string saved_url_note(const std::string& shown_url,
                           const std::filesystem::path& config_path) {
  try {
    auto saved = pilot_config::load(config_path).string_value("webhook");
    if (!saved)
      return {};
    auto target = protocol::parse_webhook_url(*saved);
    if (!target || target->redacted != shown_url)
      return {};
    return hidden_parts_note(*target);
  } catch (const config_error&) {
    return {};
  }
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

std::string webhook_table(const boost::json::object& stats,
                          std::string_view url_note) {
  auto url = string_member(stats, "url");
  std::ostringstream text;
  text << "url:            "
       << (url.empty() ? "(none)" : escape_control(url) + std::string{url_note})
       << '\n'
       << "state:          " << escape_control(string_member(stats, "state"))
       << '\n'
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
  if (auto at = string_member(stats, "last_delivered_at"); !at.empty())
    text << "last delivered: " << escape_control(at) << '\n';
  if (auto last = string_member(stats, "last_error"); !last.empty())
    text << "last error:     " << escape_control(last) << '\n';
  return text.str();
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
  auto shown = entry.key == "webhook"
                   ? boost::json::value(redact_url(entry.value.as_string()))
                   : entry.value;
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
  auto config = load_config(paths);
  if (!cmd.flags.empty())
    return set_config_key(paths, std::move(config), cmd.flags.back());
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

success run_set_webhook(const command_line& cmd) {
  check_operands(cmd, 1, 1, "set-webhook <url>");
  auto url = cmd.positional(1);
  auto target = protocol::parse_webhook_url(url);
  if (!target)
    throw error{code::invalid_argument, target.error().message,
                "example: pilotctl set-webhook http://localhost:8080/events"};
  auto change = find_change_target(cmd);
  bool applied = change_webhook(change, url);
  return {boost::json::object{{"webhook", target->redacted},
                              {"applied", applied},
                              {"config_file", change.config_path.string()}},
          "webhook set: " + target->redacted + hidden_parts_note(*target) + "\n"
              + change_text(applied, change.config_path)};
}

success run_clear_webhook(const command_line& cmd) {
  check_operands(cmd, 0, 0, "clear-webhook");
  auto change = find_change_target(cmd);
  bool applied = change_webhook(change, "");
  return {boost::json::object{{"webhook", ""},
                              {"applied", applied},
                              {"config_file", change.config_path.string()}},
          "webhook cleared\n" + change_text(applied, change.config_path)};
}

success run_webhook(const command_line& cmd) {
  check_operands(cmd, 0, 0, "webhook");
  auto paths = pilot_paths::resolve();
  daemon_client daemon{resolve_socket(cmd, load_config(paths))};
  auto stats = daemon.call_json(protocol::ipc_command::webhook_stats, {});
  if (!stats.is_object())
    throw error{code::internal, "daemon sent webhook counters that are not "
                                "a JSON object"};
  auto note = saved_url_note(string_member(stats.as_object(), "url"),
                             daemon_config_path(daemon, paths.config));
  auto text = webhook_table(stats.as_object(), note);
  return {std::move(stats), text};
}

} // namespace pilot::control::cli
