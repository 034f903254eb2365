#pragma once

#include "protocol/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Frames of the data exchange service on port 1001.
///
/// One connection carries any number of frames in both directions. A frame
/// is `type u32 BE | length u32 BE | payload[length]`, with `length` at most
/// `max_data_payload_size`. The payload of a FILE frame starts with the file
/// name: `name_len u16 BE | name | file bytes`. The server responds to every
/// frame with one TEXT frame, `ACK <TYPE> <n> bytes` or
/// `ERR <TYPE> save failed: <reason>`.
namespace pilot::protocol {

/// Size of a frame's header: type and length.
inline constexpr std::size_t data_frame_header_size = 8;

/// Maximum payload size of one frame, 16 MiB. A frame of exactly this size
/// is valid, and a larger length ends the connection.
inline constexpr std::size_t max_data_payload_size = std::size_t{1} << 24;

/// Size of the name length prefix in a FILE payload.
inline constexpr std::size_t file_name_header_size = 2;

/// The frame types that the Go reference daemon v0.5 defines. Any other
/// value is valid on the wire and is acknowledged without being saved.
enum class data_type : std::uint32_t {
  text = 1,
  binary = 2,
  json = 3,
  file = 4,
};

/// Returns the name of `type` as acknowledgements and the inbox show it:
/// `TEXT`, `BINARY`, `JSON`, `FILE`, or `UNKNOWN(<n>)` for any other value.
std::string data_type_name(std::uint32_t type);

/// One frame as read from the stream.
struct data_frame {
  std::uint32_t type = 0;
  std::string payload;

  friend bool operator==(const data_frame&, const data_frame&) = default;
};

/// Encodes one frame. Fails with `errc::oversized` when `payload` exceeds
/// `max_data_payload_size`, since the peer would end the connection.
result<std::string> encode_data_frame(std::uint32_t type,
                                      std::string_view payload);

/// Encodes the payload of a FILE frame. Fails with `errc::oversized` when
/// `name` is longer than 65535 bytes, which the 16-bit prefix cannot count.
result<std::string> encode_file_payload(std::string_view name,
                                        std::string_view data);

/// The parts of a FILE payload. Views into the payload.
struct file_payload {
  /// Whether the payload starts with a name header that fits in it. When
  /// `2 + name_len` exceeds the payload, the frame has no name and all of
  /// it is data, as the reference reads it.
  bool named = false;
  std::string_view name;
  std::string_view data;
};

/// Splits a FILE payload into its name and data.
file_payload split_file_payload(std::string_view payload) noexcept;

/// Returns the success acknowledgement `ACK <TYPE> <n> bytes`, where `n` is
/// the payload size without the name header of a FILE frame.
std::string data_ack_text(std::uint32_t type, std::size_t bytes);

/// Returns the failure acknowledgement `ERR <TYPE> save failed: <reason>`.
std::string data_error_text(std::uint32_t type, std::string_view reason);

/// Splits the byte stream of one data exchange connection into frames. It
/// buffers at most the frame in progress plus the rest of the last chunk
/// fed, and checks each length as soon as the header is complete, so an
/// oversize frame fails before its payload is buffered. After an error,
/// every `next` returns the same error.
///
/// Typical use:
///   reader.feed(chunk);
///   for (;;) {
///     auto frame = reader.next();
///     if (!frame) { close(); break; }
///     if (!*frame) break; // needs more bytes
///     handle(**frame);
///   }
class data_frame_reader {
public:
  /// Appends received bytes.
  void feed(std::string_view bytes);

  /// Pops the next complete frame. Returns an empty optional when the
  /// buffered bytes end inside a frame, and `errc::oversized` for a length
  /// above `max_data_payload_size`.
  result<std::optional<data_frame>> next();

  /// Returns the number of bytes fed but not yet returned as frames.
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }

  /// Returns whether some bytes of an unfinished frame are buffered.
  bool in_frame() const noexcept { return buffered() > 0; }

private:
  std::string buffer_;
  /// Offset of the first byte not yet returned.
  std::size_t start_ = 0;
  bool failed_ = false;
};

} // namespace pilot::protocol
