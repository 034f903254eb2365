#pragma once

#include "protocol/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// Typed registry messages (the JSON bodies of registry frames).
///
/// `encode_registry_message(m)` writes the body exactly as the Go reference
/// encodes it: sorted keys, compact, HTML-safe escaping, and `type` set from
/// the struct. `decode_registry_message<T>(body)` reads a body leniently, the
/// way the Go reference reads `map[string]interface{}`:
/// - a number that is not a non-negative integer within the field's range
///   (after truncating fractions), or a non-number, reads as 0;
/// - a non-boolean reads as false, a non-string as "";
/// - the last of duplicate keys wins and unknown keys are ignored;
/// - `type` is not checked, because the Go client does not check it either;
///   use `is_error_response` first on responses.
/// The body must be a JSON object (or `null`, which reads as all defaults);
/// anything else fails with `errc::malformed_json`.
///
/// A `signature` field holds standard base64; an empty one is left out of
/// the encoded body, as the Go client does when it has no signer.
namespace pilot::protocol {

// -- requests -----------------------------------------------------------------

/// Registers a node's key and endpoint, or re-registers a known key.
struct register_request {
  static constexpr std::string_view type = "register";
  std::string listen_addr;
  std::string public_key; ///< Standard base64 of 32 bytes.
  std::string owner;      ///< Left out when empty.
  std::string hostname;   ///< Left out when empty.
};

struct heartbeat_request {
  static constexpr std::string_view type = "heartbeat";
  std::uint32_t node_id = 0;
  std::string signature;
};

struct deregister_request {
  static constexpr std::string_view type = "deregister";
  std::uint32_t node_id = 0;
  std::string signature;
};

struct lookup_request {
  static constexpr std::string_view type = "lookup";
  std::uint32_t node_id = 0;
};

/// Asks for the endpoint of `node_id` on behalf of `requester_id`.
struct resolve_request {
  static constexpr std::string_view type = "resolve";
  std::uint32_t node_id = 0;
  std::uint32_t requester_id = 0;
  std::string signature;
};

struct resolve_hostname_request {
  static constexpr std::string_view type = "resolve_hostname";
  std::string hostname;
};

/// Sets the hostname; an empty `hostname` clears it (and is still sent).
struct set_hostname_request {
  static constexpr std::string_view type = "set_hostname";
  std::uint32_t node_id = 0;
  std::string hostname;
  std::string signature;
};

/// JSON field `public`.
struct set_visibility_request {
  static constexpr std::string_view type = "set_visibility";
  std::uint32_t node_id = 0;
  bool is_public = false;
  std::string signature;
};

/// Replaces the tags; an empty list clears them. Non-string elements of
/// the JSON array are dropped when decoding.
struct set_tags_request {
  static constexpr std::string_view type = "set_tags";
  std::uint32_t node_id = 0;
  std::vector<std::string> tags;
  std::string signature;
};

struct set_task_exec_request {
  static constexpr std::string_view type = "set_task_exec";
  std::uint32_t node_id = 0;
  bool enabled = false;
  std::string signature;
};

struct report_trust_request {
  static constexpr std::string_view type = "report_trust";
  std::uint32_t node_id = 0;
  std::uint32_t peer_id = 0;
  std::string signature;
};

struct revoke_trust_request {
  static constexpr std::string_view type = "revoke_trust";
  std::uint32_t node_id = 0;
  std::uint32_t peer_id = 0;
  std::string signature;
};

/// Leaves a trust request in the mailbox of `to_node_id`.
struct request_handshake_request {
  static constexpr std::string_view type = "request_handshake";
  std::uint32_t from_node_id = 0;
  std::uint32_t to_node_id = 0;
  std::string justification; ///< Always sent, even when empty.
  std::string signature;
};

struct poll_handshakes_request {
  static constexpr std::string_view type = "poll_handshakes";
  std::uint32_t node_id = 0;
  std::string signature;
};

/// `node_id` answers the trust request that `peer_id` left earlier.
struct respond_handshake_request {
  static constexpr std::string_view type = "respond_handshake";
  std::uint32_t node_id = 0;
  std::uint32_t peer_id = 0;
  bool accept = false;
  std::string signature;
};

struct punch_request {
  static constexpr std::string_view type = "punch";
  std::uint32_t requester_id = 0;
  std::uint32_t node_a = 0;
  std::uint32_t node_b = 0;
  std::string signature;
};

/// Signed with the node's current (old) key.
struct rotate_key_request {
  static constexpr std::string_view type = "rotate_key";
  std::uint32_t node_id = 0;
  std::string new_public_key;
  std::string signature;
};

/// Adds `delta`, truncated to an integer, to the node's polo score.
struct update_polo_score_request {
  static constexpr std::string_view type = "update_polo_score";
  std::uint32_t node_id = 0;
  std::int64_t delta = 0;
};

struct set_polo_score_request {
  static constexpr std::string_view type = "set_polo_score";
  std::uint32_t node_id = 0;
  std::int64_t polo_score = 0;
};

struct get_polo_score_request {
  static constexpr std::string_view type = "get_polo_score";
  std::uint32_t node_id = 0;
};

struct list_networks_request {
  static constexpr std::string_view type = "list_networks";
};

struct list_nodes_request {
  static constexpr std::string_view type = "list_nodes";
  std::uint16_t network_id = 0;
};

/// Announces a beacon to the registry's beacon directory.
struct beacon_register_request {
  static constexpr std::string_view type = "beacon_register";
  std::uint32_t beacon_id = 0;
  std::string addr;
};

struct beacon_list_request {
  static constexpr std::string_view type = "beacon_list";
};

/// A request whose `type` is missing or not one of the above (including the
/// network and replication messages, which the registry rejects).
struct unknown_request {
  std::string type;
};

/// Any request, as `decode_registry_request` returns it.
using registry_request = std::variant<
    unknown_request, register_request, heartbeat_request, deregister_request,
    lookup_request, resolve_request, resolve_hostname_request,
    set_hostname_request, set_visibility_request, set_tags_request,
    set_task_exec_request, report_trust_request, revoke_trust_request,
    request_handshake_request, poll_handshakes_request,
    respond_handshake_request, punch_request, rotate_key_request,
    update_polo_score_request, set_polo_score_request, get_polo_score_request,
    list_networks_request, list_nodes_request, beacon_register_request,
    beacon_list_request>;

// -- responses ----------------------------------------------------------------

struct register_response {
  static constexpr std::string_view type = "register_ok";
  std::uint32_t node_id = 0;
  std::uint16_t network_id = 0;
  std::string address;        ///< Backbone address text.
  std::string public_key;     ///< Standard base64.
  std::string hostname;       ///< Present only when set by this request.
  std::string hostname_error; ///< Why the requested hostname was not set.
};

/// `time` is the server's Unix time in seconds.
struct heartbeat_response {
  static constexpr std::string_view type = "heartbeat_ok";
  std::int64_t time = 0;
};

struct deregister_response {
  static constexpr std::string_view type = "deregister_ok";
};

/// Optional fields are left out when empty, false or absent; `real_addr`
/// appears only for public nodes.
struct lookup_response {
  static constexpr std::string_view type = "lookup_ok";
  std::uint32_t node_id = 0;
  std::string address;
  std::vector<std::uint16_t> networks;
  std::string public_key;
  bool is_public = false; ///< JSON field `public`.
  std::int64_t polo_score = 0;
  std::string hostname;
  std::vector<std::string> tags;
  bool task_exec = false;
  std::string real_addr;
};

struct resolve_response {
  static constexpr std::string_view type = "resolve_ok";
  std::uint32_t node_id = 0;
  std::string real_addr;
};

struct resolve_hostname_response {
  static constexpr std::string_view type = "resolve_hostname_ok";
  std::uint32_t node_id = 0;
  std::string address;
  bool is_public = false; ///< JSON field `public`.
  std::string hostname;
};

struct set_hostname_response {
  static constexpr std::string_view type = "set_hostname_ok";
  std::uint32_t node_id = 0;
  std::string hostname;
};

/// `visibility` is "public" or "private".
struct set_visibility_response {
  static constexpr std::string_view type = "set_visibility_ok";
  std::uint32_t node_id = 0;
  std::string visibility;
};

/// An empty `tags` encodes as `null`, as the Go server sends it.
struct set_tags_response {
  static constexpr std::string_view type = "set_tags_ok";
  std::uint32_t node_id = 0;
  std::vector<std::string> tags;
};

struct set_task_exec_response {
  static constexpr std::string_view type = "set_task_exec_ok";
  std::uint32_t node_id = 0;
  bool task_exec = false;
};

struct report_trust_response {
  static constexpr std::string_view type = "report_trust_ok";
};

struct revoke_trust_response {
  static constexpr std::string_view type = "revoke_trust_ok";
};

/// `status` is "delivered".
struct request_handshake_response {
  static constexpr std::string_view type = "request_handshake_ok";
  std::string status;
};

/// A trust request waiting in a mailbox; `timestamp` is Unix seconds.
struct handshake_request_entry {
  std::uint32_t from_node_id = 0;
  std::string justification;
  std::int64_t timestamp = 0;
};

/// An answer to one of our trust requests; `timestamp` is Unix seconds.
struct handshake_response_entry {
  std::uint32_t from_node_id = 0;
  bool accept = false;
  std::int64_t timestamp = 0;
};

/// Empty lists encode as `[]`.
struct poll_handshakes_response {
  static constexpr std::string_view type = "poll_handshakes_ok";
  std::vector<handshake_request_entry> requests;
  std::vector<handshake_response_entry> responses;
};

struct respond_handshake_response {
  static constexpr std::string_view type = "respond_handshake_ok";
  bool accept = false;
  std::uint32_t peer_id = 0;
};

struct punch_response {
  static constexpr std::string_view type = "punch_ok";
  std::uint32_t node_a = 0;
  std::string node_a_addr;
  std::uint32_t node_b = 0;
  std::string node_b_addr;
};

struct rotate_key_response {
  static constexpr std::string_view type = "rotate_key_ok";
  std::uint32_t node_id = 0;
  std::string address;
  std::string public_key;
};

/// The fields shared by the three polo score responses.
struct polo_score_fields {
  std::uint32_t node_id = 0;
  std::string address;
  std::int64_t polo_score = 0;
};

struct update_polo_score_response : polo_score_fields {
  static constexpr std::string_view type = "update_polo_score_ok";
};

struct set_polo_score_response : polo_score_fields {
  static constexpr std::string_view type = "set_polo_score_ok";
};

struct get_polo_score_response : polo_score_fields {
  static constexpr std::string_view type = "get_polo_score_ok";
};

/// One network in `list_networks_ok`; `members` is a count.
struct network_entry {
  std::uint16_t id = 0;
  std::string name;
  std::uint32_t members = 0;
  std::string join_rule;
};

struct list_networks_response {
  static constexpr std::string_view type = "list_networks_ok";
  std::vector<network_entry> networks;
};

/// One node in `list_nodes_ok`; optional fields are left out when empty.
struct node_entry {
  std::uint32_t node_id = 0;
  std::string address;
  std::string hostname;
  bool task_exec = false;
  std::string real_addr;
};

struct list_nodes_response {
  static constexpr std::string_view type = "list_nodes_ok";
  std::vector<node_entry> nodes;
};

struct beacon_register_response {
  static constexpr std::string_view type = "beacon_register_ok";
  std::uint32_t beacon_id = 0;
};

struct beacon_entry {
  std::uint32_t id = 0;
  std::string addr;
};

struct beacon_list_response {
  static constexpr std::string_view type = "beacon_list_ok";
  std::vector<beacon_entry> beacons;
};

/// The registry's failure frame. The reference server sends the same text,
/// "request failed", for every failure.
struct error_response {
  static constexpr std::string_view type = "error";
  std::string error = "request failed";
};

// -- encoding and decoding ----------------------------------------------------

/// The body of the registry's generic failure frame:
/// `{"error":"request failed","type":"error"}`.
inline constexpr std::string_view generic_error_body
    = R"({"error":"request failed","type":"error"})";

/// Encodes `message` (any request or response struct above) as the JSON body
/// the Go reference writes for it.
template <class Message>
std::string encode_registry_message(const Message& message);

/// Decodes `body` into `Message` with the lenient rules described at the top
/// of this header.
template <class Message>
result<Message> decode_registry_message(std::string_view body);

/// Decodes a request body and picks its struct by `type`. A body of `null`,
/// or an object without a known `type`, yields `unknown_request`.
/// Fails with `errc::malformed_json` when the body is not JSON or is neither
/// an object nor `null`.
result<registry_request> decode_registry_request(std::string_view body);

/// Returns whether a response body is a failure: true when it is a JSON
/// object with a string `error` field, whatever its `type`, as the Go client
/// decides. Invalid JSON counts as a failure too.
bool is_error_response(std::string_view body);

/// Returns the `error` text of a failure body, or "" when there is none.
std::string error_text(std::string_view body);

/// Returns the challenge string that the `signature` of `request` signs.
std::string signing_challenge(const heartbeat_request& request);
std::string signing_challenge(const deregister_request& request);
std::string signing_challenge(const resolve_request& request);
std::string signing_challenge(const set_hostname_request& request);
std::string signing_challenge(const set_visibility_request& request);
std::string signing_challenge(const set_tags_request& request);
std::string signing_challenge(const set_task_exec_request& request);
std::string signing_challenge(const report_trust_request& request);
std::string signing_challenge(const revoke_trust_request& request);
std::string signing_challenge(const request_handshake_request& request);
std::string signing_challenge(const poll_handshakes_request& request);
std::string signing_challenge(const respond_handshake_request& request);
std::string signing_challenge(const punch_request& request);
std::string signing_challenge(const rotate_key_request& request);

} // namespace pilot::protocol
