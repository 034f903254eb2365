#pragma once

#include <string>
#include <string_view>

/// UTF-8 validation and repair for text that comes from peers.
namespace pilot::protocol {

/// The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

/// Returns whether `text` is well-formed UTF-8: no overlong forms, no
/// surrogates (U+D800 to U+DFFF), nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) noexcept;

/// Returns `text` with each maximal ill-formed subsequence replaced by one
/// U+FFFD, as the Unicode Standard (chapter 3, "U+FFFD Substitution of
/// Maximal Subparts") recommends. Valid text comes back unchanged. Throws
/// `std::bad_alloc` when memory runs out.
std::string to_valid_utf8(std::string_view text);

} // namespace pilot::protocol
