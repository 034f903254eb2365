#pragma once

#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <chrono>
#include <cstdint>

namespace pilot::actors {

/// Returns the client through which a built-in service registers with the
/// connection actor: the client's pushes (Accept, Recv, CloseOK) reach
/// `service` as `stream_opened`, `stream_data` and `stream_closed`. The
/// `consumed` callback of each `stream_data` is the push's `written`
/// callback, so the connection's receive window follows the service. Other
/// pushes (RecvFrom goes to every client) are dropped.
ipc_client make_service_client(std::uint64_t id, stream_service_actor service);

/// Registers the service `self` with `connections` as the client
/// `service_client_id(port)` and requests a bind of `port`. The client is
/// removed when `self` exits, which releases the port. Returns the bind
/// request, to which the caller attaches its handlers. The request yields
/// the bound port or an error such as `port 1001 already bound`.
template <class Self>
auto open_service_port(Self* self, const connection_actor& connections,
                       std::uint16_t port, std::chrono::milliseconds timeout) {
  auto id = service_client_id(port);
  caf::anon_send(
      connections, client_opened_atom_v,
      make_service_client(id, caf::actor_cast<stream_service_actor>(self)));
  self->attach_functor([connections, id] {
    caf::anon_send(connections, client_closed_atom_v, id);
  });
  return self->request(connections, timeout, bind_atom_v, id, port);
}

} // namespace pilot::actors
