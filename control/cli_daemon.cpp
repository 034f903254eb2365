#include "control/cli_daemon.hpp"

#include "actors/atomic_file.hpp"
#include "control/daemon_process.hpp"
#include "control/ipc_client.hpp"
#include "control/json_text.hpp"
#include "control/socket_file.hpp"
#include "protocol/go_json.hpp"
#include "protocol/ipc.hpp"

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
constexpr std::array<std::string_view, 7> resolved_flags{
    "registry", "socket",   "beacon",    "hostname",
    "webhook",  "identity", "foreground"};

const std::string log_hint = "check logs: tail -f ~/.pilot/pilot.log";

// Returns the value of `--name`, else the config key `name`.
std::optional<std::string> flag_or_config(const command_line& cmd,
                                          const pilot_config& config,
                                          std::string_view name) {
  if (auto flag = cmd.value(name))
    return flag;
  return config.string_value(name);
}

// Returns the daemon's Info reply, or an empty optional when it does not
// reply within `timeout`.
std::optional<boost::json::object>
query_info(const std::string& socket, std::chrono::milliseconds timeout) {
  ipc_client client;
  if (client.connect(socket, timeout))
    return std::nullopt;
  auto reply = client.call(protocol::ipc_command::info, {}, timeout);
  if (!reply || reply->command != protocol::ipc_command::info_ok)
    return std::nullopt;
  auto json = parse_json(reply->payload);
  if (!json || !json->is_object())
    return std::nullopt;
  return std::move(json->as_object());
}

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

// Waits until the node has registered, the child has exited or the start
// timeout has passed, printing a dot a second in text mode.
boost::json::object wait_until_registered(pid_t pid, const std::string& socket,
                                          const pilot_paths& paths, bool json) {
  auto started = std::chrono::steady_clock::now();
  auto next_dot = started + 1s;
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
    if (auto info = query_info(socket, 1s); info && node_id_of(*info) != 0) {
      end_dots();
      return std::move(*info);
    }
    auto now = std::chrono::steady_clock::now();
    if (now - started >= start_timeout) {
      end_dots();
      throw error{code::timeout, "daemon did not register within 15s",
                  log_hint};
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
  std::ostringstream text;
  text << "daemon started (pid " << plain_text(data.at("pid")) << ")\n"
       << "  node_id:  " << plain_text(data.at("node_id")) << '\n'
       << "  address:  " << plain_text(data.at("address")) << '\n'
       << "  hostname: " << plain_text(data.at("hostname")) << '\n'
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

} // namespace

std::vector<std::string> daemon_arguments(const command_line& cmd,
                                          const pilot_config& config,
                                          const pilot_paths& paths) {
  if (cmd.positionals.size() > 2)
    throw error{code::invalid_argument,
                "unexpected argument: " + cmd.positionals[2],
                "usage: pilotctl daemon start [--foreground] [daemon flags]"};
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
  add("registry", resolve_registry(cmd, config));
  add("socket", resolve_socket(cmd, config));
  add("identity", cmd.value("identity").value_or(paths.identity.string()));
  if (auto beacon = flag_or_config(cmd, config, "beacon"))
    add("beacon", *beacon);
  if (auto hostname = flag_or_config(cmd, config, "hostname");
      hostname && !hostname->empty())
    add("hostname", *hostname);
  if (auto webhook = flag_or_config(cmd, config, "webhook"))
    add("webhook", *webhook);
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
  auto config = load_config(paths);
  auto socket = resolve_socket(cmd, config);
  auto args = daemon_arguments(cmd, config, paths);
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
  auto info = wait_until_registered(pid, socket, paths, cmd.json);
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
    auto socket = resolve_socket(cmd, load_config(paths));
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
  auto socket = resolve_socket(cmd, load_config(paths));
  auto pid = read_pid_file(paths.pid_file);
  bool running = pid && is_daemon_running(*pid);
  auto info = query_info(socket, 2s);
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
