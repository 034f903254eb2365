#pragma once

#include "protocol/identity.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

/// The registry's tables as plain data, shared by the request handlers and
/// the store format. Only `registry_service` changes them.
namespace pilot::actors::detail {

using registry_clock = std::chrono::system_clock;
using registry_time = registry_clock::time_point;

/// One registered (live) node.
struct node_record {
  std::uint32_t id = 0;
  std::string owner;
  protocol::public_key key{};
  std::string key_base64; ///< Canonical base64 of `key`.
  std::string real_addr;  ///< The endpoint, `ip:port` or `[ip]:port`.
  std::vector<std::uint16_t> networks;
  bool is_public = false;
  registry_time last_seen{};
  std::string hostname;
  std::vector<std::string> tags;
  std::int64_t polo_score = 0;
  bool task_exec = false;
};

/// A network with its members. Only the backbone (ID 0) is created by this
/// server; other networks come only from a store written by an older server.
struct network_record {
  std::uint16_t id = 0;
  std::string name;
  std::string join_rule;
  std::string token;
  std::set<std::uint32_t> members;
  registry_time created{};
};

/// A trust request waiting in the target's mailbox.
struct mailbox_request {
  std::uint32_t from_node_id = 0;
  std::string justification;
  registry_time timestamp{};
};

/// A response waiting in the original requester's mailbox.
struct mailbox_response {
  std::uint32_t from_node_id = 0;
  bool accept = false;
  registry_time timestamp{};
};

/// The key index entry of a public key, live or departed.
struct key_entry {
  std::uint32_t node_id = 0;
  /// Position in `registry_state::departed_keys` while the node is gone,
  /// 0 while it is live.
  std::uint64_t departed_sequence = 0;
};

/// A beacon in the directory.
struct beacon_record {
  std::string addr;
  registry_time last_seen{};
};

/// The persistent tables (the store file) plus the in-memory ones.
struct registry_state {
  std::uint32_t next_node = 1;
  std::uint16_t next_net = 1;
  std::map<std::uint32_t, node_record> nodes;
  std::map<std::uint16_t, network_record> networks;
  /// Undirected trust pairs as an adjacency map: `b` is in `trust[a]` exactly
  /// when `a` is in `trust[b]`.
  std::unordered_map<std::uint32_t, std::set<std::uint32_t>> trust;
  std::size_t trust_pair_count = 0;
  /// Canonical base64 of every key ever registered (until evicted) to its ID.
  std::unordered_map<std::string, key_entry> keys;
  /// The key of every ID in `keys`; each ID has exactly one key.
  std::unordered_map<std::uint32_t, std::string> key_by_id;
  /// Keys of departed nodes, oldest departure first, for eviction.
  std::map<std::uint64_t, std::string> departed_keys;
  std::uint64_t next_departure = 1;
  std::unordered_map<std::string, std::uint32_t> owners;
  std::unordered_map<std::string, std::uint32_t> hostnames;
  std::map<std::uint32_t, std::deque<mailbox_request>> inbox;
  std::map<std::uint32_t, std::deque<mailbox_response>> responses;
  std::map<std::uint32_t, beacon_record> beacons;
};

} // namespace pilot::actors::detail
