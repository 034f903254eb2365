#pragma once

#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"

#include <cstdint>

namespace pilot::actors {

/// Returns the client through which a built-in service registers with the
/// connection actor: the client's pushes (Accept, Recv, CloseOK) reach
/// `service` as `stream_opened`, `stream_data` and `stream_closed`. The
/// `consumed` callback of each `stream_data` is the push's `written`
/// callback, so the connection's receive window follows the service. Other
/// pushes (RecvFrom goes to every client) are dropped.
ipc_client make_service_client(std::uint64_t id, stream_service_actor service);

} // namespace pilot::actors
