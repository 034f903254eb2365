#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

/// Starting, finding and signalling the `pilot-daemon` process for
/// `pilotctl daemon`.
namespace pilot::control::cli {

/// Returns the PID stored in `pid_file`, or an empty optional when the file
/// is missing or contains no positive decimal number.
std::optional<pid_t> read_pid_file(const std::filesystem::path& pid_file);

/// Returns whether `pid` is a running `pilot-daemon`. A PID that a recycled
/// number gave to another program counts as not running, so that pilotctl
/// never signals it.
bool is_daemon_running(pid_t pid);

/// Returns the `pilot-daemon` next to this program's executable, else the
/// first one on `PATH`, else an empty path.
std::filesystem::path find_daemon_binary();

/// Starts `binary` with `args` in a new session, its stdin on /dev/null and
/// its stdout and stderr appended to `log_file` (created with mode 0600).
/// Returns the child's PID. Throws `cli::error` when the log cannot be
/// opened or the fork fails; a failed exec is written to the log and makes
/// the child exit with status 127.
pid_t spawn_daemon(const std::filesystem::path& binary,
                   const std::vector<std::string>& args,
                   const std::filesystem::path& log_file);

/// Replaces this process with `binary` and `args`. Throws `cli::error` when
/// the exec fails.
[[noreturn]] void exec_daemon(const std::filesystem::path& binary,
                              const std::vector<std::string>& args);

/// Returns the exit status of the child `pid` if it has ended (reaping it),
/// or an empty optional while it runs. A child killed by a signal reports
/// 128 plus the signal number.
std::optional<int> child_exit_status(pid_t pid);

/// Sends SIGTERM to `pid` and waits up to `grace` for it to end, then sends
/// SIGKILL. Returns whether SIGKILL was needed.
bool terminate_process(pid_t pid, std::chrono::milliseconds grace);

/// Returns the last non-empty line of `file`, read from its final 4 KiB, or
/// "" when there is none.
std::string last_log_line(const std::filesystem::path& file);

} // namespace pilot::control::cli
