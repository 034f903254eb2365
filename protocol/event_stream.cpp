#include "protocol/event_stream.hpp"

#include <utility>

namespace pilot::protocol {

namespace {

std::size_t read_u16(std::string_view bytes) noexcept {
  return std::size_t{static_cast<std::uint8_t>(bytes[0])} << 8
         | std::size_t{static_cast<std::uint8_t>(bytes[1])};
}

std::size_t read_u32(std::string_view bytes) noexcept {
  return std::size_t{static_cast<std::uint8_t>(bytes[0])} << 24
         | std::size_t{static_cast<std::uint8_t>(bytes[1])} << 16
         | std::size_t{static_cast<std::uint8_t>(bytes[2])} << 8
         | std::size_t{static_cast<std::uint8_t>(bytes[3])};
}

} // namespace

result<std::string> encode_event_frame(std::string_view topic,
                                       std::string_view payload) {
  if (topic.size() > max_event_topic_size
      || payload.size() > max_event_payload_size)
    return errc::oversized;
  auto topic_size = static_cast<std::uint16_t>(topic.size());
  auto payload_size = static_cast<std::uint32_t>(payload.size());
  std::string frame;
  frame.reserve(event_frame_overhead + topic.size() + payload.size());
  frame += static_cast<char>(topic_size >> 8);
  frame += static_cast<char>(topic_size);
  frame += topic;
  frame += static_cast<char>(payload_size >> 24);
  frame += static_cast<char>(payload_size >> 16);
  frame += static_cast<char>(payload_size >> 8);
  frame += static_cast<char>(payload_size);
  frame += payload;
  return frame;
}

void event_frame_reader::feed(std::string_view bytes) {
  // Drop the consumed prefix before growing, so the buffer contains at most
  // the unread frames.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

result<std::optional<event_frame>> event_frame_reader::next() {
  if (failed_)
    return errc::oversized;
  auto rest = std::string_view{buffer_}.substr(start_);
  // Step 1: the topic length, checked before anything else arrives.
  if (rest.size() < 2)
    return std::optional<event_frame>{};
  auto topic_size = read_u16(rest);
  if (topic_size > max_event_topic_size) {
    failed_ = true;
    return errc::oversized;
  }
  // Step 2: the payload length after the topic.
  if (rest.size() < 2 + topic_size + 4)
    return std::optional<event_frame>{};
  auto payload_size = read_u32(rest.substr(2 + topic_size));
  if (payload_size > max_event_payload_size) {
    failed_ = true;
    return errc::oversized;
  }
  // Step 3: the whole frame.
  auto frame_size = event_frame_overhead + topic_size + payload_size;
  if (rest.size() < frame_size)
    return std::optional<event_frame>{};
  event_frame frame{std::string{rest.substr(2, topic_size)},
                    std::string{rest.substr(2 + topic_size + 4, payload_size)}};
  start_ += frame_size;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return std::optional<event_frame>{std::move(frame)};
}

} // namespace pilot::protocol
