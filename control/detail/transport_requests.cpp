#include "control/detail/control_state.hpp"

#include "protocol/address.hpp"

#include <caf/event_based_actor.hpp>

#include <utility>

namespace pilot::control::detail {

using protocol::ipc_command;

namespace {

constexpr std::string_view target_name = "connection actor";

/// Size of the address and port that start Dial and SendTo payloads.
constexpr std::size_t address_port_size = protocol::ipc_address_size + 2;

/// Size of the connection ID that starts Send payloads.
constexpr std::size_t conn_id_size = 4;

// Sends `args` to the connection actor and passes its response of type `T`
// to `on_success`, or sends the error reply.
template <class T, class OnSuccess, class... Ts>
void forward(control_self self, const reply_function& reply,
             std::string_view name, std::chrono::milliseconds timeout,
             OnSuccess on_success, Ts&&... args) {
  self->request(self->state.connections, timeout, std::forward<Ts>(args)...)
      .then([reply, on_success](T& value) { on_success(reply, value); },
            [reply, name = std::string{name}, timeout](caf::error& err) {
              reply_error(reply, name,
                          error_message(name, target_name, err, timeout));
            });
}

// Returns whether a connection actor serves transport requests, and sends
// the error reply when none does.
bool has_transport(control_self self, const reply_function& reply,
                   std::string_view name) {
  if (self->state.connections)
    return true;
  reply_error(reply, name,
              std::string{name} + ": this daemon runs without connections");
  return false;
}

// Replies nothing when the connection actor accepted a Send or SendTo, so
// that the reply to the next request may go out.
void reply_accepted(const reply_function& reply, std::string_view name,
                    bool accepted) {
  if (accepted)
    reply(std::string{});
  else
    reply_error(reply, name,
                std::string{name} + ": the connection actor refused the data");
}

protocol::address to_address(protocol::ipc_address address) {
  return protocol::address{address.network, address.node};
}

void handle_bind(control_self self, ipc_request& request) {
  const auto& reply = request.reply;
  auto port = protocol::decode_bind(request.payload);
  if (!port)
    return reply_error(reply, "bind", "bind: missing port");
  if (!has_transport(self, reply, "bind"))
    return;
  forward<std::uint16_t>(
      self, reply, "bind", self->state.options.request_timeout,
      [](const reply_function& reply, std::uint16_t bound) {
        reply_frame(reply, ipc_command::bind_ok, protocol::encode_bind(bound));
      },
      actors::bind_atom_v, request.client, *port);
}

void handle_dial(control_self self, ipc_request& request) {
  const auto& reply = request.reply;
  auto dial = protocol::decode_dial(request.payload);
  if (!dial)
    return reply_error(reply, "dial", "dial: missing address/port");
  if (!has_transport(self, reply, "dial"))
    return;
  forward<std::uint32_t>(
      self, reply, "dial", self->state.options.dial_timeout,
      [](const reply_function& reply, std::uint32_t conn_id) {
        reply_frame(reply, ipc_command::dial_ok,
                    protocol::encode_conn_id(conn_id));
      },
      actors::dial_atom_v, request.client, to_address(dial->address),
      dial->port);
}

// The data moves on without a copy: a Send may carry almost 1 MiB.
void handle_send(control_self self, ipc_request& request) {
  const auto& reply = request.reply;
  auto conn_id = protocol::decode_conn_id(request.payload);
  if (!conn_id)
    return reply_error(reply, "send", "send: missing conn_id");
  if (!self->state.connections)
    return reply_error(reply, "send",
                       "connection " + std::to_string(*conn_id) + " not found");
  auto data = std::move(request.payload);
  data.erase(0, conn_id_size);
  forward<bool>(
      self, reply, "send", self->state.options.send_timeout,
      [](const reply_function& reply, bool accepted) {
        reply_accepted(reply, "send", accepted);
      },
      actors::write_atom_v, request.client, *conn_id, std::move(data));
}

// Without a connection actor no connection exists, and the reference
// replies CloseOK to a Close for a connection that does not exist.
void handle_close(control_self self, ipc_request& request) {
  const auto& reply = request.reply;
  auto conn_id = protocol::decode_conn_id(request.payload);
  if (!conn_id)
    return reply_error(reply, "close", "close: missing conn_id");
  auto close_ok = [](const reply_function& reply, std::uint32_t closed) {
    reply_frame(reply, ipc_command::close_ok, protocol::encode_conn_id(closed));
  };
  if (!self->state.connections)
    return close_ok(reply, *conn_id);
  forward<std::uint32_t>(self, reply, "close",
                         self->state.options.request_timeout, close_ok,
                         actors::close_atom_v, request.client, *conn_id);
}

void handle_send_to(control_self self, ipc_request& request) {
  const auto& reply = request.reply;
  if (request.payload.size() < address_port_size)
    return reply_error(reply, "send_to", "send_to: missing address/port");
  auto header = protocol::decode_send_to(
      std::string_view{request.payload}.substr(0, address_port_size));
  if (header->address.node == protocol::broadcast_node)
    return reply_error(reply, "send_to",
                       "broadcast is not available \xE2\x80\x94 custom "
                       "networks are WIP");
  if (!has_transport(self, reply, "send_to"))
    return;
  auto data = std::move(request.payload);
  data.erase(0, address_port_size);
  forward<bool>(
      self, reply, "send_to", self->state.options.request_timeout,
      [](const reply_function& reply, bool accepted) {
        reply_accepted(reply, "send_to", accepted);
      },
      actors::send_to_atom_v, request.client, to_address(header->address),
      header->port, std::move(data));
}

} // namespace

bool handle_transport_request(control_self self, ipc_request& request) {
  switch (static_cast<ipc_command>(request.command)) {
    case ipc_command::bind:
      handle_bind(self, request);
      return true;
    case ipc_command::dial:
      handle_dial(self, request);
      return true;
    case ipc_command::send:
      handle_send(self, request);
      return true;
    case ipc_command::close:
      handle_close(self, request);
      return true;
    case ipc_command::send_to:
      handle_send_to(self, request);
      return true;
    default:
      return false;
  }
}

void forward_client_opened(control_self self, actors::ipc_client& client) {
  if (self->state.connections)
    self->send(self->state.connections, actors::client_opened_atom_v,
               std::move(client));
}

void forward_client_closed(control_self self, std::uint64_t id) {
  if (self->state.connections)
    self->send(self->state.connections, actors::client_closed_atom_v, id);
}

} // namespace pilot::control::detail
