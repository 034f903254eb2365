#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/config_keys.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "protocol/duration.hpp"
#include "protocol/go_json.hpp"
#include "protocol/webhook_url.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>

namespace pilot::control::cli {

namespace {

using namespace std::chrono_literals;

/// Deadline of the WebhookTest reply. The daemon waits for up to four
/// attempts (three retries) of at most 30 s each, plus 10 s for the
/// back-off between them, and then sends its error reply.
constexpr std::chrono::milliseconds webhook_test_timeout = 4 * 30s + 20s;

constexpr std::string_view set_webhook_usage
    = "set-webhook <url> [--secret S]... [--events LIST] [--retries N] "
      "[--concurrency N] [--timeout D] [--buffer N] [--ca-file F]";

/// A `set-webhook` option that maps to one daemon flag.
struct webhook_option {
  std::string_view flag;
  std::string_view key;
};

/// The options of `set-webhook` other than `--secret`, and the config keys
/// (daemon flags) they set.
constexpr std::array<webhook_option, 6> webhook_options{{
    {"events", "webhook-events"},
    {"retries", "webhook-retries"},
    {"concurrency", "webhook-concurrency"},
    {"timeout", "webhook-timeout"},
    {"buffer", "webhook-buffer"},
    {"ca-file", "webhook-ca-file"},
}};

/// Signing secrets active at once: the new and the old during a rotation.
constexpr std::size_t max_secrets = 2;

/// The settings that one `set-webhook` changes, checked.
struct webhook_change {
  /// The settings for the daemon, without the URL.
  protocol::webhook_config_change settings;
  /// The config keys to save; an empty string removes the key.
  std::vector<config_entry> entries;
  /// The settings for output; secrets only counted.
  boost::json::object shown;
};

// Applies a request to the running daemon and throws when it refuses. The
// control actor passes the validators' messages unchanged and prefixes its
// own failures with the command name, so that a rejected value is an
// invalid argument and anything else a failed request. Either way the
// config file stays as it was.
void apply_to_daemon(daemon_client& daemon, protocol::ipc_command command,
                     protocol::ipc_command ok, std::string_view payload) {
  auto reply = daemon.call(command, payload);
  if (reply.command == ok)
    return;
  auto decoded = protocol::decode_ipc_error(reply.payload);
  std::string message = decoded ? *decoded : "daemon sent a short error";
  auto prefix = std::string{protocol::to_string(command)} + ": ";
  const char* failure = message.starts_with(prefix) ? code::connection_failed
                                                    : code::invalid_argument;
  throw error{failure, message,
              "the running daemon did not take the change; the config file "
              "was not changed"};
}

// The running daemon, if any, and the config file that keeps a webhook
// change across restarts: the daemon's own file, or config.json for the
// next `pilotctl daemon start` when no daemon runs. None when the running
// daemon reads no file.
struct change_target {
  std::unique_ptr<daemon_client> daemon;
  std::optional<std::filesystem::path> config_path;
  /// The webhook settings the running daemon was given as flags, which win
  /// over the config file at its next SIGHUP or start.
  std::vector<std::string> webhook_flags;
};

// HOME is needed only when no daemon runs, or to find the socket in
// config.json.
change_target find_change_target(const command_line& cmd) {
  change_target target{nullptr, std::nullopt, {}};
  try {
    target.daemon = std::make_unique<daemon_client>(configured_socket(cmd));
  } catch (const error& e) {
    if (e.code() != code::not_running)
      throw;
    target.config_path = pilot_paths::resolve().config;
    return target;
  }
  target.config_path = daemon_config_path(*target.daemon);
  target.webhook_flags = daemon_webhook_flags(*target.daemon);
  return target;
}

// Returns the config keys, of the URL and the options in `change`, that a
// flag of the running daemon overrides at its next SIGHUP or start.
std::vector<std::string> overridden_settings(const change_target& target,
                                             const webhook_change& change) {
  std::vector<std::string> changed{"webhook"};
  for (const auto& entry : change.entries)
    changed.push_back(entry.key);
  std::vector<std::string> overridden;
  for (const auto& key : changed)
    if (std::find(target.webhook_flags.begin(), target.webhook_flags.end(), key)
        != target.webhook_flags.end())
      overridden.push_back(key);
  return overridden;
}

// Adds the warning about `overridden` settings to the output, if any.
void add_override_note(success& result,
                       const std::vector<std::string>& overridden) {
  if (overridden.empty())
    return;
  boost::json::array names;
  std::string flags;
  for (const auto& key : overridden) {
    names.emplace_back(key);
    flags += (flags.empty() ? "--" : ", --") + key;
  }
  result.data.as_object()["overridden_by_flags"] = std::move(names);
  result.text += "\nnote: the daemon was started with " + flags
                 + ", which wins over the config file: a SIGHUP or restart "
                   "brings back the flag's value. Remove the flag from the "
                   "daemon's command line to keep this change.";
}

// Stores `entry` in `config` under its flag name, removing the spelling
// with `_` so that the daemon reads one value; an empty string removes
// the key.
void store_entry(pilot_config& config, const config_entry& entry) {
  auto spelling = entry.key;
  std::replace(spelling.begin(), spelling.end(), '-', '_');
  config.erase(spelling);
  bool remove = entry.value.is_string() && entry.value.get_string().empty();
  if (remove)
    config.erase(entry.key);
  else
    config.set(entry.key, entry.value);
}

// Loads the config file, checks that it can be replaced, applies the
// change to the running daemon and then saves the file. The caller has
// validated every value. Without other settings the URL goes as SetWebhook,
// which every daemon version accepts. Returns whether a daemon took the
// change.
bool change_webhook(change_target& target, const std::string& url,
                    const webhook_change& change = {}) {
  std::optional<config_lock> lock;
  std::optional<pilot_config> config;
  if (target.config_path) {
    lock.emplace(lock_config(*target.config_path));
    config = load_config(*target.config_path);
  }
  if (target.daemon && change.settings.empty()) {
    apply_to_daemon(*target.daemon, protocol::ipc_command::set_webhook,
                    protocol::ipc_command::set_webhook_ok, url);
  } else if (target.daemon) {
    auto settings = change.settings;
    settings.url = url;
    apply_to_daemon(*target.daemon, protocol::ipc_command::set_webhook_config,
                    protocol::ipc_command::set_webhook_config_ok,
                    protocol::encode_set_webhook_config(settings));
  }
  if (config) {
    store_entry(*config, {"webhook", boost::json::string{url}});
    for (const auto& entry : change.entries)
      store_entry(*config, entry);
    if (target.daemon)
      save_applied_config(*config);
    else
      save_config(*config);
  }
  return target.daemon != nullptr;
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
std::string
saved_url_note(const std::string& shown_url,
               const std::optional<std::filesystem::path>& config_path) {
  if (!config_path)
    return {};
  try {
    auto saved = pilot_config::load(*config_path).string_value("webhook");
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

// -- set-webhook options ------------------------------------------------------

// Returns the trimmed values of every `--secret`, in order. A `--secret`
// without a value, or with only white space, is an error, so an unset shell
// variable cannot turn signing off. `--secret ""` removes the secrets.
std::vector<std::string> secret_flags(const command_line& cmd) {
  constexpr std::string_view space = " \t\r\n";
  std::vector<std::string> secrets;
  for (const auto& flag : cmd.flags) {
    if (flag.name != "secret")
      continue;
    std::string_view value{flag.value};
    auto first = value.find_first_not_of(space);
    if (!flag.has_value || (!value.empty() && first == value.npos))
      throw error{code::invalid_argument,
                  "--secret needs a value: a whsec_ secret, or \"\" to "
                  "remove the secrets",
                  "usage: pilotctl " + std::string{set_webhook_usage}};
    if (value.empty()) {
      secrets.emplace_back();
      continue;
    }
    auto last = value.find_last_not_of(space);
    secrets.emplace_back(value.substr(first, last - first + 1));
  }
  return secrets;
}

// Checks the `--secret` flags: one or two secrets, or one "" that removes
// them. The messages never show a secret.
void add_secrets(const command_line& cmd, webhook_change& change) {
  auto secrets = secret_flags(cmd);
  if (secrets.empty())
    return;
  auto hint = "usage: pilotctl " + std::string{set_webhook_usage};
  if (secrets.size() > max_secrets)
    throw error{code::invalid_argument,
                "--secret is given " + std::to_string(secrets.size())
                    + " times; at most 2 secrets (the new and the old one "
                      "during a rotation) may sign at once",
                hint};
  bool clears = std::any_of(secrets.begin(), secrets.end(),
                            [](const auto& secret) { return secret.empty(); });
  if (clears && secrets.size() > 1)
    throw error{code::invalid_argument,
                "--secret \"\" removes the secrets and cannot be combined "
                "with another --secret",
                hint};
  if (clears)
    secrets.clear();
  std::string joined;
  for (const auto& secret : secrets)
    joined += (joined.empty() ? "" : ",") + secret;
  change.entries.push_back(make_config_entry("webhook-secret", joined));
  change.settings.secrets = std::move(secrets);
  change.shown["secrets"] = change.settings.secrets->size();
}

// Stores the checked value of `option` in the request to the daemon.
void add_setting(protocol::webhook_config_change& settings,
                 std::string_view flag, const boost::json::value& value) {
  if (flag == "events")
    settings.events = std::string{value.as_string()};
  else if (flag == "retries")
    settings.retries = value.to_number<std::uint64_t>();
  else if (flag == "concurrency")
    settings.concurrency = value.to_number<std::uint64_t>();
  else if (flag == "timeout")
    settings.timeout = std::string{value.as_string()};
  else if (flag == "buffer")
    settings.buffer = value.to_number<std::uint64_t>();
  else if (flag == "ca-file")
    settings.ca_file = std::string{value.as_string()};
}

// Checks every option of `set-webhook` with the daemon's own checks, before
// anything changes.
webhook_change parse_webhook_options(const command_line& cmd) {
  webhook_change change;
  for (const auto& option : webhook_options) {
    auto value = cmd.value(option.flag);
    if (!value)
      continue;
    auto entry = make_config_entry(option.key, *value);
    add_setting(change.settings, option.flag, entry.value);
    change.shown[option.flag == "ca-file" ? "ca_file" : option.flag]
        = entry.value;
    change.entries.push_back(std::move(entry));
  }
  add_secrets(cmd, change);
  return change;
}

std::string settings_text(const boost::json::object& shown) {
  std::string text;
  for (const auto& [key, value] : shown) {
    std::string label = "  " + std::string{key} + ":";
    label.resize(std::max<std::size_t>(label.size() + 1, 16), ' ');
    if (key == "secrets")
      text += label + plain_text(value) + " set (not shown)\n";
    else
      text += label + plain_text(value) + "\n";
  }
  return text;
}

// -- webhook table ------------------------------------------------------------

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

// Returns the signing secrets' line: how many are set, never their text.
std::string secrets_text(const boost::json::object& stats) {
  auto* count = stats.if_contains("secrets");
  if (count == nullptr || !count->is_number())
    return "?";
  auto n = count->to_number<std::uint64_t>();
  return n == 0 ? "none (requests are not signed)"
                : std::to_string(n) + " set (not shown)";
}

std::string timeout_text(const boost::json::object& stats) {
  auto* value = stats.if_contains("timeout_ms");
  if (value == nullptr || !value->is_number())
    return "?";
  std::chrono::milliseconds timeout{value->to_number<std::int64_t>()};
  return protocol::format_duration(timeout);
}

std::string settings_table(const boost::json::object& stats) {
  auto events = string_member(stats, "events");
  auto ca_file = string_member(stats, "ca_file");
  std::ostringstream text;
  text << "events:         "
       << (events.empty() ? std::string{"*"} : escape_control(events)) << '\n'
       << "retries:        " << number_text(stats, "retries") << '\n'
       << "concurrency:    " << number_text(stats, "concurrency") << '\n'
       << "buffer:         " << number_text(stats, "buffer_size") << '\n'
       << "timeout:        " << timeout_text(stats) << '\n'
       << "secrets:        " << secrets_text(stats) << '\n'
       << "ca file:        "
       << (ca_file.empty() ? std::string{"(system trust store)"}
                           : escape_control(ca_file))
       << '\n';
  return text.str();
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
       << settings_table(stats)
       << "emitted:        " << number_text(stats, "emitted") << '\n'
       << "delivered:      " << number_text(stats, "delivered") << '\n'
       << counters_line(stats, "failed:         ", "failed",
                        {"failed_status_3xx", "failed_status_4xx",
                         "failed_status_5xx", "failed_timeout",
                         "failed_connect", "failed_dns", "failed_tls"})
       << counters_line(stats, "dropped:        ", "dropped",
                        {"dropped_full", "dropped_down", "dropped_disabled",
                         "dropped_filtered", "dropped_oversize"})
       << "retried:        " << number_text(stats, "retried") << '\n'
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

// -- webhook test -------------------------------------------------------------

std::string test_text(const boost::json::object& outcome, bool delivered) {
  auto latency = number_text(outcome, "latency_ms");
  if (delivered)
    return "test event delivered: HTTP " + number_text(outcome, "status")
           + " in " + latency + " ms";
  return "test event not delivered: "
         + escape_control(string_member(outcome, "error")) + " ("
         + escape_control(string_member(outcome, "failure")) + ", after "
         + latency + " ms)";
}

// Returns what to check next after a test event failed with `failure`.
std::string test_hint(std::string_view failure) {
  if (failure == "tls")
    return "the receiver's certificate must chain to --ca-file (or the "
           "system trust store) and name the URL's host";
  if (failure == "dns")
    return "check the host name in the URL";
  if (failure == "timeout")
    return "the receiver must answer within --timeout; check that it is not "
           "stuck";
  if (failure == "connect")
    return "check that the receiver is up and listens on the URL's host and "
           "port";
  return "the receiver answered, but not with 2xx; check its logs";
}

success run_webhook_test(daemon_client& daemon) {
  auto reply = daemon.call(protocol::ipc_command::webhook_test, {},
                           webhook_test_timeout);
  if (reply.command == protocol::ipc_command::error) {
    auto decoded = protocol::decode_ipc_error(reply.payload);
    std::string message = decoded ? *decoded : "daemon sent a short error";
    if (message.starts_with("webhook_test: "))
      throw error{code::connection_failed, message};
    throw error{code::invalid_argument, message,
                "set a URL first: pilotctl set-webhook <url>"};
  }
  auto outcome = parse_json(reply.payload);
  if (!outcome || !outcome->is_object())
    throw error{code::internal,
                "daemon sent a test outcome that is not a JSON object"};
  const auto& object = outcome->as_object();
  auto* delivered = object.if_contains("delivered");
  bool ok = delivered && delivered->is_bool() && delivered->get_bool();
  // A test event that was not delivered is a failed command, so that the
  // exit code and the JSON envelope report the failure.
  if (!ok)
    throw error{code::connection_failed, test_text(object, false),
                test_hint(string_member(object, "failure"))};
  auto text = test_text(object, true);
  return {std::move(*outcome), text};
}

} // namespace

success run_set_webhook(const command_line& cmd) {
  check_operands(cmd, 1, 1, set_webhook_usage);
  auto url = cmd.positional(1);
  auto target = protocol::parse_webhook_url(url);
  if (!target)
    throw error{code::invalid_argument, target.error().message,
                "example: pilotctl set-webhook http://localhost:8080/events"};
  auto change = parse_webhook_options(cmd);
  auto destination = find_change_target(cmd);
  bool applied = change_webhook(destination, url, change);
  boost::json::object data{
      {"webhook", target->redacted},
      {"applied", applied},
      {"config_file", path_or_null(destination.config_path)}};
  if (!change.shown.empty())
    data["settings"] = change.shown;
  success result{std::move(data),
                 "webhook set: " + target->redacted + hidden_parts_note(*target)
                     + "\n" + settings_text(change.shown)
                     + change_text(applied, destination.config_path)};
  add_override_note(result, overridden_settings(destination, change));
  return result;
}

success run_clear_webhook(const command_line& cmd) {
  check_operands(cmd, 0, 0, "clear-webhook");
  auto change = find_change_target(cmd);
  bool applied = change_webhook(change, "");
  success result{
      boost::json::object{{"webhook", ""},
                          {"applied", applied},
                          {"config_file", path_or_null(change.config_path)}},
      "webhook cleared\n" + change_text(applied, change.config_path)};
  add_override_note(result, overridden_settings(change, {}));
  return result;
}

success run_webhook(const command_line& cmd) {
  check_operands(cmd, 0, 1, "webhook [test]");
  auto sub = cmd.positional(1);
  if (!sub.empty() && sub != "test")
    throw error{code::invalid_argument, "unknown webhook sub-command: " + sub,
                "usage: pilotctl webhook [test]"};
  daemon_client daemon{configured_socket(cmd)};
  if (sub == "test")
    return run_webhook_test(daemon);
  auto stats = daemon.call_json(protocol::ipc_command::webhook_stats, {});
  if (!stats.is_object())
    throw error{code::internal, "daemon sent webhook counters that are not "
                                "a JSON object"};
  auto note = saved_url_note(string_member(stats.as_object(), "url"),
                             daemon_config_path(daemon));
  auto text = webhook_table(stats.as_object(), note);
  return {std::move(stats), text};
}

} // namespace pilot::control::cli
