#include "protocol/webhook_envelope.hpp"

#include "protocol/utf8.hpp"

#include <boost/describe/class.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <cstdio>
#include <exception>
#include <string_view>

namespace pilot::protocol {

// The keys of `data` are the member names of each event, in declaration
// order, and Boost.JSON derives each value's JSON type from the member type.
BOOST_DESCRIBE_STRUCT(node_registered, (), (address, endpoint))
BOOST_DESCRIBE_STRUCT(node_reregistered, (), (address))
BOOST_DESCRIBE_STRUCT(conn_syn_received, (),
                      (src_addr, src_port, dst_port, conn_id))
BOOST_DESCRIBE_STRUCT(conn_established, (),
                      (src_addr, src_port, dst_port, conn_id))
BOOST_DESCRIBE_STRUCT(conn_fin, (),
                      (remote_addr, remote_port, local_port, conn_id))
BOOST_DESCRIBE_STRUCT(conn_rst, (),
                      (remote_addr, remote_port, local_port, conn_id))
BOOST_DESCRIBE_STRUCT(conn_idle_timeout, (),
                      (remote_addr, remote_port, local_port, conn_id))
BOOST_DESCRIBE_STRUCT(tunnel_peer_added, (), (peer_node_id, endpoint))
BOOST_DESCRIBE_STRUCT(tunnel_established, (),
                      (peer_node_id, authenticated, relay, rekeyed))
BOOST_DESCRIBE_STRUCT(tunnel_relay_activated, (), (peer_node_id))
BOOST_DESCRIBE_STRUCT(security_syn_rate_limited, (), (src_addr, src_port))
BOOST_DESCRIBE_STRUCT(security_nonce_replay, (), (peer_node_id, counter))
BOOST_DESCRIBE_STRUCT(data_datagram, (), (src_addr, src_port, dst_port, size))
BOOST_DESCRIBE_STRUCT(message_received, (), (type, from, size))
BOOST_DESCRIBE_STRUCT(file_received, (), (filename, size, path))
BOOST_DESCRIBE_STRUCT(handshake_received, (), (peer_node_id, justification))
BOOST_DESCRIBE_STRUCT(handshake_pending, (), (peer_node_id, justification))
BOOST_DESCRIBE_STRUCT(handshake_auto_approved, (), (peer_node_id, reason))
BOOST_DESCRIBE_STRUCT(handshake_approved, (), (peer_node_id))
BOOST_DESCRIBE_STRUCT(handshake_rejected, (), (peer_node_id, reason))
BOOST_DESCRIBE_STRUCT(trust_revoked, (), (peer_node_id))
BOOST_DESCRIBE_STRUCT(trust_revoked_by_peer, (), (peer_node_id))
BOOST_DESCRIBE_STRUCT(pubsub_subscribed, (), (topic, remote))
BOOST_DESCRIBE_STRUCT(pubsub_unsubscribed, (), (topic, remote))
BOOST_DESCRIBE_STRUCT(pubsub_published, (), (topic, size, from))
BOOST_DESCRIBE_STRUCT(webhook_test, (), (message))

namespace {

boost::json::value data_of(const node_deregistered&) {
  return nullptr;
}

template <class Event>
boost::json::value data_of(const Event& x) {
  auto result = boost::json::value_from(x);
  // Peers supply hostnames, justifications, topics and file names.
  for (auto& member : result.as_object()) {
    auto* text = member.value().if_string();
    if (text == nullptr)
      continue;
    std::string_view view{text->data(), text->size()};
    if (!is_valid_utf8(view))
      *text = to_valid_utf8(view);
  }
  return result;
}

// Returns the `\uXXXX` escape for the character at `pos` when Boost.JSON
// leaves it raw although it is a control character: DEL (U+007F), the C1
// controls (U+0080..U+009F) and the line and paragraph separators (U+2028,
// U+2029) that break JavaScript string literals. `length` receives the
// number of bytes of the character.
std::string_view raw_control_escape(std::string_view json, std::size_t pos,
                                    std::size_t& length) {
  static constexpr std::string_view c1_escapes[] = {
      "\\u0080", "\\u0081", "\\u0082", "\\u0083", "\\u0084", "\\u0085",
      "\\u0086", "\\u0087", "\\u0088", "\\u0089", "\\u008a", "\\u008b",
      "\\u008c", "\\u008d", "\\u008e", "\\u008f", "\\u0090", "\\u0091",
      "\\u0092", "\\u0093", "\\u0094", "\\u0095", "\\u0096", "\\u0097",
      "\\u0098", "\\u0099", "\\u009a", "\\u009b", "\\u009c", "\\u009d",
      "\\u009e", "\\u009f",
  };
  auto byte = [&](std::size_t i) {
    return pos + i < json.size() ? static_cast<unsigned char>(json[pos + i])
                                 : 0u;
  };
  if (byte(0) == 0x7F) {
    length = 1;
    return "\\u007f";
  }
  if (byte(0) == 0xC2 && byte(1) >= 0x80 && byte(1) <= 0x9F) {
    length = 2;
    return c1_escapes[byte(1) - 0x80];
  }
  if (byte(0) == 0xE2 && byte(1) == 0x80
      && (byte(2) == 0xA8 || byte(2) == 0xA9)) {
    length = 3;
    return byte(2) == 0xA8 ? "\\u2028" : "\\u2029";
  }
  return {};
}

// The input is valid UTF-8 JSON text, in which these characters can only
// occur inside strings, so escaping them keeps every value the same.
std::string escape_raw_controls(std::string json) {
  std::size_t length = 0;
  std::size_t first = 0;
  while (first < json.size() && raw_control_escape(json, first, length).empty())
    ++first;
  if (first == json.size())
    return json;
  std::string result{json, 0, first};
  for (std::size_t pos = first; pos < json.size();) {
    auto escape = raw_control_escape(json, pos, length);
    if (escape.empty()) {
      result.push_back(json[pos++]);
    } else {
      result.append(escape);
      pos += length;
    }
  }
  return result;
}

} // namespace

std::string format_utc_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto millis = floor<milliseconds>(t);
  auto day = floor<days>(millis);
  year_month_day date{day};
  hh_mm_ss time{millis - day};
  char text[64];
  std::snprintf(
      text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
      static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
      static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
      static_cast<int>(time.minutes().count()),
      static_cast<int>(time.seconds().count()),
      static_cast<int>(time.subseconds().count()));
  return text;
}

std::string serialize_envelope(const envelope_header& header,
                               const event& e) noexcept {
  try {
    auto name = event_name(e);
    if (name.empty())
      return {};
    boost::json::object body;
    body.reserve(5);
    body.emplace("event", name);
    body.emplace("node_id", header.node_id);
    body.emplace("timestamp", format_utc_timestamp(header.raised_at));
    body.emplace("data",
                 std::visit([](const auto& x) { return data_of(x); }, e));
    body.emplace("event_id", header.event_id);
    return escape_raw_controls(boost::json::serialize(body));
  } catch (const std::exception&) {
    // Out of memory, or a string beyond Boost.JSON's size limit.
    return {};
  }
}

} // namespace pilot::protocol
