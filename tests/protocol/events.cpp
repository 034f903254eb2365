#include "protocol/events.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <set>
#include <string>
#include <utility>

using namespace pilot::protocol;

namespace {

template <std::size_t... Is>
std::array<event, sizeof...(Is)> all_events(std::index_sequence<Is...>) {
  return {event{std::in_place_index<Is>}...};
}

std::array<event, std::variant_size_v<event>> all_events() {
  return all_events(std::make_index_sequence<std::variant_size_v<event>>{});
}

bool is_event_name(std::string_view name) {
  auto dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size())
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = name[i];
    if (i != dot && !(c >= 'a' && c <= 'z') && c != '_')
      return false;
  }
  return true;
}

} // namespace

TEST_CASE("the event variant has the 26 network events and webhook.test") {
  CHECK(std::variant_size_v<event> == 27);
}

TEST_CASE("every event name is distinct and well formed") {
  std::set<std::string> names;
  for (const auto& e : all_events()) {
    auto name = std::string{event_name(e)};
    CHECK_MESSAGE(is_event_name(name), name);
    names.insert(name);
  }
  CHECK(names.size() == 27);
}

TEST_CASE("event names match the webhook event types") {
  std::set<std::string> expected{
      "node.registered",
      "node.reregistered",
      "node.deregistered",
      "conn.syn_received",
      "conn.established",
      "conn.fin",
      "conn.rst",
      "conn.idle_timeout",
      "tunnel.peer_added",
      "tunnel.established",
      "tunnel.relay_activated",
      "handshake.received",
      "handshake.pending",
      "handshake.approved",
      "handshake.rejected",
      "handshake.auto_approved",
      "trust.revoked",
      "trust.revoked_by_peer",
      "message.received",
      "file.received",
      "data.datagram",
      "pubsub.subscribed",
      "pubsub.unsubscribed",
      "pubsub.published",
      "security.syn_rate_limited",
      "security.nonce_replay",
      "webhook.test",
  };
  std::set<std::string> actual;
  for (const auto& e : all_events())
    actual.insert(std::string{event_name(e)});
  CHECK(actual == expected);
}

TEST_CASE("event names belong to their structs") {
  CHECK(event_name(node_registered{}) == "node.registered");
  CHECK(event_name(conn_idle_timeout{}) == "conn.idle_timeout");
  CHECK(event_name(tunnel_relay_activated{}) == "tunnel.relay_activated");
  CHECK(event_name(security_nonce_replay{}) == "security.nonce_replay");
  CHECK(event_name(handshake_auto_approved{}) == "handshake.auto_approved");
  CHECK(event_name(trust_revoked_by_peer{}) == "trust.revoked_by_peer");
  CHECK(event_name(pubsub_published{}) == "pubsub.published");
  CHECK(event_name(webhook_test{}) == "webhook.test");
}

TEST_CASE("to_string prints the event name") {
  CHECK(to_string(event{file_received{"a.txt", 3, "/tmp/a.txt"}})
        == "file.received");
}
