#pragma once

#include "control/cli_args.hpp"
#include "control/cli_output.hpp"
#include "control/cli_settings.hpp"

#include <string>
#include <vector>

/// `pilotctl daemon start|stop|status`.
namespace pilot::control::cli {

/// Builds the `pilot-daemon` arguments of `daemon start`: the registry,
/// socket, beacon, hostname and webhook resolved from the flags, config.json
/// and the environment, the identity (default `~/.pilot/identity.json`), and
/// every other flag passed through as given. Throws `invalid_argument` for
/// an operand after `daemon start`.
std::vector<std::string> daemon_arguments(const command_line& cmd,
                                          const pilot_config& config,
                                          const pilot_paths& paths);

/// `daemon start [--foreground] [daemon flags]`: starts the daemon in the
/// background and waits until it has registered, or runs it in place with
/// `--foreground`.
success daemon_start(const command_line& cmd);

/// `daemon stop`: SIGTERM, then SIGKILL after 10 s.
success daemon_stop(const command_line& cmd);

/// `daemon status [--check]`: whether the daemon runs and replies to Info.
/// With `--check` the result is only the exit code.
success daemon_status(const command_line& cmd);

} // namespace pilot::control::cli
