#include "protocol/detail/crc32.hpp"

#include <array>

#if defined(__x86_64__)
#define PILOT_CRC32_CLMUL 1
#include <immintrin.h>
#else
#define PILOT_CRC32_CLMUL 0
#endif

namespace pilot::protocol::detail {

namespace {

// A 32-bit value here is a polynomial of degree below 32 in the reflected
// order CRC-32 uses, so bit i is the coefficient of x^(31 - i).
constexpr std::uint32_t reflected_polynomial = 0xEDB88320;

// Returns `value` * x mod P.
constexpr std::uint32_t times_x(std::uint32_t value) {
  return (value >> 1) ^ ((value & 1) != 0 ? reflected_polynomial : 0);
}

// Returns x^n mod P.
constexpr std::uint32_t x_power_mod(unsigned n) {
  std::uint32_t value = 0x80000000;
  for (unsigned i = 0; i < n; ++i)
    value = times_x(value);
  return value;
}

// -- slicing-by-16 ------------------------------------------------------------

constexpr std::size_t slice_count = 16;

using crc_tables = std::array<std::array<std::uint32_t, 256>, slice_count>;

// Table k maps a byte to the register after that byte and k zero bytes,
// starting from a zero register.
constexpr crc_tables make_tables() {
  crc_tables tables{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    auto value = byte;
    for (int bit = 0; bit < 8; ++bit)
      value = times_x(value);
    tables[0][byte] = value;
  }
  for (std::size_t k = 1; k < slice_count; ++k)
    for (std::size_t byte = 0; byte < 256; ++byte) {
      auto prev = tables[k - 1][byte];
      tables[k][byte] = (prev >> 8) ^ tables[0][prev & 0xFF];
    }
  return tables;
}

constexpr crc_tables tables = make_tables();

static_assert(tables[0][1] == 0x77073096, "zlib's table starts 0, 77073096");
static_assert(tables[0][255] == 0x2D02EF8D, "zlib's table ends 2D02EF8D");

constexpr std::uint32_t load_little_endian(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8
         | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

std::uint32_t update_bytewise(std::uint32_t state, const std::uint8_t* p,
                              std::size_t size) noexcept {
  for (std::size_t i = 0; i < size; ++i)
    state = (state >> 8) ^ tables[0][(state ^ p[i]) & 0xFF];
  return state;
}

} // namespace

std::uint32_t crc32_update_table(std::uint32_t state,
                                 std::span<const std::uint8_t> bytes) noexcept {
  const auto* p = bytes.data();
  auto size = bytes.size();
  // The register covers the first four bytes of each block, so it folds
  // into them and the block's 16 bytes are looked up independently.
  for (; size >= slice_count; size -= slice_count, p += slice_count) {
    auto head = state ^ load_little_endian(p);
    state = tables[15][head & 0xFF] ^ tables[14][(head >> 8) & 0xFF]
            ^ tables[13][(head >> 16) & 0xFF] ^ tables[12][head >> 24]
            ^ tables[11][p[4]] ^ tables[10][p[5]] ^ tables[9][p[6]]
            ^ tables[8][p[7]] ^ tables[7][p[8]] ^ tables[6][p[9]]
            ^ tables[5][p[10]] ^ tables[4][p[11]] ^ tables[3][p[12]]
            ^ tables[2][p[13]] ^ tables[1][p[14]] ^ tables[0][p[15]];
  }
  return update_bytewise(state, p, size);
}

// -- carry-less multiplication ------------------------------------------------

#if PILOT_CRC32_CLMUL

namespace {

// Folding follows Gopal et al., "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ Instruction" (Intel white paper 323102, 2009).
// A 16-byte block loaded little-endian contains a polynomial X of degree
// below 128 whose first byte carries the highest coefficients. Moving X
// forward by n bits onto a later block multiplies it by x^n. Mod P that is
// low64(X) * (x^(n+64) mod P) + high64(X) * (x^n mod P), where low64(X) is
// the first 8 bytes, and each product stays below 96 bits. The reflected
// carry-less product of two 64-bit operands lands one bit low in the
// 128-bit result, which adds a factor x, and a residue stored in bits 1-32
// of an operand adds a factor x^31. The multiplier for x^m is therefore
// (x^(m-32) mod P) << 1.
constexpr std::uint64_t fold_constant(unsigned m) {
  return std::uint64_t{x_power_mod(m - 32)} << 1;
}

// Moves a block forward by 512 bits (four blocks) or by 128 bits.
constexpr std::uint64_t fold512_low = fold_constant(512 + 64);
constexpr std::uint64_t fold512_high = fold_constant(512);
constexpr std::uint64_t fold128_low = fold_constant(128 + 64);
constexpr std::uint64_t fold128_high = fold_constant(128);

// Go's hash/crc32 for amd64 uses the same values, taken from the Linux
// kernel's crc32-pclmul.
static_assert(fold512_low == 0x154442BD4 && fold512_high == 0x1C6E41596);
static_assert(fold128_low == 0x1751997D0 && fold128_high == 0x0CCAA009E);

constexpr std::size_t block_size = 16;
constexpr std::size_t lane_count = 4;
constexpr std::size_t stride = block_size * lane_count;

[[gnu::target("pclmul")]] inline __m128i fold(__m128i block, __m128i keys,
                                              __m128i next) {
  auto low = _mm_clmulepi64_si128(block, keys, 0x00);
  auto high = _mm_clmulepi64_si128(block, keys, 0x11);
  return _mm_xor_si128(_mm_xor_si128(low, high), next);
}

// Puts `low` in the register's low 64 bits, which multiply its first 8
// bytes, and `high` in its high 64 bits.
inline __m128i make_keys(std::uint64_t low, std::uint64_t high) {
  return _mm_set_epi64x(static_cast<long long>(high),
                        static_cast<long long>(low));
}

inline __m128i load(const std::uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

} // namespace

bool crc32_clmul_supported() noexcept {
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") != 0;
  }();
  return supported;
}

[[gnu::target("pclmul")]] std::uint32_t
crc32_update_clmul(std::uint32_t state,
                   std::span<const std::uint8_t> bytes) noexcept {
  const auto* p = bytes.data();
  auto size = bytes.size();
  if (size < stride)
    return crc32_update_table(state, bytes);
  // Step 1: XOR the register into the first 4 bytes, as the table code
  // does, then fold 64 bytes per round in four independent lanes.
  __m128i lanes[lane_count];
  for (std::size_t i = 0; i < lane_count; ++i)
    lanes[i] = load(p + i * block_size);
  lanes[0]
      = _mm_xor_si128(lanes[0], _mm_cvtsi32_si128(static_cast<int>(state)));
  p += stride;
  size -= stride;
  const auto keys512 = make_keys(fold512_low, fold512_high);
  for (; size >= stride; size -= stride, p += stride)
    for (std::size_t i = 0; i < lane_count; ++i)
      lanes[i] = fold(lanes[i], keys512, load(p + i * block_size));
  // Step 2: merge the lanes, then fold in the remaining whole blocks.
  const auto keys128 = make_keys(fold128_low, fold128_high);
  auto block = lanes[0];
  for (std::size_t i = 1; i < lane_count; ++i)
    block = fold(block, keys128, lanes[i]);
  for (; size >= block_size; size -= block_size, p += block_size)
    block = fold(block, keys128, load(p));
  // Step 3: the table code reduces the last block to a 32-bit register by
  // running over it from a zero register, then continues over the tail.
  std::array<std::uint8_t, block_size> last;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(last.data()), block);
  state = crc32_update_table(0, last);
  return crc32_update_table(state, {p, size});
}

#else

bool crc32_clmul_supported() noexcept {
  return false;
}

// Outside x86 there is no folding code, so this runs the table code.
std::uint32_t crc32_update_clmul(std::uint32_t state,
                                 std::span<const std::uint8_t> bytes) noexcept {
  return crc32_update_table(state, bytes);
}

#endif

void crc32_ieee::update(std::span<const std::uint8_t> bytes) noexcept {
  if (crc32_clmul_supported())
    state_ = crc32_update_clmul(state_, bytes);
  else
    state_ = crc32_update_table(state_, bytes);
}

} // namespace pilot::protocol::detail
