#include "protocol/event_stream.hpp"

#include "tests/protocol/frame_reading.hpp"
#include "tests/protocol/hex.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace pilot::protocol;
using namespace pilot::test;

namespace {

std::string u16_be(std::size_t n) {
  return {static_cast<char>(n >> 8), static_cast<char>(n)};
}

std::string u32_be(std::size_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
          static_cast<char>(n >> 8), static_cast<char>(n)};
}

} // namespace

TEST_CASE("a subscription to news encodes as the reference's bytes") {
  auto frame = encode_event_frame("news", "");
  REQUIRE(frame.has_value());
  CHECK(*frame == string_from_hex("00 04 6e 65 77 73 00 00 00 00"));
}

TEST_CASE("a publish of hi on news encodes as the reference's bytes") {
  auto frame = encode_event_frame("news", "hi");
  REQUIRE(frame.has_value());
  CHECK(*frame == string_from_hex("00 04 6e 65 77 73 00 00 00 02 68 69"));
}

TEST_CASE("the reader decodes the reference's byte examples") {
  auto stream = string_from_hex("00 04 6e 65 77 73 00 00 00 00"
                                "00 04 6e 65 77 73 00 00 00 02 68 69");
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, stream.size()}) {
    CAPTURE(chunk);
    auto frames = read_frames<event_frame_reader>(stream, chunk);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0] == event_frame{"news", ""});
    CHECK(frames[1] == event_frame{"news", "hi"});
  }
}

TEST_CASE("an empty topic and binary payloads round-trip") {
  std::string payload{"\0\xff\x01 text", 8};
  auto frame = encode_event_frame("", payload);
  REQUIRE(frame.has_value());
  auto frames = read_frames<event_frame_reader>(*frame, 2);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].topic.empty());
  CHECK(frames[0].payload == payload);
}

TEST_CASE("the largest topic and payload are accepted") {
  std::string topic(max_event_topic_size, 't');
  std::string payload(max_event_payload_size, 'p');
  auto frame = encode_event_frame(topic, payload);
  REQUIRE(frame.has_value());
  CHECK(frame->size() == event_frame_overhead + topic.size() + payload.size());
  auto frames = read_frames<event_frame_reader>(*frame, 65536);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].topic == topic);
  CHECK(frames[0].payload.size() == max_event_payload_size);
}

TEST_CASE("encoding rejects an oversized topic or payload") {
  std::string topic(max_event_topic_size + 1, 't');
  auto long_topic = encode_event_frame(topic, "x");
  REQUIRE_FALSE(long_topic.has_value());
  CHECK(long_topic.error() == make_error_code(errc::oversized));
  std::string payload(max_event_payload_size + 1, 'p');
  auto long_payload = encode_event_frame("news", payload);
  REQUIRE_FALSE(long_payload.has_value());
  CHECK(long_payload.error() == make_error_code(errc::oversized));
}

TEST_CASE("the reader rejects an oversized topic length at once") {
  event_frame_reader reader;
  reader.feed(u16_be(max_event_topic_size + 1));
  auto frame = reader.next();
  REQUIRE_FALSE(frame.has_value());
  CHECK(frame.error() == make_error_code(errc::oversized));
  // The error sticks, also after more bytes.
  reader.feed(std::string(10, 'x'));
  CHECK_FALSE(reader.next().has_value());
}

TEST_CASE("the reader rejects an oversized payload length before its body") {
  event_frame_reader reader;
  reader.feed(u16_be(4) + "news" + u32_be(max_event_payload_size + 1));
  auto frame = reader.next();
  REQUIRE_FALSE(frame.has_value());
  CHECK(frame.error() == make_error_code(errc::oversized));
}

TEST_CASE("the reader waits for a frame that is not complete") {
  event_frame_reader reader;
  auto frame = encode_event_frame("news", "hello");
  REQUIRE(frame.has_value());
  reader.feed(std::string_view{*frame}.substr(0, frame->size() - 1));
  auto partial = reader.next();
  REQUIRE(partial.has_value());
  CHECK_FALSE(partial->has_value());
  CHECK(reader.buffered() == frame->size() - 1);
  reader.feed(std::string_view{*frame}.substr(frame->size() - 1));
  auto complete = reader.next();
  REQUIRE(complete.has_value());
  REQUIRE(complete->has_value());
  CHECK(**complete == event_frame{"news", "hello"});
  CHECK(reader.buffered() == 0);
}
