#include "actors/error.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace pilot::actors;

TEST_CASE("a short value is quoted whole") {
  CHECK(quote_value("web") == "\"web\"");
  CHECK(quote_value("") == "\"\"");
  CHECK(shorten_value("web") == "web");
}

TEST_CASE("a long value is cut with its size") {
  std::string huge((1 << 20) - 64, 'h');
  auto quoted = quote_value(huge);
  CHECK(quoted == "\"" + std::string(64, 'h') + "\"... (1048512 bytes)");
  auto shortened = shorten_value(huge);
  CHECK(shortened == std::string(64, 'h') + "... (1048512 bytes)");
  CHECK(quote_value(huge, 3) == "\"hhh\"... (1048512 bytes)");
}

TEST_CASE("a value is cut between whole UTF-8 characters") {
  // Each "é" is two bytes, each "€" three.
  CHECK(quote_value("\xC3\xA9\xC3\xA9\xC3\xA9", 2)
        == "\"\xC3\xA9\xC3\xA9\"... (6 bytes)");
  CHECK(shorten_value("\xE2\x82\xAC\xE2\x82\xAC", 1)
        == "\xE2\x82\xAC... (6 bytes)");
}

TEST_CASE("control characters and quotes are escaped") {
  CHECK(quote_value("a\nb\r\tc") == R"("a\nb\r\tc")");
  CHECK(quote_value("say \"hi\" \\ bye") == R"("say \"hi\" \\ bye")");
  CHECK(quote_value(std::string{"\x1B[2J\x7F"}) == R"("\x1B[2J\x7F")");
  CHECK(quote_value(std::string{"\0", 1}) == R"("\x00")");
  // U+0085 NEXT LINE, a C1 control, encoded as C2 85.
  CHECK(quote_value("\xC2\x85") == R"("\u0085")");
  // U+00A0 NO-BREAK SPACE is printable and stays.
  CHECK(quote_value("\xC2\xA0") == "\"\xC2\xA0\"");
}

TEST_CASE("invalid UTF-8 becomes the replacement character") {
  CHECK(quote_value("a\xFF"
                    "b")
        == "\"a\xEF\xBF\xBD"
           "b\"");
  CHECK(shorten_value("\xC3") == "\xEF\xBF\xBD");
  // A surrogate encoded in UTF-8 is ill-formed, one U+FFFD per byte.
  CHECK(shorten_value("\xED\xA0\x80")
        == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}
