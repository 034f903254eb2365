#include "protocol/registry_frame.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace pilot::protocol;

namespace {

// Feeds `stream` in chunks of `chunk` bytes and collects every body.
std::vector<std::string> decode_all(std::string_view stream,
                                    std::size_t chunk) {
  registry_frame_decoder decoder;
  std::vector<std::string> bodies;
  while (!stream.empty()) {
    auto piece = stream.substr(0, chunk);
    stream.remove_prefix(piece.size());
    while (!piece.empty()) {
      auto used = decoder.feed(piece);
      REQUIRE(used.has_value());
      piece.remove_prefix(*used);
      if (decoder.has_body())
        bodies.push_back(decoder.pop_body());
    }
  }
  CHECK(decoder.idle());
  return bodies;
}

std::string header(std::uint32_t size) {
  return std::string{static_cast<char>(size >> 24),
                     static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8), static_cast<char>(size)};
}

} // namespace

TEST_CASE("registry frame prefixes the body with its big-endian length") {
  auto frame = encode_registry_frame(R"({"node_id":1,"type":"lookup"})");
  CHECK_EQ(frame.size(), 4 + 0x1d);
  CHECK_EQ(frame.substr(0, 4), std::string("\0\0\0\x1d", 4));
  CHECK_EQ(frame.substr(4), R"({"node_id":1,"type":"lookup"})");
}

TEST_CASE("registry frame decoder splits a stream at any chunk size") {
  std::vector<std::string> bodies{R"({"type":"a"})", R"({"type":"bb"})",
                                  std::string(300, 'x')};
  std::string stream;
  for (const auto& body : bodies)
    stream += encode_registry_frame(body);
  for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 64u, 4096u}) {
    CAPTURE(chunk);
    CHECK_EQ(decode_all(stream, chunk), bodies);
  }
}

TEST_CASE("registry frame decoder waits while a body is unread") {
  registry_frame_decoder decoder;
  auto stream = encode_registry_frame("{}") + encode_registry_frame("[]");
  auto used = decoder.feed(stream);
  REQUIRE(used.has_value());
  CHECK_EQ(*used, 6);
  REQUIRE(decoder.has_body());
  auto again = decoder.feed(std::string_view{stream}.substr(*used));
  REQUIRE(again.has_value());
  CHECK_EQ(*again, 0);
  CHECK_EQ(decoder.pop_body(), "{}");
  CHECK_FALSE(decoder.has_body());
}

TEST_CASE("registry frame decoder rejects a zero length") {
  registry_frame_decoder decoder;
  auto used = decoder.feed(header(0));
  REQUIRE_FALSE(used.has_value());
  CHECK_EQ(used.error(), errc::malformed_json);
  // The decoder stays failed.
  auto again = decoder.feed(encode_registry_frame("{}"));
  REQUIRE_FALSE(again.has_value());
  CHECK_EQ(again.error(), errc::malformed_json);
}

TEST_CASE("registry frame decoder accepts exactly 1 MiB") {
  registry_frame_decoder decoder;
  auto used = decoder.feed(header(1048576));
  REQUIRE(used.has_value());
  CHECK_EQ(*used, 4);
  CHECK_FALSE(decoder.has_body());
  CHECK_FALSE(decoder.idle());
}

TEST_CASE("registry frame decoder rejects more than 1 MiB") {
  for (std::uint32_t size : {1048577u, 0xFFFFFFFFu}) {
    CAPTURE(size);
    registry_frame_decoder decoder;
    // The length arrives byte by byte; only the last byte fails.
    auto text = header(size);
    for (int i = 0; i < 3; ++i)
      REQUIRE(decoder.feed(text.substr(i, 1)).has_value());
    auto used = decoder.feed(text.substr(3));
    REQUIRE_FALSE(used.has_value());
    CHECK_EQ(used.error(), errc::oversized);
  }
}

TEST_CASE("registry frame header decoder checks the limits") {
  std::array<std::uint8_t, 4> zero{0, 0, 0, 0};
  std::array<std::uint8_t, 4> max{0, 0x10, 0, 0};
  std::array<std::uint8_t, 4> over{0, 0x10, 0, 1};
  CHECK_EQ(decode_registry_frame_header(zero).error(), errc::malformed_json);
  CHECK_EQ(decode_registry_frame_header(max).value(), 1048576u);
  CHECK_EQ(decode_registry_frame_header(over).error(), errc::oversized);
}
