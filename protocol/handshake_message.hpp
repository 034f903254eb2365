#pragma once

#include "protocol/error.hpp"
#include "protocol/identity.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// The trust handshake message that peers exchange on virtual port 444: one
/// JSON object per stream connection, with no length prefix.
namespace pilot::protocol {

/// The four kinds of handshake message.
enum class handshake_kind { request, accept, reject, revoke };

/// Returns the `type` text of `kind`, such as `handshake_request`.
std::string_view to_type_text(handshake_kind kind) noexcept;

/// Returns the kind named by a `type` text, or nothing for an unknown type
/// (which a receiver ignores).
std::optional<handshake_kind> parse_handshake_kind(std::string_view type);

/// The reason text that every revoke message carries.
inline constexpr std::string_view revoke_reason = "trust revoked";

/// Maximum size of an encoded message that a peer reads. The Go reference
/// decodes only the first segment of a connection, and a segment carries at
/// most 4096 bytes.
inline constexpr std::size_t max_handshake_message_size = 4096;

/// One handshake message. `type` stays text so that a message of an unknown
/// type still decodes (and is then ignored).
struct handshake_message {
  std::string type;
  /// The sender's node ID.
  std::uint32_t node_id = 0;
  /// The sender's Ed25519 public key in standard base64, empty when the
  /// sender has no identity.
  std::string public_key;
  /// The free-text reason of a request, empty for the other kinds.
  std::string justification;
  /// Standard base64 of the Ed25519 signature of
  /// `handshake:<node_id>:<receiver>`.
  std::string signature;
  /// The rejection or revocation text.
  std::string reason;
  /// Unix seconds when the message was sent.
  std::int64_t timestamp = 0;

  friend bool operator==(const handshake_message&, const handshake_message&)
      = default;
};

/// Builds and signs a message from `sender` (node `from`) to node `to`.
/// `text` is the justification of a request and the reason of a reject.
/// A revoke always carries `revoke_reason`, and an accept carries no text.
result<handshake_message>
make_handshake_message(handshake_kind kind, const identity& sender,
                       std::uint32_t from, std::uint32_t to,
                       std::string_view text, std::int64_t timestamp);

/// Encodes `message` as the Go reference writes it: compact, all seven
/// fields in the order type, node_id, public_key, justification, signature,
/// reason, timestamp, strings with Go's HTML-safe escaping.
std::string encode_handshake_message(const handshake_message& message);

/// Decodes one message. Keys may come in any order, unknown keys are
/// ignored, a missing key or `null` leaves the field's zero value, and the
/// last of duplicate keys wins, as Go's decoder does. A value of the wrong
/// JSON type, a `node_id` outside uint32 and a `timestamp` outside int64
/// or with a fraction fail with `errc::invalid_field`. Text that is not
/// one complete JSON document (also a truncated one) fails with
/// `errc::malformed_json`, and a document that is not an object with
/// `errc::invalid_field`.
result<handshake_message> decode_handshake_message(std::string_view text);

/// Returns whether the signature of `message` is a valid signature of
/// `handshake:<message.node_id>:<receiver>` by `sender_key` (standard
/// base64). False for an empty or malformed signature or key.
bool verify_handshake_signature(const handshake_message& message,
                                std::string_view sender_key,
                                std::uint32_t receiver);

/// Key that identifies a message for replay detection. It is the SHA-256 of
/// the seven fields, each length-prefixed, so two messages have the same key
/// exactly when all seven fields are equal.
using handshake_replay_key = std::array<std::uint8_t, 32>;

/// Returns the replay key of `message`.
handshake_replay_key replay_key(const handshake_message& message);

} // namespace pilot::protocol
