#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"
#include "protocol/packet.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

/// Frames of the UDP tunnel between two daemons. Each starts with a 4-byte
/// ASCII magic; node IDs are big-endian.
///
/// | Magic | Layout after the magic                                | Size   |
/// |-------|-------------------------------------------------------|--------|
/// | PILT  | packet (header and payload)                           | 38 + n |
/// | PILS  | sender node (4), nonce (12), ciphertext, tag (16)     | 70 + n |
/// | PILK  | sender node (4), X25519 public key (32)               | 40     |
/// | PILA  | sender node (4), X25519 key (32), Ed25519 key (32),   | 136    |
/// |       | Ed25519 signature (64)                                |        |
/// | PILP  | nothing                                               | 4      |
///
/// Decoded frames own copies of every field, so they stay valid after the
/// receive buffer is reused.
namespace pilot::protocol {

/// Size of a frame's magic.
inline constexpr std::size_t tunnel_magic_size = 4;

/// Size of an X25519 public or private key.
inline constexpr std::size_t x25519_key_size = 32;

/// Size of a PILS nonce: a 4-byte prefix and an 8-byte counter.
inline constexpr std::size_t tunnel_nonce_size = 12;

/// Size of the AES-GCM tag at the end of a PILS frame.
inline constexpr std::size_t tunnel_tag_size = 16;

/// Largest datagram the reference daemon reads (65535 + 38 bytes), so the
/// largest frame `decode_tunnel_frame` accepts. A PILS frame with a payload
/// over 65503 bytes exceeds it, and so does anything IPv4 UDP cannot carry
/// (65507 bytes), which the sender has to check.
inline constexpr std::size_t max_tunnel_frame_size = 65573;

/// Sizes of the fixed-size frames. Bytes after them are ignored on receipt.
inline constexpr std::size_t key_exchange_frame_size = 40;
inline constexpr std::size_t authenticated_key_exchange_frame_size = 136;
inline constexpr std::size_t punch_frame_size = 4;

/// A raw X25519 public key.
using x25519_public_key = std::array<std::uint8_t, x25519_key_size>;

/// A PILS nonce.
using tunnel_nonce = std::array<std::uint8_t, tunnel_nonce_size>;

/// PILT: a packet sent without encryption.
struct plaintext_frame {
  protocol::packet packet;

  friend bool operator==(const plaintext_frame&, const plaintext_frame&)
      = default;
};

/// PILS: a packet sealed with the tunnel key of `sender_node`.
struct encrypted_frame {
  /// The sender's node ID, which selects the key to open the frame with.
  std::uint32_t sender_node = 0;
  tunnel_nonce nonce{};
  /// The ciphertext followed by the 16-byte tag.
  std::vector<std::uint8_t> sealed;

  friend bool operator==(const encrypted_frame&, const encrypted_frame&)
      = default;
};

/// PILK: an unauthenticated X25519 key exchange.
struct key_exchange_frame {
  std::uint32_t sender_node = 0;
  x25519_public_key key{};

  friend bool operator==(const key_exchange_frame&, const key_exchange_frame&)
      = default;
};

/// PILA: an X25519 key exchange signed with the sender's Ed25519 identity.
/// The signed message is `authentication_challenge(sender_node, key)`.
struct authenticated_key_exchange_frame {
  std::uint32_t sender_node = 0;
  x25519_public_key key{};
  public_key identity_key{};
  protocol::signature signature{};

  friend bool operator==(const authenticated_key_exchange_frame&,
                         const authenticated_key_exchange_frame&)
      = default;
};

/// PILP: a NAT punch probe. It carries nothing, and the receiver drops it.
struct punch_frame {
  friend bool operator==(const punch_frame&, const punch_frame&) = default;
};

/// Any decoded tunnel frame.
using tunnel_frame
    = std::variant<plaintext_frame, encrypted_frame, key_exchange_frame,
                   authenticated_key_exchange_frame, punch_frame>;

/// Wraps a packet that `encode_packet` produced into a PILT frame.
std::vector<std::uint8_t>
encode_plaintext_frame(std::span<const std::uint8_t> encoded_packet);

/// Encodes a PILS frame.
std::vector<std::uint8_t> encode_tunnel_frame(const encrypted_frame& frame);

/// Encodes a PILK frame.
std::vector<std::uint8_t> encode_tunnel_frame(const key_exchange_frame& frame);

/// Encodes a PILA frame.
std::vector<std::uint8_t>
encode_tunnel_frame(const authenticated_key_exchange_frame& frame);

/// Encodes a PILP frame: the 4 bytes of its magic.
std::vector<std::uint8_t> encode_tunnel_frame(punch_frame frame);

/// Decodes one UDP datagram of the tunnel. Returns `errc::oversized` above
/// `max_tunnel_frame_size`, `errc::truncated` when shorter than a magic or
/// than the fixed part of its frame type, and `errc::unknown_type` for
/// another magic (beacon messages, whose first byte is below 0x10, included).
/// A PILT frame's packet must pass `decode_packet`, whose errors pass
/// through. A PILS frame must hold at least a packet header's worth of
/// ciphertext and the tag. Bytes after a PILT packet, a PILK, a PILA and a
/// PILP frame are ignored, as the reference does.
result<tunnel_frame> decode_tunnel_frame(std::span<const std::uint8_t> bytes);

} // namespace pilot::protocol
