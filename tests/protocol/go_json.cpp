#include "protocol/go_json.hpp"

#include <doctest/doctest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <string>

using namespace pilot::protocol;

TEST_CASE("go json sorts keys by byte order and writes compactly") {
  boost::json::object object;
  object["type"] = "x";
  object["b"] = 1;
  object["a"] = boost::json::array{1, 2};
  object["Z"] = true;
  object["_"] = nullptr;
  CHECK_EQ(to_go_json(object),
           R"({"Z":true,"_":null,"a":[1,2],"b":1,"type":"x"})");
}

TEST_CASE("go json sorts nested objects too") {
  boost::json::object inner;
  inner["id"] = 7;
  inner["addr"] = "10.0.0.5:9001";
  boost::json::object outer;
  outer["beacons"] = boost::json::array{inner};
  outer["type"] = "beacon_list_ok";
  CHECK_EQ(to_go_json(outer), R"({"beacons":[{"addr":"10.0.0.5:9001","id":7}],)"
                              R"("type":"beacon_list_ok"})");
}

TEST_CASE("go json escapes html characters and line separators") {
  std::string out;
  append_go_json_string(out, "need <data> & more\xE2\x80\xA8\xE2\x80\xA9");
  CHECK_EQ(out, R"("need \u003cdata\u003e \u0026 more\u2028\u2029")");
}

TEST_CASE("go json escapes control characters") {
  std::string out;
  append_go_json_string(out, std::string("\"\\\b\f\n\r\t\x01\x1f\x7f", 10));
  CHECK_EQ(out, "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
}

TEST_CASE("go json keeps valid multi-byte text") {
  std::string out;
  append_go_json_string(out, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK_EQ(out, "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST_CASE("go json replaces each invalid byte with ufffd") {
  std::string out;
  // A lone continuation byte, a truncated 3-byte sequence (two bytes), an
  // overlong slash, a surrogate and a byte above U+10FFFF.
  append_go_json_string(out, "a\x80"
                             "b\xE2\x82"
                             "c\xC0\xAF"
                             "d\xED\xA0\x80"
                             "e\xF4\x90\x80\x80");
  CHECK_EQ(out, R"("a\ufffdb\ufffd\ufffdc\ufffd\ufffdd\ufffd\ufffd\ufffd)"
                R"(e\ufffd\ufffd\ufffd\ufffd")");
}

TEST_CASE("go valid utf8 repairs byte by byte") {
  CHECK_EQ(go_valid_utf8("ok"), "ok");
  CHECK_EQ(go_valid_utf8("a\xE2\x82z"), "a\xEF\xBF\xBD\xEF\xBF\xBDz");
}

TEST_CASE("go json writes integers as integers") {
  boost::json::object object;
  object["max"] = std::uint64_t{18446744073709551615u};
  object["min"] = std::int64_t{-9223372036854775807 - 1};
  object["zero"] = 0;
  CHECK_EQ(to_go_json(object), R"({"max":18446744073709551615,)"
                               R"("min":-9223372036854775808,"zero":0})");
}

TEST_CASE("go json formats doubles like strconv") {
  auto text = [](double value) {
    return to_go_json(boost::json::value(value));
  };
  CHECK_EQ(text(1.5), "1.5");
  CHECK_EQ(text(100.0), "100");
  CHECK_EQ(text(0.0), "0");
  CHECK_EQ(text(-2.25), "-2.25");
  CHECK_EQ(text(1e20), "100000000000000000000");
  CHECK_EQ(text(1e21), "1e+21");
  CHECK_EQ(text(0.000001), "0.000001");
  CHECK_EQ(text(1e-7), "1e-7");
  CHECK_EQ(text(1.25e-10), "1.25e-10");
}

TEST_CASE("go json writes empty containers") {
  boost::json::object object;
  object["list"] = boost::json::array{};
  object["map"] = boost::json::object{};
  CHECK_EQ(to_go_json(object), R"({"list":[],"map":{}})");
}
