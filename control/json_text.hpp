#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

namespace pilot::control {

/// Serializes `value` the way Go's `json.MarshalIndent(v, "", "  ")` does:
/// keys sorted by byte order, one member or element per line indented by two
/// spaces per level, `"key": value`, and `{}` / `[]` for empty containers.
/// Strings and numbers are written as `protocol::to_go_json` writes them.
/// No trailing newline.
std::string to_indented_json(const boost::json::value& value);

/// Converts a parsed simdjson element into a Boost.JSON value, keeping each
/// number's kind (signed, unsigned or double). Of duplicate keys the last
/// wins.
boost::json::value to_json_value(simdjson::dom::element element);

/// Parses `text` with simdjson. Returns an empty optional for invalid JSON.
std::optional<boost::json::value> parse_json(std::string_view text);

/// Returns the string member `key` of `object`, or "" when it is missing or
/// not a string.
std::string string_member(const boost::json::object& object,
                          std::string_view key);

} // namespace pilot::control
