#include "actors/error.hpp"

#include <caf/make_message.hpp>

#include <utility>

namespace pilot::actors {

std::string to_string(errc code) {
  switch (code) {
    case errc::registry_unavailable:
      return "registry_unavailable";
    case errc::registry_rejected:
      return "registry_rejected";
    case errc::malformed_reply:
      return "malformed_reply";
    case errc::not_registered:
      return "not_registered";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::timeout:
      return "timeout";
    case errc::busy:
      return "busy";
    case errc::stopping:
      return "stopping";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string text) {
  return caf::error{static_cast<std::uint8_t>(code), error_category,
                    caf::make_message(std::move(text))};
}

caf::error make_error(errc code) {
  return make_error(code, to_string(code));
}

std::string render_error(std::uint8_t code, caf::atom_value,
                         const caf::message& context) {
  if (context.match_elements<std::string>())
    return context.get_as<std::string>(0);
  return to_string(static_cast<errc>(code));
}

void add_error_renderer(caf::actor_system_config& cfg) {
  cfg.add_error_category(error_category, render_error);
}

std::string error_text(const caf::error& err) {
  if (err.category() == error_category)
    return render_error(err.code(), err.category(), err.context());
  if (err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return to_string(err);
}

} // namespace pilot::actors
