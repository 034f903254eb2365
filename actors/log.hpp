#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

/// The project's logger: one line per event on stderr, with a level, the
/// component, a stable kebab-case event id, a message and key=value fields.
/// Thread-safe. Never pass secrets as fields; payloads belong at debug level.
namespace pilot::actors::log {

enum class level { debug, info, warn, error };

enum class format { text, json };

/// One key=value pair of a log line.
struct field {
  std::string_view key;
  std::string value;
};

/// Parses `debug`, `info`, `warn`, `warning` or `error`; false otherwise.
bool parse_level(std::string_view text, level& out) noexcept;

/// Parses `text` or `json`; false otherwise.
bool parse_format(std::string_view text, format& out) noexcept;

/// Sets the lowest level written and the line format for the whole process.
void configure(level min_level, format line_format) noexcept;

/// Returns whether a line at `lvl` would be written.
bool enabled(level lvl) noexcept;

/// Writes one line when `lvl` is enabled. Never throws.
void write(level lvl, std::string_view component, std::string_view event_id,
           std::string_view message,
           std::initializer_list<field> fields = {}) noexcept;

inline void debug(std::string_view component, std::string_view event_id,
                  std::string_view message,
                  std::initializer_list<field> fields = {}) noexcept {
  write(level::debug, component, event_id, message, fields);
}

inline void info(std::string_view component, std::string_view event_id,
                 std::string_view message,
                 std::initializer_list<field> fields = {}) noexcept {
  write(level::info, component, event_id, message, fields);
}

inline void warn(std::string_view component, std::string_view event_id,
                 std::string_view message,
                 std::initializer_list<field> fields = {}) noexcept {
  write(level::warn, component, event_id, message, fields);
}

inline void error(std::string_view component, std::string_view event_id,
                  std::string_view message,
                  std::initializer_list<field> fields = {}) noexcept {
  write(level::error, component, event_id, message, fields);
}

/// Formats one line without writing it; used by `write` and by tests.
std::string format_line(format line_format, std::string_view timestamp,
                        level lvl, std::string_view component,
                        std::string_view event_id, std::string_view message,
                        std::initializer_list<field> fields);

} // namespace pilot::actors::log
