#pragma once

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pilot::actors {

/// Reasons why a request to an actor in `actors/` fails. Each error carries a
/// context message for the user, such as `set_hostname: hostname "web" is
/// already in use by another node`, and `render_error` returns that text.
enum class errc : std::uint8_t {
  /// The registry could not be reached, or the connection failed before a
  /// response arrived.
  registry_unavailable = 1,
  /// The registry responded with its error frame.
  registry_rejected,
  /// The registry's response is not the JSON that the request expects.
  malformed_reply,
  /// The node is not registered (yet, or any more).
  not_registered,
  /// A request argument is invalid, so nothing was sent.
  invalid_argument,
  /// No response arrived before the request's deadline.
  timeout,
  /// Too many requests are waiting already, so nothing was sent.
  busy,
  /// The actor is stopping and takes no new requests.
  stopping,
  /// The peer answered a connection request with an RST.
  connection_refused,
  /// No connection or other object has the ID in the request.
  not_found,
};

/// The category atom of errors made from `errc`.
constexpr caf::atom_value error_category = caf::atom("pilot_act");

/// Returns the enumerator name of `code`, e.g. `registry_unavailable`.
std::string to_string(errc code);

/// Makes an error of `code` whose context is the user-facing `text`.
caf::error make_error(errc code, std::string text);

/// Makes an error of `code` whose text is the enumerator name.
caf::error make_error(errc code);

/// Renders an error of `error_category`: its context text, or the enumerator
/// name when the context is empty. Matches the renderer type of
/// `caf::actor_system_config::add_error_category`.
std::string render_error(std::uint8_t code, caf::atom_value category,
                         const caf::message& context);

/// Registers `render_error` for `error_category`, so that
/// `caf::actor_system::render` shows the user-facing text.
void add_error_renderer(caf::actor_system_config& cfg);

/// Maximum number of characters of a user's or a peer's value that error
/// messages and log lines show.
inline constexpr std::size_t max_shown_chars = 64;

/// Shortens a value that a user or a peer chose to at most `max_chars`
/// characters for a log field, cut between whole UTF-8 characters. A cut
/// value ends in `... (N bytes)`, where N is the full size. Invalid UTF-8
/// becomes U+FFFD. The logger escapes control characters itself.
std::string shorten_value(std::string_view value,
                          std::size_t max_chars = max_shown_chars);

/// Quotes a value that a user or a peer chose for an error message, such as
/// `"web"` or `"hhh"... (1048512 bytes)`. It is shortened as by
/// `shorten_value`, and quotes, backslashes and control characters are
/// escaped (`\n`, `\x1B`, `\u0085`), so the result is one printable line
/// however large the value is.
std::string quote_value(std::string_view value,
                        std::size_t max_chars = max_shown_chars);

/// Returns the user-facing text of any error: the context text for errors of
/// `error_category` and for other errors whose context is one string, CAF's
/// own rendering otherwise.
std::string error_text(const caf::error& err);

} // namespace pilot::actors
