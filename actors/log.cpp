#include "actors/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace pilot::actors::log {

namespace {

std::atomic<level> min_level_{level::info};
std::atomic<format> format_{format::text};
std::mutex write_mutex_;

std::string_view level_name(level lvl) {
  switch (lvl) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

std::string utc_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto millis
      = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

std::string json_string(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

// Quotes a text-format value when it is empty or holds spaces, quotes,
// equals signs or control characters, so every line splits unambiguously.
std::string text_value(std::string_view value) {
  bool plain = !value.empty();
  for (unsigned char c : value)
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f)
      plain = false;
  return plain ? std::string{value} : json_string(value);
}

} // namespace

bool parse_level(std::string_view text, level& out) noexcept {
  if (text == "debug")
    out = level::debug;
  else if (text == "info")
    out = level::info;
  else if (text == "warn" || text == "warning")
    out = level::warn;
  else if (text == "error")
    out = level::error;
  else
    return false;
  return true;
}

bool parse_format(std::string_view text, format& out) noexcept {
  if (text == "text")
    out = format::text;
  else if (text == "json")
    out = format::json;
  else
    return false;
  return true;
}

void configure(level min_level, format line_format) noexcept {
  min_level_ = min_level;
  format_ = line_format;
}

bool enabled(level lvl) noexcept {
  return lvl >= min_level_.load();
}

std::string format_line(format line_format, std::string_view timestamp,
                        level lvl, std::string_view component,
                        std::string_view event_id, std::string_view message,
                        std::initializer_list<field> fields) {
  std::string line;
  if (line_format == format::json) {
    line += "{\"time\":" + json_string(timestamp);
    line += ",\"level\":" + json_string(level_name(lvl));
    line += ",\"component\":" + json_string(component);
    line += ",\"event\":" + json_string(event_id);
    line += ",\"msg\":" + json_string(message);
    for (const auto& f : fields)
      line += "," + json_string(f.key) + ":" + json_string(f.value);
    line += "}\n";
    return line;
  }
  line += timestamp;
  line += ' ';
  line += level_name(lvl);
  line += ' ';
  line += component;
  line += ' ';
  line += event_id;
  line += ": ";
  line += message;
  for (const auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    line += text_value(f.value);
  }
  line += '\n';
  return line;
}

void write(level lvl, std::string_view component, std::string_view event_id,
           std::string_view message,
           std::initializer_list<field> fields) noexcept {
  if (!enabled(lvl))
    return;
  try {
    auto line = format_line(format_.load(), utc_now(), lvl, component, event_id,
                            message, fields);
    std::lock_guard<std::mutex> guard{write_mutex_};
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  } catch (...) {
    // Logging must never take the daemon down; a lost line is the lesser harm.
  }
}

} // namespace pilot::actors::log
