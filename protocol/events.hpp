#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

/// The typed events that the daemon's actors raise and the webhook actor
/// delivers. Each struct is the `data` object of one webhook event; its
/// fields keep the names and JSON types of the webhook contract. The structs
/// carry no I/O and no CAF types, so any actor can build one cheaply.
namespace pilot::protocol {

// -- node lifecycle -----------------------------------------------------------

/// `node.registered`: the first successful registration of this run.
struct node_registered {
  std::string address;  ///< Our address, `N:NNNN.HHHH.LLLL`.
  std::string endpoint; ///< The `host:port` we sent as `listen_addr`.
};

/// `node.reregistered`: a successful re-registration.
struct node_reregistered {
  std::string address;
};

/// `node.deregistered`: the daemon is stopping. Serialized with `data: null`.
struct node_deregistered {};

// -- connections --------------------------------------------------------------

/// `conn.syn_received`: an inbound SYN created a connection.
struct conn_syn_received {
  std::string src_addr;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t conn_id = 0;
};

/// `conn.established`: the accepting side sent its SYN-ACK.
struct conn_established {
  std::string src_addr;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t conn_id = 0;
};

/// `conn.fin`: the first FIN on a known connection.
struct conn_fin {
  std::string remote_addr;
  std::uint16_t remote_port = 0;
  std::uint16_t local_port = 0;
  std::uint32_t conn_id = 0;
};

/// `conn.rst`: an RST on a known connection.
struct conn_rst {
  std::string remote_addr;
  std::uint16_t remote_port = 0;
  std::uint16_t local_port = 0;
  std::uint32_t conn_id = 0;
};

/// `conn.idle_timeout`: the idle sweep closed a connection.
struct conn_idle_timeout {
  std::string remote_addr;
  std::uint16_t remote_port = 0;
  std::uint16_t local_port = 0;
  std::uint32_t conn_id = 0;
};

// -- tunnels ------------------------------------------------------------------

/// `tunnel.peer_added`: a packet arrived from a node not in the peer table.
struct tunnel_peer_added {
  std::uint32_t peer_node_id = 0;
  std::string endpoint; ///< UDP `ip:port`.
};

/// `tunnel.established`: a key exchange was processed.
struct tunnel_established {
  std::uint32_t peer_node_id = 0;
  bool authenticated = false;
  bool relay = false;
  bool rekeyed = false;
};

/// `tunnel.relay_activated`: the first beacon relay delivery from a peer.
struct tunnel_relay_activated {
  std::uint32_t peer_node_id = 0;
};

// -- security -----------------------------------------------------------------

/// `security.syn_rate_limited`: the global SYN bucket is empty.
struct security_syn_rate_limited {
  std::string src_addr;
  std::uint16_t src_port = 0;
};

/// `security.nonce_replay`: a replayed nonce on an encrypted tunnel.
struct security_nonce_replay {
  std::uint32_t peer_node_id = 0;
  std::uint64_t counter = 0;
};

// -- data ---------------------------------------------------------------------

/// `data.datagram`: a non-empty datagram arrived.
struct data_datagram {
  std::string src_addr;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::int64_t size = 0;
};

/// `message.received`: a typed message was saved to the inbox.
struct message_received {
  std::string type; ///< `TEXT`, `BINARY` or `JSON`.
  std::string from; ///< Sender address without a port.
  std::int64_t size = 0;
};

/// `file.received`: a file was saved to the received folder.
struct file_received {
  std::string filename;
  std::int64_t size = 0;
  std::string path;
};

// -- trust and handshakes -----------------------------------------------------

/// `handshake.received`: a trust request arrived.
struct handshake_received {
  std::uint32_t peer_node_id = 0;
  std::string justification;
};

/// `handshake.pending`: a trust request waits for approval.
struct handshake_pending {
  std::uint32_t peer_node_id = 0;
  std::string justification;
};

/// `handshake.auto_approved`: trust was granted without a local decision.
struct handshake_auto_approved {
  std::uint32_t peer_node_id = 0;
  std::string reason; ///< `mutual` or `same_network`.
};

/// `handshake.approved`: the local user approved a request.
struct handshake_approved {
  std::uint32_t peer_node_id = 0;
};

/// `handshake.rejected`: the local user rejected a request.
struct handshake_rejected {
  std::uint32_t peer_node_id = 0;
  std::string reason;
};

/// `trust.revoked`: the local user revoked trust in a peer.
struct trust_revoked {
  std::uint32_t peer_node_id = 0;
};

/// `trust.revoked_by_peer`: a trusted peer revoked its trust in us.
struct trust_revoked_by_peer {
  std::uint32_t peer_node_id = 0;
};

// -- pub/sub ------------------------------------------------------------------

/// `pubsub.subscribed`: a subscriber joined a topic.
struct pubsub_subscribed {
  std::string topic;
  std::string remote; ///< `addr:port`.
};

/// `pubsub.unsubscribed`: a subscriber left a topic.
struct pubsub_unsubscribed {
  std::string topic;
  std::string remote;
};

/// `pubsub.published`: an event was published to a topic.
struct pubsub_published {
  std::string topic;
  std::int64_t size = 0;
  std::string from; ///< `addr:port`.
};

// -- webhook ------------------------------------------------------------------

/// `webhook.test`: sent by `pilotctl webhook test` to check the receiver.
/// Never raised by anything that happens on the network.
struct webhook_test {
  std::string message = "test event from pilotctl webhook test";
};

/// Any one of the 26 webhook events of the network, or `webhook.test`.
using event = std::variant<
    node_registered, node_reregistered, node_deregistered, conn_syn_received,
    conn_established, conn_fin, conn_rst, conn_idle_timeout, tunnel_peer_added,
    tunnel_established, tunnel_relay_activated, security_syn_rate_limited,
    security_nonce_replay, data_datagram, message_received, file_received,
    handshake_received, handshake_pending, handshake_auto_approved,
    handshake_approved, handshake_rejected, trust_revoked,
    trust_revoked_by_peer, pubsub_subscribed, pubsub_unsubscribed,
    pubsub_published, webhook_test>;

/// Returns the webhook name of `e`, such as `node.registered`.
std::string_view event_name(const event& e) noexcept;

/// Returns the event name, so CAF can print an `event` message.
std::string to_string(const event& e);

} // namespace pilot::protocol
