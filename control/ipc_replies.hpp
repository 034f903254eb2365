#pragma once

#include "actors/fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "webhook/fwd.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pilot::control {

/// Node facts for the Info reply that come from the daemon's configuration.
struct info_settings {
  bool encrypt = true;                    ///< Info `encrypt`.
  bool identity_configured = false;       ///< Info `identity`.
  std::uint64_t uptime_secs = 0;          ///< Info `uptime_secs`.
  std::string config_file;                ///< Info `config_file`, "" when none.
  std::string registry;                   ///< Info `registry`.
  std::string data_dir;                   ///< Info `data_dir`, "" when unknown.
  std::vector<std::string> webhook_flags; ///< Info `webhook_flags`.
  std::int64_t pid = 0;                   ///< Info `pid`, the daemon's.
};

/// The parts of the Info reply that the daemon's actors keep. Each optional
/// part is empty when its actor is absent or did not reply in time.
struct info_parts {
  actors::node_info node;                        ///< From the registry actor.
  std::optional<webhook::webhook_stats> webhook; ///< From the webhook actor.
  std::optional<actors::tunnel_summary> tunnel;  ///< From the tunnel actor.
  /// From the connection actor.
  std::optional<actors::transport_summary> transport;
};

/// Builds the JSON object of the Info reply (0x0E) with the keys of the
/// reference daemon. Without a tunnel part, the peer and traffic counters
/// are 0 and `peer_list` is empty. Without a transport part, `connections`
/// and `ports` are 0 and `conn_list` is empty. `peer_list`
/// entries carry `node_id`, `endpoint`, `encrypted` and `authenticated`,
/// like the reference's. This daemon adds `frames_dropped` (the tunnel's
/// dropped datagrams and frames), `webhook` (the webhook counters, or
/// `null` without them), `registered`, `registry` and `registry_error`
/// (the last registration or heartbeat failure, "" when none),
/// `config_file`, the file that pilotctl updates for changes that must
/// outlive a restart, `webhook_flags`, the webhook settings given as flags
/// that win over that file, and `data_dir`, where received messages and
/// files are saved, and `pid`, the daemon's process ID.
boost::json::object make_info_json(const info_parts& parts,
                                   const info_settings& settings);

/// Builds the JSON object of the WebhookStats reply (0x41): every field of
/// `stats` under its own name. The URL is already redacted, and `secrets`
/// is a count.
boost::json::object
make_webhook_stats_json(const webhook::webhook_stats& stats);

/// Builds the JSON object of the WebhookTest reply (0x45) from the outcome
/// of the test delivery: `status` (0 without a response), `latency_ms`,
/// `delivered` (a 2xx response arrived), `failure` ("" when delivered, the
/// failure class such as `connect` without a response, else `status_3xx`,
/// `status_4xx` or `status_5xx` as the counters name them) and `error` (""
/// when delivered).
boost::json::object
make_webhook_test_json(const webhook::attempt_result& result);

} // namespace pilot::control
