#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Webhook signing secrets, the `webhook-signature` header of the Standard
/// Webhooks scheme, and the check of a CA file for https webhooks.
namespace pilot::protocol {

/// The prefix of a webhook secret in text form.
inline constexpr std::string_view webhook_secret_prefix = "whsec_";

/// Minimum size of a decoded webhook signing key in bytes.
inline constexpr std::size_t min_webhook_key_size = 24;

/// Maximum size of a decoded webhook signing key in bytes.
inline constexpr std::size_t max_webhook_key_size = 64;

/// The reason a webhook secret was rejected.
struct webhook_secret_error {
  /// A sentence for the user that names the problem. Never contains the
  /// secret or any part of it.
  std::string message;
};

/// Throws `std::invalid_argument` with the message; called by
/// `boost::system::result::value()` on a rejected secret.
[[noreturn]] void throw_exception_from_error(const webhook_secret_error& e,
                                             const boost::source_location&);

/// Decodes a webhook secret, `whsec_` followed by the key in standard
/// base64 with padding, into the raw key of 24 to 64 bytes.
boost::system::result<std::string, webhook_secret_error>
parse_webhook_secret(std::string_view secret);

/// Returns `text` with every `whsec_` secret in it, valid or not, replaced
/// by `whsec_<hidden>`: the key runs to the first character outside
/// standard base64. A `whsec_` that no key character follows is kept. For
/// messages that quote what a user typed, such as an unknown flag
/// `--webhook-secrets=whsec_...`.
std::string hide_webhook_secrets(std::string_view text);

/// Computes the `webhook-signature` header value: for each key in `keys`,
/// `v1,` and the standard base64 of HMAC-SHA256 over
/// `<webhook_id>.<timestamp>.<body>`, separated by single spaces. Returns ""
/// when `keys` is empty.
std::string webhook_signature(const std::vector<std::string>& keys,
                              std::string_view webhook_id,
                              std::string_view timestamp,
                              std::string_view body);

/// Largest CA file for https webhooks, 1 MiB: several times the system's
/// whole trust store, and a bound on the memory and time a CA file takes.
inline constexpr std::size_t max_ca_file_size = std::size_t{1} << 20;

/// Reads the CA file for https webhooks at `path`: a regular file of at
/// most `max_ca_file_size` bytes holding PEM certificates and nothing after
/// them, at least one. Never waits on a special file such as a FIFO.
/// Returns the PEM text, or a message for the user naming the problem.
boost::system::result<std::string, std::string>
read_ca_file(const std::string& path);

/// Checks `path` as `read_ca_file` does. Returns the message for the user,
/// or nothing when the file is usable.
std::optional<std::string> ca_file_problem(const std::string& path);

} // namespace pilot::protocol
