#include "protocol/utf8.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace pilot::protocol;
using namespace std::string_literals;

namespace {

const std::string fffd{replacement_character};

} // namespace

TEST_CASE("valid UTF-8 passes unchanged") {
  for (auto text : {""s, "plain ascii"s, "caf\xC3\xA9"s, "\xE2\x82\xAC"s,
                    "\xF0\x9F\x98\x80"s, "\xED\x9F\xBF"s, "\xEE\x80\x80"s,
                    "\xF4\x8F\xBF\xBF"s, "nul \0 inside"s}) {
    CHECK(is_valid_utf8(text));
    CHECK(to_valid_utf8(text) == text);
  }
}

TEST_CASE("a stray continuation byte becomes one replacement") {
  CHECK_FALSE(is_valid_utf8("a\x80z"));
  CHECK(to_valid_utf8("a\x80z") == "a" + fffd + "z");
  CHECK(to_valid_utf8("\x80\xBF") == fffd + fffd);
}

TEST_CASE("bytes that never start a sequence are replaced") {
  for (auto byte : {"\xC0"s, "\xC1"s, "\xF5"s, "\xF8"s, "\xFE"s, "\xFF"s})
    CHECK(to_valid_utf8("x" + byte + "y") == "x" + fffd + "y");
}

TEST_CASE("overlong encodings are replaced byte by byte") {
  // '/' as two bytes: C0 is never valid, then 0xAF is a stray continuation.
  CHECK(to_valid_utf8("\xC0\xAF") == fffd + fffd);
  // U+0000 as three bytes: E0 needs A0..BF next.
  CHECK(to_valid_utf8("\xE0\x80\x80") == fffd + fffd + fffd);
  // U+FFFF as four bytes: F0 needs 90..BF next.
  CHECK(to_valid_utf8("\xF0\x8F\xBF\xBF") == fffd + fffd + fffd + fffd);
}

TEST_CASE("encoded surrogates are replaced") {
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));
  CHECK(to_valid_utf8("\xED\xA0\x80") == fffd + fffd + fffd);
  CHECK(to_valid_utf8("\xED\xBF\xBF") == fffd + fffd + fffd);
}

TEST_CASE("code points above U+10FFFF are replaced") {
  CHECK(to_valid_utf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);
}

TEST_CASE("a truncated sequence becomes one replacement") {
  CHECK(to_valid_utf8("ab\xE2\x82") == "ab" + fffd);
  CHECK(to_valid_utf8("\xF0\x9F\x98") == fffd);
  CHECK(to_valid_utf8("\xE2\x82z") == fffd + "z");
  CHECK(to_valid_utf8("\xF0\x9F\x98\"") == fffd + "\"");
}

TEST_CASE("valid characters around invalid bytes survive") {
  auto text = "\xC3\xA9\xFF\xE2\x82\xAC\xC3"s;
  CHECK(to_valid_utf8(text) == "\xC3\xA9" + fffd + "\xE2\x82\xAC" + fffd);
  CHECK(is_valid_utf8(to_valid_utf8(text)));
}

TEST_CASE("repaired text is always valid") {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 256; j += 17)
      all_bytes += {static_cast<char>(i), static_cast<char>(j)};
  CHECK_FALSE(is_valid_utf8(all_bytes));
  CHECK(is_valid_utf8(to_valid_utf8(all_bytes)));
}
