#pragma once

#include "control/cli_args.hpp"
#include "control/cli_output.hpp"
#include "control/cli_settings.hpp"

#include <string>
#include <vector>

/// `pilotctl daemon start|stop|status`.
namespace pilot::control::cli {

/// Builds the `pilot-daemon` arguments of `daemon start`. They start with
/// `--config` and the path of `config` when that file exists or `--config`
/// was given, so that the daemon applies and checks every key in it. Then
/// come the registry and socket that pilotctl resolved from the flags, the
/// environment and `config`, unless they come from the file the daemon
/// reads. Every other flag follows as given, and the daemon applies flags
/// over the file. Throws `invalid_argument` for an operand after
/// `daemon start`.
std::vector<std::string> daemon_arguments(const command_line& cmd,
                                          const pilot_config& config);

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
