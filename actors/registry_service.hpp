#pragma once

#include "actors/detail/registry_rules.hpp"
#include "actors/detail/registry_state.hpp"
#include "protocol/registry_message.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pilot::actors {

/// The TCP peer that sent a registry request.
struct source_info {
  boost::asio::ip::address ip;
  std::uint16_t port = 0;
};

/// Tunables of the registry. The bounds exist because every table here can
/// be grown by clients.
struct registry_config {
  /// A node whose last heartbeat is older than this is removed by `reap`.
  std::chrono::seconds stale_after{180};
  /// How long a beacon stays in `beacon_list` after its last
  /// `beacon_register`.
  std::chrono::seconds beacon_ttl{60};
  /// `register` token bucket per source address: `register_burst` tokens,
  /// refilled at `register_burst` per `register_refill_period`.
  double register_burst = 10;
  std::chrono::seconds register_refill_period{60};
  /// A source's bucket is dropped after this long without use.
  std::chrono::seconds rate_bucket_idle{120};
  /// Maximum number of live nodes; `register` of a new node fails beyond it.
  std::size_t max_nodes = 100'000;
  /// Maximum number of keys remembered, live or departed. When full, the key of
  /// the node that departed first is forgotten (with its trust pairs and
  /// mailboxes), so that node gets a new ID if it ever returns.
  std::size_t max_known_keys = 400'000;
  /// Maximum number of trust pairs in total.
  std::size_t max_trust_pairs = 1'000'000;
  /// Maximum number of trust requests, and of trust responses, waiting per
  /// node.
  std::size_t mailbox_capacity = 100;
  /// Maximum size of a stored justification, in bytes; longer ones are cut at a
  /// UTF-8 character boundary.
  std::size_t max_justification_size = 1024;
  /// Maximum size of the `owner` that `register` accepts, in bytes.
  std::size_t max_owner_size = 256;
  /// Maximum number of beacons in the directory, and maximum size of a
  /// beacon address in bytes.
  std::size_t max_beacons = 1024;
  std::size_t max_beacon_addr_size = 256;
  /// Maximum number of sources with a rate-limit bucket at a time.
  std::size_t max_rate_buckets = 65'536;
};

/// Counters of what the registry did since it started.
struct registry_stats {
  std::uint64_t requests = 0;
  /// Requests that got the error frame, for any reason.
  std::uint64_t failures = 0;
  std::uint64_t bad_signatures = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t registrations = 0;
  std::uint64_t reaped = 0;
};

/// The registry: its tables and the rules of every request, with no I/O.
/// `handle` takes one request body and returns the response body; the
/// caller owns the sockets, the clock and the store file. Not thread-safe:
/// one thread (the listener's io_context) calls everything.
///
/// Every failure returns the generic error frame
/// `{"error":"request failed","type":"error"}`, as the Go reference does; the
/// reason goes to the log at debug level. Network management
/// (`create_network`, `join_network`, `leave_network`) and replication
/// (`subscribe_replication`) always fail.
class registry_service {
public:
  using clock = detail::registry_clock;
  using time_point = detail::registry_time;

  /// Starts with only the backbone network, created at `now`.
  explicit registry_service(registry_config config = {},
                            time_point now = clock::now());

  /// Handles one request body. Returns nothing when the body is not a JSON
  /// object (nor `null`): the caller then closes the connection without a
  /// reply, as the reference does.
  std::optional<std::string> handle(std::string_view request_body,
                                    const source_info& source, time_point now);

  /// Handles one decoded request and returns the response body.
  std::string handle(const protocol::registry_request& request,
                     const source_info& source, time_point now);

  /// Removes nodes not heard from within `stale_after`, beacons older than
  /// `beacon_ttl` and idle rate-limit buckets. Returns how many nodes it
  /// removed.
  std::size_t reap(time_point now);

  /// Returns whether the persistent tables changed since the last
  /// `mark_saved`.
  bool dirty() const noexcept { return dirty_; }

  /// Serializes the persistent tables (the store file).
  std::string snapshot() const;

  /// Clears `dirty` once a snapshot is safely on disk.
  void mark_saved() noexcept { dirty_ = false; }

  /// Replaces all tables with a store file's. Every loaded node counts as
  /// seen at `now`, because heartbeats are not saved: a restart would
  /// otherwise reap every node whose last save is older than `stale_after`.
  /// Throws `std::invalid_argument` for an invalid file and then keeps the
  /// current tables.
  void load(std::string_view store_json, time_point now);

  /// Returns the counters.
  const registry_stats& stats() const noexcept { return stats_; }

  /// Returns how many nodes are registered.
  std::size_t node_count() const noexcept { return state_.nodes.size(); }

  const registry_config& config() const noexcept { return config_; }

private:
  /// A handler's outcome: the response body, or why the request failed.
  struct outcome;

  outcome on(const protocol::unknown_request& request, const source_info&,
             time_point);
  outcome on(const protocol::register_request& request,
             const source_info& source, time_point now);
  outcome on(const protocol::heartbeat_request& request, const source_info&,
             time_point now);
  outcome on(const protocol::deregister_request& request, const source_info&,
             time_point now);
  outcome on(const protocol::lookup_request& request, const source_info&,
             time_point);
  outcome on(const protocol::resolve_request& request, const source_info&,
             time_point);
  outcome on(const protocol::resolve_hostname_request& request,
             const source_info&, time_point);
  outcome on(const protocol::set_hostname_request& request, const source_info&,
             time_point);
  outcome on(const protocol::set_visibility_request& request,
             const source_info&, time_point);
  outcome on(const protocol::set_tags_request& request, const source_info&,
             time_point);
  outcome on(const protocol::set_task_exec_request& request, const source_info&,
             time_point);
  outcome on(const protocol::report_trust_request& request, const source_info&,
             time_point);
  outcome on(const protocol::revoke_trust_request& request, const source_info&,
             time_point);
  outcome on(const protocol::request_handshake_request& request,
             const source_info&, time_point now);
  outcome on(const protocol::poll_handshakes_request& request,
             const source_info&, time_point);
  outcome on(const protocol::respond_handshake_request& request,
             const source_info&, time_point now);
  outcome on(const protocol::punch_request& request, const source_info&,
             time_point);
  outcome on(const protocol::rotate_key_request& request, const source_info&,
             time_point now);
  outcome on(const protocol::update_polo_score_request& request,
             const source_info&, time_point now);
  outcome on(const protocol::set_polo_score_request& request,
             const source_info&, time_point now);
  outcome on(const protocol::get_polo_score_request& request,
             const source_info&, time_point);
  outcome on(const protocol::list_networks_request& request, const source_info&,
             time_point);
  outcome on(const protocol::list_nodes_request& request, const source_info&,
             time_point);
  outcome on(const protocol::beacon_register_request& request,
             const source_info&, time_point now);
  outcome on(const protocol::beacon_list_request& request, const source_info&,
             time_point now);

  // Table helpers that keep the indexes consistent.
  void remove_node(std::uint32_t id);
  void forget_key(const std::string& key);
  void forget_node_id(std::uint32_t id);
  bool make_room_for_key();
  void index_key(const std::string& key, std::uint32_t id);
  void mark_live(const std::string& key);
  bool add_trust_pair(std::uint32_t a, std::uint32_t b);
  bool take_register_token(const source_info& source, time_point now);
  boost::system::result<std::uint32_t, std::string>
  node_id_for(const std::string& key, const std::string& owner);
  detail::node_record& create_node(std::uint32_t id,
                                   const protocol::public_key& key,
                                   const std::string& canonical,
                                   const std::string& owner);
  bool assign_hostname(detail::node_record& node, const std::string& hostname);
  outcome check_signature(const detail::node_record& node,
                          const std::string& challenge,
                          std::string_view signature);
  outcome signed_node(std::uint32_t id, const std::string& challenge,
                      std::string_view signature, detail::node_record*& node);

  registry_config config_;
  detail::registry_state state_;
  std::unordered_map<std::string, detail::token_bucket> rate_buckets_;
  registry_stats stats_;
  bool dirty_ = false;
};

} // namespace pilot::actors
