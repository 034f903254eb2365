// Data exchange frames: the frames must not depend on how the stream is
// cut, the frames encoded again must be exactly the bytes consumed, and a
// FILE payload must split and join back to itself.
#include "protocol/data_exchange.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <vector>

using namespace pilot;
using namespace pilot::protocol;

namespace {

struct split_result {
  std::vector<data_frame> frames;
  boost::system::error_code error;
};

void drain(data_frame_reader& reader, split_result& out) {
  while (!out.error) {
    auto frame = reader.next();
    if (!frame) {
      out.error = frame.error();
      return;
    }
    if (!*frame)
      return;
    fuzz::check((*frame)->payload.size() <= max_data_payload_size,
                "payload within the limit");
    out.frames.push_back(std::move(**frame));
  }
}

void check_file_payload(std::string_view payload) {
  auto file = split_file_payload(payload);
  if (!file.named) {
    fuzz::check(file.data == payload, "an unnamed payload is all data");
    return;
  }
  auto joined = encode_file_payload(file.name, file.data);
  fuzz::check(joined.has_value() && *joined == payload,
              "name and data join back to the payload");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::text_of(data, size);
  data_frame_reader whole_reader;
  split_result whole;
  whole_reader.feed(bytes);
  drain(whole_reader, whole);
  data_frame_reader chunked_reader;
  split_result chunked;
  fuzz::feed_in_chunks(bytes, 11, [&](std::string_view chunk) {
    chunked_reader.feed(chunk);
    drain(chunked_reader, chunked);
  });
  fuzz::check(whole.frames == chunked.frames, "frames independent of cuts");
  fuzz::check(whole.error == chunked.error, "error independent of cuts");
  std::string framed;
  for (const auto& frame : whole.frames) {
    auto encoded = encode_data_frame(frame.type, frame.payload);
    fuzz::check(encoded.has_value(), "a decoded frame encodes");
    framed += *encoded;
    data_type_name(frame.type);
    data_ack_text(frame.type, frame.payload.size());
    data_error_text(frame.type, frame.payload);
    if (frame.type == static_cast<std::uint32_t>(data_type::file))
      check_file_payload(frame.payload);
  }
  fuzz::check(bytes.substr(0, framed.size()) == framed,
              "encoding the frames reproduces the stream");
  if (!whole.error)
    fuzz::check(whole_reader.buffered() == size - framed.size(),
                "the rest stays buffered");
  check_file_payload(bytes);
  return 0;
}
