// Event stream frames: the frames must not depend on how the stream is cut,
// and the frames encoded again must be exactly the bytes consumed.
#include "protocol/event_stream.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <vector>

using namespace pilot;
using namespace pilot::protocol;

namespace {

struct split_result {
  std::vector<event_frame> frames;
  boost::system::error_code error;
};

void drain(event_frame_reader& reader, split_result& out) {
  while (!out.error) {
    auto frame = reader.next();
    if (!frame) {
      out.error = frame.error();
      return;
    }
    if (!*frame)
      return;
    fuzz::check((*frame)->topic.size() <= max_event_topic_size,
                "topic within the limit");
    fuzz::check((*frame)->payload.size() <= max_event_payload_size,
                "payload within the limit");
    out.frames.push_back(std::move(**frame));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::text_of(data, size);
  event_frame_reader whole_reader;
  split_result whole;
  whole_reader.feed(bytes);
  drain(whole_reader, whole);
  event_frame_reader chunked_reader;
  split_result chunked;
  fuzz::feed_in_chunks(bytes, 5, [&](std::string_view chunk) {
    chunked_reader.feed(chunk);
    drain(chunked_reader, chunked);
  });
  fuzz::check(whole.frames == chunked.frames, "frames independent of cuts");
  fuzz::check(whole.error == chunked.error, "error independent of cuts");
  std::string framed;
  for (const auto& frame : whole.frames) {
    auto encoded = encode_event_frame(frame.topic, frame.payload);
    fuzz::check(encoded.has_value(), "a decoded frame encodes");
    framed += *encoded;
  }
  fuzz::check(bytes.substr(0, framed.size()) == framed,
              "encoding the frames reproduces the stream");
  if (!whole.error)
    fuzz::check(whole_reader.buffered() == size - framed.size(),
                "the rest stays buffered");
  return 0;
}
