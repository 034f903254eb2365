#include "protocol/sack.hpp"

#include "tests/protocol/hex.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace pilot::protocol;
using pilot::test::from_hex;
using pilot::test::to_hex;

namespace {

using blocks = std::vector<sack_block>;

// The SACK payload of the ACK vector: [4097, 8193) and [12289, 16385).
constexpr auto two_blocks = "5341434b02 0000100100002001 0000300100004001";

boost::system::error_code decode_error(const std::vector<std::uint8_t>& in) {
  auto decoded = decode_sack(in);
  REQUIRE_FALSE(decoded.has_value());
  return decoded.error();
}

} // namespace

TEST_CASE("sack encodes two blocks as the golden vector") {
  const blocks b{{4097, 8193}, {12289, 16385}};
  auto encoded = encode_sack(b);
  REQUIRE(encoded.has_value());
  CHECK_EQ(to_hex(*encoded), pilot::test::normalize_hex(two_blocks));
}

TEST_CASE("sack decodes the golden vector") {
  auto decoded = decode_sack(from_hex(two_blocks));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == blocks{{4097, 8193}, {12289, 16385}});
}

TEST_CASE("sack round-trips one to four blocks") {
  const blocks all{{1, 2}, {0xFFFFFFF0, 0x10}, {100, 200}, {0, 0xFFFFFFFF}};
  for (std::size_t n = 1; n <= max_sack_blocks; ++n) {
    CAPTURE(n);
    const blocks b(all.begin(), all.begin() + static_cast<long>(n));
    auto encoded = encode_sack(b);
    REQUIRE(encoded.has_value());
    CHECK_EQ(encoded->size(), sack_prefix_size + n * sack_block_size);
    auto decoded = decode_sack(*encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == b);
  }
}

TEST_CASE("sack encoder rejects zero or more than four blocks") {
  CHECK_EQ(encode_sack({}).error(), errc::invalid_field);
  const blocks five(5, sack_block{1, 2});
  CHECK_EQ(encode_sack(five).error(), errc::oversized);
}

TEST_CASE("sack decoder rejects a short prefix") {
  CHECK_EQ(decode_error({}), errc::truncated);
  CHECK_EQ(decode_error(from_hex("5341434b")), errc::truncated);
}

TEST_CASE("sack decoder rejects another magic") {
  CHECK_EQ(decode_error(from_hex("5341434c01 0000000100000002")),
           errc::unknown_type);
}

TEST_CASE("sack decoder rejects a count of 0 or above 4") {
  CHECK_EQ(decode_error(from_hex("5341434b00")), errc::invalid_field);
  auto five = from_hex("5341434b05");
  five.resize(sack_prefix_size + 5 * sack_block_size);
  CHECK_EQ(decode_error(five), errc::invalid_field);
}

TEST_CASE("sack decoder rejects fewer blocks than the count") {
  auto wire = from_hex(two_blocks);
  wire.pop_back();
  CHECK_EQ(decode_error(wire), errc::truncated);
}

TEST_CASE("sack decoder leaves longer user data to the stream") {
  // A data segment that starts like a SACK is not one: reference senders
  // always write the exact length.
  auto segment = from_hex(two_blocks);
  segment.resize(4096, 'x');
  CHECK_EQ(decode_error(segment), errc::oversized);
}

TEST_CASE("sack blocks merge touching and overlapping ranges") {
  const blocks ranges{{300, 400}, {100, 200}, {200, 250}, {350, 500}};
  CHECK(build_sack_blocks(ranges, 50) == blocks{{100, 250}, {300, 500}});
}

TEST_CASE("sack blocks keep the four nearest to the expected seq") {
  const blocks ranges{{600, 700}, {100, 200}, {500, 550},
                      {300, 400}, {420, 450}, {210, 220}};
  CHECK(build_sack_blocks(ranges, 1)
        == blocks{{100, 200}, {210, 220}, {300, 400}, {420, 450}});
}

TEST_CASE("sack blocks order ranges across the sequence wrap") {
  const blocks ranges{{0x10, 0x20}, {0xFFFFFFF0, 0x0}, {0x0, 0x8}};
  CHECK(build_sack_blocks(ranges, 0xFFFFFF00)
        == blocks{{0xFFFFFFF0, 0x8}, {0x10, 0x20}});
}

TEST_CASE("sack blocks skip empty ranges") {
  const blocks ranges{{5, 5}, {10, 20}};
  CHECK(build_sack_blocks(ranges, 1) == blocks{{10, 20}});
  CHECK(build_sack_blocks({}, 1).empty());
}

TEST_CASE("sack block covers only whole segments inside it") {
  const sack_block block{4097, 8193};
  CHECK(sack_covers(block, 4097, 4096));
  CHECK(sack_covers(block, 5000, 100));
  CHECK_FALSE(sack_covers(block, 4096, 10));
  CHECK_FALSE(sack_covers(block, 8000, 194));
  CHECK_FALSE(sack_covers(block, 8193, 1));
}

TEST_CASE("sack block covers segments across the sequence wrap") {
  const sack_block block{0xFFFFFF00, 0x100};
  CHECK(sack_covers(block, 0xFFFFFFF0, 0x20));
  CHECK(sack_covers(block, 0x0, 0x100));
  CHECK_FALSE(sack_covers(block, 0xFFFFFEFF, 2));
  CHECK_FALSE(sack_covers(block, 0xF0, 0x20));
}
