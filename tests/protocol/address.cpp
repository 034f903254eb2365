#include "protocol/address.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string_view>

using namespace pilot::protocol;

TEST_CASE("address text matches every documented example") {
  struct row {
    address value;
    std::string_view text;
  };
  const std::array rows{
      row{{0, 1}, "0:0000.0000.0001"},
      row{{0, 0x0001ABCD}, "0:0000.0001.ABCD"},
      row{{1, 4}, "1:0001.0000.0004"},
      row{{0, broadcast_node}, "0:0000.FFFF.FFFF"},
      row{{1, 0xF2910004}, "1:0001.F291.0004"},
      row{{23, 1}, "23:0017.0000.0001"},
      row{{5, broadcast_node}, "5:0005.FFFF.FFFF"},
      row{{65535, 0}, "65535:FFFF.0000.0000"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    CHECK_EQ(to_string(r.value), r.text);
    auto parsed = parse_address(r.text);
    REQUIRE(parsed.has_value());
    CHECK_EQ(*parsed, r.value);
  }
}

TEST_CASE("address parser accepts lower-case hex") {
  auto parsed = parse_address("0:0000.0001.abcd");
  REQUIRE(parsed.has_value());
  CHECK_EQ(parsed->node, 0x0001ABCDu);
}

TEST_CASE("address parser rejects malformed text") {
  const std::array<std::string_view, 17> rejected{
      "1:00A3.F291.0004", // decimal 1 differs from hex 0x00A3
      "0:FFFF.FFFF.FFFF", // the docs' broadcast form
      "1:0000.0000.0001", // network mismatch
      "",
      "0",
      "0:",
      ":0000.0000.0001",
      "0:0000.0000",
      "0:0000.0000.0001.0002",
      "0:000.0000.00001",
      "0:0000.0000.001",
      "0:0000.0000.00001",
      "0:0000.0000.000G",
      "+0:0000.0000.0001",
      "65536:0000.0000.0001", // network above 16 bits
      " 0:0000.0000.0001",
      "0:0000-0000-0001",
  };
  for (auto text : rejected) {
    CAPTURE(text);
    auto parsed = parse_address(text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK_EQ(parsed.error(), errc::invalid_address);
  }
}

TEST_CASE("address binary form is network then node big-endian") {
  address value{0x0102, 0x03040506};
  auto bytes = encode_address(value);
  CHECK_EQ(bytes, std::array<std::uint8_t, 6>{1, 2, 3, 4, 5, 6});
  auto decoded = decode_address(bytes);
  REQUIRE(decoded.has_value());
  CHECK_EQ(*decoded, value);
}

TEST_CASE("address decoder rejects fewer than 6 bytes") {
  std::array<std::uint8_t, 5> bytes{};
  auto decoded = decode_address(bytes);
  REQUIRE_FALSE(decoded.has_value());
  CHECK_EQ(decoded.error(), errc::truncated);
}

TEST_CASE("socket address splits at the last colon") {
  auto parsed = parse_socket_address("0:0000.0000.0001:1000");
  REQUIRE(parsed.has_value());
  CHECK_EQ(parsed->address, address{0, 1});
  CHECK_EQ(parsed->port, 1000);
  CHECK_EQ(to_string(*parsed), "0:0000.0000.0001:1000");
}

TEST_CASE("socket address parser rejects bad ports and addresses") {
  const std::array<std::string_view, 6> rejected{
      "0:0000.0000.0001",    "0:0000.0000.0001:",    "0:0000.0000.0001:65536",
      "0:0000.0000.0001:-1", "0:0000.0000.0001:80x", "1:0000.0000.0001:80",
  };
  for (auto text : rejected) {
    CAPTURE(text);
    CHECK_FALSE(parse_socket_address(text).has_value());
  }
}
