// IPC frames and payloads: the frames must not depend on how the stream is
// cut, each frame must encode and decode to itself, and each payload decoder
// must accept what its encoder writes for the value it decoded.
#include "protocol/ipc.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <vector>

using namespace pilot;
using namespace pilot::protocol;

namespace {

struct split_result {
  std::vector<ipc_frame> frames;
  boost::system::error_code error;
};

void drain(ipc_frame_decoder& decoder, split_result& out) {
  while (!out.error) {
    auto frame = decoder.next();
    if (!frame) {
      out.error = frame.error();
      return;
    }
    if (!*frame)
      return;
    fuzz::check((*frame)->payload.size() <= max_ipc_payload_size,
                "payload within the limit");
    out.frames.push_back(std::move(**frame));
  }
}

// Checks that `decode(encode(decode(payload)))` equals `decode(payload)`.
template <class Decode, class Encode>
void check_payload(std::string_view payload, Decode decode, Encode encode) {
  auto value = decode(payload);
  if (!value)
    return;
  auto again = decode(encode(*value));
  fuzz::check(again.has_value() && *again == *value,
              "a payload decodes to what its encoding decodes to");
}

void check_payloads(std::string_view payload) {
  check_payload(payload, decode_set_visibility, encode_set_visibility);
  check_payload(payload, decode_set_tags, encode_set_tags);
  check_payload(payload, decode_bind, encode_bind);
  check_payload(payload, decode_dial, encode_dial);
  check_payload(payload, decode_conn_id, encode_conn_id);
  check_payload(payload, decode_conn_data, encode_conn_data);
  check_payload(payload, decode_accept, encode_accept);
  check_payload(payload, decode_send_to, encode_send_to);
  check_payload(payload, decode_recv_from, encode_recv_from);
  check_payload(payload, decode_handshake_command, encode_handshake_command);
  check_payload(payload, decode_set_webhook_config, encode_set_webhook_config);
  if (auto message = decode_ipc_error(payload)) {
    auto frame = encode_ipc_error(*message);
    fuzz::check(frame.size() <= ipc_frame_header_size + max_ipc_frame_size,
                "an error frame fits");
    fuzz::check(frame.substr(ipc_frame_header_size + 3) == *message,
                "a short error message is kept whole");
  }
  std::size_t limit
      = 3 + (payload.empty() ? 0 : static_cast<unsigned char>(payload[0]));
  fuzz::check(truncate_text(payload, limit).size() <= limit,
              "truncated text fits its limit");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::text_of(data, size);
  ipc_frame_decoder whole_decoder;
  split_result whole;
  whole_decoder.feed(bytes);
  drain(whole_decoder, whole);
  ipc_frame_decoder chunked_decoder;
  split_result chunked;
  fuzz::feed_in_chunks(bytes, 9, [&](std::string_view chunk) {
    chunked_decoder.feed(chunk);
    drain(chunked_decoder, chunked);
  });
  fuzz::check(whole.frames == chunked.frames, "frames independent of cuts");
  fuzz::check(whole.error == chunked.error, "error independent of cuts");
  for (const auto& frame : whole.frames) {
    to_string(frame.command);
    auto encoded = encode_ipc_frame(frame.command, frame.payload);
    fuzz::check(encoded.has_value(), "a decoded frame encodes");
    ipc_frame_decoder decoder;
    decoder.feed(*encoded);
    auto again = decoder.next();
    fuzz::check(again && *again && **again == frame,
                "an encoded frame decodes to itself");
    check_payloads(frame.payload);
  }
  // Payload decoders see the whole input too, not only framed payloads.
  check_payloads(bytes);
  return 0;
}
