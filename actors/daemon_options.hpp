#pragma once

#include "actors/log.hpp"
#include "protocol/identity.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pilot::actors {

/// The public registry and beacon of the Pilot network, the defaults of
/// `--registry` and `--beacon` as in the reference daemon.
inline constexpr std::string_view default_registry_address
    = "34.71.57.205:9000";
inline constexpr std::string_view default_beacon_address = "34.71.57.205:9001";

/// The webhook settings, the part of the options that SIGHUP reloads.
struct webhook_settings {
  /// Empty when webhooks are off.
  std::string url;
  /// Deadline of one POST, from 1 s to 30 s.
  std::chrono::milliseconds timeout{5'000};
  /// Events that may wait for delivery while the endpoint is up.
  std::size_t buffer = 1024;
  /// POSTs in flight at once, from 1 to 64; 1 keeps events in order.
  std::size_t concurrency = 1;
  /// The `webhook-events` items in canonical form, such as `conn.*`; empty
  /// selects every event.
  std::vector<std::string> events;
  /// Retries of a POST after a connection error, 429 or 5xx, from 0 to 3.
  std::size_t retries = 0;
  /// Zero to two `whsec_` signing secrets. Secrets: never log them.
  std::vector<std::string> secrets;
  /// PEM file of the CAs trusted for https URLs; empty for the system store.
  std::string ca_file;

  friend bool operator==(const webhook_settings&, const webhook_settings&)
      = default;
};

/// Settings of the stream transport and its built-in services.
struct transport_settings {
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds time_wait{10'000};
  /// New incoming connections per second from all peers together.
  std::size_t syn_rate_limit = 100;
  std::size_t max_conns_per_port = 1024;
  std::size_t max_conns_total = 4096;
  /// Whether the echo service answers on port 7.
  bool echo = true;
  /// Whether the data exchange service listens on port 1001.
  bool data_exchange = true;
  /// Whether the event stream broker listens on port 1002.
  bool event_stream = true;
};

/// Everything `pilot-daemon` is configured with: the flags, merged with the
/// config file and the defaults (command line before file before default).
struct daemon_options {
  /// `--config`: the JSON config file, or empty.
  std::string config_file;
  std::string registry{default_registry_address};
  /// The beacon's `host:port`, or empty for none.
  std::string beacon{default_beacon_address};
  /// The tunnel's UDP listen address, `host:port` with an optional host.
  std::string listen = ":0";
  /// The IPC socket path.
  std::string socket;
  /// The `host:port` to register instead of the listen address.
  std::string endpoint;
  /// The identity file, `~` expanded; empty means a new key at every start.
  /// The trust list (`trust.json`) is kept next to it, and not at all
  /// without it.
  std::string identity;
  /// The directory of received messages (`inbox/`) and files (`received/`),
  /// `~` expanded.
  std::string data_dir{"~/.pilot"};
  std::string owner;
  bool is_public = false;
  std::string hostname;
  /// Heartbeat interval.
  std::chrono::milliseconds keepalive{30'000};
  webhook_settings webhook;
  /// Time the webhook gets to deliver what is buffered when stopping.
  std::chrono::milliseconds shutdown_grace{3'000};
  log::level log_level = log::level::info;
  log::format log_format = log::format::text;
  /// Whether tunnels are encrypted and authenticated.
  bool encrypt = true;
  transport_settings transport;
  /// `--help` or `--version` was given; nothing else was checked.
  bool show_help = false;
  bool show_version = false;
  /// Problems that do not stop the daemon, such as unknown config keys, for
  /// the caller to log once the logger is configured.
  std::vector<std::string> warnings;
  /// The names of the flags given on the command line, which win over the
  /// config file, such as `webhook` for `--webhook`.
  std::vector<std::string> command_line_flags;
};

/// A command line or config file that cannot be used. The message names the
/// flag or key, and for the config file the line.
class options_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Parses the command line of `pilot-daemon` and the config file it names.
/// Long flags take one or two dashes (`--public`, `-public`), values follow
/// after `=` or as the next argument, booleans accept `=true`/`=false`, and
/// durations are Go durations such as `30s` or `1m`. Config keys are flag
/// names, with `_` allowed for `-`. Throws `options_error` for an unknown
/// flag, a malformed or unreadable config file, a value of the wrong type
/// and any value out of range.
daemon_options parse_daemon_options(int argc, const char* const argv[]);

/// Returns the `--help` text.
std::string daemon_usage();

/// Applies `value` to the webhook setting of the flag `name` (`webhook`,
/// `webhook-timeout`, `webhook-events`, ...) with the checks of that flag,
/// so that every path that changes a webhook setting checks it alike.
/// Returns the reason when the value is invalid, and then leaves `settings`
/// unchanged. The reason never contains a secret.
std::optional<std::string> apply_webhook_setting(webhook_settings& settings,
                                                 std::string_view name,
                                                 const std::string& value);

/// Replaces a leading `~` or `~/` by `$HOME`. Throws `options_error` when
/// HOME is not set.
std::string expand_home(const std::string& path);

/// Loads the identity file at `path`, or creates it (mode 0600, written
/// atomically, parent directories 0700) when it does not exist. An empty
/// `path` gives a new key that is not saved. Never overwrites an existing
/// file. Throws `options_error` when the file cannot be read or written or
/// is not a valid identity file.
protocol::identity load_identity(const std::string& path);

} // namespace pilot::actors
