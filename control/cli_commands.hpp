#pragma once

#include "control/cli_args.hpp"
#include "control/cli_output.hpp"

#include <string_view>

/// The pilotctl commands other than `daemon`. Each takes the parsed command
/// line, whose first positional is the command name, and returns its result
/// or throws `cli::error`.
namespace pilot::control::cli {

// -- config.json --------------------------------------------------------------

/// `init [--registry A] [--beacon A] [--socket P] [--hostname H]`.
success run_init(const command_line& cmd);

/// `config` and `config --set key=value`.
success run_config(const command_line& cmd);

// -- webhook ------------------------------------------------------------------

/// `set-webhook <url>`: validate, apply to a running daemon, then persist.
success run_set_webhook(const command_line& cmd);

/// `clear-webhook`: turn webhooks off in a running daemon and in the config.
success run_clear_webhook(const command_line& cmd);

/// `webhook`: the running daemon's webhook counters.
success run_webhook(const command_line& cmd);

// -- node ---------------------------------------------------------------------

/// `info`: the daemon's Info reply. Text mode starts with the
/// registration state.
success run_info(const command_line& cmd);

/// `set-hostname <name>`.
success run_set_hostname(const command_line& cmd);

/// `clear-hostname`.
success run_clear_hostname(const command_line& cmd);

/// `set-public`.
success run_set_public(const command_line& cmd);

/// `set-private`.
success run_set_private(const command_line& cmd);

/// `set-tags <tag> [tag] [tag]`.
success run_set_tags(const command_line& cmd);

/// `clear-tags`.
success run_clear_tags(const command_line& cmd);

/// `find <hostname>`.
success run_find(const command_line& cmd);

/// Returns the error code of `find` for the daemon's error `message`:
/// `not_found` when the registry has no such hostname, `connection_failed`
/// otherwise, as when the registry is unreachable.
const char* find_error_code(std::string_view message);

/// `deregister`.
success run_deregister(const command_line& cmd);

/// `lookup <node_id>`: queries the registry directly: `--registry`, else
/// the running daemon's registry, else config.json `registry`, else
/// `$PILOT_REGISTRY`, else the public registry.
success run_lookup(const command_line& cmd);

} // namespace pilot::control::cli
