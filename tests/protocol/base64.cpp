#include "protocol/base64.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string>
#include <string_view>

using namespace pilot::protocol;

namespace {

std::string as_text(const std::vector<std::uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

} // namespace

TEST_CASE("base64 encodes the RFC 4648 test vectors") {
  CHECK_EQ(base64_encode(std::string_view{""}), "");
  CHECK_EQ(base64_encode(std::string_view{"f"}), "Zg==");
  CHECK_EQ(base64_encode(std::string_view{"fo"}), "Zm8=");
  CHECK_EQ(base64_encode(std::string_view{"foo"}), "Zm9v");
  CHECK_EQ(base64_encode(std::string_view{"foob"}), "Zm9vYg==");
  CHECK_EQ(base64_encode(std::string_view{"fooba"}), "Zm9vYmE=");
  CHECK_EQ(base64_encode(std::string_view{"foobar"}), "Zm9vYmFy");
}

TEST_CASE("base64 uses the standard alphabet") {
  std::array<std::uint8_t, 3> bytes{0xFB, 0xFF, 0xBF};
  CHECK_EQ(base64_encode(bytes), "+/+/");
}

TEST_CASE("base64 decoding round-trips every length") {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 40; ++i) {
    auto decoded = base64_decode(base64_encode(bytes));
    REQUIRE(decoded.has_value());
    CHECK_EQ(*decoded, bytes);
    bytes.push_back(static_cast<std::uint8_t>(i * 37 + 11));
  }
}

TEST_CASE("base64 decoder tolerates non-zero trailing bits") {
  // "Zh==" and "Zg==" both decode to "f"; only the second is canonical.
  auto decoded = base64_decode("Zh==");
  REQUIRE(decoded.has_value());
  CHECK_EQ(as_text(*decoded), "f");
  CHECK_FALSE(is_canonical_base64("Zh=="));
  CHECK(is_canonical_base64("Zg=="));
  auto two = base64_decode("Zm9=");
  REQUIRE(two.has_value());
  CHECK_EQ(as_text(*two), "fo");
  CHECK_FALSE(is_canonical_base64("Zm9="));
}

TEST_CASE("base64 decoder skips line breaks like Go") {
  auto decoded = base64_decode("Zm9v\r\nYmFy\n");
  REQUIRE(decoded.has_value());
  CHECK_EQ(as_text(*decoded), "foobar");
  CHECK_FALSE(is_canonical_base64("Zm9v\nYmFy"));
}

TEST_CASE("base64 decoder rejects invalid text") {
  const std::array<std::string_view, 11> rejected{
      "Zg",        // padding missing
      "Zg=",       // padding incomplete
      "Z===",      // too much padding
      "====",      // padding only
      "Zg==Zg==",  // padding in the middle
      "Zm9v!mFy",  // symbol outside the alphabet
      "Zm9v YmFy", // space
      "Zm9-",      // URL alphabet
      "Zm9_",      // URL alphabet
      "Zg=a",      // data after padding
      "Zm9vY",     // length not a multiple of 4
  };
  for (auto text : rejected) {
    CAPTURE(text);
    auto decoded = base64_decode(text);
    REQUIRE_FALSE(decoded.has_value());
    CHECK_EQ(decoded.error(), errc::invalid_base64);
    CHECK_FALSE(is_canonical_base64(text));
  }
}

TEST_CASE("base64 exact decoding checks the length") {
  auto key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  CHECK(base64_decode_exact(key, 32).has_value());
  auto wrong = base64_decode_exact(key, 31);
  REQUIRE_FALSE(wrong.has_value());
  CHECK_EQ(wrong.error(), errc::invalid_base64);
}
