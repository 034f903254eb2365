#include "protocol/detail/crc32.hpp"

#include <doctest/doctest.h>

#include <boost/crc.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

using namespace pilot::protocol::detail;

namespace {

using bytes = std::vector<std::uint8_t>;
using update_function
    = std::uint32_t (*)(std::uint32_t, std::span<const std::uint8_t>);

struct method {
  std::string_view name;
  update_function update;
};

// The table code always, and the folding code when this CPU can run it.
std::vector<method> methods() {
  std::vector<method> result{{"table", &crc32_update_table}};
  if (crc32_clmul_supported())
    result.push_back({"clmul", &crc32_update_clmul});
  return result;
}

std::uint32_t checksum_with(const method& m,
                            std::span<const std::uint8_t> data) {
  return ~m.update(0xFFFFFFFF, data);
}

std::uint32_t boost_checksum(std::span<const std::uint8_t> data) {
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

bytes random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 engine{seed};
  std::uniform_int_distribution<unsigned> byte{0, 255};
  bytes out(size);
  for (auto& b : out)
    b = static_cast<std::uint8_t>(byte(engine));
  return out;
}

} // namespace

TEST_CASE("crc32 of 123456789 is CBF43926") {
  constexpr std::string_view text = "123456789";
  std::span data{reinterpret_cast<const std::uint8_t*>(text.data()),
                 text.size()};
  CHECK_EQ(crc32_ieee::of(data), 0xCBF43926u);
  for (const auto& m : methods()) {
    CAPTURE(m.name);
    CHECK_EQ(checksum_with(m, data), 0xCBF43926u);
  }
}

TEST_CASE("crc32 of no bytes is zero") {
  CHECK_EQ(crc32_ieee::of({}), 0u);
  CHECK_EQ(crc32_ieee{}.checksum(), 0u);
}

TEST_CASE("crc32 matches boost at lengths 0 to 300") {
  auto data = random_bytes(300, 1);
  for (const auto& m : methods()) {
    for (std::size_t size = 0; size <= data.size(); ++size) {
      CAPTURE(m.name);
      CAPTURE(size);
      auto prefix = std::span{data}.first(size);
      REQUIRE_EQ(checksum_with(m, prefix), boost_checksum(prefix));
    }
  }
}

TEST_CASE("crc32 matches boost at misaligned offsets") {
  auto data = random_bytes(200, 2);
  for (const auto& m : methods()) {
    for (std::size_t offset = 0; offset < 16; ++offset) {
      CAPTURE(m.name);
      CAPTURE(offset);
      auto part = std::span{data}.subspan(offset, 150);
      REQUIRE_EQ(checksum_with(m, part), boost_checksum(part));
    }
  }
}

TEST_CASE("crc32 matches boost on large buffers") {
  for (std::size_t size : {4096u, 4130u, 65535u + 34u, 1u << 20}) {
    auto data = random_bytes(size, static_cast<std::uint32_t>(size));
    auto expected = boost_checksum(data);
    CAPTURE(size);
    CHECK_EQ(crc32_ieee::of(data), expected);
    for (const auto& m : methods()) {
      CAPTURE(m.name);
      CHECK_EQ(checksum_with(m, data), expected);
    }
  }
}

TEST_CASE("crc32 matches boost on constant buffers") {
  for (std::uint8_t fill : {std::uint8_t{0x00}, std::uint8_t{0xFF}}) {
    bytes data(1000, fill);
    CAPTURE(fill);
    for (const auto& m : methods()) {
      CAPTURE(m.name);
      CHECK_EQ(checksum_with(m, data), boost_checksum(data));
    }
  }
}

TEST_CASE("crc32 split in two equals one pass") {
  auto data = random_bytes(300, 3);
  auto whole = crc32_ieee::of(data);
  for (std::size_t split = 0; split <= data.size(); ++split) {
    CAPTURE(split);
    crc32_ieee crc;
    crc.update(std::span{data}.first(split));
    crc.update(std::span{data}.subspan(split));
    REQUIRE_EQ(crc.checksum(), whole);
  }
}

TEST_CASE("crc32 split in three equals one pass") {
  auto data = random_bytes(4096 + 34, 4);
  auto whole = crc32_ieee::of(data);
  // A packet's checksum runs over 30 header bytes, 4 zeroed bytes and the
  // payload, and the pieces here sit around the folding path's 64 bytes.
  for (std::size_t first : {0u, 1u, 30u, 63u, 64u, 65u, 200u}) {
    for (std::size_t second : {0u, 4u, 15u, 16u, 64u, 129u}) {
      CAPTURE(first);
      CAPTURE(second);
      std::span all{data};
      crc32_ieee crc;
      crc.update(all.first(first));
      crc.update(all.subspan(first, second));
      crc.update(all.subspan(first + second));
      REQUIRE_EQ(crc.checksum(), whole);
    }
  }
}
