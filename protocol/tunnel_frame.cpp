#include "protocol/tunnel_frame.hpp"

#include "protocol/detail/big_endian.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace pilot::protocol {

namespace {

using magic = std::array<std::uint8_t, tunnel_magic_size>;

constexpr magic plaintext_magic{'P', 'I', 'L', 'T'};
constexpr magic encrypted_magic{'P', 'I', 'L', 'S'};
constexpr magic key_exchange_magic{'P', 'I', 'L', 'K'};
constexpr magic authenticated_key_exchange_magic{'P', 'I', 'L', 'A'};
constexpr magic punch_magic{'P', 'I', 'L', 'P'};

constexpr std::size_t node_id_size = 4;

// Size of a PILS frame before its ciphertext: magic, node and nonce.
constexpr std::size_t encrypted_frame_prefix_size
    = tunnel_magic_size + node_id_size + tunnel_nonce_size;

// Smallest PILS frame that can open to a packet: a header's worth of
// ciphertext and the tag after the prefix.
constexpr std::size_t min_encrypted_frame_size
    = encrypted_frame_prefix_size + packet_header_size + tunnel_tag_size;

template <class Bytes>
void append(std::vector<std::uint8_t>& out, const Bytes& bytes) {
  out.insert(out.end(), std::begin(bytes), std::end(bytes));
}

// Starts a frame with its magic and the sender's node ID.
std::vector<std::uint8_t> start_frame(const magic& m, std::uint32_t sender,
                                      std::size_t size) {
  std::vector<std::uint8_t> out;
  out.reserve(size);
  append(out, m);
  detail::append_big_endian(out, sender);
  return out;
}

// Copies the first `N` bytes of `in` and drops them from it.
template <std::size_t N>
std::array<std::uint8_t, N> take(std::span<const std::uint8_t>& in) {
  std::array<std::uint8_t, N> out;
  std::copy_n(in.begin(), N, out.begin());
  in = in.subspan(N);
  return out;
}

std::uint32_t take_node(std::span<const std::uint8_t>& in) {
  auto node = detail::load_big_endian<std::uint32_t>(in);
  in = in.subspan(node_id_size);
  return node;
}

result<tunnel_frame> decode_plaintext(std::span<const std::uint8_t> body) {
  auto pkt = decode_packet(body);
  if (!pkt)
    return pkt.error();
  return plaintext_frame{std::move(*pkt)};
}

encrypted_frame decode_encrypted(std::span<const std::uint8_t> body) {
  encrypted_frame frame;
  frame.sender_node = take_node(body);
  frame.nonce = take<tunnel_nonce_size>(body);
  frame.sealed.assign(body.begin(), body.end());
  return frame;
}

key_exchange_frame decode_key_exchange(std::span<const std::uint8_t> body) {
  key_exchange_frame frame;
  frame.sender_node = take_node(body);
  frame.key = take<x25519_key_size>(body);
  return frame;
}

authenticated_key_exchange_frame
decode_authenticated_key_exchange(std::span<const std::uint8_t> body) {
  authenticated_key_exchange_frame frame;
  frame.sender_node = take_node(body);
  frame.key = take<x25519_key_size>(body);
  frame.identity_key = take<ed25519_public_key_size>(body);
  frame.signature = take<ed25519_signature_size>(body);
  return frame;
}

} // namespace

std::vector<std::uint8_t>
encode_plaintext_frame(std::span<const std::uint8_t> encoded_packet) {
  std::vector<std::uint8_t> out;
  out.reserve(tunnel_magic_size + encoded_packet.size());
  append(out, plaintext_magic);
  append(out, encoded_packet);
  return out;
}

std::vector<std::uint8_t> encode_tunnel_frame(const encrypted_frame& frame) {
  auto out = start_frame(encrypted_magic, frame.sender_node,
                         encrypted_frame_prefix_size + frame.sealed.size());
  append(out, frame.nonce);
  append(out, frame.sealed);
  return out;
}

std::vector<std::uint8_t> encode_tunnel_frame(const key_exchange_frame& frame) {
  auto out = start_frame(key_exchange_magic, frame.sender_node,
                         key_exchange_frame_size);
  append(out, frame.key);
  return out;
}

std::vector<std::uint8_t>
encode_tunnel_frame(const authenticated_key_exchange_frame& frame) {
  auto out = start_frame(authenticated_key_exchange_magic, frame.sender_node,
                         authenticated_key_exchange_frame_size);
  append(out, frame.key);
  append(out, frame.identity_key);
  append(out, frame.signature);
  return out;
}

std::vector<std::uint8_t> encode_tunnel_frame(punch_frame) {
  return {punch_magic.begin(), punch_magic.end()};
}

result<tunnel_frame> decode_tunnel_frame(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > max_tunnel_frame_size)
    return errc::oversized;
  if (bytes.size() < tunnel_magic_size)
    return errc::truncated;
  auto is = [&](const magic& m) {
    return std::equal(m.begin(), m.end(), bytes.begin());
  };
  auto body = bytes.subspan(tunnel_magic_size);
  if (is(plaintext_magic))
    return decode_plaintext(body);
  if (is(encrypted_magic)) {
    if (bytes.size() < min_encrypted_frame_size)
      return errc::truncated;
    return decode_encrypted(body);
  }
  if (is(key_exchange_magic)) {
    if (bytes.size() < key_exchange_frame_size)
      return errc::truncated;
    return decode_key_exchange(body);
  }
  if (is(authenticated_key_exchange_magic)) {
    if (bytes.size() < authenticated_key_exchange_frame_size)
      return errc::truncated;
    return decode_authenticated_key_exchange(body);
  }
  if (is(punch_magic))
    return punch_frame{};
  return errc::unknown_type;
}

} // namespace pilot::protocol
