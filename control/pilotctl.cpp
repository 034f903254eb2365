// pilotctl: the command-line client of the Pilot daemon.

#include "control/cli_args.hpp"
#include "control/cli_commands.hpp"
#include "control/cli_daemon.hpp"
#include "control/cli_output.hpp"
#include "control/cli_settings.hpp"

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

/// The flags a command accepts besides --json and --help.
using flag_list = std::vector<std::string_view>;

struct command_spec {
  std::string_view name;
  std::string_view usage;
  std::string_view summary;
  handler run;
  std::string_view details = {};
  flag_list flags = {};
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
      "`daemon start` passes ~/.pilot/config.json (created empty when it is\n"
      "missing) or --config FILE to pilot-daemon, which applies and checks\n"
      "every key in it. Flags win over the file. First match wins for:\n"
      "  --registry   flag, config.json registry, $PILOT_REGISTRY, "
      "34.71.57.205:9000\n"
      "  --socket     flag, $PILOT_SOCKET, config.json socket, "
      "/tmp/pilot.sock\n"
      "Every other flag (--listen, --hostname, --webhook, --identity, "
      "--public,\n"
      "--log-level, ...) goes to pilot-daemon as given; see pilot-daemon "
      "--help.\n"
      "Flags are visible to other users in ps: put --webhook-secret in the\n"
      "config file instead (pilotctl set-webhook URL --secret S does).\n"
      "Output goes to ~/.pilot/pilot.log, the PID to ~/.pilot/pilot.pid.\n";

constexpr std::string_view lookup_details
    = "Asks the first of these registries:\n"
      "  --registry HOST:PORT\n"
      "  the registry of the running daemon (from its info)\n"
      "  registry in ~/.pilot/config.json\n"
      "  $PILOT_REGISTRY\n"
      "  34.71.57.205:9000, the public network\n"
      "The text output names the registry and where it came from.\n";

constexpr std::string_view config_details
    = "Without --set, prints config.json with the registry and socket that\n"
      "pilotctl uses and where each comes from (flag, running daemon,\n"
      "environment, config file or default).\n"
      "--set key=value checks the value as pilot-daemon would and saves it\n"
      "with the JSON type the daemon reads; an unknown key or a bad value\n"
      "leaves the file unchanged. Keys: the pilot-daemon flags, such as\n"
      "registry, socket, hostname, webhook, public, keepalive, log-level.\n"
      "Secrets (webhook-secret) are saved but only counted in the output.\n";

constexpr std::string_view set_webhook_details
    = "Checks the URL and every option as pilot-daemon does, applies them to\n"
      "the running daemon (if any), then saves them in the config file that\n"
      "daemon reads (its --config), or in ~/.pilot/config.json when no\n"
      "daemon runs. A daemon started without --config keeps them until it\n"
      "stops, and nothing is saved. Nothing the daemon rejects is saved. User "
      "info and query stay in the URL but\n"
      "are not shown. Options left out keep their values.\n"
      "\n"
      "  --secret S         whsec_ secret that signs every POST; give it "
      "twice\n"
      "                     during a rotation (new and old); \"\" removes "
      "them.\n"
      "                     Never shown, only counted\n"
      "  --events LIST      event types to send, comma separated: names such\n"
      "                     as conn.established, categories such as conn.*,\n"
      "                     or * for all\n"
      "  --retries N        retries after a connection error, 429 or 5xx, 0-3\n"
      "  --concurrency N    POSTs in flight at once, 1-64; 1 keeps the order\n"
      "  --timeout D        deadline of one POST, 1s-30s, such as 5s\n"
      "  --buffer N         events that may wait for delivery, 1-65536\n"
      "  --ca-file F        PEM file of the CAs trusted for https URLs "
      "instead\n"
      "                     of the system store; \"\" for the system store\n";

constexpr std::string_view webhook_details
    = "Without a sub-command, shows the URL, the settings in effect (secrets\n"
      "only counted) and the delivery counters of the running daemon.\n"
      "\n"
      "  test    sends one webhook.test event at once, whatever the event\n"
      "          filter, and prints the HTTP status and the latency. Without "
      "a\n"
      "          2xx response it fails with the reason (exit code 1).\n";

constexpr std::string_view transport_details
    = "The target is a full address (0:0000.0000.0009), a node ID on\n"
      "network 0 (9), or a hostname that the daemon resolves.\n"
      "--timeout takes a duration (30s, 1m30s, 500ms) or seconds.\n";

constexpr std::string_view trust_details
    = "A trust request goes to the node's port 444, or to the registry's\n"
      "mailbox when the node cannot be reached; the node fetches it with its\n"
      "next heartbeat, within 30 s. A node that trusts this one may resolve\n"
      "its endpoint even when it is private. The list is kept in trust.json\n"
      "next to the identity file.\n";

constexpr std::string_view subscribe_details
    = "Prints each event as it arrives until --count events arrived or\n"
      "--timeout passed; without either (or with --count 0) it runs until\n"
      "killed, printing one JSON line per event with --json. The target is\n"
      "an address, a node ID or a hostname.\n";

constexpr std::string_view listen_details
    = "Without --count, prints each datagram as it arrives (one JSON line\n"
      "each with --json) until killed or until --timeout passes.\n"
      "--timeout takes a duration (30s, 1m30s, 500ms) or seconds.\n";

constexpr std::string_view bench_details
    = "Sends size_mb MiB (default 1) in 4096-byte writes to the echo\n"
      "service on port 7 and times the echo. send_mbps and total_mbps are\n"
      "megabits per second (10^6 bit/s), not MiB/s as in the reference\n"
      "pilotctl; the JSON says so with \"unit\":\"Mbit/s\".\n";

const std::array commands{
    command_spec{"init",
                 "init [--registry A] [--beacon A] [--socket P] [--hostname H]",
                 "write the settings to ~/.pilot/config.json",
                 cli::run_init,
                 {},
                 {"registry", "beacon", "socket", "hostname"}},
    command_spec{"config",
                 "config [--set key=value]",
                 "show the settings, or set one key in ~/.pilot/config.json",
                 cli::run_config,
                 config_details,
                 {"set"}},
    command_spec{"daemon", "daemon start|stop|status",
                 "start, stop or check the daemon", run_daemon, daemon_details},
    command_spec{"info",
                 "info",
                 "show the daemon's node and counters",
                 cli::run_info,
                 {},
                 {"socket"}},
    command_spec{"set-webhook",
                 "set-webhook <url> [--secret S]... [--events LIST] "
                 "[--retries N] [--concurrency N] [--timeout D] [--buffer N] "
                 "[--ca-file F]",
                 "send events to <url>, now and after restarts",
                 cli::run_set_webhook,
                 set_webhook_details,
                 {"secret", "events", "retries", "concurrency", "timeout",
                  "buffer", "ca-file", "socket"}},
    command_spec{"clear-webhook",
                 "clear-webhook",
                 "stop sending events, now and after restarts",
                 cli::run_clear_webhook,
                 {},
                 {"socket"}},
    command_spec{"webhook",
                 "webhook [test]",
                 "show the webhook settings and counters, or send a test "
                 "event",
                 cli::run_webhook,
                 webhook_details,
                 {"socket"}},
    command_spec{"set-hostname",
                 "set-hostname <name>",
                 "register a hostname for this node",
                 cli::run_set_hostname,
                 {},
                 {"socket"}},
    command_spec{"clear-hostname",
                 "clear-hostname",
                 "remove this node's hostname",
                 cli::run_clear_hostname,
                 {},
                 {"socket"}},
    command_spec{"set-public",
                 "set-public",
                 "let any node resolve this node's endpoint",
                 cli::run_set_public,
                 {},
                 {"socket"}},
    command_spec{"set-private",
                 "set-private",
                 "hide this node's endpoint from untrusted nodes",
                 cli::run_set_private,
                 {},
                 {"socket"}},
    command_spec{"set-tags",
                 "set-tags <tag> [tag] [tag]",
                 "replace this node's tags (at most 3)",
                 cli::run_set_tags,
                 {},
                 {"socket"}},
    command_spec{"clear-tags",
                 "clear-tags",
                 "remove this node's tags",
                 cli::run_clear_tags,
                 {},
                 {"socket"}},
    command_spec{"find",
                 "find <hostname>",
                 "resolve a hostname to a node",
                 cli::run_find,
                 {},
                 {"socket"}},
    command_spec{"lookup",
                 "lookup <node_id> [--registry A]",
                 "ask the registry about a node",
                 cli::run_lookup,
                 lookup_details,
                 {"registry", "socket"}},
    command_spec{"connect",
                 "connect <address|hostname> [port] [--message m] "
                 "[--timeout 30s]",
                 "send a message (or stdin) to a port (1000) and print the "
                 "reply",
                 cli::run_connect,
                 transport_details,
                 {"message", "timeout", "socket"}},
    command_spec{"send",
                 "send <address|hostname> <port> --data d [--timeout 30s]",
                 "send data to a port and print the reply",
                 cli::run_send,
                 transport_details,
                 {"data", "timeout", "socket"}},
    command_spec{"send-datagram",
                 "send-datagram <address|hostname> <port> --data d",
                 "send one datagram to a port (see listen)",
                 cli::run_send_datagram,
                 {},
                 {"data", "socket"}},
    command_spec{"recv",
                 "recv <port> [--count 1] [--timeout 30s]",
                 "accept connections on a port and print what each sends",
                 cli::run_recv,
                 {},
                 {"count", "timeout", "socket"}},
    command_spec{"listen",
                 "listen <port> [--count n] [--timeout d]",
                 "print the datagrams sent to a port",
                 cli::run_listen,
                 listen_details,
                 {"count", "timeout", "socket"}},
    command_spec{"ping",
                 "ping <address|hostname> [--count 4] [--timeout 30s]",
                 "time echoes through new connections to port 7",
                 cli::run_ping,
                 transport_details,
                 {"count", "timeout", "socket"}},
    command_spec{"traceroute",
                 "traceroute <address|hostname> [--timeout 30s]",
                 "time a connection setup and three echoes",
                 cli::run_traceroute,
                 transport_details,
                 {"timeout", "socket"}},
    command_spec{"bench",
                 "bench <address|hostname> [size_mb] [--timeout 120s]",
                 "measure throughput through the echo port, in Mbit/s",
                 cli::run_bench,
                 bench_details,
                 {"timeout", "socket"}},
    command_spec{"peers",
                 "peers [--search q]",
                 "list the tunnel peers",
                 cli::run_peers,
                 {},
                 {"search", "socket"}},
    command_spec{"connections",
                 "connections",
                 "list the open connections",
                 cli::run_connections,
                 {},
                 {"socket"}},
    command_spec{"disconnect",
                 "disconnect <conn_id>",
                 "close a connection",
                 cli::run_disconnect,
                 {},
                 {"socket"}},
    command_spec{"send-message",
                 "send-message <address|hostname> --data d "
                 "[--type text|json|binary] [--timeout 30s]",
                 "send a typed message to a node's inbox (port 1001)",
                 cli::run_send_message,
                 transport_details,
                 {"data", "type", "timeout", "socket"}},
    command_spec{"send-file",
                 "send-file <address|hostname> <path> [--timeout 30s]",
                 "send a file of up to 16 MiB to a node (port 1001)",
                 cli::run_send_file,
                 transport_details,
                 {"timeout", "socket"}},
    command_spec{"inbox",
                 "inbox [--clear]",
                 "list or remove the messages the daemon saved (inbox/)",
                 cli::run_inbox,
                 {},
                 {"clear", "socket"}},
    command_spec{"received",
                 "received [--clear]",
                 "list or remove the files the daemon saved (received/)",
                 cli::run_received,
                 {},
                 {"clear", "socket"}},
    command_spec{"publish",
                 "publish <address|hostname> <topic> --data d "
                 "[--timeout 30s]",
                 "publish an event to a node's topic (port 1002)",
                 cli::run_publish,
                 transport_details,
                 {"data", "timeout", "socket"}},
    command_spec{"subscribe",
                 "subscribe <address|hostname> <topic> [--count n] "
                 "[--timeout d]",
                 "print the events published to a node's topic (port 1002)",
                 cli::run_subscribe,
                 subscribe_details,
                 {"count", "timeout", "socket"}},
    command_spec{"handshake",
                 "handshake <address|node_id|hostname> [justification]",
                 "ask a node for trust",
                 cli::run_handshake,
                 trust_details,
                 {"socket"}},
    command_spec{"approve",
                 "approve <node_id>",
                 "approve a pending trust request",
                 cli::run_approve,
                 trust_details,
                 {"socket"}},
    command_spec{"reject",
                 "reject <node_id> [reason]",
                 "reject a pending trust request",
                 cli::run_reject,
                 trust_details,
                 {"socket"}},
    command_spec{"pending",
                 "pending",
                 "list the trust requests waiting for approval",
                 cli::run_pending,
                 trust_details,
                 {"socket"}},
    command_spec{"trust",
                 "trust",
                 "list the trusted nodes",
                 cli::run_trust,
                 trust_details,
                 {"socket"}},
    command_spec{"untrust",
                 "untrust <node_id>",
                 "stop trusting a node and tell it so",
                 cli::run_untrust,
                 trust_details,
                 {"socket"}},
    command_spec{"deregister",
                 "deregister",
                 "remove this node from the registry (the daemon keeps "
                 "running)",
                 cli::run_deregister,
                 {},
                 {"socket"}},
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
          "Exit codes: 0 success, 1 error, 2 no command or an unknown command "
          "or flag.\n"
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
  // pilot-daemon checks the flags of `daemon start`.
  if (sub == "start")
    return cli::daemon_start(cmd);
  if (sub == "stop")
    cli::check_flags(cmd, {"socket"}, "daemon stop");
  if (sub == "status")
    cli::check_flags(cmd, {"socket", "check"}, "daemon status [--check]");
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

// Prints a usage error and returns the usage exit code.
int usage_failure(const cli::usage_error& e, bool json) {
  cli::print_error(e, json);
  return cli::exit_usage;
}

int run(const cli::command_line& cmd) {
  if (!cmd.global_flags.empty())
    return usage_failure(
        cli::usage_error{"unknown flag --" + cmd.global_flags.front().name
                             + " before the command; only --json and --help "
                               "may come first",
                         "usage: pilotctl [--json] <command> [arguments]"},
        cmd.json);
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
    if (spec->name != "daemon")
      cli::check_flags(cmd, spec->flags, spec->usage);
    auto result = spec->run(cmd);
    if (!result.silent)
      cli::print_success(result, cmd.json);
    return result.exit_code;
  } catch (const cli::usage_error& e) {
    return usage_failure(e, cmd.json);
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
