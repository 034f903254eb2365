#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

/// CRC-32 with the IEEE 802.3 polynomial 0x04C11DB7, bit-reflected, with
/// initial value and final XOR 0xFFFFFFFF: the checksum that zlib's `crc32`
/// and `boost::crc_32_type` compute.
///
/// The free functions advance the raw CRC register, without the initial
/// value and final XOR, so a checksum can be split across calls.
namespace pilot::protocol::detail {

/// Advances `state` over `bytes` with slicing-by-16 table lookups, which
/// runs on every CPU.
std::uint32_t crc32_update_table(std::uint32_t state,
                                 std::span<const std::uint8_t> bytes) noexcept;

/// Returns whether this CPU has the carry-less multiplication instruction
/// (PCLMULQDQ) that `crc32_update_clmul` needs. Always false outside x86.
bool crc32_clmul_supported() noexcept;

/// Advances `state` over `bytes` by folding 64 bytes per step with
/// carry-less multiplication. Call it only when `crc32_clmul_supported()`
/// returns true, because the CPU faults on the instruction otherwise.
std::uint32_t crc32_update_clmul(std::uint32_t state,
                                 std::span<const std::uint8_t> bytes) noexcept;

/// A running CRC-32 over data that arrives in pieces. It uses
/// `crc32_update_clmul` for longer pieces when the CPU supports it, and
/// `crc32_update_table` otherwise.
class crc32_ieee {
public:
  /// Appends `bytes` to the checksummed data.
  void update(std::span<const std::uint8_t> bytes) noexcept;

  /// Returns the CRC-32 of every byte passed to `update` so far.
  std::uint32_t checksum() const noexcept { return ~state_; }

  /// Returns the CRC-32 of `bytes`.
  static std::uint32_t of(std::span<const std::uint8_t> bytes) noexcept {
    crc32_ieee crc;
    crc.update(bytes);
    return crc.checksum();
  }

private:
  std::uint32_t state_ = 0xFFFFFFFF;
};

} // namespace pilot::protocol::detail
