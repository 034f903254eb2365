#pragma once

#include "actors/detail/registry_state.hpp"

#include <optional>
#include <string>
#include <string_view>

/// The registry's store file: one JSON object in the layout of the Go
/// reference's store, so that either server can load the other's file.
namespace pilot::actors::detail {

/// Formats `time` as RFC 3339 in UTC, with nanoseconds when `with_fraction`
/// (trailing zeros trimmed, like Go's RFC3339Nano) or whole seconds.
std::string format_rfc3339(registry_time time, bool with_fraction);

/// Parses RFC 3339 (`2026-01-01T00:00:00Z`, `...T01:00:00.5+01:00`).
std::optional<registry_time> parse_rfc3339(std::string_view text);

/// Serializes the persistent tables: `next_node`, `next_net`, `nodes`,
/// `networks`, then `trust_pairs`, `pub_key_idx`, `handshake_inbox` and
/// `handshake_responses` when not empty.
std::string to_store_json(const registry_state& state);

/// Replaces `state` with the tables of a store file and rebuilds the
/// indexes. Network 0 (the backbone) is created when the file lacks it, and
/// every node is made a member of it. Keys are indexed by their canonical
/// base64. Throws `std::invalid_argument` naming the first invalid field.
void load_store_json(std::string_view text, registry_state& state);

} // namespace pilot::actors::detail
