#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/cli_target.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "protocol/address.hpp"
#include "protocol/data_exchange.hpp"
#include "protocol/duration.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace pilot::control::cli {

namespace {

namespace fs = std::filesystem;

using clock_type = daemon_client::clock_type;

/// The data exchange service's port.
constexpr std::uint16_t data_exchange_port = 1001;

/// Deadline of a transfer and its acknowledgement unless --timeout is given.
constexpr std::chrono::seconds default_transfer_timeout{30};

// -- sending ------------------------------------------------------------------

// Returns the frame type for `--type`.
protocol::data_type parse_message_type(const std::string& text) {
  if (text == "text")
    return protocol::data_type::text;
  if (text == "json")
    return protocol::data_type::json;
  if (text == "binary")
    return protocol::data_type::binary;
  throw error{code::invalid_argument,
              "invalid --type \"" + escape_control(text)
                  + "\": expected text, json or binary"};
}

// Reads the acknowledgement frame that the service writes back, or throws:
// `timeout` when none arrives before `deadline`, `connection_failed` when
// the connection ends first or the service reports a failed save.
std::string read_ack(daemon_client& daemon, std::uint32_t conn_id,
                     clock_type::time_point deadline,
                     std::chrono::milliseconds timeout) {
  protocol::data_frame_reader reader;
  for (;;) {
    auto data = daemon.read(conn_id, std::numeric_limits<std::size_t>::max(),
                            deadline);
    if (!data)
      throw error{code::timeout,
                  "no acknowledgement within "
                      + protocol::format_duration(timeout)
                      + ", so the data may or may not have been saved",
                  "increase --timeout for large transfers"};
    if (data->eof)
      throw error{code::connection_failed,
                  "the connection closed before the acknowledgement arrived"};
    reader.feed(data->data);
    auto frame = reader.next();
    if (!frame)
      throw error{code::connection_failed,
                  "the acknowledgement is larger than 16 MiB"};
    if (!*frame)
      continue;
    const std::string& text = (*frame)->payload;
    if (text.compare(0, 4, "ERR ") == 0)
      throw error{code::connection_failed,
                  "the target did not save the data: " + escape_control(text)};
    return text;
  }
}

// Sends one frame to the target's data exchange port, in Sends of at most
// `max_send_size` bytes, and returns its acknowledgement.
std::string send_frame(daemon_client& daemon, protocol::address target,
                       const std::string& frame,
                       std::chrono::milliseconds timeout) {
  std::uint32_t conn_id = 0;
  try {
    conn_id = daemon.dial(target, data_exchange_port, timeout);
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    auto address = protocol::to_string(target);
    throw error{code::connection_failed,
                "cannot connect to " + address + " port 1001: " + e.what(),
                "check that " + address
                    + " runs the data exchange service (pilot-daemon "
                      "without --no-dataexchange)"};
  }
  auto deadline = clock_type::now() + timeout;
  for (std::size_t offset = 0; offset < frame.size(); offset += max_send_size)
    daemon.send(conn_id, std::string_view{frame}.substr(offset, max_send_size),
                deadline);
  auto ack = read_ack(daemon, conn_id, deadline, timeout);
  daemon.close(conn_id);
  return ack;
}

std::string encoded_frame(protocol::data_type type, std::string_view payload) {
  auto frame
      = protocol::encode_data_frame(static_cast<std::uint32_t>(type), payload);
  if (!frame)
    throw error{code::invalid_argument,
                "the data is " + std::to_string(payload.size())
                    + " bytes, but one frame carries at most 16777216 bytes"};
  return *frame;
}

std::string read_whole_file(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec)
    throw error{code::invalid_argument, "cannot read "
                                            + escape_control(path.string())
                                            + ": " + ec.message()};
  if (size > protocol::max_data_payload_size)
    throw error{code::invalid_argument,
                escape_control(path.string()) + " is " + std::to_string(size)
                    + " bytes, but a file and its name must fit in one "
                      "frame of at most 16777216 bytes"};
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw error{code::invalid_argument,
                "cannot open " + escape_control(path.string())};
  return {std::istreambuf_iterator<char>{in}, {}};
}

// -- saved data ---------------------------------------------------------------

// Sorts inbox files (`<TYPE>-<YYYYMMDD-HHMMSS.mmm>[-n].json`) by the time in
// their names, so that messages of every type list in the order they came.
void sort_by_arrival(std::vector<fs::path>& files) {
  auto arrival = [](const fs::path& file) {
    auto name = file.filename().string();
    auto dash = name.find('-');
    return dash == std::string::npos ? name : name.substr(dash + 1);
  };
  std::stable_sort(files.begin(), files.end(),
                   [&arrival](const fs::path& lhs, const fs::path& rhs) {
                     return arrival(lhs) < arrival(rhs);
                   });
}

// Returns the folder `name` of the running daemon's data directory (its
// `--data-dir`), or of ~/.pilot when no daemon responds.
fs::path data_folder(const command_line& cmd, std::string_view name) {
  if (auto info = query_daemon_info(configured_socket(cmd), probe_timeout))
    if (auto dir = string_member(*info, "data_dir"); !dir.empty())
      return fs::path{dir} / name;
  return pilot_paths::resolve().home / name;
}

// Returns the regular files of `dir` sorted by name, skipping names that
// start with a dot (files that the service is still writing).
std::vector<fs::path> saved_files(const fs::path& dir,
                                  std::string_view extension = {}) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator i{dir, ec}, end; !ec && i != end;
       i.increment(ec)) {
    auto name = i->path().filename().string();
    if (name.starts_with(".") || !i->is_regular_file(ec))
      continue;
    if (!extension.empty() && !name.ends_with(extension))
      continue;
    files.push_back(i->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Removes the listed files and returns the number removed.
std::size_t remove_files(const std::vector<fs::path>& files) {
  std::size_t removed = 0;
  for (const auto& file : files) {
    std::error_code ec;
    if (fs::remove(file, ec))
      ++removed;
  }
  return removed;
}

std::string rfc3339_utc(fs::file_time_type time) {
  auto system = std::chrono::file_clock::to_sys(time);
  auto seconds = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          system));
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  auto size = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {text, size};
}

success cleared_result(std::size_t cleared, std::string_view items) {
  return {boost::json::object{{"cleared", cleared}},
          "cleared " + std::to_string(cleared) + " " + std::string{items}};
}

std::string message_line(const boost::json::value& message) {
  const auto* object = message.if_object();
  if (object == nullptr)
    return "(unreadable message)";
  return "[" + string_member(*object, "received_at") + "] "
         + string_member(*object, "type") + " from "
         + string_member(*object, "from") + ": "
         + escape_control(string_member(*object, "data"));
}

} // namespace

success run_send_message(const command_line& cmd) {
  constexpr std::string_view usage
      = "send-message <address|hostname> --data d [--type text|json|binary] "
        "[--timeout 30s]";
  check_operands(cmd, 1, 1, usage);
  auto data = cmd.value("data").value_or("");
  if (data.empty())
    throw error{code::invalid_argument, "--data is required",
                "usage: pilotctl " + std::string{usage}};
  auto type_text = cmd.value("type").value_or("text");
  auto type = parse_message_type(type_text);
  auto timeout = timeout_flag(cmd, default_transfer_timeout);
  auto frame = encoded_frame(type, data);
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  auto ack = send_frame(daemon, target, frame, timeout);
  auto address = protocol::to_string(target);
  return {boost::json::object{{"target", address},
                              {"type", type_text},
                              {"bytes", data.size()},
                              {"ack", ack}},
          "sent " + std::to_string(data.size()) + " bytes (" + type_text
              + ") to " + address + "\nack: " + escape_control(ack)};
}

success run_send_file(const command_line& cmd) {
  constexpr std::string_view usage
      = "send-file <address|hostname> <path> [--timeout 30s]";
  check_operands(cmd, 2, 2, usage);
  fs::path path{cmd.positional(2)};
  auto filename = path.filename().string();
  if (filename.empty() || filename == "." || filename == "..")
    throw error{code::invalid_argument,
                "\"" + escape_control(path.string()) + "\" names no file",
                "usage: pilotctl " + std::string{usage}};
  auto timeout = timeout_flag(cmd, default_transfer_timeout);
  auto content = read_whole_file(path);
  auto payload = protocol::encode_file_payload(filename, content);
  if (!payload)
    throw error{code::invalid_argument,
                "the file name is " + std::to_string(filename.size())
                    + " bytes, more than the maximum of 65535"};
  auto frame = encoded_frame(protocol::data_type::file, *payload);
  daemon_client daemon{configured_socket(cmd)};
  protocol::address target;
  try {
    target = resolve_target(daemon, cmd, cmd.positional(1));
  } catch (const error& e) {
    if (e.code() != code::not_found)
      throw;
    throw error{code::invalid_argument, e.what(), e.hint()};
  }
  auto ack = send_frame(daemon, target, frame, timeout);
  auto address = protocol::to_string(target);
  return {boost::json::object{{"filename", filename},
                              {"bytes", content.size()},
                              {"destination", address},
                              {"ack", ack}},
          "sent " + escape_control(filename) + " ("
              + std::to_string(content.size()) + " bytes) to " + address
              + "\nack: " + escape_control(ack)};
}

success run_inbox(const command_line& cmd) {
  check_operands(cmd, 0, 0, "inbox [--clear]");
  auto dir = data_folder(cmd, "inbox");
  auto files = saved_files(dir, ".json");
  if (cmd.enabled("clear"))
    return cleared_result(remove_files(files), "messages");
  sort_by_arrival(files);
  boost::json::array messages;
  std::string text;
  for (const auto& file : files) {
    std::ifstream in{file, std::ios::binary};
    std::string content{std::istreambuf_iterator<char>{in}, {}};
    auto message = parse_json(content);
    if (!message || !message->is_object())
      continue;
    text += message_line(*message) + "\n";
    messages.emplace_back(std::move(*message));
  }
  auto total = messages.size();
  if (total == 0)
    text = "no messages in " + dir.string() + "\n";
  text.pop_back();
  return {boost::json::object{{"messages", std::move(messages)},
                              {"total", total},
                              {"dir", dir.string()}},
          text};
}

success run_received(const command_line& cmd) {
  check_operands(cmd, 0, 0, "received [--clear]");
  auto dir = data_folder(cmd, "received");
  std::error_code ec;
  bool exists = fs::is_directory(dir, ec);
  if (cmd.enabled("clear")) {
    if (!exists)
      throw error{code::not_found,
                  "no received files: " + dir.string() + " does not exist"};
    return cleared_result(remove_files(saved_files(dir)), "files");
  }
  boost::json::array files;
  std::string text;
  for (const auto& file : saved_files(dir)) {
    auto bytes = fs::file_size(file, ec);
    auto modified = fs::last_write_time(file, ec);
    if (ec)
      continue;
    auto name = file.filename().string();
    files.emplace_back(boost::json::object{{"name", name},
                                           {"bytes", bytes},
                                           {"modified", rfc3339_utc(modified)},
                                           {"path", file.string()}});
    text += escape_control(name) + "  " + std::to_string(bytes) + " bytes\n";
  }
  auto total = files.size();
  if (total == 0)
    text = "no files in " + dir.string() + "\n";
  text.pop_back();
  return {boost::json::object{{"files", std::move(files)},
                              {"total", total},
                              {"dir", dir.string()}},
          text};
}

} // namespace pilot::control::cli
