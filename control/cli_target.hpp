#pragma once

#include "control/cli_args.hpp"
#include "control/daemon_client.hpp"
#include "protocol/address.hpp"
#include "protocol/ipc.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

/// Argument parsing and target resolution shared by the pilotctl commands
/// that reach other nodes. Each function throws `cli::error` with the error
/// code that matches the failure.
namespace pilot::control::cli {

/// Maximum data size of one Send: the frame size less the command byte and
/// the connection ID.
inline constexpr std::size_t max_send_size = protocol::max_ipc_payload_size - 4;

/// Parses a port number. `usage` goes into the hint of the error.
std::uint16_t parse_port(const std::string& text, std::string_view usage);

/// Returns the value of `--name` as a count of at least `min`, or `fallback`
/// when the flag is absent.
std::uint64_t count_flag(const command_line& cmd, std::string_view name,
                         std::uint64_t fallback, std::uint64_t min);

/// Returns `--timeout` as a Go duration (`30s`, `1m30s`) or a number of
/// seconds, as the Go reference accepts both, or `fallback` when the flag is
/// absent.
std::chrono::milliseconds timeout_flag(const command_line& cmd,
                                       std::chrono::milliseconds fallback);

/// Resolves a full address, a decimal node ID on network 0, or a hostname
/// through the daemon, in that order. Text mode notes a resolved hostname
/// on stderr, as the Go reference does. Throws `not_found` when none applies.
protocol::address resolve_target(daemon_client& daemon, const command_line& cmd,
                                 const std::string& target);

/// Prints one line to stderr in text mode, and nothing with --json.
void print_notice(const command_line& cmd, const std::string& line);

} // namespace pilot::control::cli
