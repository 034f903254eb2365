#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

/// Service-manager notifications (`sd_notify(3)`) for a `Type=notify` unit.
/// Every function is a no-op that returns false when `NOTIFY_SOCKET` is not
/// set, so the daemon behaves the same outside systemd.
namespace pilot::actors::sd {

/// Sends `READY=1` together with `STATUS=<status>`. Returns whether the
/// service manager received the message.
bool notify_ready(std::string_view status);

/// Sends `STATUS=<status>`. Line breaks in `status` become spaces, because
/// each line of a notification is one assignment.
bool notify_status(std::string_view status);

/// Sends `STOPPING=1` together with `STATUS=<status>`.
bool notify_stopping(std::string_view status);

/// Sends `WATCHDOG=1`.
bool notify_watchdog();

/// Returns half of the unit's `WatchdogSec=` (from `WATCHDOG_USEC`), the
/// interval at which `notify_watchdog` should be called, or nothing when the
/// watchdog is off for this process.
std::optional<std::chrono::microseconds> watchdog_interval();

/// Formats the assignment `key=value` with line breaks in `value` replaced
/// by spaces.
std::string format_assignment(std::string_view key, std::string_view value);

} // namespace pilot::actors::sd
