#pragma once

#include "control/cli_args.hpp"
#include "control/daemon_client.hpp"
#include "control/pilot_config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pilot::control::cli {

/// The registry of the public Pilot network.
inline constexpr std::string_view default_registry = "34.71.57.205:9000";
/// The beacon of the public Pilot network, as the daemon defaults to.
inline constexpr std::string_view default_beacon = "34.71.57.205:9001";
/// The daemon's IPC socket unless configured otherwise.
inline constexpr std::string_view default_socket = "/tmp/pilot.sock";

/// pilotctl's files in `~/.pilot`.
struct pilot_paths {
  std::filesystem::path home;     ///< `~/.pilot`
  std::filesystem::path config;   ///< `~/.pilot/config.json`
  std::filesystem::path pid_file; ///< `~/.pilot/pilot.pid`
  std::filesystem::path log_file; ///< `~/.pilot/pilot.log`
  std::filesystem::path identity; ///< `~/.pilot/identity.json`

  /// Returns the paths below `$HOME/.pilot`. Throws `cli::error` when HOME
  /// is not set.
  static pilot_paths resolve();
};

/// Loads config.json. Throws `cli::error` naming the file and line when it
/// cannot be read or parsed.
pilot_config load_config(const pilot_paths& paths);

/// Loads the config file at `path`, as `load_config(paths)` does.
pilot_config load_config(const std::filesystem::path& path);

/// Saves config.json. Throws `cli::error` when it cannot be written.
void save_config(const pilot_config& config);

/// Saves `config` after the running daemon took the change. Throws
/// `cli::error` saying that the change is in effect but not saved when the
/// file cannot be written.
void save_applied_config(const pilot_config& config);

/// Locks the config file at `path` for one load, change and save, after
/// checking that it can be replaced (see `check_writable`). Throws
/// `cli::error` when it cannot be locked within 5 s.
config_lock lock_config(const std::filesystem::path& path);

/// The origin of a setting's value.
enum class setting_source {
  flag,        ///< The command's flag, such as `--registry`.
  daemon,      ///< The running daemon's Info reply.
  environment, ///< `PILOT_SOCKET` or `PILOT_REGISTRY`.
  config,      ///< The config file.
  fallback,    ///< pilotctl's built-in default.
};

/// Returns the name of `source` for JSON output: `flag`, `daemon`,
/// `environment`, `config` or `default`.
std::string_view to_string(setting_source source);

/// A setting's value and where it came from.
struct resolved_setting {
  std::string value;
  setting_source source = setting_source::fallback;
  /// The origin for text output: `--socket`, `PILOT_SOCKET`, `the running
  /// daemon`, the config file's path or `the default`.
  std::string origin;
};

/// Returns `value (from origin)` for text output.
std::string origin_text(const resolved_setting& setting);

/// Returns the IPC socket: `--socket`, else `$PILOT_SOCKET`, else the config
/// key `socket`, else `/tmp/pilot.sock`.
resolved_setting socket_setting(const command_line& cmd,
                                const pilot_config& config);

/// Returns the value of `socket_setting`.
std::string resolve_socket(const command_line& cmd, const pilot_config& config);

/// Returns `resolve_socket` with the config file at its default path, which
/// is read only when neither `--socket` nor `PILOT_SOCKET` is given.
std::string configured_socket(const command_line& cmd);

/// Returns the registry address: `--registry`, else `daemon_registry` (the
/// running daemon's registry, "" when none runs), else the config key
/// `registry`, else `$PILOT_REGISTRY`, else the public registry. The config
/// file comes before the environment here, as in the reference pilotctl.
resolved_setting registry_setting(const command_line& cmd,
                                  const pilot_config& config,
                                  std::string_view daemon_registry = {});

/// Returns the value of `registry_setting` without a running daemon, the
/// registry that `daemon start` gives a new daemon.
std::string resolve_registry(const command_line& cmd,
                             const pilot_config& config);

/// Throws `usage_error` for a flag of `cmd` that is not in `allowed`.
/// `usage` is the command's usage line; a flag named like one of its
/// `<operands>` gets a message saying it is an argument.
void check_flags(const command_line& cmd,
                 const std::vector<std::string_view>& allowed,
                 std::string_view usage);

/// Returns the config file that keeps changes to the running `daemon`
/// across its restarts: the file it reads per Info `config_file`, or
/// nothing when it reads none (started by hand without `--config`).
std::optional<std::filesystem::path> daemon_config_path(daemon_client& daemon);

/// Returns the webhook settings that the running `daemon` was given as
/// command-line flags (Info `webhook_flags`, such as `webhook`), which win
/// over its config file.
std::vector<std::string> daemon_webhook_flags(daemon_client& daemon);

/// Returns what a change did, for text output: applied to the running
/// daemon or not, and saved to `saved_to`. Without `saved_to` the change
/// went to a daemon that reads no config file and was not saved.
std::string change_text(bool applied,
                        const std::optional<std::filesystem::path>& saved_to);

/// Returns `path` as a JSON string, or null when there is none.
boost::json::value
path_or_null(const std::optional<std::filesystem::path>& path);

/// Throws `cli::error` before anything changes when `path` cannot be
/// replaced, because the atomic writer must create a file in its directory.
void check_writable(const std::filesystem::path& path);

/// Throws `invalid_argument` with `usage` as the hint unless the command has
/// from `min` to `max` operands (positionals after the command name).
void check_operands(const command_line& cmd, std::size_t min, std::size_t max,
                    std::string_view usage);

/// Returns `url` with user info, query and fragment removed, for output. A
/// URL that does not parse is returned without anything after `?` or `#`
/// and without user info before `@`.
std::string redact_url(std::string_view url);

} // namespace pilot::control::cli
