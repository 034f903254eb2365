#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace pilot::control {

/// Serializes `value` the way Go's `json.MarshalIndent(v, "", "  ")` does:
/// keys sorted by byte order, one member or element per line indented by two
/// spaces per level, `"key": value`, and `{}` / `[]` for empty containers.
/// Strings and numbers are written as `protocol::to_go_json` writes them.
/// No trailing newline.
std::string to_indented_json(const boost::json::value& value);

} // namespace pilot::control
