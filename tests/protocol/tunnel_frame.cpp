#include "protocol/tunnel_frame.hpp"

#include "tests/protocol/hex.hpp"
#include "tests/protocol/tunnel_vectors.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

using namespace pilot::protocol;
using pilot::test::from_hex;
using pilot::test::from_hex_array;
using pilot::test::normalize_hex;
using pilot::test::to_hex;
namespace vectors = pilot::test::vectors;

namespace {

using bytes = std::vector<std::uint8_t>;

key_exchange_frame pilk_frame() {
  return {1, from_hex_array<x25519_key_size>(vectors::alice_public)};
}

authenticated_key_exchange_frame pila_frame() {
  return {1, from_hex_array<x25519_key_size>(vectors::alice_public),
          from_hex_array<ed25519_public_key_size>(vectors::ed25519_public),
          from_hex_array<ed25519_signature_size>(vectors::pila_signature)};
}

// Decodes `wire` and returns the frame of type T, failing the test when
// decoding fails or yields another type.
template <class T>
T decode_as(const bytes& wire) {
  auto decoded = decode_tunnel_frame(wire);
  REQUIRE(decoded.has_value());
  REQUIRE(std::holds_alternative<T>(*decoded));
  return std::get<T>(*decoded);
}

boost::system::error_code decode_error(const bytes& wire) {
  auto decoded = decode_tunnel_frame(wire);
  REQUIRE_FALSE(decoded.has_value());
  return decoded.error();
}

// A frame of `size` bytes that starts with `magic` and is zero after it.
bytes frame_of_size(std::string_view magic, std::size_t size) {
  bytes out(magic.begin(), magic.end());
  out.resize(size, 0);
  return out;
}

} // namespace

TEST_CASE("PILT frame wraps the SYN vector in 38 bytes") {
  auto syn = encode_packet(vectors::syn_header(), {});
  REQUIRE(syn.has_value());
  auto frame = encode_plaintext_frame(*syn);
  CHECK_EQ(frame.size(), 38);
  CHECK_EQ(to_hex(frame),
           normalize_hex("50494C54") + normalize_hex(vectors::syn));
}

TEST_CASE("PILT frame decodes to its packet") {
  auto wire = from_hex("50494C54");
  auto syn = from_hex(vectors::syn);
  wire.insert(wire.end(), syn.begin(), syn.end());
  auto frame = decode_as<plaintext_frame>(wire);
  CHECK(frame.packet.header == vectors::syn_header());
  CHECK(frame.packet.payload.empty());
}

TEST_CASE("PILT frame passes packet errors through") {
  auto syn = from_hex(vectors::syn);
  syn.back() ^= 0x80;
  CHECK_EQ(decode_error(encode_plaintext_frame(syn)), errc::bad_checksum);
  CHECK_EQ(decode_error(frame_of_size("PILT", 4 + packet_header_size - 1)),
           errc::truncated);
}

TEST_CASE("PILK frame encodes and decodes the golden vector") {
  CHECK_EQ(to_hex(encode_tunnel_frame(pilk_frame())),
           normalize_hex(vectors::pilk));
  CHECK(decode_as<key_exchange_frame>(from_hex(vectors::pilk)) == pilk_frame());
}

TEST_CASE("PILA frame encodes and decodes the golden vector") {
  auto wire = encode_tunnel_frame(pila_frame());
  CHECK_EQ(wire.size(), authenticated_key_exchange_frame_size);
  CHECK_EQ(to_hex(wire), normalize_hex(vectors::pila));
  CHECK(decode_as<authenticated_key_exchange_frame>(from_hex(vectors::pila))
        == pila_frame());
}

TEST_CASE("PILS frame encodes and decodes the golden vector") {
  auto wire = from_hex(vectors::pils);
  CHECK_EQ(wire.size(), 70);
  auto frame = decode_as<encrypted_frame>(wire);
  CHECK_EQ(frame.sender_node, 1);
  CHECK_EQ(to_hex(frame.nonce), "a1b2c3d40000000000000001");
  CHECK_EQ(frame.sealed.size(), packet_header_size + tunnel_tag_size);
  CHECK(
      std::equal(frame.sealed.begin(), frame.sealed.end(), wire.begin() + 20));
  CHECK(encode_tunnel_frame(frame) == wire);
}

TEST_CASE("PILP frame is its 4-byte magic") {
  CHECK_EQ(to_hex(encode_tunnel_frame(punch_frame{})), "50494c50");
  decode_as<punch_frame>(from_hex("50494c50"));
}

TEST_CASE("tunnel frames ignore bytes after a fixed-size frame") {
  auto pilk = from_hex(vectors::pilk);
  pilk.push_back(0xEE);
  CHECK(decode_as<key_exchange_frame>(pilk) == pilk_frame());
  auto pila = from_hex(vectors::pila);
  pila.push_back(0xEE);
  CHECK(decode_as<authenticated_key_exchange_frame>(pila) == pila_frame());
  // A later draft appends the sender's node ID to PILP.
  decode_as<punch_frame>(from_hex("50494c50 00000001"));
}

TEST_CASE("short tunnel frames are truncated") {
  struct row {
    std::string_view magic;
    std::size_t min_size;
  };
  const std::array rows{
      row{"PILK", key_exchange_frame_size},
      row{"PILA", authenticated_key_exchange_frame_size},
      row{"PILS",
          4 + 4 + tunnel_nonce_size + packet_header_size + tunnel_tag_size},
  };
  for (const auto& r : rows) {
    CAPTURE(r.magic);
    CHECK_EQ(decode_error(frame_of_size(r.magic, r.min_size - 1)),
             errc::truncated);
    CHECK(decode_tunnel_frame(frame_of_size(r.magic, r.min_size)).has_value());
  }
}

TEST_CASE("tunnel frame shorter than a magic is truncated") {
  CHECK_EQ(decode_error({}), errc::truncated);
  CHECK_EQ(decode_error(from_hex("50494c")), errc::truncated);
}

TEST_CASE("tunnel frame with another magic is an unknown type") {
  CHECK_EQ(decode_error(from_hex("50494c58 00000001")), errc::unknown_type);
  CHECK_EQ(decode_error(from_hex("70696c74 00000001")), errc::unknown_type);
  // Beacon messages share the socket and start with a byte below 0x10.
  CHECK_EQ(decode_error(from_hex("01 00000001")), errc::unknown_type);
}

TEST_CASE("tunnel frame above 65573 bytes is oversized") {
  auto largest = frame_of_size("PILS", max_tunnel_frame_size);
  CHECK(decode_tunnel_frame(largest).has_value());
  largest.push_back(0);
  CHECK_EQ(decode_error(largest), errc::oversized);
}

TEST_CASE("decoded keys outlive the receive buffer") {
  // The reference cached a PILA's identity key as a view into its socket
  // buffer, so the next PILA overwrote the "expected" key.
  auto buffer = from_hex(vectors::pila);
  auto frame = decode_as<authenticated_key_exchange_frame>(buffer);
  std::fill(buffer.begin(), buffer.end(), 0xAA);
  CHECK(frame == pila_frame());
}
