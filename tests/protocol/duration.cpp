#include "protocol/duration.hpp"

#include <doctest/doctest.h>

#include <array>
#include <string_view>

using namespace pilot::protocol;
using namespace std::chrono_literals;

TEST_CASE("duration parser reads Go duration strings") {
  struct row {
    std::string_view text;
    std::chrono::nanoseconds expected;
  };
  const std::array rows{
      row{"0", 0ns},
      row{"-0", 0ns},
      row{"30s", 30s},
      row{"+30s", 30s},
      row{"1m30s", 90s},
      row{"3m", 3min},
      row{"180s", 180s},
      row{"500ms", 500ms},
      row{"1.5h", 90min},
      row{"1h2m3s4ms5us6ns", 1h + 2min + 3s + 4ms + 5us + 6ns},
      row{"2\xC2\xB5s", 2us},
      row{"2\xCE\xBCs", 2us},
      row{".5s", 500ms},
      row{"1.s", 1s},
      row{"0.000000001s", 1ns},
      row{"-1.5s", -1500ms},
      row{"9223372036854775807ns", std::chrono::nanoseconds::max()},
      row{"-9223372036854775808ns", std::chrono::nanoseconds::min()},
      row{"5m0s", 5min},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto parsed = parse_duration(r.text);
    REQUIRE(parsed.has_value());
    CHECK_EQ(parsed->count(), r.expected.count());
  }
}

TEST_CASE("duration parser rejects invalid text") {
  const std::array<std::string_view, 13> rejected{
      "",
      "-",
      "30",
      "s",
      "1x",
      "1sec",
      "1 s",
      ".s",
      "1..s",
      "1m-",
      "h1",
      "9223372036854775808ns",
      "99999999999999999999h",
  };
  for (auto text : rejected) {
    CAPTURE(text);
    auto parsed = parse_duration(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK_EQ(parsed.error(), errc::invalid_field);
  }
}

TEST_CASE("duration formatter writes Go strings") {
  CHECK_EQ(format_duration(0ns), "0s");
  CHECK_EQ(format_duration(90s), "1m30s");
  CHECK_EQ(format_duration(3min), "3m0s");
  CHECK_EQ(format_duration(2h), "2h0m0s");
  CHECK_EQ(format_duration(1500ms), "1.5s");
  CHECK_EQ(format_duration(500ms), "500ms");
  CHECK_EQ(format_duration(1500us), "1.5ms");
  CHECK_EQ(format_duration(2us), "2\xC2\xB5s");
  CHECK_EQ(format_duration(7ns), "7ns");
  CHECK_EQ(format_duration(-90s), "-1m30s");
}
