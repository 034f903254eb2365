#include "protocol/packet.hpp"

#include "protocol/detail/big_endian.hpp"
#include "protocol/detail/crc32.hpp"

#include <algorithm>
#include <array>

namespace pilot::protocol {

namespace {

using detail::load_big_endian;
using detail::store_big_endian;

constexpr std::size_t checksum_offset = 30;
constexpr std::size_t checksum_size = 4;

// CRC-32 of the header with its checksum field read as zero, followed by
// the payload.
std::uint32_t packet_checksum(std::span<const std::uint8_t> header,
                              std::span<const std::uint8_t> payload) {
  constexpr std::array<std::uint8_t, checksum_size> zero{};
  detail::crc32_ieee crc;
  crc.update(header.first(checksum_offset));
  crc.update(zero);
  crc.update(payload);
  return crc.checksum();
}

void store_address(std::span<std::uint8_t> out, address addr) {
  auto bytes = encode_address(addr);
  std::copy(bytes.begin(), bytes.end(), out.begin());
}

} // namespace

result<std::vector<std::uint8_t>>
encode_packet(const packet_header& header,
              std::span<const std::uint8_t> payload) {
  if (payload.size() > max_packet_payload_size)
    return errc::oversized;
  if (header.version > 0xF || header.flags > 0xF)
    return errc::invalid_field;
  // Only the header is zero-filled, so the payload is written once.
  std::vector<std::uint8_t> out;
  out.reserve(packet_header_size + payload.size());
  out.resize(packet_header_size);
  out.insert(out.end(), payload.begin(), payload.end());
  std::span bytes{out};
  bytes[0] = static_cast<std::uint8_t>(header.version << 4 | header.flags);
  bytes[1] = static_cast<std::uint8_t>(header.protocol);
  store_big_endian(bytes.subspan(2),
                   static_cast<std::uint16_t>(payload.size()));
  store_address(bytes.subspan(4), header.src);
  store_address(bytes.subspan(10), header.dst);
  store_big_endian(bytes.subspan(16), header.src_port);
  store_big_endian(bytes.subspan(18), header.dst_port);
  store_big_endian(bytes.subspan(20), header.seq);
  store_big_endian(bytes.subspan(24), header.ack);
  store_big_endian(bytes.subspan(28), header.window);
  store_big_endian(bytes.subspan(checksum_offset),
                   packet_checksum(bytes.first(packet_header_size), payload));
  return out;
}

result<packet> decode_packet(std::span<const std::uint8_t> bytes) {
  // Step 1: the header and the declared payload must be present.
  if (bytes.size() < packet_header_size)
    return errc::truncated;
  std::size_t payload_size = load_big_endian<std::uint16_t>(bytes.subspan(2));
  if (bytes.size() - packet_header_size < payload_size)
    return errc::truncated;
  auto header_bytes = bytes.first(packet_header_size);
  auto payload = bytes.subspan(packet_header_size, payload_size);
  // Step 2: verify the CRC before trusting any field.
  auto stored = load_big_endian<std::uint32_t>(bytes.subspan(checksum_offset));
  if (stored != packet_checksum(header_bytes, payload))
    return errc::bad_checksum;
  // Step 3: parse the fields.
  packet pkt;
  auto& h = pkt.header;
  h.version = static_cast<std::uint8_t>(bytes[0] >> 4);
  if (h.version != packet_version)
    return errc::unsupported_version;
  h.flags = static_cast<std::uint8_t>(bytes[0] & 0xF);
  h.protocol = static_cast<packet_protocol>(bytes[1]);
  h.src = *decode_address(bytes.subspan(4));
  h.dst = *decode_address(bytes.subspan(10));
  h.src_port = load_big_endian<std::uint16_t>(bytes.subspan(16));
  h.dst_port = load_big_endian<std::uint16_t>(bytes.subspan(18));
  h.seq = load_big_endian<std::uint32_t>(bytes.subspan(20));
  h.ack = load_big_endian<std::uint32_t>(bytes.subspan(24));
  h.window = load_big_endian<std::uint16_t>(bytes.subspan(28));
  pkt.payload.assign(payload.begin(), payload.end());
  return pkt;
}

} // namespace pilot::protocol
