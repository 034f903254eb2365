#include "control/control_actor.hpp"

#include "control/error.hpp"

namespace pilot::control {

caf::expected<control_actor> start_control(caf::actor_system&,
                                           boost::asio::io_context&,
                                           control_options options,
                                           actors::registry_actor,
                                           webhook::webhook_actor) {
  // TODO: replaced by the socket server within this working session.
  return caf::make_error(errc::socket_failed,
                         "control socket not available yet: "
                             + options.socket_path.string());
}

} // namespace pilot::control
