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

} // namespace pilot::control
