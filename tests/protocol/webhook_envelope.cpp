#include "protocol/webhook_envelope.hpp"

#include "protocol/utf8.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdlib>
#include <ctime>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace pilot::protocol;
using namespace std::chrono;
using namespace std::string_literals;

namespace {

enum class json_type { string, number, boolean };

struct expected_event {
  event value;
  std::string name;
  std::vector<std::pair<std::string, json_type>> fields;
};

constexpr auto str = json_type::string;
constexpr auto num = json_type::number;
constexpr auto boolean = json_type::boolean;

// The data fields of every event with its JSON type, written out from the
// webhook contract rather than derived from the structs.
std::vector<expected_event> all_expected_events() {
  return {
      {node_registered{"0:0000.0000.0005", "1.2.3.4:4000"},
       "node.registered",
       {{"address", str}, {"endpoint", str}}},
      {node_reregistered{"0:0000.0000.0005"},
       "node.reregistered",
       {{"address", str}}},
      {conn_syn_received{"0:0000.0000.0007", 1000, 80, 9},
       "conn.syn_received",
       {{"src_addr", str},
        {"src_port", num},
        {"dst_port", num},
        {"conn_id", num}}},
      {conn_established{"0:0000.0000.0007", 1000, 80, 9},
       "conn.established",
       {{"src_addr", str},
        {"src_port", num},
        {"dst_port", num},
        {"conn_id", num}}},
      {conn_fin{"0:0000.0000.0007", 1000, 80, 9},
       "conn.fin",
       {{"remote_addr", str},
        {"remote_port", num},
        {"local_port", num},
        {"conn_id", num}}},
      {conn_rst{"0:0000.0000.0007", 1000, 80, 9},
       "conn.rst",
       {{"remote_addr", str},
        {"remote_port", num},
        {"local_port", num},
        {"conn_id", num}}},
      {conn_idle_timeout{"0:0000.0000.0007", 1000, 80, 9},
       "conn.idle_timeout",
       {{"remote_addr", str},
        {"remote_port", num},
        {"local_port", num},
        {"conn_id", num}}},
      {tunnel_peer_added{7, "10.0.0.7:4000"},
       "tunnel.peer_added",
       {{"peer_node_id", num}, {"endpoint", str}}},
      {tunnel_established{7, true, false, true},
       "tunnel.established",
       {{"peer_node_id", num},
        {"authenticated", boolean},
        {"relay", boolean},
        {"rekeyed", boolean}}},
      {tunnel_relay_activated{7},
       "tunnel.relay_activated",
       {{"peer_node_id", num}}},
      {security_syn_rate_limited{"0:0000.0000.0007", 1000},
       "security.syn_rate_limited",
       {{"src_addr", str}, {"src_port", num}}},
      {security_nonce_replay{7, 99},
       "security.nonce_replay",
       {{"peer_node_id", num}, {"counter", num}}},
      {data_datagram{"0:0000.0000.0007", 1000, 80, 12},
       "data.datagram",
       {{"src_addr", str},
        {"src_port", num},
        {"dst_port", num},
        {"size", num}}},
      {message_received{"TEXT", "0:0000.0000.0007", 5},
       "message.received",
       {{"type", str}, {"from", str}, {"size", num}}},
      {file_received{"report.pdf", 2048, "/home/u/.pilot/received/report.pdf"},
       "file.received",
       {{"filename", str}, {"size", num}, {"path", str}}},
      {handshake_received{7, "want to collaborate"},
       "handshake.received",
       {{"peer_node_id", num}, {"justification", str}}},
      {handshake_pending{7, "want to collaborate"},
       "handshake.pending",
       {{"peer_node_id", num}, {"justification", str}}},
      {handshake_auto_approved{7, "mutual"},
       "handshake.auto_approved",
       {{"peer_node_id", num}, {"reason", str}}},
      {handshake_approved{7}, "handshake.approved", {{"peer_node_id", num}}},
      {handshake_rejected{7, "no"},
       "handshake.rejected",
       {{"peer_node_id", num}, {"reason", str}}},
      {trust_revoked{7}, "trust.revoked", {{"peer_node_id", num}}},
      {trust_revoked_by_peer{7},
       "trust.revoked_by_peer",
       {{"peer_node_id", num}}},
      {pubsub_subscribed{"news", "0:0000.0000.0007:1002"},
       "pubsub.subscribed",
       {{"topic", str}, {"remote", str}}},
      {pubsub_unsubscribed{"news", "0:0000.0000.0007:1002"},
       "pubsub.unsubscribed",
       {{"topic", str}, {"remote", str}}},
      {pubsub_published{"news", 42, "0:0000.0000.0007:1002"},
       "pubsub.published",
       {{"topic", str}, {"size", num}, {"from", str}}},
      {webhook_test{}, "webhook.test", {{"message", str}}},
  };
}

bool has_type(const boost::json::value& value, json_type type) {
  switch (type) {
    case json_type::string:
      return value.is_string();
    case json_type::number:
      return value.is_int64() || value.is_uint64();
    case json_type::boolean:
      return value.is_bool();
  }
  return false;
}

system_clock::time_point at(sys_days day, milliseconds time_of_day) {
  return system_clock::time_point{day} + time_of_day;
}

envelope_header header_at(system_clock::time_point t) {
  return envelope_header{1, 5, t};
}

const auto example_time
    = at(sys_days{2026y / 1 / 15}, 12h + 34min + 56s + 789ms);

std::string data_string(const std::string& body, const char* key) {
  auto parsed = boost::json::parse(body);
  return std::string{parsed.at("data").at(key).as_string()};
}

} // namespace

TEST_CASE("the documented example serializes byte for byte") {
  auto body = serialize_envelope(envelope_header{42, 5, example_time},
                                 handshake_received{7, "want to collaborate"});
  CHECK(body
        == R"({"event":"handshake.received","node_id":5,)"
           R"("timestamp":"2026-01-15T12:34:56.789Z",)"
           R"("data":{"peer_node_id":7,"justification":"want to collaborate"},)"
           R"("event_id":42})");
}

TEST_CASE("envelope keys come in the documented order") {
  auto body = serialize_envelope(header_at(example_time), trust_revoked{7});
  auto parsed = boost::json::parse(body).as_object();
  std::vector<std::string> keys;
  for (const auto& member : parsed)
    keys.emplace_back(member.key());
  CHECK(keys
        == std::vector<std::string>{"event", "node_id", "timestamp", "data",
                                    "event_id"});
  CHECK(parsed.at("event").as_string() == "trust.revoked");
  CHECK(parsed.at("node_id").as_int64() == 5);
  CHECK(parsed.at("event_id").as_int64() == 1);
}

TEST_CASE("every event has its documented data fields and types") {
  for (const auto& expected : all_expected_events()) {
    CAPTURE(expected.name);
    auto body = serialize_envelope(header_at(example_time), expected.value);
    auto parsed = boost::json::parse(body);
    CHECK(parsed.at("event").as_string() == expected.name);
    const auto& data = parsed.at("data").as_object();
    REQUIRE(data.size() == expected.fields.size());
    auto member = data.begin();
    for (const auto& [key, type] : expected.fields) {
      CAPTURE(key);
      CHECK(member->key() == key);
      CHECK(has_type(member->value(), type));
      ++member;
    }
  }
}

TEST_CASE("the expected table covers every event but node.deregistered") {
  CHECK(all_expected_events().size() + 1 == std::variant_size_v<event>);
}

TEST_CASE("node.deregistered has null data") {
  auto body = serialize_envelope(header_at(example_time), node_deregistered{});
  CHECK(body.find(R"("data":null)") != std::string::npos);
  CHECK(boost::json::parse(body).at("data").is_null());
}

TEST_CASE("data values keep their numbers and booleans") {
  auto body = serialize_envelope(
      header_at(example_time),
      security_nonce_replay{4294967295u, std::numeric_limits<uint64_t>::max()});
  auto data = boost::json::parse(body).at("data");
  CHECK(data.at("peer_node_id").to_number<std::uint64_t>() == 4294967295u);
  CHECK(data.at("counter").as_uint64() == std::numeric_limits<uint64_t>::max());
  body = serialize_envelope(header_at(example_time),
                            tunnel_established{7, true, false, true});
  data = boost::json::parse(body).at("data");
  CHECK(data.at("authenticated").as_bool() == true);
  CHECK(data.at("relay").as_bool() == false);
  body = serialize_envelope(header_at(example_time),
                            conn_fin{"a", 65535, 1, 4294967295u});
  data = boost::json::parse(body).at("data");
  CHECK(data.at("remote_port").to_number<int>() == 65535);
  CHECK(data.at("conn_id").to_number<std::uint32_t>() == 4294967295u);
}

TEST_CASE("envelope header values are numbers") {
  envelope_header header{std::numeric_limits<uint64_t>::max(), 4294967295u,
                         example_time};
  auto parsed = boost::json::parse(serialize_envelope(header, trust_revoked{}));
  CHECK(parsed.at("node_id").to_number<std::uint32_t>() == 4294967295u);
  CHECK(parsed.at("event_id").as_uint64()
        == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("invalid UTF-8 from peers becomes U+FFFD") {
  auto body = serialize_envelope(header_at(example_time),
                                 handshake_received{7, "hi\xFF\xC0there\xED"
                                                       "\xA0\x80"});
  CHECK(is_valid_utf8(body));
  auto fffd = std::string{replacement_character};
  CHECK(data_string(body, "justification")
        == "hi" + fffd + fffd + "there" + fffd + fffd + fffd);
}

TEST_CASE("every control character is escaped") {
  auto controls = "a\0b\x01\t\n\r\x1F\x7F"s + "\xC2\x80\xC2\x85\xC2\x9F"
                  + "\xE2\x80\xA8\xE2\x80\xA9" + "\"\\z";
  auto body = serialize_envelope(header_at(example_time),
                                 pubsub_subscribed{controls, "r"});
  for (std::size_t i = 0; i < body.size(); ++i) {
    auto byte = static_cast<unsigned char>(body[i]);
    CHECK(byte >= 0x20);
    CHECK(byte != 0x7F);
    if (byte == 0xC2)
      CHECK((static_cast<unsigned char>(body[i + 1]) >= 0xA0));
    if (byte == 0xE2)
      CHECK(body.compare(i, 2, "\xE2\x80") != 0);
  }
  CHECK(body.find(R"(\u007f\u0080\u0085\u009f\u2028\u2029)")
        != std::string::npos);
  CHECK(data_string(body, "topic") == controls);
}

TEST_CASE("printable non-ASCII characters stay raw") {
  auto text = "caf\xC3\xA9 \xC2\xA0 \xE2\x82\xAC \xE2\x80\xA7"s;
  auto body = serialize_envelope(header_at(example_time),
                                 pubsub_subscribed{text, "r"});
  CHECK(body.find(text) != std::string::npos);
}

TEST_CASE("a 10 MiB string serializes") {
  std::string big(10 * 1024 * 1024, 'x');
  big[12345] = '\xFF';
  big[54321] = '\n';
  auto body = serialize_envelope(header_at(example_time),
                                 file_received{big, 1, "/p"});
  REQUIRE_FALSE(body.empty());
  CHECK(is_valid_utf8(body));
  auto filename = data_string(body, "filename");
  CHECK(filename.size() == big.size() + 2);
  CHECK(filename.compare(12345, 3, replacement_character) == 0);
  CHECK(filename[54323] == '\n');
}

TEST_CASE("timestamps have exactly millisecond precision") {
  auto day = sys_days{2024y / 2 / 29};
  CHECK(format_utc_timestamp(at(day, 0ms)) == "2024-02-29T00:00:00.000Z");
  CHECK(format_utc_timestamp(at(day, 23h + 59min + 59s + 999ms))
        == "2024-02-29T23:59:59.999Z");
  CHECK(format_utc_timestamp(at(day, 7ms)) == "2024-02-29T00:00:00.007Z");
}

TEST_CASE("timestamps truncate sub-millisecond time") {
  auto day = system_clock::time_point{sys_days{2026y / 2 / 27}};
  CHECK(format_utc_timestamp(day + 123456789ns) == "2026-02-27T00:00:00.123Z");
  CHECK(format_utc_timestamp(day + 999999999ns) == "2026-02-27T00:00:00.999Z");
  CHECK(format_utc_timestamp(day + 1999999us) == "2026-02-27T00:00:01.999Z");
  CHECK(format_utc_timestamp(system_clock::time_point{} - 1ns)
        == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("timestamps are UTC whatever TZ says") {
  const char* saved = std::getenv("TZ");
  std::string old = saved != nullptr ? saved : "";
  for (auto zone : {"America/New_York", "Asia/Kolkata", "EST5EDT", "XYZ-14"}) {
    CAPTURE(zone);
    setenv("TZ", zone, 1);
    tzset();
    auto body = serialize_envelope(header_at(example_time), trust_revoked{});
    CHECK(boost::json::parse(body).at("timestamp").as_string()
          == "2026-01-15T12:34:56.789Z");
  }
  if (saved != nullptr)
    setenv("TZ", old.c_str(), 1);
  else
    unsetenv("TZ");
  tzset();
}
