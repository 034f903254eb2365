#pragma once

#include "protocol/error.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pilot::protocol {

/// Encodes `bytes` in standard base64 (RFC 4648 alphabet) with padding.
std::string base64_encode(std::span<const std::uint8_t> bytes);

/// Encodes the bytes of `bytes` in standard base64 with padding.
std::string base64_encode(std::string_view bytes);

/// Decodes standard base64 the way Go's non-strict `base64.StdEncoding`
/// does: padding is required, '\r' and '\n' anywhere are skipped, and
/// non-zero unused bits in the last group are tolerated. Returns
/// `errc::invalid_base64` for any other deviation.
result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

/// Decodes like `base64_decode` and also requires exactly `size` bytes of
/// output; returns `errc::invalid_base64` otherwise.
result<std::vector<std::uint8_t>> base64_decode_exact(std::string_view text,
                                                      std::size_t size);

/// Returns whether `text` is the spelling `base64_encode` would produce for
/// the bytes it decodes to. Several spellings decode to the same bytes (the
/// unused bits of the last group, line breaks), so anything that indexes
/// decoded values by their text should index the canonical spelling.
bool is_canonical_base64(std::string_view text);

} // namespace pilot::protocol
