// Beacon datagrams: whatever decodes must encode to a datagram that decodes
// to the same message, and that datagram must be the decoded bytes except
// where an IPv4-mapped address shrinks to 4 bytes.
#include "protocol/beacon_message.hpp"

#include "tests/fuzz/fuzz_check.hpp"

using namespace pilot;

namespace {

// Returns whether `message` carries an endpoint written as a 16-byte
// IPv4-mapped address, which the encoder writes in its 4-byte form.
bool has_mapped_endpoint(const protocol::beacon_message& message) {
  const protocol::beacon_endpoint* endpoint = nullptr;
  if (auto* reply = std::get_if<protocol::beacon_discover_reply>(&message))
    endpoint = &reply->observed;
  if (auto* command = std::get_if<protocol::beacon_punch_command>(&message))
    endpoint = &command->target;
  return endpoint != nullptr && endpoint->ip.is_v6()
         && endpoint->ip.to_v6().is_v4_mapped();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::bytes_of(data, size);
  auto decoded = protocol::decode_beacon_message(bytes);
  protocol::is_punch_packet(bytes);
  if (!decoded) {
    fuzz::check(size == 0 || data[0] < protocol::first_tunnel_frame_byte
                    || decoded.error() == protocol::errc::unknown_type,
                "tunnel frames are an unknown beacon type");
    return 0;
  }
  fuzz::check(data[0] < protocol::first_tunnel_frame_byte,
              "beacon types are below 0x10");
  auto encoded = protocol::encode_beacon_message(*decoded);
  if (!has_mapped_endpoint(*decoded))
    fuzz::check(fuzz::starts_with(bytes, encoded),
                "encoding reproduces the decoded bytes");
  auto again = protocol::decode_beacon_message(encoded);
  fuzz::check(again.has_value(), "the encoding decodes");
  if (!has_mapped_endpoint(*decoded))
    fuzz::check(*again == *decoded, "the encoding decodes to the same message");
  fuzz::check(protocol::encode_beacon_message(*again) == encoded,
              "encoding is stable");
  return 0;
}
