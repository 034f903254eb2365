#pragma once

#include "protocol/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace pilot::protocol {

/// Parses a duration in the syntax of Go's `time.ParseDuration`: an optional
/// sign, then one or more decimal numbers (with an optional fraction), each
/// followed by a unit `ns`, `us` (or `µs`), `ms`, `s`, `m` or `h`, such as
/// `30s`, `1m30s`, `1.5h` or `500ms`. A lone `0` is zero. Returns
/// `errc::invalid_field` for any other text or a value beyond the range of
/// 64-bit nanoseconds.
result<std::chrono::nanoseconds> parse_duration(std::string_view text);

/// Formats `value` like Go's `Duration.String`: `1m30s`, `500ms`, `0s`.
std::string format_duration(std::chrono::nanoseconds value);

} // namespace pilot::protocol
