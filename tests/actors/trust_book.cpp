#include "actors/detail/trust_book.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <variant>

using namespace std::chrono_literals;
using namespace pilot::actors::detail;
namespace protocol = pilot::protocol;

namespace {

constexpr std::uint32_t self = 1;
constexpr std::uint32_t peer = 2;

const auto start = std::chrono::system_clock::time_point{1'772'200'000s};

template <class Event>
bool has_event(const trust_actions& actions) {
  for (const auto& event : actions.events)
    if (std::holds_alternative<Event>(event))
      return true;
  return false;
}

protocol::handshake_message message_at(std::int64_t timestamp) {
  protocol::handshake_message message;
  message.type = "handshake_request";
  message.node_id = peer;
  message.timestamp = timestamp;
  return message;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::floor<std::chrono::seconds>(time)
      .time_since_epoch()
      .count();
}

trust_actions direct_request(trust_book& book, std::uint16_t network = 0) {
  return book.on_request(handshake_source::direct, peer, "key", "why", network,
                         start);
}

} // namespace

TEST_CASE("a request from a stranger waits as pending") {
  trust_book book;
  auto out = direct_request(book);
  REQUIRE(out.events.size() == 2);
  auto* received = std::get_if<protocol::handshake_received>(&out.events[0]);
  REQUIRE(received != nullptr);
  CHECK(received->peer_node_id == peer);
  CHECK(received->justification == "why");
  auto* pending = std::get_if<protocol::handshake_pending>(&out.events[1]);
  REQUIRE(pending != nullptr);
  CHECK(pending->justification == "why");
  CHECK(out.save);
  CHECK(out.messages.empty());
  REQUIRE(book.records().pending.contains(peer));
  CHECK(book.records().pending.at(peer).public_key == "key");
  CHECK(book.records().pending.at(peer).received_at
        == std::chrono::floor<std::chrono::seconds>(start));
}

TEST_CASE("a crossed request is approved as mutual") {
  trust_book book;
  book.send_request(self, peer, "mine", start);
  REQUIRE(book.needs_network_check(peer) == false);
  auto out = direct_request(book);
  REQUIRE(out.events.size() == 2);
  auto* approved
      = std::get_if<protocol::handshake_auto_approved>(&out.events[1]);
  REQUIRE(approved != nullptr);
  CHECK(approved->reason == "mutual");
  CHECK(out.report_trust == std::vector<std::uint32_t>{peer});
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].kind == protocol::handshake_kind::accept);
  CHECK(book.records().trusted.at(peer).mutual);
  CHECK(book.records().outgoing.empty());
}

TEST_CASE("a request from the same network is approved") {
  trust_book book;
  CHECK(book.needs_network_check(peer));
  auto out = direct_request(book, 3);
  auto* approved
      = std::get_if<protocol::handshake_auto_approved>(&out.events[1]);
  REQUIRE(approved != nullptr);
  CHECK(approved->reason == "same_network");
  auto& entry = book.records().trusted.at(peer);
  CHECK_FALSE(entry.mutual);
  CHECK(entry.network == 3);
  CHECK(entry.public_key == "key");
}

TEST_CASE("a trusted peer asking again gets an accept") {
  trust_book book;
  direct_request(book, 3);
  auto out = direct_request(book);
  REQUIRE(out.events.size() == 1);
  CHECK(has_event<protocol::handshake_received>(out));
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].kind == protocol::handshake_kind::accept);
  CHECK(out.report_trust.empty());
}

TEST_CASE("a relayed request is answered through the registry") {
  trust_book book;
  book.send_request(self, peer, "mine", start);
  auto out = book.on_request(handshake_source::relayed, peer, "key", "why", 0,
                             start);
  CHECK(has_event<protocol::handshake_received>(out));
  CHECK(has_event<protocol::handshake_auto_approved>(out));
  CHECK(out.messages.empty());
  CHECK(out.report_trust.empty());
  REQUIRE(out.relay_answers.size() == 1);
  CHECK(out.relay_answers[0].accept);
}

TEST_CASE("the pending list stops growing when full") {
  trust_book book{trust_limits{.max_pending = 1}};
  direct_request(book);
  auto out = book.on_request(handshake_source::direct, 9, "k", "j", 0, start);
  CHECK(has_event<protocol::handshake_received>(out));
  CHECK_FALSE(has_event<protocol::handshake_pending>(out));
  CHECK_FALSE(out.note.empty());
  CHECK_FALSE(book.records().pending.contains(9));
  // The waiting peer may still replace its own request.
  auto again
      = book.on_request(handshake_source::direct, peer, "k", "new", 0, start);
  CHECK(has_event<protocol::handshake_pending>(again));
  CHECK(book.records().pending.at(peer).justification == "new");
}

TEST_CASE("an accept without our request is ignored") {
  trust_book book;
  auto out = book.on_accept(handshake_source::direct, peer, "key", start);
  CHECK_FALSE(out.save);
  CHECK_FALSE(out.note.empty());
  CHECK_FALSE(book.is_trusted(peer));
}

TEST_CASE("an accept of our request trusts the peer") {
  trust_book book;
  direct_request(book);
  book.send_request(self, peer, "mine", start);
  // The peer's earlier request is pending; the accept settles both.
  auto out = book.on_accept(handshake_source::direct, peer, "key", start);
  CHECK(out.save);
  REQUIRE(out.events.size() == 1);
  auto* approved
      = std::get_if<protocol::handshake_auto_approved>(&out.events[0]);
  REQUIRE(approved != nullptr);
  CHECK(approved->peer_node_id == peer);
  CHECK(approved->reason == "mutual");
  CHECK(out.report_trust == std::vector<std::uint32_t>{peer});
  CHECK(book.records().trusted.at(peer).mutual);
  CHECK_FALSE(book.records().pending.contains(peer));
  CHECK(book.records().outgoing.empty());
}

TEST_CASE("a relayed accept does not report trust again") {
  trust_book book;
  book.send_request(self, peer, "", start);
  auto out = book.on_accept(handshake_source::relayed, peer, "", start);
  // Nothing of the peer's was pending, so no event reports a settled one.
  CHECK(out.events.empty());
  CHECK(out.report_trust.empty());
  CHECK(book.is_trusted(peer));
  CHECK(book.backfill_key(peer, "key"));
  CHECK(book.records().trusted.at(peer).public_key == "key");
  CHECK_FALSE(book.backfill_key(peer, "other"));
}

TEST_CASE("a reject settles our request") {
  trust_book book;
  book.send_request(self, peer, "", start);
  auto out = book.on_reject(peer, "busy");
  CHECK(out.save);
  CHECK(out.note.find("busy") != std::string::npos);
  CHECK(book.records().outgoing.empty());
  CHECK_FALSE(book.on_reject(peer, "").save);
}

TEST_CASE("a revoke from a trusted peer is raised") {
  trust_book book;
  direct_request(book, 3);
  auto out = book.on_revoke(peer);
  REQUIRE(out.events.size() == 1);
  CHECK(std::holds_alternative<protocol::trust_revoked_by_peer>(out.events[0]));
  CHECK(out.revoke_trust == std::vector<std::uint32_t>{peer});
  CHECK(out.forget_tunnel == peer);
  CHECK(out.save);
  CHECK_FALSE(book.is_trusted(peer));
}

TEST_CASE("a revoke from a stranger raises nothing") {
  trust_book book;
  direct_request(book);
  auto out = book.on_revoke(peer);
  CHECK(out.events.empty());
  CHECK(out.revoke_trust.empty());
  CHECK_FALSE(out.forget_tunnel.has_value());
  // Its pending request is gone all the same.
  CHECK(out.save);
  CHECK(book.records().pending.empty());
}

TEST_CASE("sending a request records it as outgoing") {
  trust_book book;
  auto out = book.send_request(self, peer, "why", start);
  CHECK(out.error.empty());
  CHECK(out.save);
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0]
        == outbound_handshake{peer, protocol::handshake_kind::request, "why",
                              true});
  CHECK(book.records().outgoing.contains(peer));
}

TEST_CASE("a request to this node fails") {
  trust_book book;
  auto out = book.send_request(self, self, "why", start);
  CHECK(out.error == "node 1 is this node itself");
  CHECK(book.records().outgoing.empty());
}

TEST_CASE("a request to a trusted peer sends nothing") {
  trust_book book;
  direct_request(book, 3);
  auto out = book.send_request(self, peer, "why", start);
  CHECK(out.error.empty());
  CHECK(out.messages.empty());
  CHECK_FALSE(out.save);
}

TEST_CASE("a full outgoing list forgets the oldest request") {
  trust_book book{trust_limits{.max_outgoing = 2}};
  book.send_request(self, 10, "", start);
  book.send_request(self, 11, "", start + 1s);
  auto out = book.send_request(self, 12, "", start + 2s);
  CHECK_FALSE(out.note.empty());
  CHECK_FALSE(book.records().outgoing.contains(10));
  CHECK(book.records().outgoing.contains(11));
  CHECK(book.records().outgoing.contains(12));
}

TEST_CASE("approving a pending request trusts the peer") {
  trust_book book;
  direct_request(book);
  auto out = book.approve(peer, start + 5s);
  CHECK(out.error.empty());
  REQUIRE(out.events.size() == 1);
  CHECK(std::holds_alternative<protocol::handshake_approved>(out.events[0]));
  CHECK(out.report_trust == std::vector<std::uint32_t>{peer});
  CHECK(out.relay_answers == std::vector<relay_answer>{{peer, true}});
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].kind == protocol::handshake_kind::accept);
  auto& entry = book.records().trusted.at(peer);
  CHECK_FALSE(entry.mutual);
  CHECK(entry.public_key == "key");
  CHECK(entry.approved_at
        == std::chrono::floor<std::chrono::seconds>(start + 5s));
  CHECK(book.records().pending.empty());
}

TEST_CASE("approving without a pending request fails") {
  trust_book book;
  auto out = book.approve(peer, start);
  CHECK(out.error == "no pending request from node 2");
  CHECK(out.events.empty());
  CHECK_FALSE(out.save);
}

TEST_CASE("approving into a full trust list fails") {
  trust_book book{trust_limits{.max_trusted = 1}};
  book.on_request(handshake_source::direct, 9, "k", "", 4, start);
  direct_request(book);
  auto out = book.approve(peer, start);
  CHECK(out.error.find("trust list is full") != std::string::npos);
  CHECK(book.records().pending.contains(peer));
}

TEST_CASE("rejecting a pending request raises the reason") {
  trust_book book;
  direct_request(book);
  auto out = book.reject(peer, "no thanks");
  CHECK(out.error.empty());
  REQUIRE(out.events.size() == 1);
  auto* rejected = std::get_if<protocol::handshake_rejected>(&out.events[0]);
  REQUIRE(rejected != nullptr);
  CHECK(rejected->reason == "no thanks");
  CHECK(out.relay_answers == std::vector<relay_answer>{{peer, false}});
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].text == "no thanks");
  CHECK(book.records().pending.empty());
}

TEST_CASE("rejecting without a pending request fails") {
  trust_book book;
  auto out = book.reject(peer, "");
  CHECK(out.error == "no pending request from node 2");
  CHECK(out.events.empty());
}

TEST_CASE("revoking a trusted peer sends a revoke first") {
  trust_book book;
  direct_request(book, 3);
  auto out = book.revoke(peer);
  CHECK(out.error.empty());
  REQUIRE(out.events.size() == 1);
  CHECK(std::holds_alternative<protocol::trust_revoked>(out.events[0]));
  REQUIRE(out.messages.size() == 1);
  CHECK(out.messages[0].kind == protocol::handshake_kind::revoke);
  CHECK(out.revoke_trust == std::vector<std::uint32_t>{peer});
  CHECK(out.forget_tunnel == peer);
  CHECK_FALSE(book.is_trusted(peer));
}

TEST_CASE("revoking an untrusted peer keeps its request") {
  trust_book book;
  direct_request(book);
  auto out = book.revoke(peer);
  CHECK(out.error == "node 2 was not trusted");
  CHECK_FALSE(out.save);
  CHECK(book.records().pending.contains(peer));
}

TEST_CASE("messages outside the age window are rejected") {
  trust_book book;
  auto now = unix_seconds(start);
  CHECK(book.check_fresh(message_at(now), start).empty());
  CHECK(book.check_fresh(message_at(now - 300), start).empty());
  CHECK(book.check_fresh(message_at(now + 30), start).empty());
  CHECK_FALSE(book.check_fresh(message_at(now - 301), start).empty());
  CHECK_FALSE(book.check_fresh(message_at(now + 31), start).empty());
  CHECK_FALSE(
      book.check_fresh(message_at(std::numeric_limits<std::int64_t>::min()),
                       start)
          .empty());
  CHECK_FALSE(
      book.check_fresh(message_at(std::numeric_limits<std::int64_t>::max()),
                       start)
          .empty());
}

TEST_CASE("a replayed message is rejected") {
  trust_book book;
  auto message = message_at(unix_seconds(start));
  REQUIRE(book.check_fresh(message, start).empty());
  REQUIRE(book.remember(message, start));
  CHECK(book.check_fresh(message, start + 1s) == "the message is a replay");
  auto other = message;
  other.justification = "different";
  CHECK(book.check_fresh(other, start + 1s).empty());
}

TEST_CASE("replay entries expire after their lifetime") {
  trust_book book;
  auto message = message_at(unix_seconds(start));
  book.remember(message, start);
  CHECK(book.replay_size() == 1);
  book.check_fresh(message, start + 599s);
  CHECK(book.replay_size() == 1);
  book.check_fresh(message, start + 600s);
  CHECK(book.replay_size() == 0);
}

TEST_CASE("a full replay cache drops new messages") {
  trust_book book{trust_limits{.max_replay = 2}};
  auto now = unix_seconds(start);
  CHECK(book.remember(message_at(now), start));
  CHECK(book.remember(message_at(now + 1), start));
  CHECK_FALSE(book.remember(message_at(now + 2), start));
  // Once the first entries expire there is room again.
  CHECK(book.remember(message_at(now + 2), start + 600s));
}

TEST_CASE("the pending reply is Go JSON with Unix times") {
  trust_book book;
  CHECK(to_pending_json(book.records()) == R"({"pending":[]})");
  direct_request(book);
  CHECK(to_pending_json(book.records())
        == R"({"pending":[{"justification":"why","node_id":2,)"
           R"("public_key":"key","received_at":1772200000}]})");
}

TEST_CASE("the trusted reply is Go JSON with Unix times") {
  trust_book book;
  CHECK(to_trusted_json(book.records()) == R"({"trusted":[]})");
  direct_request(book, 3);
  CHECK(to_trusted_json(book.records())
        == R"({"trusted":[{"approved_at":1772200000,"mutual":false,)"
           R"("network":3,"node_id":2,"public_key":"key"}]})");
}

TEST_CASE("the zero time is Go's zero time in Unix seconds") {
  trust_records records;
  records.trusted[4] = trusted_peer{};
  CHECK(to_trusted_json(records).find(R"("approved_at":-62135596800)")
        != std::string::npos);
}
