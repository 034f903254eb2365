#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"
#include "protocol/tunnel_frame.hpp"

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

/// Tunnel encryption, compatible with the reference daemon v0.5:
///
///     shared = X25519(our private key, peer public key)
///     key    = SHA-256("pilot-tunnel-v1:" | shared)
///     frame  = AES-256-GCM(key, nonce, packet), no associated data
///     nonce  = random prefix (4) | send counter (8, big-endian, from 1)
///
/// Both directions use the same key and differ only in their random nonce
/// prefixes. PILA frames sign `"auth" | node ID (4) | X25519 key (32)` with
/// the sender's Ed25519 identity.
namespace pilot::protocol {

/// Label hashed in front of the X25519 shared secret, with its colon and
/// without a terminating NUL.
inline constexpr std::string_view tunnel_key_label = "pilot-tunnel-v1:";

/// Size of the random part of a PILS nonce.
inline constexpr std::size_t nonce_prefix_size = 4;

/// Size of the signed message of a PILA frame.
inline constexpr std::size_t authentication_challenge_size = 40;

/// Counters a replay window remembers below the highest one.
inline constexpr std::size_t replay_window_size = 256;

/// The random part of a PILS nonce, drawn once per tunnel session.
using nonce_prefix = std::array<std::uint8_t, nonce_prefix_size>;

/// 32 bytes of secret key material, wiped from memory on destruction.
class secret_bytes {
public:
  /// Size of the secret.
  static constexpr std::size_t size = 32;

  secret_bytes() = default;

  /// Copies `bytes` into the secret.
  explicit secret_bytes(std::span<const std::uint8_t, size> bytes) noexcept;

  secret_bytes(const secret_bytes& other) = default;
  secret_bytes& operator=(const secret_bytes& other) = default;
  ~secret_bytes();

  /// Returns the secret. Never log it.
  const std::array<std::uint8_t, size>& bytes() const noexcept {
    return bytes_;
  }

  /// Compares in constant time.
  friend bool operator==(const secret_bytes& lhs,
                         const secret_bytes& rhs) noexcept;

private:
  std::array<std::uint8_t, size> bytes_{};
};

/// An X25519 key pair (RFC 7748). The private key is wiped from memory on
/// destruction.
class x25519_key_pair {
public:
  /// Generates a key pair from the operating system's CSPRNG.
  static result<x25519_key_pair> generate();

  /// Derives the key pair of a 32-byte private key; `errc::invalid_key` when
  /// `private_key` has another size.
  static result<x25519_key_pair>
  from_private_key(std::span<const std::uint8_t> private_key);

  x25519_key_pair(const x25519_key_pair& other) = default;
  x25519_key_pair& operator=(const x25519_key_pair& other) = default;
  ~x25519_key_pair();

  /// The public key, as PILK and PILA frames carry it.
  const x25519_public_key& public_key() const noexcept { return public_key_; }

  /// Computes the shared secret with `peer`. Returns `errc::invalid_key` when
  /// the result is all zero, which a low-order peer key produces.
  result<secret_bytes> shared_secret(const x25519_public_key& peer) const;

private:
  x25519_key_pair() = default;

  std::array<std::uint8_t, x25519_key_size> private_key_{};
  x25519_public_key public_key_{};
};

/// Derives the AES-256 tunnel key: SHA-256 of `tunnel_key_label` followed by
/// the shared secret. There is no HKDF step, as in the reference.
result<secret_bytes> derive_tunnel_key(const secret_bytes& shared);

/// Draws a nonce prefix from the operating system's CSPRNG.
result<nonce_prefix> random_nonce_prefix();

/// Builds the nonce of `counter` under `prefix`.
tunnel_nonce make_tunnel_nonce(const nonce_prefix& prefix,
                               std::uint64_t counter) noexcept;

/// Returns the counter part of a nonce. The replay window tracks only this
/// part and ignores the prefix.
std::uint64_t nonce_counter(const tunnel_nonce& nonce) noexcept;

/// The verdict of `replay_window::check`.
enum class replay_check {
  /// The counter was not seen and is inside or above the window.
  fresh,
  /// The counter was already accepted.
  duplicate,
  /// The counter is 0 or at least `replay_window_size` below the highest
  /// accepted counter, so the window cannot tell whether it was seen.
  too_old,
};

/// The receive-side record of PILS counters of one tunnel session: the
/// highest accepted counter and a bitmap of the `replay_window_size`
/// counters up to it. Call `check` before opening a frame and `accept` only
/// after it authenticated, so a forged frame cannot move the window.
class replay_window {
public:
  /// Returns whether `counter` may be accepted. Changes nothing.
  replay_check check(std::uint64_t counter) const noexcept;

  /// Records `counter`, moving the window up when it is the new highest.
  /// Does nothing unless `check(counter)` returns `replay_check::fresh`.
  void accept(std::uint64_t counter) noexcept;

  /// The highest accepted counter, 0 before the first.
  std::uint64_t highest() const noexcept { return highest_; }

private:
  std::uint64_t highest_ = 0;
  // Bit `c % replay_window_size` is set when counter `c` was accepted.
  std::bitset<replay_window_size> seen_;
};

/// The encryption state of one tunnel: the key, this side's nonce prefix and
/// send counter, and the replay window of frames received under the key.
/// It can be neither copied nor moved, so no send counter is ever
/// duplicated. Replace the whole session when the key changes.
class tunnel_session {
public:
  /// Starts a session whose first sealed frame uses counter 1.
  tunnel_session(const secret_bytes& key, const nonce_prefix& prefix) noexcept;

  tunnel_session(const tunnel_session&) = delete;
  tunnel_session& operator=(const tunnel_session&) = delete;

  /// Encrypts an encoded packet into a PILS frame from `sender_node`, using
  /// the next counter. Returns `errc::truncated` for fewer bytes than a packet
  /// header, `errc::oversized` for more than a packet can hold and
  /// `errc::nonce_exhausted` when the counter has reached its maximum.
  result<encrypted_frame> seal(std::uint32_t sender_node,
                               std::span<const std::uint8_t> plaintext);

  /// Decrypts a PILS frame and returns the encoded packet inside. The steps
  /// are: check the counter against the replay window
  /// (`errc::replayed_nonce`), verify the tag and decrypt
  /// (`errc::decryption_failed`), then accept the counter. A failure leaves
  /// the window as it was and returns no plaintext.
  result<std::vector<std::uint8_t>> open(const encrypted_frame& frame);

  /// The receive window, for inspection.
  const replay_window& window() const noexcept { return window_; }

  /// The counter of the last sealed frame, 0 before the first.
  std::uint64_t send_counter() const noexcept { return send_counter_; }

private:
  secret_bytes key_;
  nonce_prefix prefix_;
  std::uint64_t send_counter_ = 0;
  replay_window window_;
};

/// Builds the message a PILA frame signs: ASCII "auth" (no colon), the
/// sender's node ID (big-endian) and its X25519 public key.
std::array<std::uint8_t, authentication_challenge_size>
authentication_challenge(std::uint32_t node,
                         const x25519_public_key& key) noexcept;

/// Builds the PILA frame of `node` announcing `key`, signed by `id`.
result<authenticated_key_exchange_frame>
sign_key_exchange(const identity& id, std::uint32_t node,
                  const x25519_public_key& key);

/// Checks a PILA frame against the Ed25519 key the registry holds for its
/// sender. Returns `errc::invalid_key` when the frame carries another
/// identity key and `errc::bad_signature` when the signature does not verify.
result<void> verify_key_exchange(const authenticated_key_exchange_frame& frame,
                                 const public_key& registered_key);

} // namespace pilot::protocol
