#pragma once

#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace pilot::control {

/// Reasons why the control plane fails, carried in a `caf::error` of category
/// "control" whose context contains a one-line message for the operator.
enum class errc : std::uint8_t {
  /// A server accepts connections on the socket path.
  socket_in_use = 1,
  /// The socket could not be created, bound or listened on.
  socket_failed,
};

/// Returns the name of `value`, such as "socket_in_use".
std::string to_string(errc value);

/// Returns the operator message of an error made from `errc`, which is its
/// context text, or CAF's rendering of any other error.
std::string error_text(const caf::error& err);

} // namespace pilot::control

CAF_ERROR_CODE_ENUM(pilot::control::errc, "control")
