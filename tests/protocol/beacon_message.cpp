#include "protocol/beacon_message.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace pilot::protocol;
using bytes = std::vector<std::uint8_t>;

namespace {

// Parses space-separated hex bytes such as "01 00 ff".
bytes hex(std::string_view text) {
  bytes out;
  std::string digits;
  for (char c : text)
    if (c != ' ')
      digits.push_back(c);
  REQUIRE(digits.size() % 2 == 0);
  for (std::size_t i = 0; i < digits.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(
        std::stoul(digits.substr(i, 2), nullptr, 16)));
  return out;
}

bytes text_bytes(std::string_view text) {
  return bytes(text.begin(), text.end());
}

beacon_endpoint endpoint(std::string_view ip, std::uint16_t port) {
  return {boost::asio::ip::make_address(std::string{ip}), port};
}

// Decodes `datagram` and returns the message of type T, failing the test
// when decoding fails or yields another type.
template <class T>
T decode_as(const bytes& datagram) {
  auto decoded = decode_beacon_message(datagram);
  REQUIRE(decoded.has_value());
  REQUIRE(std::holds_alternative<T>(*decoded));
  return std::get<T>(*decoded);
}

// Checks that `message` encodes to `expected` and decodes back to itself.
template <class T>
void check_vector(const T& message, std::string_view expected) {
  CHECK_EQ(encode_beacon_message(message), hex(expected));
  CHECK_EQ(encode_beacon_message(beacon_message{message}), hex(expected));
  CHECK(decode_as<T>(hex(expected)) == message);
}

boost::system::error_code decode_error(const bytes& datagram) {
  auto decoded = decode_beacon_message(datagram);
  REQUIRE_FALSE(decoded.has_value());
  return decoded.error();
}

} // namespace

TEST_CASE("beacon Discover vectors") {
  check_vector(beacon_discover{1}, "01 00 00 00 01");
  check_vector(beacon_discover{0}, "01 00 00 00 00");
}

TEST_CASE("beacon DiscoverReply vector for IPv4") {
  check_vector(beacon_discover_reply{endpoint("203.0.113.7", 4000)},
               "02 04 cb 00 71 07 0f a0");
}

TEST_CASE("beacon DiscoverReply vector for IPv6") {
  check_vector(beacon_discover_reply{endpoint("2001:db8::1", 4000)},
               "02 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 0f a0");
}

TEST_CASE("beacon PunchRequest vector") {
  check_vector(beacon_punch_request{1, 2}, "03 00 00 00 01 00 00 00 02");
}

TEST_CASE("beacon PunchCommand vector") {
  check_vector(beacon_punch_command{endpoint("198.51.100.9", 5000)},
               "04 04 c6 33 64 09 13 88");
}

TEST_CASE("beacon Relay vector") {
  check_vector(beacon_relay{1, 2, text_bytes("PILT")},
               "05 00 00 00 01 00 00 00 02 50 49 4c 54");
}

TEST_CASE("beacon RelayDeliver vector") {
  check_vector(beacon_relay_deliver{1, text_bytes("PILT")},
               "06 00 00 00 01 50 49 4c 54");
}

TEST_CASE("beacon Sync vector") {
  check_vector(beacon_sync{7, {1, 2}},
               "07 00 00 00 07 00 02 00 00 00 01 00 00 00 02");
}

TEST_CASE("beacon punch packet vector") {
  CHECK_EQ(bytes(punch_packet.begin(), punch_packet.end()), hex("50494c50"));
  CHECK(is_punch_packet(hex("50 49 4c 50")));
  CHECK_FALSE(is_punch_packet(hex("50 49 4c")));
  CHECK_FALSE(is_punch_packet(hex("50 49 4c 54")));
  CHECK_EQ(decode_error(hex("50 49 4c 50")),
           make_error_code(errc::unknown_type));
}

TEST_CASE("beacon endpoint encodes an IPv4-mapped address as 4 bytes") {
  check_vector(beacon_discover_reply{endpoint("203.0.113.7", 4000)},
               "02 04 cb 00 71 07 0f a0");
  CHECK_EQ(encode_beacon_message(
               beacon_punch_command{endpoint("::ffff:203.0.113.7", 4000)}),
           hex("04 04 cb 00 71 07 0f a0"));
}

TEST_CASE("beacon Relay with an empty payload round-trips") {
  check_vector(beacon_relay{300, 400, {}}, "05 00 00 01 2c 00 00 01 90");
}

TEST_CASE("beacon Sync with no node IDs round-trips") {
  check_vector(beacon_sync{0, {}}, "07 00 00 00 00 00 00");
}

TEST_CASE("beacon decoder ignores bytes after the fixed fields") {
  CHECK_EQ(decode_as<beacon_discover>(hex("01 00 00 00 05 ff ff")).node_id, 5);
  CHECK_EQ(decode_as<beacon_punch_request>(hex("03 00 00 00 01 00 00 00 02 ff"))
               .target_id,
           2);
  CHECK_EQ(decode_as<beacon_discover_reply>(hex("02 04 cb 00 71 07 0f a0 00"))
               .observed,
           endpoint("203.0.113.7", 4000));
  CHECK_EQ(decode_as<beacon_sync>(
               hex("07 00 00 00 07 00 01 00 00 00 01 00 00 00 02"))
               .node_ids,
           std::vector<std::uint32_t>{1});
}

TEST_CASE("beacon decoder rejects truncated datagrams") {
  auto truncated = make_error_code(errc::truncated);
  for (auto text : {"", "01", "01 00 00 00", "02", "02 04 cb 00 71 07 0f",
                    "02 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 0f",
                    "03 00 00 00 01 00 00 00", "04 04 c6 33 64 09 13",
                    "05 00 00 00 01 00 00 00", "06 00 00 00 01",
                    "07 00 00 00 07 00", "07 00 00 00 07 00 02 00 00 00 01",
                    "07 00 00 00 07 00 02 00 00 00 01 00 00 00"}) {
    CAPTURE(text);
    CHECK_EQ(decode_error(hex(text)), truncated);
  }
}

TEST_CASE("beacon decoder rejects unknown types and tunnel frames") {
  auto unknown = make_error_code(errc::unknown_type);
  for (auto text : {"00 00 00 00 01", "08 00 00 00 01", "0f", "10 00",
                    "50 49 4c 54 00", "ff"}) {
    CAPTURE(text);
    CHECK_EQ(decode_error(hex(text)), unknown);
  }
}

TEST_CASE("beacon decoder rejects an IP length other than 4 or 16") {
  auto invalid = make_error_code(errc::invalid_field);
  for (auto text : {"02 00 0f a0", "02 05 cb 00 71 07 00 0f a0",
                    "04 06 00 00 00 00 00 00 13 88", "04 ff"}) {
    CAPTURE(text);
    CHECK_EQ(decode_error(hex(text)), invalid);
  }
}

TEST_CASE("beacon decoder survives every prefix of garbage") {
  // A fixed pseudo-random stream: every type byte, every prefix length.
  bytes garbage;
  std::uint32_t state = 0x12345678;
  for (int i = 0; i < 64; ++i) {
    state = state * 1103515245 + 12345;
    garbage.push_back(static_cast<std::uint8_t>(state >> 16));
  }
  for (std::uint8_t type = 0; type < 0x12; ++type) {
    garbage[0] = type;
    for (std::size_t n = 0; n <= garbage.size(); ++n) {
      auto decoded = decode_beacon_message(std::span{garbage}.first(n));
      if (decoded)
        CHECK(encode_beacon_message(*decoded).size() <= n);
    }
  }
}

TEST_CASE("beacon Sync encoder rejects more node IDs than the count holds") {
  beacon_sync sync{1, std::vector<std::uint32_t>(65536, 7)};
  CHECK_THROWS_AS(encode_beacon_message(sync), std::length_error);
  sync.node_ids.pop_back();
  CHECK_EQ(encode_beacon_message(sync).size(), 7 + 4 * 65535);
}

TEST_CASE("beacon Sync of the maximum node IDs fits one IPv4 datagram") {
  beacon_sync sync{1, std::vector<std::uint32_t>(max_sync_node_ids, 7)};
  CHECK(encode_beacon_message(sync).size() <= max_udp_payload_size);
  sync.node_ids.push_back(7);
  CHECK(encode_beacon_message(sync).size() > max_udp_payload_size);
}
