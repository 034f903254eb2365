#pragma once

#include "protocol/error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

/// Selective acknowledgements, carried as the payload of a stream ACK:
/// `"SACK" | count (1 byte, 1-4) | count x (left u32 | right u32)`, with
/// big-endian sequence numbers and an exclusive right edge.
namespace pilot::protocol {

/// Most blocks one ACK carries.
inline constexpr std::size_t max_sack_blocks = 4;

/// Size of the magic and the count byte.
inline constexpr std::size_t sack_prefix_size = 5;

/// Size of one encoded block.
inline constexpr std::size_t sack_block_size = 8;

/// A received byte range `[left, right)` in stream sequence numbers.
struct sack_block {
  std::uint32_t left = 0;
  std::uint32_t right = 0;

  friend bool operator==(const sack_block&, const sack_block&) = default;
};

/// Encodes 1 to `max_sack_blocks` blocks. Returns `errc::invalid_field` for
/// no blocks and `errc::oversized` for more than `max_sack_blocks`.
result<std::vector<std::uint8_t>>
encode_sack(std::span<const sack_block> blocks);

/// Decodes a SACK payload: `errc::truncated` when shorter than its count
/// declares, `errc::unknown_type` without the "SACK" magic,
/// `errc::invalid_field` for a count outside 1-4, and `errc::oversized` for
/// bytes after the last block.
///
/// The reference also takes longer payloads for SACK, so a data segment that
/// starts like one is lost. Every reference sender writes the exact length,
/// so rejecting trailing bytes keeps such user data without losing any SACK.
result<std::vector<sack_block>>
decode_sack(std::span<const std::uint8_t> payload);

/// Builds the blocks a receiver advertises from the ranges it holds out of
/// order: it orders them by distance from `expected_seq` (so sequence
/// wrap-around is handled), merges ranges that touch or overlap, and keeps
/// the `max_sack_blocks` nearest to `expected_seq`. Empty ranges are
/// skipped.
std::vector<sack_block> build_sack_blocks(std::span<const sack_block> ranges,
                                          std::uint32_t expected_seq);

/// Returns whether `block` covers the whole segment `[seq, seq + length)`,
/// comparing sequence numbers modulo 2^32 relative to `block.left`.
bool sack_covers(const sack_block& block, std::uint32_t seq,
                 std::uint32_t length) noexcept;

} // namespace pilot::protocol
