#include "control/error.hpp"

namespace pilot::control {

std::string to_string(errc value) {
  switch (value) {
    case errc::socket_in_use:
      return "socket_in_use";
    case errc::socket_failed:
      return "socket_failed";
  }
  return "unknown";
}

std::string error_text(const caf::error& err) {
  if (err.category() == caf::atom("control")
      && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

} // namespace pilot::control
