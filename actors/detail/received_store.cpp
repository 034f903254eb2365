#include "actors/detail/received_store.hpp"

#include "actors/atomic_file.hpp"
#include "protocol/base64.hpp"
#include "protocol/go_json.hpp"

#include <boost/json/object.hpp>

#include <cstdio>
#include <ctime>

namespace pilot::actors::detail {

namespace {

// Returns `text` cut to at most `size` bytes between whole UTF-8 characters.
std::string_view cut_utf8(std::string_view text, std::size_t size) {
  if (text.size() <= size)
    return text;
  while (size > 0 && (static_cast<unsigned char>(text[size]) & 0xC0) == 0x80)
    --size;
  return text.substr(0, size);
}

// Returns the final path element of `name` as Go's `filepath.Base` does,
// ignoring trailing slashes.
std::string_view final_element(std::string_view name) {
  while (!name.empty() && name.back() == '/')
    name.remove_suffix(1);
  if (auto slash = name.rfind('/'); slash != std::string_view::npos)
    name.remove_prefix(slash + 1);
  return name;
}

// Splits a name at its last dot into base and extension (dot included).
std::pair<std::string_view, std::string_view>
split_extension(std::string_view name) {
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos)
    return {name, {}};
  return {name.substr(0, dot), name.substr(dot)};
}

std::tm local_time(std::chrono::system_clock::time_point time) {
  auto seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  ::localtime_r(&seconds, &tm);
  return tm;
}

std::string collision_suffix(unsigned attempt) {
  return attempt == 0 ? std::string{} : "-" + std::to_string(attempt);
}

} // namespace

std::string safe_file_name(std::string_view name) {
  std::string element{final_element(name)};
  for (auto& c : element)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      c = '_';
  auto text = protocol::go_valid_utf8(element);
  if (text.empty() || text == "." || text == "..")
    return "file";
  if (text.size() <= max_safe_name_size)
    return text;
  auto [base, extension] = split_extension(text);
  if (extension.size() > max_kept_extension_size)
    return std::string{cut_utf8(text, max_safe_name_size)};
  auto kept_base = cut_utf8(base, max_safe_name_size - extension.size());
  return std::string{kept_base} + std::string{extension};
}

std::string file_timestamp(std::chrono::system_clock::time_point time) {
  auto tm = local_time(time);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    time.time_since_epoch())
                    .count()
                % 1000;
  if (millis < 0)
    millis += 1000;
  char text[32];
  auto size = std::strftime(text, sizeof(text), "%Y%m%d-%H%M%S", &tm);
  std::snprintf(text + size, sizeof(text) - size, ".%03d",
                static_cast<int>(millis));
  return text;
}

std::string rfc3339_seconds(std::chrono::system_clock::time_point time) {
  auto tm = local_time(time);
  char text[40];
  auto size = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out{text, size};
  auto offset = tm.tm_gmtoff;
  if (offset == 0)
    return out + "Z";
  char sign = offset < 0 ? '-' : '+';
  if (offset < 0)
    offset = -offset;
  std::snprintf(text, sizeof(text), "%c%02ld:%02ld", sign, offset / 3600,
                offset % 3600 / 60);
  return out + text;
}

received_store::received_store(std::filesystem::path data_dir,
                               std::function<clock_type::time_point()> now)
    : now_(std::move(now)) {
  auto dir = std::filesystem::absolute(data_dir).lexically_normal();
  inbox_dir_ = dir / "inbox";
  received_dir_ = dir / "received";
  if (!now_)
    now_ = [] {
      return clock_type::now();
    };
}

boost::system::result<std::filesystem::path>
received_store::save_message(std::string_view type_name, std::string_view from,
                             std::string_view payload) {
  auto now = now_();
  boost::json::object message{
      {"bytes", payload.size()},
      {"data", payload},
      {"from", from},
      {"received_at", rfc3339_seconds(now)},
      {"type", type_name},
  };
  if (type_name == "BINARY")
    message["data_base64"] = protocol::base64_encode(payload);
  auto prefix = std::string{type_name} + "-" + file_timestamp(now);
  auto name = write_new_file(
      inbox_dir_,
      [&prefix](unsigned attempt) {
        return prefix + collision_suffix(attempt) + ".json";
      },
      protocol::to_go_json(message));
  if (!name)
    return name.error();
  return inbox_dir_ / *name;
}

boost::system::result<saved_file>
received_store::save_file(std::string_view name, std::string_view data) {
  auto safe_name = safe_file_name(name);
  auto [base, extension] = split_extension(safe_name);
  auto stem = std::string{base} + "-" + file_timestamp(now_());
  auto saved = write_new_file(
      received_dir_,
      [&stem, extension](unsigned attempt) {
        return stem + collision_suffix(attempt) + std::string{extension};
      },
      data);
  if (!saved)
    return saved.error();
  // `write_new_file` takes only one path element and creates it relative to
  // the folder it opened, so the file cannot land outside it.
  return saved_file{std::move(safe_name), received_dir_ / *saved};
}

} // namespace pilot::actors::detail
