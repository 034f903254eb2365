#include "actors/sd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace pilot::actors::sd {

namespace {

bool send(const std::string& state) {
  return sd_notify(0, state.c_str()) > 0;
}

} // namespace

std::string format_assignment(std::string_view key, std::string_view value) {
  std::string line;
  line.reserve(key.size() + 1 + value.size());
  line.append(key);
  line += '=';
  for (auto c : value)
    line += (c == '\n' || c == '\r') ? ' ' : c;
  return line;
}

bool notify_ready(std::string_view status) {
  return send("READY=1\n" + format_assignment("STATUS", status));
}

bool notify_status(std::string_view status) {
  return send(format_assignment("STATUS", status));
}

bool notify_stopping(std::string_view status) {
  return send("STOPPING=1\n" + format_assignment("STATUS", status));
}

bool notify_watchdog() {
  return send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
    return std::nullopt;
  return std::chrono::microseconds{usec / 2};
}

} // namespace pilot::actors::sd
