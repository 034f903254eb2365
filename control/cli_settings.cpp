#include "control/cli_settings.hpp"

#include "control/cli_output.hpp"
#include "control/json_text.hpp"
#include "protocol/webhook_url.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace pilot::control::cli {

namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

} // namespace

pilot_paths pilot_paths::resolve() {
  try {
    pilot_paths paths;
    paths.home = pilot_home();
    paths.config = paths.home / "config.json";
    paths.pid_file = paths.home / "pilot.pid";
    paths.log_file = paths.home / "pilot.log";
    paths.identity = paths.home / "identity.json";
    return paths;
  } catch (const config_error& e) {
    throw error{code::internal, e.what(), "set HOME to your home directory"};
  }
}

pilot_config load_config(const pilot_paths& paths) {
  return load_config(paths.config);
}

pilot_config load_config(const std::filesystem::path& path) {
  try {
    return pilot_config::load(path);
  } catch (const config_error& e) {
    throw error{code::internal, e.what()};
  }
}

void save_config(const pilot_config& config) {
  try {
    config.save();
  } catch (const config_error& e) {
    throw error{code::internal, e.what()};
  }
}

void save_applied_config(const pilot_config& config) {
  try {
    config.save();
  } catch (const config_error& e) {
    throw error{code::internal,
                std::string{"the running daemon took the change, but "}
                    + e.what(),
                "the change lasts until the daemon stops; make the file "
                "writable and run the command again to keep it"};
  }
}

config_lock lock_config(const std::filesystem::path& path) {
  check_writable(path);
  try {
    return config_lock{path};
  } catch (const config_error& e) {
    throw error{code::internal, e.what(), "nothing was changed"};
  }
}

std::string_view to_string(setting_source source) {
  switch (source) {
    case setting_source::flag:
      return "flag";
    case setting_source::daemon:
      return "daemon";
    case setting_source::environment:
      return "environment";
    case setting_source::config:
      return "config";
    case setting_source::fallback:
      break;
  }
  return "default";
}

std::string origin_text(const resolved_setting& setting) {
  return setting.value + " (from " + setting.origin + ")";
}

resolved_setting socket_setting(const command_line& cmd,
                                const pilot_config& config) {
  if (auto flag = cmd.value("socket"); flag && !flag->empty())
    return {*flag, setting_source::flag, "--socket"};
  if (auto env = environment("PILOT_SOCKET"); !env.empty())
    return {env, setting_source::environment, "PILOT_SOCKET"};
  if (auto value = config.string_value("socket"); value && !value->empty())
    return {*value, setting_source::config, config.path().string()};
  return {std::string{default_socket}, setting_source::fallback, "the default"};
}

std::string resolve_socket(const command_line& cmd,
                           const pilot_config& config) {
  return socket_setting(cmd, config).value;
}

std::string configured_socket(const command_line& cmd) {
  // A socket given by flag or environment needs no config file, so a
  // broken one does not stop commands for a daemon that does not read it.
  auto explicit_socket = socket_setting(cmd, pilot_config{{}});
  if (explicit_socket.source != setting_source::fallback)
    return explicit_socket.value;
  return resolve_socket(cmd, load_config(pilot_paths::resolve()));
}

resolved_setting registry_setting(const command_line& cmd,
                                  const pilot_config& config,
                                  std::string_view daemon_registry) {
  if (auto flag = cmd.value("registry"); flag && !flag->empty())
    return {*flag, setting_source::flag, "--registry"};
  if (!daemon_registry.empty())
    return {std::string{daemon_registry}, setting_source::daemon,
            "the running daemon"};
  if (auto value = config.string_value("registry"); value && !value->empty())
    return {*value, setting_source::config, config.path().string()};
  if (auto env = environment("PILOT_REGISTRY"); !env.empty())
    return {env, setting_source::environment, "PILOT_REGISTRY"};
  return {std::string{default_registry}, setting_source::fallback,
          "the default, the public network"};
}

std::string resolve_registry(const command_line& cmd,
                             const pilot_config& config) {
  return registry_setting(cmd, config).value;
}

void check_flags(const command_line& cmd,
                 const std::vector<std::string_view>& allowed,
                 std::string_view usage) {
  std::string hint = "usage: pilotctl " + std::string{usage};
  for (const auto& flag : cmd.flags) {
    if (std::find(allowed.begin(), allowed.end(), flag.name) != allowed.end())
      continue;
    if (usage.find("<" + flag.name + ">") != std::string_view::npos) {
      std::string message = "--" + flag.name + " is not a flag: give the "
                            + flag.name + " as an argument";
      if (flag.has_value)
        message += ", as in: pilotctl " + cmd.positional(0) + " " + flag.value;
      throw usage_error{message, hint};
    }
    throw usage_error{
        "unknown flag --" + flag.name + " for " + cmd.positional(0), hint};
  }
}

std::optional<std::filesystem::path> daemon_config_path(daemon_client& daemon) {
  auto info = daemon.call_json(protocol::ipc_command::info, {});
  if (!info.is_object())
    return std::nullopt;
  auto path = string_member(info.as_object(), "config_file");
  if (path.empty())
    return std::nullopt;
  return std::filesystem::path{path};
}

std::string change_text(bool applied,
                        const std::optional<std::filesystem::path>& saved_to) {
  if (!saved_to)
    return "applied to the running daemon only: it was started without "
           "--config, so the change lasts until it stops";
  if (applied)
    return "applied to the running daemon and saved to " + saved_to->string();
  return "saved to " + saved_to->string()
         + " for the next daemon start (no daemon is running)";
}

boost::json::value
path_or_null(const std::optional<std::filesystem::path>& path) {
  if (!path)
    return nullptr;
  return boost::json::string{path->string()};
}

std::vector<std::string> daemon_webhook_flags(daemon_client& daemon) {
  auto info = daemon.call_json(protocol::ipc_command::info, {});
  std::vector<std::string> flags;
  auto* list = info.is_object() ? info.as_object().if_contains("webhook_flags")
                                : nullptr;
  if (list == nullptr || !list->is_array())
    return flags;
  for (const auto& flag : list->get_array())
    if (flag.is_string())
      flags.emplace_back(flag.get_string());
  return flags;
}

void check_writable(const std::filesystem::path& path) {
  auto dir = path.parent_path();
  std::error_code ec;
  // A missing directory is created by the save.
  if (dir.empty() || !std::filesystem::exists(dir, ec))
    return;
  if (::access(dir.c_str(), W_OK) == 0)
    return;
  throw error{code::internal,
              "cannot save to " + path.string() + ": no write access to "
                  + dir.string() + " (" + std::strerror(errno) + ")",
              "nothing was changed; run pilotctl as a user who may write to "
                  + dir.string()};
}

void check_operands(const command_line& cmd, std::size_t min, std::size_t max,
                    std::string_view usage) {
  auto operands = cmd.positionals.empty() ? 0 : cmd.positionals.size() - 1;
  std::string hint = "usage: pilotctl " + std::string{usage};
  if (operands < min)
    throw error{code::invalid_argument,
                "missing argument for " + cmd.positional(0), hint};
  if (operands > max)
    throw error{code::invalid_argument,
                "unexpected argument: " + cmd.positionals[max + 1], hint};
}

std::string redact_url(std::string_view url) {
  if (auto target = protocol::parse_webhook_url(url))
    return target->redacted;
  auto end = url.find_first_of("?#");
  auto text = url.substr(0, end);
  if (auto at = text.rfind('@'); at != std::string_view::npos) {
    auto scheme_end = text.find("://");
    auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    if (at >= start)
      return std::string{text.substr(0, start)}
             + std::string{text.substr(at + 1)};
  }
  return std::string{text};
}

} // namespace pilot::control::cli
