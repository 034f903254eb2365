#include "protocol/data_exchange.hpp"

#include <utility>

namespace pilot::protocol {

namespace {

void append_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((value >> shift) & 0xFF);
}

std::uint32_t read_u32(std::string_view bytes) noexcept {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i)
    value = value << 8 | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

} // namespace

std::string data_type_name(std::uint32_t type) {
  switch (static_cast<data_type>(type)) {
    case data_type::text:
      return "TEXT";
    case data_type::binary:
      return "BINARY";
    case data_type::json:
      return "JSON";
    case data_type::file:
      return "FILE";
  }
  return "UNKNOWN(" + std::to_string(type) + ")";
}

result<std::string> encode_data_frame(std::uint32_t type,
                                      std::string_view payload) {
  if (payload.size() > max_data_payload_size)
    return make_error_code(errc::oversized);
  std::string out;
  out.reserve(data_frame_header_size + payload.size());
  append_u32(out, type);
  append_u32(out, static_cast<std::uint32_t>(payload.size()));
  out += payload;
  return out;
}

result<std::string> encode_file_payload(std::string_view name,
                                        std::string_view data) {
  if (name.size() > 0xFFFF)
    return make_error_code(errc::oversized);
  std::string out;
  out.reserve(file_name_header_size + name.size() + data.size());
  out += static_cast<char>(name.size() >> 8);
  out += static_cast<char>(name.size() & 0xFF);
  out += name;
  out += data;
  return out;
}

file_payload split_file_payload(std::string_view payload) noexcept {
  if (payload.size() < file_name_header_size)
    return {false, {}, payload};
  auto name_size = std::size_t{static_cast<std::uint8_t>(payload[0])} << 8
                   | static_cast<std::uint8_t>(payload[1]);
  if (file_name_header_size + name_size > payload.size())
    return {false, {}, payload};
  return {true, payload.substr(file_name_header_size, name_size),
          payload.substr(file_name_header_size + name_size)};
}

std::string data_ack_text(std::uint32_t type, std::size_t bytes) {
  return "ACK " + data_type_name(type) + " " + std::to_string(bytes) + " bytes";
}

std::string data_error_text(std::uint32_t type, std::string_view reason) {
  return "ERR " + data_type_name(type) + " save failed: " + std::string{reason};
}

void data_frame_reader::feed(std::string_view bytes) {
  if (failed_)
    return;
  // Drop the bytes already returned before growing the buffer, so that it
  // never contains more than the frame in progress and the new chunk.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_ += bytes;
}

result<std::optional<data_frame>> data_frame_reader::next() {
  if (failed_)
    return make_error_code(errc::oversized);
  auto pending = std::string_view{buffer_}.substr(start_);
  if (pending.size() < data_frame_header_size)
    return std::optional<data_frame>{};
  auto length = read_u32(pending.substr(4));
  if (length > max_data_payload_size) {
    failed_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    start_ = 0;
    return make_error_code(errc::oversized);
  }
  auto frame_size = data_frame_header_size + length;
  if (pending.size() < frame_size) {
    // Once half the frame has arrived, reserve the rest exactly. The buffer
    // then does not double past the frame, and a length that no data
    // follows costs no memory.
    if (pending.size() >= frame_size / 2)
      buffer_.reserve(start_ + frame_size);
    return std::optional<data_frame>{};
  }
  data_frame frame{read_u32(pending),
                   std::string{pending.substr(data_frame_header_size, length)}};
  start_ += frame_size;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
    // Give back the memory of a large frame.
    if (buffer_.capacity() > 65536)
      buffer_.shrink_to_fit();
  }
  return std::optional<data_frame>{std::move(frame)};
}

} // namespace pilot::protocol
