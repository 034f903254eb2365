// pilotctl: the command-line client of the Pilot daemon.

#include "control/cli_args.hpp"
#include "control/cli_commands.hpp"
#include "control/cli_daemon.hpp"
#include "control/cli_output.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace cli = pilot::control::cli;

using handler = cli::success (*)(const cli::command_line&);

struct command_spec {
  std::string_view name;
  std::string_view usage;
  std::string_view summary;
  handler run;
  std::string_view details = {};
};

cli::success run_daemon(const cli::command_line& cmd);

constexpr std::string_view daemon_details
    = "Sub-commands:\n"
      "  start [--foreground] [flags]  start pilot-daemon in the background "
      "and\n"
      "                                wait up to 15s until it has "
      "registered;\n"
      "                                --foreground runs it in this terminal\n"
      "  stop                          SIGTERM, then SIGKILL after 10s\n"
      "  status [--check]              whether the daemon runs and replies;\n"
      "                                --check prints nothing, exit 0 or 1\n"
      "\n"
      "Settings of `daemon start`, first match wins:\n"
      "  --registry   flag, config.json registry, $PILOT_REGISTRY, "
      "34.71.57.205:9000\n"
      "  --socket     flag, $PILOT_SOCKET, config.json socket, "
      "/tmp/pilot.sock\n"
      "  --beacon, --hostname, --webhook   flag, config.json\n"
      "  --identity   flag, ~/.pilot/identity.json\n"
      "Every other flag (--listen, --endpoint, --owner, --public, "
      "--keepalive,\n"
      "--log-level, --log-format, --config, ...) goes to pilot-daemon as "
      "given;\n"
      "see pilot-daemon --help. Output goes to ~/.pilot/pilot.log, the PID to\n"
      "~/.pilot/pilot.pid.\n";

constexpr std::array commands{
    command_spec{"init",
                 "init [--registry A] [--beacon A] [--socket P] [--hostname H]",
                 "write the settings to ~/.pilot/config.json", cli::run_init},
    command_spec{"config", "config [--set key=value]",
                 "show ~/.pilot/config.json, or set one key", cli::run_config},
    command_spec{"daemon", "daemon start|stop|status",
                 "start, stop or check the daemon", run_daemon, daemon_details},
    command_spec{"info", "info", "show the daemon's node and counters",
                 cli::run_info},
    command_spec{
        "set-webhook", "set-webhook <url>",
        "send events to <url>, now and after restarts", cli::run_set_webhook,
        "Validates the URL, applies it to the running daemon (if any),\n"
        "then saves it as webhook in ~/.pilot/config.json. A URL the\n"
        "daemon rejects is not saved.\n"},
    command_spec{"clear-webhook", "clear-webhook",
                 "stop sending events, now and after restarts",
                 cli::run_clear_webhook},
    command_spec{"webhook", "webhook",
                 "show the webhook URL and delivery counters",
                 cli::run_webhook},
    command_spec{"set-hostname", "set-hostname <name>",
                 "register a hostname for this node", cli::run_set_hostname},
    command_spec{"clear-hostname", "clear-hostname",
                 "remove this node's hostname", cli::run_clear_hostname},
    command_spec{"set-public", "set-public",
                 "let any node resolve this node's endpoint",
                 cli::run_set_public},
    command_spec{"set-private", "set-private",
                 "hide this node's endpoint from untrusted nodes",
                 cli::run_set_private},
    command_spec{"set-tags", "set-tags <tag> [tag] [tag]",
                 "replace this node's tags (at most 3)", cli::run_set_tags},
    command_spec{"clear-tags", "clear-tags", "remove this node's tags",
                 cli::run_clear_tags},
    command_spec{"find", "find <hostname>", "resolve a hostname to a node",
                 cli::run_find},
    command_spec{"lookup", "lookup <node_id> [--registry A]",
                 "ask the registry about a node", cli::run_lookup},
    command_spec{"deregister", "deregister",
                 "remove this node from the registry (the daemon keeps "
                 "running)",
                 cli::run_deregister},
};

const command_spec* find_command(std::string_view name) {
  auto i = std::find_if(commands.begin(), commands.end(),
                        [&](const auto& spec) { return spec.name == name; });
  return i == commands.end() ? nullptr : &*i;
}

std::string usage_text() {
  std::string text = "usage: pilotctl [--json] <command> [arguments]\n\n"
                     "Commands:\n";
  for (const auto& spec : commands) {
    std::string name{spec.name};
    name.resize(16, ' ');
    text += "  " + name + std::string{spec.summary} + "\n";
  }
  text += "\n--json (anywhere) prints {\"data\":...,\"status\":\"ok\"} on "
          "stdout, or\n{\"code\",\"hint\",\"message\",\"status\":\"error\"} "
          "on stderr.\n"
          "Exit codes: 0 success, 1 error, 2 usage.\n"
          "Environment: PILOT_SOCKET (IPC socket), PILOT_REGISTRY.\n"
          "Run 'pilotctl <command> --help' for a command's details.\n";
  return text;
}

std::string command_help(const command_spec& spec) {
  std::string text = "usage: pilotctl " + std::string{spec.usage} + "\n\n"
                     + std::string{spec.summary} + ".\n";
  if (!spec.details.empty())
    text += "\n" + std::string{spec.details};
  return text;
}

cli::success run_daemon(const cli::command_line& cmd) {
  auto sub = cmd.positional(1);
  if (sub == "start")
    return cli::daemon_start(cmd);
  if (sub == "stop" || sub == "status") {
    if (cmd.positionals.size() > 2)
      throw cli::error{cli::code::invalid_argument,
                       "unexpected argument: " + cmd.positionals[2],
                       "usage: pilotctl daemon " + sub};
    return sub == "stop" ? cli::daemon_stop(cmd) : cli::daemon_status(cmd);
  }
  throw cli::error{cli::code::invalid_argument,
                   sub.empty() ? "missing daemon sub-command"
                               : "unknown daemon sub-command: " + sub,
                   "usage: pilotctl daemon start|stop|status"};
}

int run(const cli::command_line& cmd) {
  auto name = cmd.positional(0);
  if (name.empty() || name == "help") {
    if (cmd.help || name == "help") {
      std::cout << usage_text();
      return cli::exit_ok;
    }
    std::cerr << usage_text();
    return cli::exit_usage;
  }
  const auto* spec = find_command(name);
  if (spec == nullptr) {
    if (!cmd.json) {
      std::cerr << "error: unknown command: " << name << "\n\n" << usage_text();
      return cli::exit_usage;
    }
    cli::print_error({cli::code::invalid_argument, "unknown command: " + name,
                      "run pilotctl --help for the list of commands"},
                     true);
    return cli::exit_error;
  }
  if (cmd.help) {
    std::cout << command_help(*spec);
    return cli::exit_ok;
  }
  try {
    auto result = spec->run(cmd);
    if (!result.silent)
      cli::print_success(result, cmd.json);
    return result.exit_code;
  } catch (const cli::error& e) {
    if (name == "daemon" && cmd.enabled("check"))
      return cli::exit_error;
    cli::print_error(e, cmd.json);
    return cli::exit_error;
  }
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cmd = cli::parse_command_line(
      args, {"public", "encrypt", "no-encrypt", "foreground", "check"});
  try {
    return run(cmd);
  } catch (const std::exception& e) {
    cli::print_error({cli::code::internal, e.what()}, cmd.json);
    return cli::exit_error;
  }
}
