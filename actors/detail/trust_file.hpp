#pragma once

#include "actors/detail/trust_book.hpp"

#include <boost/system/error_code.hpp>

#include <filesystem>
#include <string>
#include <string_view>

/// trust.json: the trusted peers, the pending requests and our outstanding
/// requests, in the layout of the Go reference so that either daemon can
/// load the other's file.
namespace pilot::actors::detail {

/// Formats `records` as the Go reference writes its file with
/// `json.MarshalIndent` and 2 spaces, without a trailing newline.
/// - `trusted`: objects of node_id, public_key, approved_at, mutual, and
///   network when not 0, or `null` when there are none.
/// - `pending`: objects of node_id, public_key and justification (each
///   left out when empty) and received_at. The key is left out when there
///   are none.
/// - `outgoing`: objects of node_id and sent_at, left out when there are
///   none. Only this implementation writes it, and the reference ignores
///   it as an unknown key.
/// Times are RFC 3339 in local time with whole seconds, and the zero time is
/// `0001-01-01T00:00:00Z`. Entries are ordered by node ID.
std::string to_trust_file_json(const trust_records& records);

/// Parses a trust file. Missing keys and `null` values keep their zero
/// values, unknown keys are ignored, and a time that does not parse as
/// RFC 3339 becomes the zero time, as in the reference. Throws
/// `std::invalid_argument` naming the key and the problem when the text is
/// not JSON or a value has the wrong type or range, such as
/// `trusted[2].node_id: expected an integer from 0 to 4294967295`.
trust_records parse_trust_file(std::string_view text);

/// The outcome of reading the trust file.
struct trust_file_load {
  trust_records records;
  /// Whether a file exists at the path.
  bool found = false;
  /// Reason the file could not be read or parsed, empty on success. The
  /// records are then empty and the file must not be overwritten.
  std::string error;
};

/// Reads and parses the trust file at `path`. A missing file is no error.
trust_file_load load_trust_file(const std::filesystem::path& path);

/// Replaces the trust file at `path` atomically with mode 0600.
boost::system::error_code save_trust_file(const std::filesystem::path& path,
                                          const trust_records& records);

} // namespace pilot::actors::detail
