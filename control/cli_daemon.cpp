#include "control/cli_daemon.hpp"

#include "actors/atomic_file.hpp"
#include "control/daemon_client.hpp"
#include "control/daemon_process.hpp"
#include "control/json_text.hpp"
#include "control/socket_file.hpp"
#include "protocol/go_json.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <iostream>
#include <sstream>
#include <thread>

namespace pilot::control::cli {

namespace {

using namespace std::chrono_literals;

/// How long `daemon start` waits for the node to register.
constexpr auto start_timeout = 15s;
/// How often `daemon start` asks the daemon whether it has registered.
constexpr auto readiness_interval = 200ms;
/// How long `daemon stop` waits after SIGTERM before it sends SIGKILL.
constexpr auto stop_grace = 10s;

/// Flags that pilotctl resolves itself or consumes; every other flag goes to
/// the daemon unchanged.
constexpr std::array<std::string_view, 4> resolved_flags{
    "registry", "socket", "config", "foreground"};

std::uint64_t node_id_of(const boost::json::object& info) {
  auto i = info.find("node_id");
  if (i == info.end())
    return 0;
  if (auto* id = i->value().if_uint64())
    return *id;
  if (auto* id = i->value().if_int64())
    return *id > 0 ? static_cast<std::uint64_t>(*id) : 0;
  return 0;
}

boost::json::value field_or_null(const boost::json::object& info,
                                 std::string_view key) {
  auto i = info.find(key);
  return i == info.end() ? boost::json::value{} : i->value();
}

// Refuses to start a second daemon on the same PID file or socket, and
// removes a PID file whose process is gone.
void check_not_running(const pilot_paths& paths, const std::string& socket) {
  if (auto pid = read_pid_file(paths.pid_file)) {
    if (is_daemon_running(*pid))
      throw error{code::already_exists,
                  "daemon is already running (pid " + std::to_string(*pid)
                      + ")",
                  "stop it first: pilotctl daemon stop"};
    std::error_code ignored;
    std::filesystem::remove(paths.pid_file, ignored);
  }
  if (probe_socket(socket) == socket_state::live)
    throw error{code::already_exists, "a daemon already listens on " + socket,
                "stop it first, or pass another --socket"};
}

// Returns whether the Info reply reports the node as registered. A daemon
// whose Info has no `registered` has registered once it has a node ID.
bool is_registered(const boost::json::object& info) {
  if (auto* registered = info.if_contains("registered");
      registered && registered->is_bool())
    return registered->get_bool();
  return node_id_of(info) != 0;
}

// Describes a daemon that is still starting when the wait ends: it keeps
// running and retrying, so the user learns where it tries and why it fails.
error still_registering(pid_t pid, const std::string& socket,
                        const std::string& registry,
                        const std::optional<boost::json::object>& info) {
  std::string message = "daemon did not register within 15s. It is still "
                        "running (pid "
                        + std::to_string(pid) + ") and ";
  if (!info) {
    message += "does not reply on " + socket + " yet";
  } else {
    auto address = string_member(*info, "registry");
    message += "keeps retrying the registry at "
               + (address.empty() ? registry : address);
    if (auto last = string_member(*info, "registry_error"); !last.empty())
      message += " (last error: " + last + ")";
  }
  return error{code::timeout, message,
               "stop it with: pilotctl daemon stop, or watch it: tail -f "
               "~/.pilot/pilot.log"};
}

// Waits until the node has registered, the child has exited or the start
// timeout has passed, printing a dot a second in text mode.
boost::json::object wait_until_registered(pid_t pid, const std::string& socket,
                                          const std::string& registry,
                                          const pilot_paths& paths, bool json) {
  auto started = std::chrono::steady_clock::now();
  auto next_dot = started + 1s;
  std::optional<boost::json::object> last_info;
  bool printed_dot = false;
  auto end_dots = [&] {
    if (printed_dot)
      std::cerr << std::endl;
  };
  for (;;) {
    if (auto status = child_exit_status(pid)) {
      end_dots();
      std::error_code ignored;
      std::filesystem::remove(paths.pid_file, ignored);
      auto last = last_log_line(paths.log_file);
      throw error{code::internal,
                  "daemon exited during start with status "
                      + std::to_string(*status)
                      + (last.empty() ? "" : ": " + last),
                  "check logs: tail -n 50 ~/.pilot/pilot.log"};
    }
    if (auto info = query_daemon_info(socket, 1s)) {
      if (is_registered(*info)) {
        end_dots();
        return std::move(*info);
      }
      last_info = std::move(info);
    }
    auto now = std::chrono::steady_clock::now();
    if (now - started >= start_timeout) {
      end_dots();
      throw still_registering(pid, socket, registry, last_info);
    }
    if (!json && now >= next_dot) {
      std::cerr << '.' << std::flush;
      printed_dot = true;
      next_dot += 1s;
    }
    std::this_thread::sleep_for(readiness_interval);
  }
}

std::string start_text(const boost::json::object& data) {
  const auto& name = data.at("hostname");
  bool no_name
      = name.is_null() || (name.is_string() && name.get_string().empty());
  auto hostname = no_name ? std::string{"(none)"} : plain_text(name);
  std::ostringstream text;
  text << "daemon started (pid " << plain_text(data.at("pid")) << ")\n"
       << "  node_id:  " << plain_text(data.at("node_id")) << '\n'
       << "  address:  " << plain_text(data.at("address")) << '\n'
       << "  hostname: " << hostname << '\n'
       << "  socket:   " << plain_text(data.at("socket")) << '\n'
       << "  log:      " << plain_text(data.at("log_file")) << '\n';
  return text.str();
}

std::filesystem::path daemon_binary() {
  auto binary = find_daemon_binary();
  if (binary.empty())
    throw error{code::internal,
                "cannot find pilot-daemon next to pilotctl or on PATH",
                "install pilot-daemon, or add its directory to PATH"};
  return binary;
}

// Creates an empty config.json when there is none, so that the daemon
// reads it and later set-webhook and set-hostname changes, saved there,
// take effect on SIGHUP and outlast restarts.
void create_default_config(const pilot_paths& paths) {
  std::error_code ec;
  if (std::filesystem::exists(paths.config, ec))
    return;
  auto lock = lock_config(paths.config);
  if (!std::filesystem::exists(paths.config, ec))
    save_config(pilot_config{paths.config});
}

void check_start_operands(const command_line& cmd) {
  if (cmd.positionals.size() > 2)
    throw error{code::invalid_argument,
                "unexpected argument: " + cmd.positionals[2],
                "usage: pilotctl daemon start [--foreground] [daemon flags]"};
}

// Throws when the socket given by flag or environment is served by another
// daemon than the one in the PID file, which `daemon stop` would stop.
void check_same_daemon(const command_line& cmd, pid_t pid_file_pid) {
  auto explicit_socket = socket_setting(cmd, pilot_config{{}});
  if (explicit_socket.source == setting_source::fallback)
    return;
  auto info = query_daemon_info(explicit_socket.value, probe_timeout);
  auto* served_by = info ? info->if_contains("pid") : nullptr;
  if (served_by == nullptr || !served_by->is_int64()
      || served_by->get_int64() == pid_file_pid)
    return;
  auto other = std::to_string(served_by->get_int64());
  throw error{
      code::invalid_argument,
      "the daemon on " + explicit_socket.value + " (" + explicit_socket.origin
          + ") is pid " + other + ", but the PID file names pid "
          + std::to_string(pid_file_pid) + "; nothing was stopped",
      "stop pid " + other + " with kill, or drop " + explicit_socket.origin
          + " to stop the daemon that pilotctl started"};
}

} // namespace

std::vector<std::string> daemon_arguments(const command_line& cmd,
                                          const pilot_config& config) {
  check_start_operands(cmd);
  std::vector<std::string> args;
  // pilot-daemon takes `--name=value`, but an empty value only as the next
  // argument.
  auto add = [&args](std::string_view name, const std::string& value) {
    if (value.empty()) {
      args.push_back("--" + std::string{name});
      args.push_back(value);
    } else {
      args.push_back("--" + std::string{name} + "=" + value);
    }
  };
  // The daemon reads and checks every key of the file itself; its own flags
  // win over the file.
  std::error_code ec;
  bool pass_config
      = cmd.has("config") || std::filesystem::exists(config.path(), ec);
  if (pass_config)
    add("config", config.path().string());
  // The daemon must use the socket and registry that pilotctl resolved, so
  // they are passed unless they come from the file that the daemon reads.
  auto registry = registry_setting(cmd, config);
  if (!pass_config || registry.source != setting_source::config)
    add("registry", registry.value);
  auto socket = socket_setting(cmd, config);
  if (!pass_config || socket.source != setting_source::config)
    add("socket", socket.value);
  for (const auto& flag : cmd.flags) {
    if (std::find(resolved_flags.begin(), resolved_flags.end(), flag.name)
        != resolved_flags.end())
      continue;
    if (flag.has_value)
      add(flag.name, flag.value);
    else
      args.push_back("--" + flag.name);
  }
  return args;
}

success daemon_start(const command_line& cmd) {
  auto paths = pilot_paths::resolve();
  auto config_flag = cmd.value("config");
  check_start_operands(cmd);
  if (!config_flag)
    create_default_config(paths);
  auto config = config_flag ? load_config(std::filesystem::path{*config_flag})
                            : load_config(paths);
  auto socket = resolve_socket(cmd, config);
  auto args = daemon_arguments(cmd, config);
  auto binary = daemon_binary();
  check_not_running(paths, socket);
  if (cmd.enabled("foreground"))
    exec_daemon(binary, args);
  std::error_code ec;
  std::filesystem::create_directories(paths.home, ec);
  std::filesystem::permissions(paths.home, std::filesystem::perms::owner_all,
                               ec);
  auto pid = spawn_daemon(binary, args, paths.log_file);
  if (auto err
      = actors::write_file_atomically(paths.pid_file, std::to_string(pid)))
    throw error{code::internal,
                "daemon started (pid " + std::to_string(pid)
                    + ") but the PID file could not be written: "
                    + err.message()};
  auto info = wait_until_registered(pid, socket, resolve_registry(cmd, config),
                                    paths, cmd.json);
  boost::json::object data{{"pid", pid},
                           {"node_id", field_or_null(info, "node_id")},
                           {"address", field_or_null(info, "address")},
                           {"hostname", field_or_null(info, "hostname")},
                           {"socket", socket},
                           {"log_file", paths.log_file.string()}};
  auto text = start_text(data);
  return {std::move(data), std::move(text)};
}

success daemon_stop(const command_line& cmd) {
  auto paths = pilot_paths::resolve();
  auto pid = read_pid_file(paths.pid_file);
  if (!pid) {
    auto socket = configured_socket(cmd);
    if (probe_socket(socket) == socket_state::live)
      throw error{code::not_running,
                  "no PID file at " + paths.pid_file.string()
                      + ", but a daemon listens on " + socket,
                  "the PID file is missing: stop that daemon with kill, or "
                  "with the tool that started it"};
    throw error{code::not_running, "daemon is not running"};
  }
  std::error_code ignored;
  if (!is_daemon_running(*pid)) {
    std::filesystem::remove(paths.pid_file, ignored);
    throw error{code::not_running,
                "daemon is not running (cleaned up stale state)"};
  }
  check_same_daemon(cmd, *pid);
  bool forced = terminate_process(*pid, stop_grace);
  std::filesystem::remove(paths.pid_file, ignored);
  boost::json::object data{{"pid", *pid}};
  if (forced)
    data["forced"] = true;
  std::string text = "daemon stopped (pid " + std::to_string(*pid) + ")";
  if (forced)
    text += ", killed after 10s";
  return {std::move(data), text};
}

success daemon_status(const command_line& cmd) {
  auto paths = pilot_paths::resolve();
  auto socket = configured_socket(cmd);
  auto pid = read_pid_file(paths.pid_file);
  bool running = pid && is_daemon_running(*pid);
  auto info = query_daemon_info(socket, probe_timeout);
  bool responsive = info.has_value();
  if (!running && !responsive && pid) {
    std::error_code ignored;
    std::filesystem::remove(paths.pid_file, ignored);
  }
  if (cmd.enabled("check"))
    return {{}, {}, true, responsive || running ? exit_ok : exit_error};
  boost::json::object data{
      {"running", running || responsive},
      {"pid", pid ? boost::json::value(*pid) : boost::json::value{}},
      {"pid_file", paths.pid_file.string()},
      {"socket", socket},
      {"responsive", responsive}};
  std::string text;
  if (responsive) {
    for (auto key : {"node_id", "address", "hostname", "uptime_secs", "peers",
                     "connections"})
      data[key] = field_or_null(*info, key);
    text = "daemon running (pid " + (pid ? std::to_string(*pid) : "unknown")
           + ")\n  node_id:  " + plain_text(data["node_id"])
           + "\n  address:  " + plain_text(data["address"]) + "\n  uptime:   "
           + plain_text(data["uptime_secs"]) + "s\n  socket:   " + socket;
  } else if (running) {
    text = "daemon process running (pid " + std::to_string(*pid)
           + ") but not replying on " + socket;
  } else {
    text = "daemon not running";
  }
  return {std::move(data), text};
}

} // namespace pilot::control::cli
