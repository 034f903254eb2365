#pragma once

#include "protocol/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pilot::protocol {

/// Largest body a registry frame may declare (1 MiB).
inline constexpr std::size_t max_registry_body_size = std::size_t{1} << 20;

/// Size of the big-endian length prefix of a registry frame.
inline constexpr std::size_t registry_frame_header_size = 4;

/// Frames `json_body` for the registry's TCP stream: a 4-byte big-endian
/// length followed by the body. The caller keeps bodies within
/// `max_registry_body_size`.
std::string encode_registry_frame(std::string_view json_body);

/// Reads the body length from a frame header. Returns `errc::malformed_json`
/// for a length of 0 (an empty body is no JSON object) and `errc::oversized`
/// above `max_registry_body_size`.
result<std::size_t> decode_registry_frame_header(
    std::span<const std::uint8_t, registry_frame_header_size> header) noexcept;

/// Splits a byte stream into registry frame bodies, one at a time. It holds
/// at most one frame, and its buffer grows with the bytes received rather
/// than with the declared length. After an error every further `feed`
/// returns the same error.
///
/// Typical use:
///   while (!bytes.empty()) {
///     auto used = decoder.feed(bytes);
///     if (!used) { close(); break; }
///     bytes.remove_prefix(*used);
///     if (decoder.has_body()) handle(decoder.pop_body());
///   }
class registry_frame_decoder {
public:
  /// Consumes bytes from `bytes` up to the end of the current frame and
  /// returns how many it used. Uses nothing while a complete body waits for
  /// `pop_body`. Fails with `errc::malformed_json` for a declared length of 0
  /// and `errc::oversized` for one above `max_registry_body_size`.
  result<std::size_t> feed(std::string_view bytes);

  /// Returns whether a complete body is ready.
  bool has_body() const noexcept { return body_complete_; }

  /// Moves the complete body out and starts on the next frame. Requires
  /// `has_body()`.
  std::string pop_body();

  /// Returns whether the decoder is between frames (no partial frame held).
  bool idle() const noexcept {
    return header_filled_ == 0 && !body_complete_ && !failed_;
  }

private:
  std::array<std::uint8_t, registry_frame_header_size> header_{};
  std::size_t header_filled_ = 0;
  std::size_t body_size_ = 0;
  std::string body_;
  bool body_complete_ = false;
  bool failed_ = false;
  boost::system::error_code error_;
};

} // namespace pilot::protocol
