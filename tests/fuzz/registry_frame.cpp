// Registry frames: the bodies must not depend on how the stream is cut, and
// the bodies framed again must be exactly the bytes consumed.
#include "protocol/registry_frame.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <string>
#include <vector>

using namespace pilot;

namespace {

struct split_result {
  std::vector<std::string> bodies;
  std::size_t consumed = 0;
  boost::system::error_code error;
};

// Feeds `chunk` to `decoder` until it is used up or the decoder fails.
void feed(protocol::registry_frame_decoder& decoder, std::string_view chunk,
          split_result& out) {
  while (!chunk.empty() && !out.error) {
    auto used = decoder.feed(chunk);
    if (!used) {
      out.error = used.error();
      return;
    }
    fuzz::check(*used <= chunk.size(), "feed uses at most what it is given");
    chunk.remove_prefix(*used);
    out.consumed += *used;
    if (decoder.has_body()) {
      out.bodies.push_back(decoder.pop_body());
      fuzz::check(out.bodies.back().size() <= protocol::max_registry_body_size,
                  "body within the limit");
    } else {
      fuzz::check(*used > 0 || chunk.empty(), "feed makes progress");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto text = fuzz::text_of(data, size);
  protocol::registry_frame_decoder whole_decoder;
  split_result whole;
  feed(whole_decoder, text, whole);
  protocol::registry_frame_decoder chunked_decoder;
  split_result chunked;
  fuzz::feed_in_chunks(text, 7, [&](std::string_view chunk) {
    feed(chunked_decoder, chunk, chunked);
  });
  fuzz::check(whole.bodies == chunked.bodies, "bodies independent of cuts");
  fuzz::check(whole.error == chunked.error, "error independent of cuts");
  std::string framed;
  for (const auto& body : whole.bodies)
    framed += protocol::encode_registry_frame(body);
  fuzz::check(text.substr(0, framed.size()) == framed,
              "framing the bodies reproduces the stream");
  if (!whole.error)
    fuzz::check(whole_decoder.idle() == (framed.size() == size),
                "idle exactly between frames");
  return 0;
}
