#pragma once

#include "protocol/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pilot::protocol {

/// Sizes of Ed25519 values (RFC 8032).
inline constexpr std::size_t ed25519_seed_size = 32;
inline constexpr std::size_t ed25519_public_key_size = 32;
inline constexpr std::size_t ed25519_signature_size = 64;

/// A raw Ed25519 public key.
using public_key = std::array<std::uint8_t, ed25519_public_key_size>;

/// A raw Ed25519 signature.
using signature = std::array<std::uint8_t, ed25519_signature_size>;

/// A node's Ed25519 key pair. Signing is pure Ed25519 (no pre-hash, no
/// context), so signatures are deterministic. The seed is wiped from memory
/// when the object is destroyed.
class identity {
public:
  /// Generates a key pair from the operating system's CSPRNG.
  static result<identity> generate();

  /// Derives the key pair of a 32-byte seed; `errc::invalid_key` when
  /// `seed` has another size.
  static result<identity> from_seed(std::span<const std::uint8_t> seed);

  identity(const identity& other) = default;
  identity& operator=(const identity& other) = default;
  ~identity();

  /// The 32-byte private seed. Never log it.
  const std::array<std::uint8_t, ed25519_seed_size>& seed() const noexcept {
    return seed_;
  }

  /// The public key derived from the seed.
  const protocol::public_key& public_key() const noexcept {
    return public_key_;
  }

  /// Returns the public key in standard base64 (44 characters).
  std::string public_key_base64() const;

  /// Signs `message` with pure Ed25519.
  result<signature> sign(std::string_view message) const;

  /// Signs `message` and returns the signature in standard base64
  /// (88 characters), as registry requests carry it.
  result<std::string> sign_base64(std::string_view message) const;

  friend bool operator==(const identity& lhs, const identity& rhs) noexcept;

private:
  identity() = default;

  std::array<std::uint8_t, ed25519_seed_size> seed_{};
  protocol::public_key public_key_{};
};

/// Returns whether `sig` is a valid Ed25519 signature of `message` by `key`.
bool verify(const public_key& key, std::string_view message,
            std::span<const std::uint8_t> sig) noexcept;

/// Verifies a base64 signature against a base64 public key, both decoded
/// like Go's non-strict standard base64. False when either fails to decode
/// to its exact size or the signature does not verify.
bool verify_base64(std::string_view key_base64, std::string_view message,
                   std::string_view signature_base64) noexcept;

/// Decodes a base64 public key that must be exactly 32 bytes long;
/// `errc::invalid_key` otherwise.
result<public_key> parse_public_key(std::string_view text);

/// Formats the identity file: 2-space indented JSON with `private_key`
/// (base64 of Go's 64-byte key, the seed followed by the public key) and
/// then `public_key`, without a trailing newline. The caller writes it with
/// mode 0600.
std::string to_identity_file_json(const identity& id);

/// Parses an identity file. Rejects invalid JSON, missing fields, keys of
/// the wrong length (`errc::invalid_key`) and a public key that does not
/// match the private key (`errc::invalid_key`).
result<identity> parse_identity_file_json(std::string_view text);

/// Challenge strings signed by registry requests. Every integer is decimal
/// without padding; there is no nonce and no trailing newline.
std::string heartbeat_challenge(std::uint32_t node_id);
std::string deregister_challenge(std::uint32_t node_id);
std::string resolve_challenge(std::uint32_t requester_id,
                              std::uint32_t node_id);
std::string punch_challenge(std::uint32_t node_a, std::uint32_t node_b);
std::string report_trust_challenge(std::uint32_t node_id,
                                   std::uint32_t peer_id);
std::string revoke_trust_challenge(std::uint32_t node_id,
                                   std::uint32_t peer_id);
std::string set_visibility_challenge(std::uint32_t node_id);
std::string set_hostname_challenge(std::uint32_t node_id);
std::string set_tags_challenge(std::uint32_t node_id);
std::string set_task_exec_challenge(std::uint32_t node_id);
std::string poll_handshakes_challenge(std::uint32_t node_id);
/// Also signs the peer-to-peer trust handshake on virtual port 444.
std::string handshake_challenge(std::uint32_t from_node_id,
                                std::uint32_t to_node_id);
std::string respond_challenge(std::uint32_t node_id, std::uint32_t peer_id);
std::string rotate_challenge(std::uint32_t node_id);

} // namespace pilot::protocol
