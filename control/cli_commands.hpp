#pragma once

#include "control/cli_args.hpp"
#include "control/cli_output.hpp"

#include <string_view>

/// The pilotctl commands other than `daemon`. Each takes the parsed command
/// line, whose first positional is the command name, and returns its result
/// or throws `cli::error`.
namespace pilot::control::cli {

// -- config.json --------------------------------------------------------------

/// `init [--registry A] [--beacon A] [--socket P] [--hostname H]`.
success run_init(const command_line& cmd);

/// `config` and `config --set key=value`.
success run_config(const command_line& cmd);

// -- webhook ------------------------------------------------------------------

/// `set-webhook <url> [--secret S]... [--events L] [--retries N]
/// [--concurrency N] [--timeout D] [--buffer N] [--ca-file F]`: checks
/// every value as the daemon does, applies them to a running daemon, then
/// saves them to the config file it reads. Secrets are only counted in the
/// output.
success run_set_webhook(const command_line& cmd);

/// `clear-webhook`: turn webhooks off in a running daemon and in the config.
success run_clear_webhook(const command_line& cmd);

/// `webhook`: the running daemon's webhook settings and counters.
/// `webhook test`: sends one test event and reports the status and latency;
/// throws `connection_failed` with both when it was not delivered.
success run_webhook(const command_line& cmd);

// -- node ---------------------------------------------------------------------

/// `info`: the daemon's Info reply. Text mode starts with the
/// registration state.
success run_info(const command_line& cmd);

/// `set-hostname <name>`.
success run_set_hostname(const command_line& cmd);

/// `clear-hostname`.
success run_clear_hostname(const command_line& cmd);

/// `set-public`.
success run_set_public(const command_line& cmd);

/// `set-private`.
success run_set_private(const command_line& cmd);

/// `set-tags <tag> [tag] [tag]`.
success run_set_tags(const command_line& cmd);

/// `clear-tags`.
success run_clear_tags(const command_line& cmd);

/// `find <hostname>`.
success run_find(const command_line& cmd);

/// Returns the error code of `find` for the daemon's error `message`:
/// `not_found` when the registry has no such hostname, `connection_failed`
/// otherwise, as when the registry is unreachable.
const char* find_error_code(std::string_view message);

/// `deregister`.
success run_deregister(const command_line& cmd);

/// `lookup <node_id>`: queries the registry directly: `--registry`, else
/// the running daemon's registry, else config.json `registry`, else
/// `$PILOT_REGISTRY`, else the public registry.
success run_lookup(const command_line& cmd);

// -- connections and datagrams -----------------------------------------------
//
// A target is a full address (`0:0000.0000.0009`), a decimal node ID on
// network 0, or a hostname that the daemon resolves through the registry.

/// `connect <target> [port] [--message m] [--timeout 30s]`: opens a
/// connection (port 1000 by default), sends the message or the piped
/// standard input, and returns one read of the reply.
success run_connect(const command_line& cmd);

/// `send <target> <port> --data d [--timeout 30s]`: as `connect` with
/// `--data`.
success run_send(const command_line& cmd);

/// `send-datagram <target> <port> --data d`: sends one datagram, which
/// raises `data.datagram` at the target, and returns `{target, port, bytes}`.
success run_send_datagram(const command_line& cmd);

/// `recv <port> [--count 1] [--timeout 30s]`: binds the port and returns
/// one read of each of the first `count` connections to it.
success run_recv(const command_line& cmd);

/// `listen <port> [--count n] [--timeout d]`: returns the datagrams to the
/// port. Without `--count` it runs until killed or `--timeout` and prints
/// each datagram as it comes, as one JSON line each with `--json`.
success run_listen(const command_line& cmd);

/// `ping <target> [--count 4] [--timeout 30s]`: echoes `ping-<i>` through
/// a new connection to port 7 each second.
success run_ping(const command_line& cmd);

/// `traceroute <target> [--timeout 30s]`: times one connection setup to
/// port 7 and three echoes over it.
success run_traceroute(const command_line& cmd);

/// `bench <target> [size_mb] [--timeout 120s]`: sends `size_mb` MiB (1 by
/// default) in 4096-byte writes to port 7 and times the echo. Rates are in
/// Mbit/s (10^6 bits per second) under the reference's keys `send_mbps`
/// and `total_mbps`, whose values the reference gives in MiB/s.
success run_bench(const command_line& cmd);

/// `peers [--search q]`: the tunnel peers from Info whose node ID or
/// endpoint contains `q`, ignoring case.
success run_peers(const command_line& cmd);

/// `connections`: the connections from Info.
success run_connections(const command_line& cmd);

/// `disconnect <conn_id>`: closes a connection and waits for its CloseOK.
/// Fails when Info still lists the connection as open afterwards, since
/// the daemon replies CloseOK also when it refused to close it.
success run_disconnect(const command_line& cmd);

// -- trust --------------------------------------------------------------------

/// `handshake <target> [justification]`: requests trust from the peer, directly
/// or through the registry's mailbox when it cannot be reached.
success run_handshake(const command_line& cmd);

/// `approve <node_id>`: trusts a node whose request is pending.
success run_approve(const command_line& cmd);

/// `reject <node_id> [reason]`: rejects a pending request.
success run_reject(const command_line& cmd);

/// `untrust <node_id>`: stops trusting a node and sends it a revoke.
success run_untrust(const command_line& cmd);

/// `pending`: the trust requests waiting for approval.
success run_pending(const command_line& cmd);

/// `trust`: the trusted nodes.
success run_trust(const command_line& cmd);

// -- data exchange (port 1001) ------------------------------------------------

/// `send-message <target> --data d [--type text|json|binary] [--timeout
/// 30s]`: sends one typed message and returns the target's
/// acknowledgement. A failed save or a missing acknowledgement is an error.
success run_send_message(const command_line& cmd);

/// `send-file <target> <path> [--timeout 30s]`: sends a file of up to
/// 16 MiB under its base name and returns the target's acknowledgement.
success run_send_file(const command_line& cmd);

/// `inbox [--clear]`: the messages saved in `~/.pilot/inbox`, or removes
/// them.
success run_inbox(const command_line& cmd);

/// `received [--clear]`: the files saved in `~/.pilot/received`, or
/// removes them.
success run_received(const command_line& cmd);

// -- event stream (port 1002) -------------------------------------------------

/// `publish <target> <topic> --data d [--timeout 30s]`: subscribes a new
/// connection to the topic, publishes the data on it and closes it.
success run_publish(const command_line& cmd);

/// `subscribe <target> <topic> [--count n] [--timeout d]`: receives the
/// topic's events. With `--count` or `--timeout` it returns the events
/// collected; otherwise it prints each as it arrives (one JSON line each
/// with --json) until killed or until the target ends the subscription.
success run_subscribe(const command_line& cmd);

} // namespace pilot::control::cli
