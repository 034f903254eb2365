// Tunnel frames: whatever decodes must encode back to the bytes it was
// decoded from (the whole datagram for PILS, the fixed part for the others).
#include "protocol/tunnel_frame.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <algorithm>
#include <type_traits>

using namespace pilot;

namespace {

std::vector<std::uint8_t> encode(const protocol::tunnel_frame& frame) {
  return std::visit(
      [](const auto& x) -> std::vector<std::uint8_t> {
        using frame_type = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<frame_type, protocol::plaintext_frame>) {
          auto packet
              = protocol::encode_packet(x.packet.header, x.packet.payload);
          fuzz::check(packet.has_value(), "a decoded packet encodes");
          return protocol::encode_plaintext_frame(*packet);
        } else {
          return protocol::encode_tunnel_frame(x);
        }
      },
      frame);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::bytes_of(data, size);
  auto decoded = protocol::decode_tunnel_frame(bytes);
  if (!decoded)
    return 0;
  fuzz::check(size <= protocol::max_tunnel_frame_size, "size within limit");
  auto encoded = encode(*decoded);
  if (std::holds_alternative<protocol::encrypted_frame>(*decoded)) {
    fuzz::check(std::ranges::equal(encoded, bytes),
                "PILS encoding reproduces the datagram");
    auto sealed = std::get<protocol::encrypted_frame>(*decoded).sealed.size();
    fuzz::check(sealed
                    >= protocol::packet_header_size + protocol::tunnel_tag_size,
                "PILS holds a header and a tag");
  } else {
    fuzz::check(fuzz::starts_with(bytes, encoded),
                "encoding reproduces the decoded bytes");
  }
  auto again = protocol::decode_tunnel_frame(encoded);
  fuzz::check(again.has_value() && *again == *decoded,
              "the encoding decodes to the same frame");
  return 0;
}
