#include "actors/service_client.hpp"

#include "protocol/ipc.hpp"

#include <caf/send.hpp>

#include <string_view>
#include <utility>

namespace pilot::actors {

namespace {

// Converts an IPC frame pushed by the connection actor into the matching
// service message and sends it to `service`. Frames that do not decode
// cannot come from the connection actor and are dropped.
void forward_push(const stream_service_actor& service, std::string_view frame,
                  std::function<void()>& written) {
  constexpr auto header_size = protocol::ipc_frame_header_size + 1;
  if (frame.size() < header_size)
    return;
  auto command = static_cast<protocol::ipc_command>(
      static_cast<std::uint8_t>(frame[protocol::ipc_frame_header_size]));
  auto payload = frame.substr(header_size);
  switch (command) {
    case protocol::ipc_command::accept:
      if (auto push = protocol::decode_accept(payload))
        caf::anon_send(service, stream_opened{push->local_port,
                                              push->conn_id,
                                              {push->remote_address.network,
                                               push->remote_address.node},
                                              push->remote_port});
      break;
    case protocol::ipc_command::recv:
      if (auto data = protocol::decode_conn_data(payload)) {
        caf::anon_send(service,
                       stream_data{data->conn_id, std::move(data->data),
                                   std::exchange(written, {})});
      }
      break;
    case protocol::ipc_command::close_ok:
      if (auto id = protocol::decode_conn_id(payload))
        caf::anon_send(service, stream_closed{*id});
      break;
    default:
      break;
  }
}

} // namespace

ipc_client make_service_client(std::uint64_t id, stream_service_actor service) {
  return {id, [service = std::move(service)](std::string frame,
                                             std::function<void()> written) {
            forward_push(service, frame, written);
            // A frame that never reaches the service counts as consumed at
            // once, or its receive window slot would stay occupied.
            if (written)
              written();
          }};
}

} // namespace pilot::actors
