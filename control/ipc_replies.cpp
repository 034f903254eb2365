#include "control/ipc_replies.hpp"

#include <boost/json/array.hpp>

namespace pilot::control {

boost::json::object
make_info_json(const actors::node_info& node, const info_settings& settings,
               const std::optional<webhook::webhook_stats>& webhook) {
  boost::json::object info;
  info["address"] = node.address;
  info["authenticated_peers"] = 0;
  info["bytes_recv"] = 0;
  info["bytes_sent"] = 0;
  info["config_file"] = settings.config_file;
  info["conn_list"] = boost::json::array{};
  info["connections"] = 0;
  info["encrypt"] = settings.encrypt;
  info["encrypted_peers"] = 0;
  info["hostname"] = node.hostname;
  info["identity"] = settings.identity_configured;
  info["node_id"] = node.node_id;
  info["owner"] = node.owner;
  info["peer_list"] = boost::json::array{};
  info["peers"] = 0;
  info["pkts_recv"] = 0;
  info["pkts_sent"] = 0;
  info["ports"] = 0;
  info["public_key"] = node.public_key;
  info["registered"] = node.registered;
  info["registry"] = settings.registry;
  info["registry_error"] = node.registry_error;
  info["uptime_secs"] = settings.uptime_secs;
  if (webhook)
    info["webhook"] = make_webhook_stats_json(*webhook);
  else
    info["webhook"] = nullptr;
  return info;
}

boost::json::object
make_webhook_stats_json(const webhook::webhook_stats& stats) {
  boost::json::object out;
  out["buffered"] = stats.buffered;
  out["delivered"] = stats.delivered;
  out["dropped"] = stats.dropped;
  out["dropped_disabled"] = stats.dropped_disabled;
  out["dropped_down"] = stats.dropped_down;
  out["dropped_filtered"] = stats.dropped_filtered;
  out["dropped_full"] = stats.dropped_full;
  out["dropped_oversize"] = stats.dropped_oversize;
  out["emitted"] = stats.emitted;
  out["failed"] = stats.failed;
  out["failed_connect"] = stats.failed_connect;
  out["failed_dns"] = stats.failed_dns;
  out["failed_status_3xx"] = stats.failed_status_3xx;
  out["failed_status_4xx"] = stats.failed_status_4xx;
  out["failed_status_5xx"] = stats.failed_status_5xx;
  out["failed_timeout"] = stats.failed_timeout;
  out["failed_tls"] = stats.failed_tls;
  out["in_flight"] = stats.in_flight;
  out["last_delivered_at"] = stats.last_delivered_at;
  out["last_error"] = stats.last_error;
  out["latency_p50_ms"] = stats.latency_p50_ms;
  out["latency_p99_ms"] = stats.latency_p99_ms;
  out["state"] = stats.state;
  out["url"] = stats.url;
  return out;
}

} // namespace pilot::control
