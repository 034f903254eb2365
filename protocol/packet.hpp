#pragma once

#include "protocol/address.hpp"
#include "protocol/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

/// The overlay packet: a 34-byte header followed by up to 65535 payload
/// bytes. Integers are big-endian.
///
/// | Offset | Size | Field                                            |
/// |--------|------|--------------------------------------------------|
/// | 0      | 1    | version (high nibble) and flags (low nibble)     |
/// | 1      | 1    | protocol                                         |
/// | 2      | 2    | payload length                                   |
/// | 4      | 6    | source address                                   |
/// | 10     | 6    | destination address                              |
/// | 16     | 2    | source port                                      |
/// | 18     | 2    | destination port                                 |
/// | 20     | 4    | sequence number (byte offset in a stream)        |
/// | 24     | 4    | acknowledgement number (next expected byte)      |
/// | 28     | 2    | receive window in segments; 0 means no limit     |
/// | 30     | 4    | CRC-32 (IEEE, as zlib's `crc32`)                 |
///
/// The CRC covers the header with bytes 30-33 set to zero, followed by the
/// payload.
namespace pilot::protocol {

/// Size of the packet header.
inline constexpr std::size_t packet_header_size = 34;

/// Largest payload the 16-bit length field can describe.
inline constexpr std::size_t max_packet_payload_size = 65535;

/// The only protocol version, written in the high nibble of byte 0.
inline constexpr std::uint8_t packet_version = 1;

/// Flag bits of the low nibble of byte 0. Byte 0 of a SYN is 0x11, of a
/// SYN|ACK 0x13, of a datagram (no flags) 0x10.
inline constexpr std::uint8_t flag_syn = 0x1;
inline constexpr std::uint8_t flag_ack = 0x2;
inline constexpr std::uint8_t flag_fin = 0x4;
inline constexpr std::uint8_t flag_rst = 0x8;

/// The transport a packet belongs to. A decoded packet may hold a value
/// outside the enumerators, which the receiver drops when it dispatches.
enum class packet_protocol : std::uint8_t {
  stream = 0x01,
  datagram = 0x02,
  control = 0x03,
};

/// The fields of a packet header except the payload length and checksum,
/// which the encoder computes.
struct packet_header {
  /// Protocol version, 0-15; `decode_packet` accepts only 1.
  std::uint8_t version = packet_version;
  /// Any combination of `flag_syn`, `flag_ack`, `flag_fin` and `flag_rst`.
  std::uint8_t flags = 0;
  packet_protocol protocol = packet_protocol::stream;
  address src;
  address dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint16_t window = 0;

  /// Returns whether every bit of `flag` is set.
  bool has(std::uint8_t flag) const noexcept { return (flags & flag) == flag; }

  friend bool operator==(const packet_header&, const packet_header&) = default;
};

/// A decoded packet. The payload is a copy, independent of the input buffer.
struct packet {
  packet_header header;
  std::vector<std::uint8_t> payload;

  friend bool operator==(const packet&, const packet&) = default;
};

/// Encodes a header and payload with the CRC filled in. Returns
/// `errc::oversized` for a payload over `max_packet_payload_size` and
/// `errc::invalid_field` for a version or flags value above 15.
result<std::vector<std::uint8_t>>
encode_packet(const packet_header& header,
              std::span<const std::uint8_t> payload);

/// Decodes a packet and checks it in this order. It returns
/// `errc::truncated` when the input is shorter than the header, or than the
/// header plus the declared payload length. It returns `errc::bad_checksum`
/// when the CRC over exactly those bytes differs, and
/// `errc::unsupported_version` when the version is not 1. Bytes after the
/// declared payload are ignored, as the reference does.
///
/// The reference never checks the version. Every v0.5 sender writes 1, so
/// rejecting other versions loses no traffic from it.
result<packet> decode_packet(std::span<const std::uint8_t> bytes);

} // namespace pilot::protocol
