#include "protocol/registry_frame.hpp"

#include <algorithm>
#include <cassert>

namespace pilot::protocol {

std::string encode_registry_frame(std::string_view json_body) {
  auto size = static_cast<std::uint32_t>(json_body.size());
  std::string frame;
  frame.reserve(registry_frame_header_size + json_body.size());
  frame += static_cast<char>(size >> 24);
  frame += static_cast<char>(size >> 16);
  frame += static_cast<char>(size >> 8);
  frame += static_cast<char>(size);
  frame += json_body;
  return frame;
}

result<std::size_t> decode_registry_frame_header(
    std::span<const std::uint8_t, registry_frame_header_size> header) noexcept {
  std::size_t size = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16
                     | std::size_t{header[2]} << 8 | std::size_t{header[3]};
  if (size == 0)
    return errc::malformed_json;
  if (size > max_registry_body_size)
    return errc::oversized;
  return size;
}

result<std::size_t> registry_frame_decoder::feed(std::string_view bytes) {
  if (failed_)
    return error_;
  if (body_complete_)
    return std::size_t{0};
  std::size_t used = 0;
  // Step 1: complete the length prefix and check it before allocating.
  if (header_filled_ < header_.size()) {
    auto n = std::min(bytes.size(), header_.size() - header_filled_);
    std::copy_n(bytes.begin(), n, header_.begin() + header_filled_);
    header_filled_ += n;
    used += n;
    if (header_filled_ < header_.size())
      return used;
    auto size = decode_registry_frame_header(header_);
    if (!size) {
      failed_ = true;
      error_ = size.error();
      return error_;
    }
    body_size_ = *size;
    body_.clear();
  }
  // Step 2: copy what the body still lacks. The buffer grows with the bytes
  // that arrive, so a peer that declares 1 MiB and sends little uses little
  // memory.
  auto n = std::min(bytes.size() - used, body_size_ - body_.size());
  body_.append(bytes.substr(used, n));
  used += n;
  body_complete_ = body_.size() == body_size_;
  return used;
}

std::string registry_frame_decoder::pop_body() {
  assert(body_complete_);
  std::string body = std::move(body_);
  body_.clear();
  header_filled_ = 0;
  body_size_ = 0;
  body_complete_ = false;
  return body;
}

} // namespace pilot::protocol
