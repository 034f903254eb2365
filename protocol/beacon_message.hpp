#pragma once

#include "protocol/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

/// Beacon datagrams: the UDP messages between nodes and a beacon, and between
/// beacons. The first byte is the message type and every type is below 0x10;
/// a first byte of 0x10 or above marks a tunnel frame, so a daemon can
/// distinguish the two on its single UDP socket. Integers are big-endian.
/// There is no authentication, checksum or version field.
///
/// | Type | Message       | Layout after the type byte                       |
/// |------|---------------|--------------------------------------------------|
/// | 0x01 | Discover      | node_id u32                                      |
/// | 0x02 | DiscoverReply | ip_len u8 (4 or 16), ip, port u16                |
/// | 0x03 | PunchRequest  | requester_id u32, target_id u32                  |
/// | 0x04 | PunchCommand  | ip_len u8 (4 or 16), ip, port u16                |
/// | 0x05 | Relay         | sender_id u32, dest_id u32, payload              |
/// | 0x06 | RelayDeliver  | sender_id u32, payload                           |
/// | 0x07 | Sync          | beacon_id u32, count u16, count x node_id u32    |
///
/// Decoders ignore bytes after the fixed fields, as the reference does.
namespace pilot::protocol {

/// The first byte of a beacon datagram.
enum class beacon_type : std::uint8_t {
  discover = 0x01,
  discover_reply = 0x02,
  punch_request = 0x03,
  punch_command = 0x04,
  relay = 0x05,
  relay_deliver = 0x06,
  sync = 0x07,
};

/// The lowest first byte of a tunnel frame; every lower value is a beacon
/// message type, known or not.
inline constexpr std::uint8_t first_tunnel_frame_byte = 0x10;

/// Size of the Relay header: type, sender and destination node IDs.
inline constexpr std::size_t relay_header_size = 9;

/// Size of the RelayDeliver header: type and sender node ID.
inline constexpr std::size_t relay_deliver_header_size = 5;

/// Largest UDP payload over IPv4 (65535 minus the IP and UDP headers).
inline constexpr std::size_t max_udp_payload_size = 65507;

/// Maximum number of node IDs one Sync datagram can list within
/// `max_udp_payload_size`.
inline constexpr std::size_t max_sync_node_ids = (max_udp_payload_size - 7) / 4;

/// The hole-punch packet a node sends to a peer after a PunchCommand: the
/// ASCII magic `PILP` and nothing else.
inline constexpr std::array<std::uint8_t, 4> punch_packet{0x50, 0x49, 0x4C,
                                                          0x50};

/// A UDP endpoint as DiscoverReply and PunchCommand carry it. An IPv4 address
/// and an IPv4-mapped IPv6 address both encode as 4 bytes.
struct beacon_endpoint {
  boost::asio::ip::address ip;
  std::uint16_t port = 0;

  friend bool operator==(const beacon_endpoint&, const beacon_endpoint&)
      = default;
};

/// 0x01, node to beacon: records the sender's observed endpoint under
/// `node_id` and requests a DiscoverReply carrying it. A daemon's start-up
/// probe uses node 0.
struct beacon_discover {
  std::uint32_t node_id = 0;

  friend bool operator==(const beacon_discover&, const beacon_discover&)
      = default;
};

/// 0x02, beacon to node: the endpoint the beacon observed as the source of a
/// Discover.
struct beacon_discover_reply {
  beacon_endpoint observed;

  friend bool operator==(const beacon_discover_reply&,
                         const beacon_discover_reply&)
      = default;
};

/// 0x03, node to beacon: requests that the beacon make both nodes punch a
/// hole towards each other.
struct beacon_punch_request {
  std::uint32_t requester_id = 0;
  std::uint32_t target_id = 0;

  friend bool operator==(const beacon_punch_request&,
                         const beacon_punch_request&)
      = default;
};

/// 0x04, beacon to node: send punch packets to `target`.
struct beacon_punch_command {
  beacon_endpoint target;

  friend bool operator==(const beacon_punch_command&,
                         const beacon_punch_command&)
      = default;
};

/// 0x05, node to beacon or beacon to beacon: deliver `payload` (a whole
/// tunnel frame) to `dest_id` on behalf of `sender_id`. The payload may be
/// empty.
struct beacon_relay {
  std::uint32_t sender_id = 0;
  std::uint32_t dest_id = 0;
  std::vector<std::uint8_t> payload;

  friend bool operator==(const beacon_relay&, const beacon_relay&) = default;
};

/// 0x06, beacon to node: a relayed tunnel frame from `sender_id`.
struct beacon_relay_deliver {
  std::uint32_t sender_id = 0;
  std::vector<std::uint8_t> payload;

  friend bool operator==(const beacon_relay_deliver&,
                         const beacon_relay_deliver&)
      = default;
};

/// 0x07, beacon to beacon: the node IDs that beacon `beacon_id` has in its
/// own table.
struct beacon_sync {
  std::uint32_t beacon_id = 0;
  std::vector<std::uint32_t> node_ids;

  friend bool operator==(const beacon_sync&, const beacon_sync&) = default;
};

/// Any decoded beacon datagram.
using beacon_message
    = std::variant<beacon_discover, beacon_discover_reply, beacon_punch_request,
                   beacon_punch_command, beacon_relay, beacon_relay_deliver,
                   beacon_sync>;

/// Encodes one message as a datagram.
std::vector<std::uint8_t> encode_beacon_message(const beacon_discover& m);
std::vector<std::uint8_t> encode_beacon_message(const beacon_discover_reply& m);
std::vector<std::uint8_t> encode_beacon_message(const beacon_punch_request& m);
std::vector<std::uint8_t> encode_beacon_message(const beacon_punch_command& m);
std::vector<std::uint8_t> encode_beacon_message(const beacon_relay& m);
std::vector<std::uint8_t> encode_beacon_message(const beacon_relay_deliver& m);

/// Encodes a Sync. Throws `std::length_error` for more than 65535 node IDs,
/// which the count field cannot express. A Sync fits in one UDP datagram
/// over IPv4 only with at most `max_sync_node_ids` node IDs.
std::vector<std::uint8_t> encode_beacon_message(const beacon_sync& m);

/// Encodes whichever message `m` holds.
std::vector<std::uint8_t> encode_beacon_message(const beacon_message& m);

/// Decodes a beacon datagram. Returns `errc::truncated` for an empty datagram
/// or one shorter than its type's fixed fields, `errc::unknown_type` for a
/// first byte that is no known beacon type (including every tunnel frame),
/// and `errc::invalid_field` for an IP length other than 4 or 16. A
/// RelayDeliver needs at least one payload byte, as the daemon requires.
result<beacon_message>
decode_beacon_message(std::span<const std::uint8_t> datagram);

/// Returns whether `datagram` is a punch packet: it starts with `PILP`.
bool is_punch_packet(std::span<const std::uint8_t> datagram) noexcept;

} // namespace pilot::protocol
