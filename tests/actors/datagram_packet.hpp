#pragma once

#include "protocol/packet.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pilot::test {

/// Encodes a datagram packet from node `src` port 49153 to node `dst` port
/// 5000 on network 0, carrying `text`.
inline std::vector<std::uint8_t>
datagram_packet(std::uint32_t src, std::uint32_t dst,
                std::string_view text = "ping") {
  protocol::packet_header header;
  header.protocol = protocol::packet_protocol::datagram;
  header.src = {0, src};
  header.dst = {0, dst};
  header.src_port = 49153;
  header.dst_port = 5000;
  auto encoded = protocol::encode_packet(
      header, std::span{reinterpret_cast<const std::uint8_t*>(text.data()),
                        text.size()});
  REQUIRE(encoded.has_value());
  return *encoded;
}

} // namespace pilot::test
