#include "protocol/webhook_filter.hpp"

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace pilot::protocol;

namespace {

event_filter parsed(std::string_view list) {
  auto result = parse_event_filter(list);
  REQUIRE_MESSAGE(result.has_value(), list);
  return *result;
}

std::string rejection(std::string_view list) {
  auto result = parse_event_filter(list);
  REQUIRE_FALSE_MESSAGE(result.has_value(), list);
  return result.error().message;
}

std::set<std::string> selected_names(const event_filter& filter) {
  std::set<std::string> result;
  for (auto name : all_event_names())
    if (filter.matches(name))
      result.emplace(name);
  return result;
}

} // namespace

TEST_CASE("the event names come from the event variant") {
  const auto& names = all_event_names();
  CHECK(names.size() == std::variant_size_v<event>);
  CHECK(names.front() == "node.registered");
  CHECK(names.back() == "webhook.test");
  CHECK(std::set<std::string_view>(names.begin(), names.end()).size()
        == names.size());
}

TEST_CASE("a default filter selects every event") {
  event_filter filter;
  CHECK(filter.selects_all());
  CHECK(filter.text() == "*");
  CHECK(selected_names(filter).size() == all_event_names().size());
  CHECK(filter.matches(event{trust_revoked{1}}));
}

TEST_CASE("an empty or blank list selects every event") {
  for (auto list : {"", " ", "\t \n"}) {
    CAPTURE(list);
    auto filter = parsed(list);
    CHECK(filter.selects_all());
    CHECK(filter.text() == "*");
  }
  auto from_items = parse_event_filter(std::vector<std::string>{});
  REQUIRE(from_items.has_value());
  CHECK(from_items->selects_all());
}

TEST_CASE("a star selects every event") {
  auto filter = parsed(" * ");
  CHECK(filter.selects_all());
  CHECK(filter.text() == "*");
  CHECK(parsed("conn.fin,*").text() == "*");
}

TEST_CASE("an exact name selects only that event") {
  auto filter = parsed("trust.revoked");
  CHECK_FALSE(filter.selects_all());
  CHECK(selected_names(filter) == std::set<std::string>{"trust.revoked"});
  CHECK(filter.matches("trust.revoked"));
  CHECK_FALSE(filter.matches("trust.revoked_by_peer"));
  CHECK(filter.matches(event{trust_revoked{1}}));
  CHECK_FALSE(filter.matches(event{trust_revoked_by_peer{1}}));
  CHECK(filter.text() == "trust.revoked");
}

TEST_CASE("a category glob selects every event of the category") {
  auto filter = parsed("conn.*");
  CHECK(selected_names(filter)
        == std::set<std::string>{"conn.syn_received", "conn.established",
                                 "conn.fin", "conn.rst", "conn.idle_timeout"});
  CHECK_FALSE(filter.matches("node.registered"));
  CHECK(filter.matches(event{conn_fin{}}));
}

TEST_CASE("items combine and whitespace around them is ignored") {
  auto filter = parsed(" handshake.* ,\ttrust.revoked , node.registered ");
  CHECK(selected_names(filter)
        == std::set<std::string>{"handshake.received", "handshake.pending",
                                 "handshake.auto_approved",
                                 "handshake.approved", "handshake.rejected",
                                 "trust.revoked", "node.registered"});
  CHECK(filter.text() == "handshake.*,trust.revoked,node.registered");
}

TEST_CASE("repeated item appears once") {
  auto filter = parsed("conn.*, conn.fin,conn.*,conn.fin");
  CHECK(filter.text() == "conn.*,conn.fin");
}

TEST_CASE("the test event cannot be selected") {
  for (auto list : {"webhook.test", "conn.fin,webhook.*"}) {
    CAPTURE(list);
    CHECK(rejection(list).starts_with("webhook_events cannot select webhook."));
  }
  CHECK(parsed("*").matches("webhook.test"));
}

TEST_CASE("every known category has a glob") {
  for (auto category : {"node", "conn", "tunnel", "handshake", "trust",
                        "message", "file", "data", "pubsub", "security"}) {
    CAPTURE(category);
    auto filter = parsed(std::string{category} + ".*");
    auto names = selected_names(filter);
    REQUIRE_FALSE(names.empty());
    for (const auto& name : names)
      CHECK(name.starts_with(std::string{category} + "."));
  }
}

TEST_CASE("unknown names are never matched") {
  CHECK_FALSE(event_filter{}.matches("conn.open"));
  CHECK_FALSE(parsed("conn.*").matches("conn."));
  CHECK_FALSE(parsed("conn.*").matches(""));
}

TEST_CASE("an empty item is rejected") {
  for (auto list : {"conn.fin,,conn.rst", "conn.fin,", ",conn.fin", " , "}) {
    CAPTURE(list);
    CHECK(rejection(list)
          == "webhook_events has an empty item; separate event names with "
             "single commas");
  }
}

TEST_CASE("an unknown event name is rejected by name") {
  CHECK(rejection("conn.fin, conn.open")
        == "unknown webhook event \"conn.open\" in webhook_events; use *, an "
           "event name such as conn.fin, or a category such as conn.*");
}

TEST_CASE("every unknown item is named") {
  CHECK(rejection("bogus.*,conn.fin,Conn.Fin,conn*,*.fin,.*")
        == "unknown webhook events \"bogus.*\", \"Conn.Fin\", \"conn*\", "
           "\"*.fin\", \".*\" in webhook_events; use *, an event name such "
           "as conn.fin, or a category such as conn.*");
}

TEST_CASE("a list longer than the limit is rejected") {
  std::string list = "conn.fin";
  while (list.size() <= max_event_filter_size)
    list += ",conn.fin";
  CHECK(rejection(list) == "webhook_events is longer than 4096 bytes");
}

TEST_CASE("items of a vector may be comma lists themselves") {
  auto filter = parse_event_filter(
      std::vector<std::string>{"conn.fin, conn.rst", "trust.*"});
  REQUIRE(filter.has_value());
  CHECK(selected_names(*filter)
        == std::set<std::string>{"conn.fin", "conn.rst", "trust.revoked",
                                 "trust.revoked_by_peer"});
  CHECK(filter->text() == "conn.fin,conn.rst,trust.*");
  auto empty_item
      = parse_event_filter(std::vector<std::string>{"conn.fin", ""});
  CHECK_FALSE(empty_item.has_value());
}

TEST_CASE("value() throws invalid_argument with the message") {
  CHECK_THROWS_AS(parse_event_filter("nope").value(), std::invalid_argument);
}

TEST_CASE("filters compare by the events they select") {
  CHECK(parsed("conn.*")
        == parsed("conn.syn_received,conn.established,"
                  "conn.fin,conn.rst,conn.idle_timeout"));
  CHECK_FALSE(parsed("conn.*") == parsed("conn.fin"));
}
