#include "protocol/packet.hpp"

#include "tests/protocol/hex.hpp"
#include "tests/protocol/tunnel_vectors.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace pilot::protocol;
using pilot::test::from_hex;
using pilot::test::normalize_hex;
using pilot::test::to_hex;
namespace vectors = pilot::test::vectors;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes text_bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

// Encodes `h` with `payload` and returns lower-case hex.
std::string encode_hex(const packet_header& h, const bytes& payload = {}) {
  auto encoded = encode_packet(h, payload);
  REQUIRE(encoded.has_value());
  return to_hex(*encoded);
}

packet decode_ok(const bytes& wire) {
  auto decoded = decode_packet(wire);
  REQUIRE(decoded.has_value());
  return *decoded;
}

boost::system::error_code decode_error(const bytes& wire) {
  auto decoded = decode_packet(wire);
  REQUIRE_FALSE(decoded.has_value());
  return decoded.error();
}

// A header from node 2 port 1000 back to node 1 port 49152.
packet_header reply_header() {
  auto h = vectors::syn_header();
  h.src = vectors::node2;
  h.dst = vectors::node1;
  h.src_port = 1000;
  h.dst_port = 49152;
  return h;
}

} // namespace

TEST_CASE("packet encodes the specification's SYN with CRC 145ED874") {
  CHECK_EQ(encode_hex(vectors::syn_header()), normalize_hex(vectors::syn));
}

TEST_CASE("packet decodes the specification's SYN") {
  auto pkt = decode_ok(from_hex(vectors::syn));
  CHECK(pkt.header == vectors::syn_header());
  CHECK(pkt.payload.empty());
}

TEST_CASE("packet encodes the specification's DATA with CRC 5EE872C8") {
  auto h = vectors::syn_header();
  h.flags = flag_ack;
  h.seq = 1;
  h.ack = 1;
  h.window = 502;
  const auto wire = "12 01 0005 0000 00000001 0000 00000002 C000 03E8 00000001 "
                    "00000001 01F6 5EE872C8 68656C6C6F";
  CHECK_EQ(encode_hex(h, text_bytes("hello")), normalize_hex(wire));
  auto pkt = decode_ok(from_hex(wire));
  CHECK(pkt.header == h);
  CHECK(pkt.payload == text_bytes("hello"));
}

TEST_CASE("packet encodes every control packet of a stream's life") {
  struct row {
    std::string_view name;
    packet_header header;
    std::string_view wire;
  };
  auto syn_ack = reply_header();
  syn_ack.flags = flag_syn | flag_ack;
  syn_ack.ack = 1;
  auto handshake_ack = vectors::syn_header();
  handshake_ack.flags = flag_ack;
  handshake_ack.seq = 1;
  handshake_ack.ack = 1;
  auto fin = vectors::syn_header();
  fin.flags = flag_fin;
  fin.seq = 6;
  fin.window = 0;
  auto fin_ack = reply_header();
  fin_ack.flags = flag_fin | flag_ack;
  fin_ack.seq = 1;
  fin_ack.ack = 7;
  fin_ack.window = 0;
  auto rst = reply_header();
  rst.flags = flag_rst;
  rst.window = 0;

  const std::array rows{
      row{"SYN-ACK", syn_ack,
          "1301000000000000000200000000000103e8c0000000000000000001020024f40f8"
          "e"},
      row{"handshake ACK", handshake_ack,
          "12010000000000000001000000000002c00003e8000000010000000102001e21ff5"
          "a"},
      row{"FIN", fin,
          "14010000000000000001000000000002c00003e80000000600000000000007a8a6d"
          "2"},
      row{"FIN|ACK", fin_ack,
          "1601000000000000000200000000000103e8c000000000010000000700007de9519"
          "1"},
      row{"RST", rst,
          "1801000000000000000200000000000103e8c000000000000000000000005daed99"
          "a"},
  };

  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK_EQ(encode_hex(r.header), normalize_hex(r.wire));
    CHECK(decode_ok(from_hex(r.wire)).header == r.header);
  }
}

TEST_CASE("packet encodes a datagram with no flags as byte 0x10") {
  auto h = vectors::syn_header();
  h.flags = 0;
  h.protocol = packet_protocol::datagram;
  h.src_port = 49153;
  h.dst_port = 5000;
  h.window = 0;
  const auto wire = "10020004000000000001000000000002c00113880000000000000000"
                    "000033e6398370696e67";
  CHECK_EQ(encode_hex(h, text_bytes("ping")), normalize_hex(wire));
  auto pkt = decode_ok(from_hex(wire));
  CHECK(pkt.header == h);
  CHECK(pkt.payload == text_bytes("ping"));
}

TEST_CASE("packet encodes an ACK carrying two SACK blocks") {
  auto h = reply_header();
  h.flags = flag_ack;
  h.seq = 1;
  h.ack = 1;
  h.window = 509;
  const auto sack = "5341434b0200001001000020010000300100004001";
  const auto wire = std::string{"1201001500000000000200000000000103e8c000000"
                                "000010000000101fd41e53495"}
                    + sack;
  CHECK_EQ(encode_hex(h, from_hex(sack)), wire);
  CHECK(decode_ok(from_hex(wire)).payload == from_hex(sack));
}

TEST_CASE("packet round-trips every header field") {
  packet_header h;
  h.flags = flag_fin | flag_rst;
  h.protocol = packet_protocol::control;
  h.src = {0xFFFE, 0xF2910004};
  h.dst = {7, broadcast_node};
  h.src_port = 0xFFFF;
  h.dst_port = 1;
  h.seq = 0xDEADBEEF;
  h.ack = 0x01020304;
  h.window = 0xFFFF;
  const bytes payload{0, 1, 2, 0xFF};
  auto encoded = encode_packet(h, payload);
  REQUIRE(encoded.has_value());
  auto pkt = decode_ok(*encoded);
  CHECK(pkt.header == h);
  CHECK(pkt.payload == payload);
  CHECK(pkt.header.has(flag_fin));
  CHECK(pkt.header.has(flag_rst));
  CHECK_FALSE(pkt.header.has(flag_syn));
  CHECK_FALSE(pkt.header.has(flag_fin | flag_ack));
}

TEST_CASE("packet carries the largest payload and rejects a larger one") {
  auto h = vectors::syn_header();
  bytes payload(max_packet_payload_size, 0xAB);
  auto encoded = encode_packet(h, payload);
  REQUIRE(encoded.has_value());
  CHECK_EQ(encoded->size(), packet_header_size + max_packet_payload_size);
  CHECK(decode_ok(*encoded).payload == payload);
  payload.push_back(0);
  CHECK_EQ(encode_packet(h, payload).error(), errc::oversized);
}

TEST_CASE("packet encoder rejects a version or flags above 4 bits") {
  auto h = vectors::syn_header();
  h.version = 16;
  CHECK_EQ(encode_packet(h, {}).error(), errc::invalid_field);
  h = vectors::syn_header();
  h.flags = 0x10;
  CHECK_EQ(encode_packet(h, {}).error(), errc::invalid_field);
}

TEST_CASE("packet decoder rejects input shorter than the header") {
  auto wire = from_hex(vectors::syn);
  CHECK_EQ(decode_error({}), errc::truncated);
  wire.pop_back();
  CHECK_EQ(decode_error(wire), errc::truncated);
}

TEST_CASE("packet decoder rejects a payload shorter than declared") {
  auto encoded = encode_packet(vectors::syn_header(), text_bytes("hello"));
  REQUIRE(encoded.has_value());
  encoded->pop_back();
  CHECK_EQ(decode_error(*encoded), errc::truncated);
}

TEST_CASE("packet decoder ignores bytes after the declared payload") {
  auto encoded = encode_packet(vectors::syn_header(), text_bytes("hello"));
  REQUIRE(encoded.has_value());
  encoded->push_back('!');
  CHECK(decode_ok(*encoded).payload == text_bytes("hello"));
}

TEST_CASE("packet checksum detects every flipped bit") {
  auto encoded = encode_packet(vectors::syn_header(), text_bytes("hello"));
  REQUIRE(encoded.has_value());
  // Byte 2 is the payload length, whose damage may show as truncation.
  for (std::size_t i = 0; i < encoded->size(); ++i) {
    if (i == 2 || i == 3)
      continue;
    CAPTURE(i);
    auto damaged = *encoded;
    damaged[i] ^= 0x01;
    CHECK_EQ(decode_error(damaged), errc::bad_checksum);
  }
}

TEST_CASE("packet decoder rejects version 2 even with a valid checksum") {
  auto h = vectors::syn_header();
  h.version = 2;
  auto encoded = encode_packet(h, {});
  REQUIRE(encoded.has_value());
  CHECK_EQ((*encoded)[0], 0x21);
  CHECK_EQ(decode_error(*encoded), errc::unsupported_version);
}

TEST_CASE("packet decoder keeps an unknown protocol byte") {
  auto h = vectors::syn_header();
  h.protocol = static_cast<packet_protocol>(0x07);
  auto encoded = encode_packet(h, {});
  REQUIRE(encoded.has_value());
  CHECK_EQ(static_cast<int>(decode_ok(*encoded).header.protocol), 0x07);
}

TEST_CASE("packet payload outlives the input buffer") {
  auto encoded = encode_packet(vectors::syn_header(), text_bytes("hello"));
  REQUIRE(encoded.has_value());
  auto pkt = decode_ok(*encoded);
  std::fill(encoded->begin(), encoded->end(), 0);
  CHECK(pkt.payload == text_bytes("hello"));
}
