// Trust handshake messages: whatever decodes must encode to text that
// decodes to the same message with the same replay key.
#include "protocol/handshake_message.hpp"

#include "tests/fuzz/fuzz_check.hpp"

using namespace pilot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto decoded = protocol::decode_handshake_message(fuzz::text_of(data, size));
  if (!decoded)
    return 0;
  protocol::parse_handshake_kind(decoded->type);
  auto encoded = protocol::encode_handshake_message(*decoded);
  auto again = protocol::decode_handshake_message(encoded);
  fuzz::check(again.has_value(), "an encoded message decodes");
  fuzz::check(*again == *decoded, "the encoding decodes to the same message");
  fuzz::check(protocol::replay_key(*again) == protocol::replay_key(*decoded),
              "the replay key survives encoding");
  fuzz::check(protocol::encode_handshake_message(*again) == encoded,
              "encoding is stable");
  protocol::verify_handshake_signature(*decoded, decoded->public_key, 1);
  return 0;
}
