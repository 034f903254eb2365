#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

/// A JSON writer that produces the bytes Go's `encoding/json` emits when it
/// marshals maps and slices of `interface{}` (Go 1.22 and later), so that
/// peers and golden tests see the same bytes as from the Go reference.
namespace pilot::protocol {

/// Serializes `value` the way Go marshals it:
/// - object keys sorted by byte order, compact, no whitespace;
/// - `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`, and U+2028 and U+2029
///   as `\u2028` and `\u2029`;
/// - `\b`, `\f`, `\n`, `\r`, `\t` as short escapes, other control characters
///   as `\u00XX`;
/// - each byte that is not part of valid UTF-8 as `\ufffd`;
/// - integers as integers, and doubles in Go's shortest form (exponent
///   notation below 1e-6 and from 1e21 on; NaN and infinities, which Go
///   refuses to encode, as `null`).
/// Build a Go nil slice as `nullptr` and an empty one as an empty array.
std::string to_go_json(const boost::json::value& value);

/// Appends `to_go_json(value)` to `out`.
void append_go_json(std::string& out, const boost::json::value& value);

/// Appends `text` as a JSON string literal with Go's escaping.
void append_go_json_string(std::string& out, std::string_view text);

/// Returns `text` with each byte that is not part of valid UTF-8 replaced by
/// U+FFFD, byte by byte, as Go's `encoding/json` reads and writes strings.
/// (Go replaces every invalid byte on its own, unlike the Unicode
/// recommendation of one U+FFFD per maximal invalid subsequence.)
std::string go_valid_utf8(std::string_view text);

} // namespace pilot::protocol
