#pragma once

#include "protocol/beacon_message.hpp"

#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pilot::actors {

/// Tunables of the beacon. The bounds exist because any host that can send
/// a UDP datagram to the beacon can grow its tables.
struct beacon_config {
  /// The ID this beacon puts in its Syncs; 0 means a standalone beacon.
  std::uint32_t beacon_id = 0;
  /// Peer beacons. Syncs go to them, and the beacon accepts Syncs and
  /// forwarded relays only from them.
  std::vector<boost::asio::ip::udp::endpoint> peers;
  /// A node entry expires this long after the node was last heard from. A
  /// daemon sends Discover every 30 s, after each registry heartbeat.
  std::chrono::seconds entry_ttl{120};
  /// A node entry moves to a new IP address only after it has not been
  /// refreshed from its recorded endpoint for this long.
  std::chrono::seconds takeover_after{45};
  /// A peer's Sync is forgotten this long after it arrived. Go peers send
  /// one every 10 s, so the default allows two to be lost.
  std::chrono::seconds peer_ttl{35};
  /// Maximum number of node entries, in total and per source address (an
  /// IPv6 source counts by its /64 prefix).
  std::size_t max_nodes = 100'000;
  std::size_t max_nodes_per_source = 256;
  /// Maximum number of node IDs remembered from all peers' Syncs together.
  std::size_t max_peer_nodes = 100'000;
  /// Maximum number of peers.
  std::size_t max_peers = 64;
  /// Maximum relay payload. The default is the largest payload whose Relay
  /// datagram fits in UDP over IPv4.
  std::size_t max_relay_payload
      = protocol::max_udp_payload_size - protocol::relay_header_size;
  /// Maximum number of Discovers and PunchRequests per source address per
  /// second. A busy NAT with 256 daemons sends about 9 Discovers a second.
  std::uint32_t max_requests_per_second = 50;
  /// Maximum number of source addresses rate-limited within one second; a
  /// new source beyond it is rate-limited at once.
  std::size_t max_rate_sources = 65'536;
};

/// Counters of what the beacon did since it started.
struct beacon_stats {
  std::uint64_t datagrams = 0;
  /// Datagrams too short for their type or with an invalid IP length.
  std::uint64_t malformed = 0;
  /// Datagrams of a type a beacon does not receive: unknown types, tunnel
  /// frames, punch packets, DiscoverReply, PunchCommand and RelayDeliver.
  std::uint64_t unexpected = 0;
  /// Discovers and PunchRequests over `max_requests_per_second`.
  std::uint64_t rate_limited = 0;
  std::uint64_t discovers = 0;
  /// Node entries that moved to a new endpoint.
  std::uint64_t moves = 0;
  /// Claims of a live node entry from another IP address, rejected.
  std::uint64_t takeovers_rejected = 0;
  /// New node entries rejected by `max_nodes` or `max_nodes_per_source`.
  std::uint64_t table_full = 0;
  /// PunchRequests that sent PunchCommands to both nodes.
  std::uint64_t punches = 0;
  /// PunchRequests dropped: unknown target, or a requester that could not
  /// claim its node ID.
  std::uint64_t punches_dropped = 0;
  std::uint64_t relays_delivered = 0;
  std::uint64_t relays_forwarded = 0;
  /// Relays dropped: unknown sender or destination, empty or oversized.
  std::uint64_t relays_dropped = 0;
  std::uint64_t syncs_accepted = 0;
  /// Syncs from a source that is no peer.
  std::uint64_t syncs_rejected = 0;
  /// Node entries removed because they expired.
  std::uint64_t expired = 0;
};

/// Formats `endpoint` as `IP:PORT`, or `[IP]:PORT` for IPv6.
std::string format_endpoint(const boost::asio::ip::udp::endpoint& endpoint);

/// Returns `endpoint` with an IPv4-mapped IPv6 address replaced by the IPv4
/// address, as a dual-stack socket reports IPv4 peers.
boost::asio::ip::udp::endpoint
unmap_endpoint(const boost::asio::ip::udp::endpoint& endpoint);

/// A datagram the beacon sends.
struct outgoing_datagram {
  boost::asio::ip::udp::endpoint destination;
  std::vector<std::uint8_t> bytes;
};

/// The beacon: its tables and the rules of every datagram, with no I/O.
/// `handle` takes one received datagram and returns what to send; the caller
/// owns the socket and the clock, calls `expire` and sends `sync_datagrams`
/// periodically. Not thread-safe: one thread calls everything.
///
/// The wire format is the Go reference's, which has no authentication. The
/// rules below close what they can without changing it:
/// - node entries expire and every table is bounded;
/// - a live node entry moves to another IP address only once it went quiet
///   (see `takeover_after`);
/// - a node relays only under the node ID recorded for its own endpoint;
/// - Syncs are accepted only from configured peers, and a relay that a peer
///   forwarded is delivered locally but never forwarded again, so a relay
///   crosses at most two beacons and cannot loop.
class beacon_service {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  /// Throws `std::invalid_argument` for more peers than `max_peers`.
  explicit beacon_service(beacon_config config = {});

  /// Handles one datagram from `source` and returns the datagrams to send.
  /// A datagram that cannot be decoded is counted and dropped.
  std::vector<outgoing_datagram>
  handle(std::span<const std::uint8_t> datagram,
         const boost::asio::ip::udp::endpoint& source, time_point now);

  /// Returns one Sync per peer listing the live local node IDs, at most
  /// `protocol::max_sync_node_ids` of them.
  std::vector<outgoing_datagram> sync_datagrams(time_point now) const;

  /// Removes expired node entries and peer Syncs. Returns how many node
  /// entries it removed.
  std::size_t expire(time_point now);

  /// Returns the live endpoint recorded for `node_id`, or nothing.
  std::optional<boost::asio::ip::udp::endpoint>
  endpoint_of(std::uint32_t node_id, time_point now) const;

  /// Returns how many node entries the table holds, expired or not.
  std::size_t node_count() const noexcept { return nodes_.size(); }

  /// Returns how many node IDs the peers' Syncs list in total.
  std::size_t peer_node_count() const noexcept { return peer_node_count_; }

  const beacon_stats& stats() const noexcept { return stats_; }

  const beacon_config& config() const noexcept { return config_; }

private:
  struct node_entry {
    boost::asio::ip::udp::endpoint endpoint;
    time_point last_seen;
  };

  struct peer_state {
    boost::asio::ip::udp::endpoint endpoint;
    std::uint32_t beacon_id = 0;
    std::unordered_set<std::uint32_t> node_ids;
    time_point synced;
  };

  /// Outcome of recording a node's endpoint.
  enum class claim_result { recorded, takeover_rejected, table_full };

  using udp_endpoint = boost::asio::ip::udp::endpoint;

  void on(const protocol::beacon_discover& m, const udp_endpoint& source,
          time_point now, std::vector<outgoing_datagram>& out);
  void on(const protocol::beacon_punch_request& m, const udp_endpoint& source,
          time_point now, std::vector<outgoing_datagram>& out);
  void on_relay(std::span<const std::uint8_t> datagram,
                protocol::beacon_relay&& m, const udp_endpoint& source,
                time_point now, std::vector<outgoing_datagram>& out);
  void on(const protocol::beacon_sync& m, const udp_endpoint& source,
          time_point now);

  claim_result claim(std::uint32_t node_id, const udp_endpoint& source,
                     time_point now);
  bool take_request_token(const udp_endpoint& source, time_point now);
  const node_entry* live_node(std::uint32_t node_id, time_point now) const;
  peer_state* peer_at(const udp_endpoint& source);
  const peer_state* peer_with(std::uint32_t node_id, time_point now) const;
  void count_source(const std::string& key, int delta);

  beacon_config config_;
  std::unordered_map<std::uint32_t, node_entry> nodes_;
  /// Node entries per source address key, for `max_nodes_per_source`.
  std::unordered_map<std::string, std::size_t> nodes_per_source_;
  std::vector<peer_state> peers_;
  std::size_t peer_node_count_ = 0;
  /// Requests per source address key in the current one-second window.
  std::unordered_map<std::string, std::uint32_t> requests_in_window_;
  time_point window_end_{};
  beacon_stats stats_;
};

} // namespace pilot::actors
