#pragma once

#include "protocol/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Frames of the event stream service on port 1002. One frame shape serves
/// subscribe, publish and delivery: a 2-byte big-endian topic length, the
/// topic, a 4-byte big-endian payload length and the payload.
namespace pilot::protocol {

/// Maximum topic size of one frame, in bytes.
inline constexpr std::size_t max_event_topic_size = 1024;

/// Maximum payload size of one frame, in bytes (16 MiB, inclusive).
inline constexpr std::size_t max_event_payload_size = std::size_t{16} << 20;

/// Size of a frame without its topic and payload.
inline constexpr std::size_t event_frame_overhead = 2 + 4;

/// One event: a subscription, a publish or a delivery.
struct event_frame {
  std::string topic;
  std::string payload;

  friend bool operator==(const event_frame&, const event_frame&) = default;
};

/// Encodes one frame. Fails with `errc::oversized` when the topic exceeds
/// `max_event_topic_size` or the payload exceeds `max_event_payload_size`.
result<std::string> encode_event_frame(std::string_view topic,
                                       std::string_view payload);

/// Splits a byte stream into event frames. Lengths are checked as soon as
/// their bytes arrive, so an oversized frame fails before its body is
/// buffered. After an error every further `next` returns the same error.
///
/// Typical use:
///   reader.feed(chunk);
///   while (true) {
///     auto frame = reader.next();
///     if (!frame) { close(); break; }
///     if (!*frame) break; // needs more bytes
///     handle(**frame);
///   }
class event_frame_reader {
public:
  /// Appends received bytes.
  void feed(std::string_view bytes);

  /// Pops the next complete frame. Returns an empty optional when the
  /// buffered bytes end inside a frame, and `errc::oversized` for a topic
  /// length above `max_event_topic_size` or a payload length above
  /// `max_event_payload_size`.
  result<std::optional<event_frame>> next();

  /// Returns the number of bytes fed but not yet returned as frames.
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }

private:
  std::string buffer_;
  std::size_t start_ = 0;
  bool failed_ = false;
};

} // namespace pilot::protocol
