#pragma once

#include "actors/transport_fwd.hpp"
#include "webhook/fwd.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <functional>
#include <string>

/// Message types and the typed handle of the control actor, which serves the
/// daemon's local IPC socket.
namespace pilot::control {

/// Delivers the encoded reply frame of one IPC request to its client. Safe to
/// call from any thread; the control actor calls it exactly once per request.
/// An empty frame means the request has no reply (as for a successful Send)
/// and lets the replies to later requests go out.
using reply_function = std::function<void(std::string frame)>;

/// One request frame read from an IPC client.
struct ipc_request {
  std::uint64_t client = 0; ///< The ID of the client that sent it.
  std::uint8_t command = 0; ///< The raw command byte, known or not.
  std::string payload;      ///< The bytes after the command byte.
  reply_function reply;     ///< Where the reply frame goes.
};

} // namespace pilot::control

// IPC requests travel only between the socket sessions and the control actor
// of one process and are never serialized, so CAF may carry the callback.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pilot::control::ipc_request)

namespace pilot::control {

/// The control actor.
///
/// - `ipc_request`: one request of a client. It gets exactly one reply frame
///   through its `reply` function, which is the command's reply, an empty
///   frame for a successful Send or SendTo, or an error frame (0x0A).
/// - `(client_opened_atom, client)` / `(client_closed_atom, id)`: a client
///   connected / disconnected; forwarded to the connection actor, which
///   pushes to the client and cleans up after it.
using control_actor = caf::typed_actor<
    caf::reacts_to<ipc_request>,
    caf::reacts_to<actors::client_opened_atom, actors::ipc_client>,
    caf::reacts_to<actors::client_closed_atom, std::uint64_t>>;

} // namespace pilot::control
