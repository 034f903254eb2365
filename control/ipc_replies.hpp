#pragma once

#include "actors/fwd.hpp"
#include "webhook/fwd.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace pilot::control {

/// Node facts for the Info reply that come from the daemon's configuration.
struct info_settings {
  bool encrypt = true;              ///< Info `encrypt`.
  bool identity_configured = false; ///< Info `identity`.
  std::uint64_t uptime_secs = 0;    ///< Info `uptime_secs`.
  std::string config_file;          ///< Info `config_file`, "" when none.
  std::string registry;             ///< Info `registry`.
};

/// Builds the JSON object of the Info reply (0x0E) with the keys of the
/// reference daemon. The tunnel and connection counters are 0 and the peer
/// and connection lists empty, which is true while this daemon has no
/// tunnels. `webhook` adds the `webhook` object of the counters, or `null`
/// when the webhook actor did not reply in time. This daemon adds
/// `registered`, `registry` and `registry_error` (the last registration or
/// heartbeat failure, "" when none), and `config_file`, the file that
/// pilotctl updates for changes that must outlive a restart.
boost::json::object
make_info_json(const actors::node_info& node, const info_settings& settings,
               const std::optional<webhook::webhook_stats>& webhook);

/// Builds the JSON object of the WebhookStats reply (0x41): every field of
/// `stats` under its own name. The URL is already redacted.
boost::json::object
make_webhook_stats_json(const webhook::webhook_stats& stats);

} // namespace pilot::control
