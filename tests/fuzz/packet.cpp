// Overlay packets: whatever decodes must encode back to the same bytes.
#include "protocol/packet.hpp"

#include "tests/fuzz/fuzz_check.hpp"

using namespace pilot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::bytes_of(data, size);
  auto decoded = protocol::decode_packet(bytes);
  if (!decoded)
    return 0;
  fuzz::check(decoded->payload.size() <= protocol::max_packet_payload_size,
              "payload within the length field");
  auto encoded = protocol::encode_packet(decoded->header, decoded->payload);
  fuzz::check(encoded.has_value(), "a decoded packet encodes");
  fuzz::check(encoded->size()
                  == protocol::packet_header_size + decoded->payload.size(),
              "encoded size is header plus payload");
  fuzz::check(fuzz::starts_with(bytes, *encoded),
              "encoding reproduces the decoded bytes");
  return 0;
}
