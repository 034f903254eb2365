// Selective acknowledgements: whatever decodes must encode back to the same
// bytes, and the blocks a receiver builds stay within the limit.
#include "protocol/sack.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <algorithm>

using namespace pilot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto bytes = fuzz::bytes_of(data, size);
  if (auto blocks = protocol::decode_sack(bytes)) {
    auto encoded = protocol::encode_sack(*blocks);
    fuzz::check(encoded.has_value(), "decoded blocks encode");
    fuzz::check(std::ranges::equal(*encoded, bytes),
                "encoding reproduces the decoded bytes");
  }
  // Read the input as ranges the receiver holds out of order.
  std::vector<protocol::sack_block> ranges;
  for (std::size_t i = 0; i + 8 <= size && ranges.size() < 64; i += 8) {
    auto u32 = [&](std::size_t at) {
      return std::uint32_t{data[at]} << 24 | std::uint32_t{data[at + 1]} << 16
             | std::uint32_t{data[at + 2]} << 8 | data[at + 3];
    };
    ranges.push_back({u32(i), u32(i + 4)});
  }
  auto expected = ranges.empty() ? 0 : ranges.front().left;
  auto built = protocol::build_sack_blocks(ranges, expected);
  fuzz::check(built.size() <= protocol::max_sack_blocks, "at most 4 blocks");
  for (const auto& block : built)
    fuzz::check(block.left != block.right, "no empty block");
  if (!built.empty())
    fuzz::check(protocol::encode_sack(built).has_value(),
                "built blocks encode");
  return 0;
}
