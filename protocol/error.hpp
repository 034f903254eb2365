#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace pilot::protocol {

/// Reasons why a decoder or validator in `protocol/` rejects its input.
enum class errc {
  /// The input ended before the value was complete.
  truncated = 1,
  /// A length prefix or field is larger than the format allows.
  oversized,
  /// The bytes are not valid JSON, or not the JSON shape expected.
  malformed_json,
  /// A required field is missing.
  missing_field,
  /// A field has the wrong type or an out-of-range value.
  invalid_field,
  /// The text form of an address or socket address is invalid.
  invalid_address,
  /// Base64 text is invalid or decodes to the wrong length.
  invalid_base64,
  /// A key is invalid, or a public key does not match its private key.
  invalid_key,
  /// A signature does not verify.
  bad_signature,
  /// A command or message type is unknown.
  unknown_type,
  /// A URL is invalid, or names a refused host.
  invalid_url,
  /// The operating system's crypto library failed unexpectedly.
  crypto_failure,
  /// A packet's CRC-32 does not match its header and payload.
  bad_checksum,
  /// A packet carries a protocol version other than 1.
  unsupported_version,
  /// An AEAD tag does not verify: the frame is forged, corrupted or sealed
  /// under another key.
  decryption_failed,
  /// A nonce counter was already accepted or lies below the replay window.
  replayed_nonce,
  /// The send counter reached its maximum, so no nonce is left for the key.
  nonce_exhausted,
};

/// Returns the error category of `errc`, named "pilot.protocol".
const boost::system::error_category& protocol_category() noexcept;

/// Makes `errc` usable as a `boost::system::error_code`.
boost::system::error_code make_error_code(errc e) noexcept;

/// The return type of every fallible function in `protocol/`.
template <class T>
using result = boost::system::result<T, boost::system::error_code>;

} // namespace pilot::protocol

template <>
struct boost::system::is_error_code_enum<pilot::protocol::errc>
    : std::true_type {};
