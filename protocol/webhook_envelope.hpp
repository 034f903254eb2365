#pragma once

#include "protocol/events.hpp"

#include <chrono>
#include <cstdint>
#include <string>

/// The JSON body of a webhook POST.
namespace pilot::protocol {

/// The envelope fields that do not come from the event.
struct envelope_header {
  /// Per-daemon-run counter: the first raised event is 1.
  std::uint64_t event_id = 0;
  /// Our node ID at the moment the event was raised.
  std::uint32_t node_id = 0;
  /// When the event was raised.
  std::chrono::system_clock::time_point raised_at;
};

/// Serializes one webhook body:
/// `{"event":…,"node_id":…,"timestamp":…,"data":{…},"event_id":…}`, in
/// that key order. `data` contains the event's fields in declaration order with
/// their JSON types, or is `null` for `node.deregistered`. Every string is
/// made valid UTF-8 (ill-formed bytes become U+FFFD) and every control
/// character (C0, DEL, C1, U+2028, U+2029) is escaped, so any JSON parser
/// accepts the body. Returns an empty string when memory runs out; callers
/// drop the event then.
std::string serialize_envelope(const envelope_header& header,
                               const event& e) noexcept;

/// Formats `t` as RFC 3339 in UTC with exactly three fractional digits and a
/// `Z` suffix, such as `2026-01-15T12:34:56.789Z`, independent of the `TZ`
/// environment variable. Truncates toward the past to whole
/// milliseconds, so a timestamp never lies after the instant it stands for.
/// Times outside the years 0000 to 9999 are clamped to that range.
std::string format_utc_timestamp(std::chrono::system_clock::time_point t);

} // namespace pilot::protocol
