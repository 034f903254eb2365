#pragma once

#include "control/cli_args.hpp"
#include "control/pilot_config.hpp"

#include <filesystem>
#include <string>
#include <string_view>

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

/// Saves config.json. Throws `cli::error` when it cannot be written.
void save_config(const pilot_config& config);

/// Returns the IPC socket: `--socket`, else `$PILOT_SOCKET`, else the config
/// key `socket`, else `/tmp/pilot.sock`.
std::string resolve_socket(const command_line& cmd, const pilot_config& config);

/// Returns `resolve_socket` with the config file at its default path.
std::string configured_socket(const command_line& cmd);

/// Returns the registry address: `--registry`, else the config key
/// `registry`, else `$PILOT_REGISTRY`, else the public registry. The config
/// file comes before the environment here, as in the reference pilotctl.
std::string resolve_registry(const command_line& cmd,
                             const pilot_config& config);

/// Throws `invalid_argument` with `usage` as the hint unless the command has
/// from `min` to `max` operands (positionals after the command name).
void check_operands(const command_line& cmd, std::size_t min, std::size_t max,
                    std::string_view usage);

/// Returns `url` with user info, query and fragment removed, for output. A
/// URL that does not parse is returned without anything after `?` or `#`
/// and without user info before `@`.
std::string redact_url(std::string_view url);

} // namespace pilot::control::cli
