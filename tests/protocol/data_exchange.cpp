#include "protocol/data_exchange.hpp"

#include "tests/protocol/frame_reading.hpp"
#include "tests/protocol/hex.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace pilot::protocol;
using namespace pilot::test;

namespace {

std::string encode_frame(std::uint32_t type, std::string_view payload) {
  auto frame = encode_data_frame(type, payload);
  REQUIRE(frame.has_value());
  return *frame;
}

} // namespace

TEST_CASE("a TEXT frame encodes as the reference writes it") {
  CHECK(encode_frame(1, "hello")
        == byte_string({0, 0, 0, 1, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}));
}

TEST_CASE("a FILE frame carries its name header in the length") {
  auto payload = encode_file_payload("a.txt", "xy");
  REQUIRE(payload.has_value());
  CHECK(encode_frame(4, *payload)
        == byte_string(
            {0, 0, 0, 4, 0, 0, 0, 9, 0, 5, 'a', '.', 't', 'x', 't', 'x', 'y'}));
}

TEST_CASE("the ACK of a FILE frame counts only the file bytes") {
  auto ack = data_ack_text(4, 2);
  CHECK(ack == "ACK FILE 2 bytes");
  CHECK(encode_frame(1, ack)
        == byte_string({0,    0,    0,    1,    0,    0,    0,    0x10,
                        0x41, 0x43, 0x4b, 0x20, 0x46, 0x49, 0x4c, 0x45,
                        0x20, 0x32, 0x20, 0x62, 0x79, 0x74, 0x65, 0x73}));
}

TEST_CASE("a failed save is acknowledged with its reason") {
  CHECK(data_error_text(3, "No space left on device")
        == "ERR JSON save failed: No space left on device");
}

TEST_CASE("type names cover the known and unknown types") {
  CHECK(data_type_name(1) == "TEXT");
  CHECK(data_type_name(2) == "BINARY");
  CHECK(data_type_name(3) == "JSON");
  CHECK(data_type_name(4) == "FILE");
  CHECK(data_type_name(0) == "UNKNOWN(0)");
  CHECK(data_type_name(4294967295u) == "UNKNOWN(4294967295)");
}

TEST_CASE("a FILE payload splits into name and data") {
  auto payload = byte_string({0, 5, 'a', '.', 't', 'x', 't', 'x', 'y'});
  auto parts = split_file_payload(payload);
  CHECK(parts.named);
  CHECK(parts.name == "a.txt");
  CHECK(parts.data == "xy");
}

TEST_CASE("a name header longer than the payload means no name") {
  auto payload = byte_string({0, 9, 'a', 'b'});
  auto parts = split_file_payload(payload);
  CHECK_FALSE(parts.named);
  CHECK(parts.name.empty());
  CHECK(parts.data == payload);
}

TEST_CASE("a payload shorter than the name header has no name") {
  auto payload = byte_string({7});
  auto parts = split_file_payload(payload);
  CHECK_FALSE(parts.named);
  CHECK(parts.data.size() == 1);
}

TEST_CASE("an empty name with data is a named payload") {
  auto payload = byte_string({0, 0, 'x'});
  auto parts = split_file_payload(payload);
  CHECK(parts.named);
  CHECK(parts.name.empty());
  CHECK(parts.data == "x");
}

TEST_CASE("a name over 65535 bytes cannot be encoded") {
  std::string name(65536, 'n');
  auto payload = encode_file_payload(name, "x");
  REQUIRE_FALSE(payload.has_value());
  CHECK(payload.error() == errc::oversized);
  CHECK(encode_file_payload(std::string(65535, 'n'), "x").has_value());
}

TEST_CASE("a payload over 16 MiB cannot be encoded") {
  std::string payload(max_data_payload_size + 1, 'p');
  auto frame = encode_data_frame(2, payload);
  REQUIRE_FALSE(frame.has_value());
  CHECK(frame.error() == errc::oversized);
}

TEST_CASE("the reader yields frames however the stream is cut") {
  auto wire = encode_frame(1, "hello") + encode_frame(2, byte_string({0, 1, 2}))
              + encode_frame(7, "") + encode_frame(3, "{\"a\":1}");
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{8},
                            std::size_t{13}, wire.size()}) {
    CAPTURE(chunk);
    auto frames = read_frames<data_frame_reader>(wire, chunk);
    REQUIRE(frames.size() == 4);
    CHECK(frames[0] == data_frame{1, "hello"});
    CHECK(frames[1] == data_frame{2, byte_string({0, 1, 2})});
    CHECK(frames[2] == data_frame{7, ""});
    CHECK(frames[3] == data_frame{3, "{\"a\":1}"});
  }
}

TEST_CASE("the reader reports a partial frame as buffered") {
  data_frame_reader reader;
  reader.feed(encode_frame(1, "hello").substr(0, 10));
  auto frame = reader.next();
  REQUIRE(frame.has_value());
  CHECK_FALSE(frame->has_value());
  CHECK(reader.buffered() == 10);
  CHECK(reader.in_frame());
}

TEST_CASE("the reader accepts a payload of exactly 16 MiB") {
  std::string payload(max_data_payload_size, 'z');
  auto frames
      = read_frames<data_frame_reader>(encode_frame(2, payload), 4096 * 64);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].payload.size() == max_data_payload_size);
}

TEST_CASE("the reader rejects a length over 16 MiB from the header alone") {
  data_frame_reader reader;
  reader.feed(byte_string({0, 0, 0, 1, 0x01, 0, 0, 1}));
  auto frame = reader.next();
  REQUIRE_FALSE(frame.has_value());
  CHECK(frame.error() == errc::oversized);
  CHECK(reader.buffered() == 0);
  reader.feed("more");
  auto again = reader.next();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error() == errc::oversized);
  CHECK(reader.buffered() == 0);
}

TEST_CASE("the reader rejects an oversize frame after a valid one") {
  data_frame_reader reader;
  reader.feed(encode_frame(1, "ok")
              + byte_string({0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF}));
  auto first = reader.next();
  REQUIRE(first.has_value());
  REQUIRE(first->has_value());
  CHECK((*first)->payload == "ok");
  auto second = reader.next();
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error() == errc::oversized);
}
