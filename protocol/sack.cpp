#include "protocol/sack.hpp"

#include "protocol/detail/big_endian.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace pilot::protocol {

namespace {

constexpr std::array<std::uint8_t, 4> sack_magic{'S', 'A', 'C', 'K'};

} // namespace

result<std::vector<std::uint8_t>>
encode_sack(std::span<const sack_block> blocks) {
  if (blocks.empty())
    return errc::invalid_field;
  if (blocks.size() > max_sack_blocks)
    return errc::oversized;
  std::vector<std::uint8_t> out(sack_magic.begin(), sack_magic.end());
  out.reserve(sack_prefix_size + blocks.size() * sack_block_size);
  out.push_back(static_cast<std::uint8_t>(blocks.size()));
  for (const auto& block : blocks) {
    detail::append_big_endian(out, block.left);
    detail::append_big_endian(out, block.right);
  }
  return out;
}

result<std::vector<sack_block>>
decode_sack(std::span<const std::uint8_t> payload) {
  if (payload.size() < sack_prefix_size)
    return errc::truncated;
  if (!std::equal(sack_magic.begin(), sack_magic.end(), payload.begin()))
    return errc::unknown_type;
  std::size_t count = payload[4];
  if (count == 0 || count > max_sack_blocks)
    return errc::invalid_field;
  auto expected_size = sack_prefix_size + count * sack_block_size;
  if (payload.size() < expected_size)
    return errc::truncated;
  if (payload.size() > expected_size)
    return errc::oversized;
  std::vector<sack_block> blocks(count);
  auto in = payload.subspan(sack_prefix_size);
  for (auto& block : blocks) {
    block.left = detail::load_big_endian<std::uint32_t>(in);
    block.right = detail::load_big_endian<std::uint32_t>(in.subspan(4));
    in = in.subspan(sack_block_size);
  }
  return blocks;
}

std::vector<sack_block> build_sack_blocks(std::span<const sack_block> ranges,
                                          std::uint32_t expected_seq) {
  // Offsets from `expected_seq` order the ranges correctly across a wrap.
  auto offset = [expected_seq](std::uint32_t seq) {
    return static_cast<std::uint32_t>(seq - expected_seq);
  };
  std::vector<sack_block> sorted;
  std::copy_if(ranges.begin(), ranges.end(), std::back_inserter(sorted),
               [](const sack_block& r) { return r.left != r.right; });
  std::sort(sorted.begin(), sorted.end(),
            [&](const sack_block& a, const sack_block& b) {
              return offset(a.left) < offset(b.left);
            });
  std::vector<sack_block> blocks;
  for (const auto& range : sorted) {
    if (!blocks.empty() && offset(range.left) <= offset(blocks.back().right)) {
      if (offset(range.right) > offset(blocks.back().right))
        blocks.back().right = range.right;
      continue;
    }
    if (blocks.size() == max_sack_blocks)
      break;
    blocks.push_back(range);
  }
  return blocks;
}

bool sack_covers(const sack_block& block, std::uint32_t seq,
                 std::uint32_t length) noexcept {
  std::uint64_t block_length
      = static_cast<std::uint32_t>(block.right - block.left);
  std::uint64_t start = static_cast<std::uint32_t>(seq - block.left);
  return start + length <= block_length;
}

} // namespace pilot::protocol
