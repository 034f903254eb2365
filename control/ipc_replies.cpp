#include "control/ipc_replies.hpp"

#include <boost/json/array.hpp>

namespace pilot::control {

namespace {

boost::json::array make_peer_list(const actors::tunnel_summary& tunnel) {
  boost::json::array peers;
  peers.reserve(tunnel.peers.size());
  for (const auto& peer : tunnel.peers)
    peers.emplace_back(boost::json::object{
        {"authenticated", peer.authenticated},
        {"encrypted", peer.encrypted},
        {"endpoint", peer.endpoint},
        {"node_id", peer.node_id},
    });
  return peers;
}

void add_tunnel(boost::json::object& info,
                const std::optional<actors::tunnel_summary>& tunnel) {
  std::uint64_t encrypted = 0;
  std::uint64_t authenticated = 0;
  if (tunnel) {
    for (const auto& peer : tunnel->peers) {
      encrypted += peer.encrypted ? 1 : 0;
      authenticated += peer.authenticated ? 1 : 0;
    }
  }
  info["authenticated_peers"] = authenticated;
  info["bytes_recv"] = tunnel ? tunnel->bytes_recv : 0;
  info["bytes_sent"] = tunnel ? tunnel->bytes_sent : 0;
  info["encrypted_peers"] = encrypted;
  info["frames_dropped"] = tunnel ? tunnel->frames_dropped : 0;
  info["peer_list"] = tunnel ? make_peer_list(*tunnel) : boost::json::array{};
  info["peers"] = tunnel ? tunnel->peers.size() : 0;
  info["pkts_recv"] = tunnel ? tunnel->pkts_recv : 0;
  info["pkts_sent"] = tunnel ? tunnel->pkts_sent : 0;
}

void add_transport(boost::json::object& info,
                   const std::optional<actors::transport_summary>& transport) {
  info["conn_list"] = transport ? transport->conn_list : boost::json::array{};
  info["connections"] = transport ? transport->connections : 0;
  info["ports"] = transport ? transport->ports : 0;
}

} // namespace

boost::json::object make_info_json(const info_parts& parts,
                                   const info_settings& settings) {
  const auto& node = parts.node;
  boost::json::object info;
  info["address"] = node.address;
  info["config_file"] = settings.config_file;
  info["data_dir"] = settings.data_dir;
  info["pid"] = settings.pid;
  boost::json::array webhook_flags;
  for (const auto& flag : settings.webhook_flags)
    webhook_flags.emplace_back(flag);
  info["webhook_flags"] = std::move(webhook_flags);
  info["encrypt"] = settings.encrypt;
  info["hostname"] = node.hostname;
  info["identity"] = settings.identity_configured;
  info["node_id"] = node.node_id;
  info["owner"] = node.owner;
  info["public_key"] = node.public_key;
  info["registered"] = node.registered;
  info["registry"] = settings.registry;
  info["registry_error"] = node.registry_error;
  info["uptime_secs"] = settings.uptime_secs;
  add_tunnel(info, parts.tunnel);
  add_transport(info, parts.transport);
  if (parts.webhook)
    info["webhook"] = make_webhook_stats_json(*parts.webhook);
  else
    info["webhook"] = nullptr;
  return info;
}

boost::json::object
make_webhook_stats_json(const webhook::webhook_stats& stats) {
  boost::json::object out;
  out["buffer_size"] = stats.buffer_size;
  out["buffered"] = stats.buffered;
  out["ca_file"] = stats.ca_file;
  out["concurrency"] = stats.concurrency;
  out["delivered"] = stats.delivered;
  out["dropped"] = stats.dropped;
  out["dropped_disabled"] = stats.dropped_disabled;
  out["dropped_down"] = stats.dropped_down;
  out["dropped_filtered"] = stats.dropped_filtered;
  out["dropped_full"] = stats.dropped_full;
  out["dropped_oversize"] = stats.dropped_oversize;
  out["emitted"] = stats.emitted;
  out["events"] = stats.events;
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
  out["retried"] = stats.retried;
  out["retries"] = stats.retries;
  out["secrets"] = stats.secrets;
  out["state"] = stats.state;
  out["timeout_ms"] = stats.timeout_ms;
  out["url"] = stats.url;
  return out;
}

boost::json::object
make_webhook_test_json(const webhook::attempt_result& result) {
  bool delivered
      = result.responded() && result.status >= 200 && result.status <= 299;
  std::string failure;
  std::string error;
  if (!result.responded()) {
    failure = result.failure_class;
    error = result.detail.empty() ? result.failure_class : result.detail;
  } else if (!delivered) {
    failure = result.status >= 300 && result.status <= 399   ? "status_3xx"
              : result.status >= 400 && result.status <= 499 ? "status_4xx"
                                                             : "status_5xx";
    error = "the receiver responded with HTTP status "
            + std::to_string(result.status);
  }
  boost::json::object out;
  out["delivered"] = delivered;
  out["error"] = error;
  out["failure"] = failure;
  out["latency_ms"] = static_cast<double>(result.latency_us) / 1000.0;
  out["status"] = result.status;
  return out;
}

} // namespace pilot::control
