#include "protocol/events.hpp"

namespace pilot::protocol {

namespace {

// One overload per alternative, so adding an event without a name fails to
// compile instead of sending a wrong name.
constexpr std::string_view name_of(const node_registered&) {
  return "node.registered";
}
constexpr std::string_view name_of(const node_reregistered&) {
  return "node.reregistered";
}
constexpr std::string_view name_of(const node_deregistered&) {
  return "node.deregistered";
}
constexpr std::string_view name_of(const conn_syn_received&) {
  return "conn.syn_received";
}
constexpr std::string_view name_of(const conn_established&) {
  return "conn.established";
}
constexpr std::string_view name_of(const conn_fin&) {
  return "conn.fin";
}
constexpr std::string_view name_of(const conn_rst&) {
  return "conn.rst";
}
constexpr std::string_view name_of(const conn_idle_timeout&) {
  return "conn.idle_timeout";
}
constexpr std::string_view name_of(const tunnel_peer_added&) {
  return "tunnel.peer_added";
}
constexpr std::string_view name_of(const tunnel_established&) {
  return "tunnel.established";
}
constexpr std::string_view name_of(const tunnel_relay_activated&) {
  return "tunnel.relay_activated";
}
constexpr std::string_view name_of(const security_syn_rate_limited&) {
  return "security.syn_rate_limited";
}
constexpr std::string_view name_of(const security_nonce_replay&) {
  return "security.nonce_replay";
}
constexpr std::string_view name_of(const data_datagram&) {
  return "data.datagram";
}
constexpr std::string_view name_of(const message_received&) {
  return "message.received";
}
constexpr std::string_view name_of(const file_received&) {
  return "file.received";
}
constexpr std::string_view name_of(const handshake_received&) {
  return "handshake.received";
}
constexpr std::string_view name_of(const handshake_pending&) {
  return "handshake.pending";
}
constexpr std::string_view name_of(const handshake_auto_approved&) {
  return "handshake.auto_approved";
}
constexpr std::string_view name_of(const handshake_approved&) {
  return "handshake.approved";
}
constexpr std::string_view name_of(const handshake_rejected&) {
  return "handshake.rejected";
}
constexpr std::string_view name_of(const trust_revoked&) {
  return "trust.revoked";
}
constexpr std::string_view name_of(const trust_revoked_by_peer&) {
  return "trust.revoked_by_peer";
}
constexpr std::string_view name_of(const pubsub_subscribed&) {
  return "pubsub.subscribed";
}
constexpr std::string_view name_of(const pubsub_unsubscribed&) {
  return "pubsub.unsubscribed";
}
constexpr std::string_view name_of(const pubsub_published&) {
  return "pubsub.published";
}
constexpr std::string_view name_of(const webhook_test&) {
  return "webhook.test";
}

} // namespace

std::string_view event_name(const event& e) noexcept {
  // A variant left valueless by a throwing assignment has no name.
  if (e.valueless_by_exception())
    return {};
  return std::visit([](const auto& x) { return name_of(x); }, e);
}

std::string to_string(const event& e) {
  return std::string{event_name(e)};
}

} // namespace pilot::protocol
