#include "control/daemon_client.hpp"

#include "control/cli_output.hpp"
#include "control/json_text.hpp"
#include "protocol/duration.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>

namespace pilot::control::cli {

namespace {

using protocol::ipc_command;

/// Recv data that pilotctl buffers before it stops reading the socket while
/// it writes, so that the daemon's pushes wait in the daemon instead.
constexpr std::size_t max_buffered_bytes = std::size_t{64} << 20;

std::string duration_text(std::chrono::milliseconds duration) {
  return protocol::format_duration(duration);
}

std::chrono::milliseconds
remaining(daemon_client::clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - daemon_client::clock_type::now());
  return std::max(left, std::chrono::milliseconds{0});
}

// Returns the command byte of the reply to `command`: the next one.
ipc_command reply_command(ipc_command command) {
  return static_cast<ipc_command>(static_cast<std::uint8_t>(command) + 1);
}

std::string error_message(const protocol::ipc_frame& frame) {
  auto message = protocol::decode_ipc_error(frame.payload);
  return message ? *message : "daemon sent a short error";
}

} // namespace

std::optional<boost::json::object>
query_daemon_info(const std::string& socket,
                  std::chrono::milliseconds timeout) {
  ipc_client client;
  if (client.connect(socket, timeout))
    return std::nullopt;
  auto reply = client.call(protocol::ipc_command::info, {}, timeout);
  if (!reply || reply->command != protocol::ipc_command::info_ok)
    return std::nullopt;
  auto json = parse_json(reply->payload);
  if (!json || !json->is_object())
    return std::nullopt;
  return std::move(json->as_object());
}

daemon_client::daemon_client(std::string socket) : socket_(std::move(socket)) {
  if (auto ec = client_.connect(socket_, connect_timeout))
    throw error{code::not_running,
                "daemon is not running (cannot connect to " + socket_ + ": "
                    + ec.message() + ")",
                "start the daemon with: pilotctl daemon start"};
}

protocol::ipc_frame daemon_client::call(protocol::ipc_command command,
                                        std::string_view payload,
                                        std::chrono::milliseconds timeout) {
  auto name = std::string{protocol::to_string(command)};
  if (payload.size() > protocol::max_ipc_payload_size)
    throw error{code::invalid_argument,
                "the " + name + " request of " + std::to_string(payload.size())
                    + " bytes exceeds the IPC frame limit of "
                    + std::to_string(protocol::max_ipc_payload_size)
                    + " bytes"};
  return request(command, payload, timeout);
}

boost::json::value daemon_client::call_json(protocol::ipc_command command,
                                            std::string_view payload,
                                            const char* error_code,
                                            std::chrono::milliseconds timeout) {
  auto reply = call(command, payload, timeout);
  if (reply.command == protocol::ipc_command::error)
    throw error{error_code, error_message(reply)};
  if (reply.command != reply_command(command))
    throw error{code::internal,
                "daemon replied to " + std::string{protocol::to_string(command)}
                    + " with command "
                    + protocol::format_command_byte(
                        static_cast<std::uint8_t>(reply.command))};
  auto json = parse_json(reply.payload);
  if (!json)
    throw error{code::internal,
                "daemon sent invalid JSON in reply to "
                    + std::string{protocol::to_string(command)}};
  return std::move(*json);
}

void daemon_client::bind(std::uint16_t port) {
  inbox_.listen(port);
  auto reply
      = request(ipc_command::bind, protocol::encode_bind(port), reply_timeout);
  if (reply.command == ipc_command::error)
    throw error{code::connection_failed, error_message(reply)};
}

std::uint32_t daemon_client::dial(protocol::address address, std::uint16_t port,
                                  std::chrono::milliseconds timeout) {
  protocol::dial_request dial{{address.network, address.node}, port};
  protocol::ipc_frame reply;
  try {
    reply = request(ipc_command::dial, protocol::encode_dial(dial), timeout);
  } catch (const error& e) {
    if (e.code() != code::timeout)
      throw;
    throw error{code::connection_failed,
                "no connection within " + duration_text(timeout)};
  }
  if (reply.command == ipc_command::error)
    throw error{code::connection_failed, error_message(reply)};
  auto conn_id = protocol::decode_conn_id(reply.payload);
  if (!conn_id)
    throw error{code::internal, "daemon sent a DialOK without a conn_id"};
  return *conn_id;
}

void daemon_client::send_datagram(protocol::address address, std::uint16_t port,
                                  std::string_view data) {
  throw_unclaimed_error();
  protocol::send_to_request datagram{
      {address.network, address.node}, port, std::string{data}};
  write(ipc_command::send_to, protocol::encode_send_to(datagram),
        clock_type::now() + reply_timeout);
  call_json(ipc_command::info, {});
}

void daemon_client::send(std::uint32_t conn_id, std::string_view data,
                         clock_type::time_point deadline) {
  throw_unclaimed_error();
  // One copy puts the connection ID in front; the frame adds another.
  auto payload = protocol::encode_conn_id(conn_id);
  payload.reserve(payload.size() + data.size());
  payload += data;
  write(ipc_command::send, payload, deadline);
}

std::optional<ipc_inbox::connection_data>
daemon_client::read(std::uint32_t conn_id, std::size_t max_bytes,
                    clock_type::time_point deadline) {
  std::optional<ipc_inbox::connection_data> data;
  auto ready = [&] {
    if (!data)
      data = inbox_.take_data(conn_id, max_bytes);
    return data.has_value();
  };
  if (!wait_until(ready, deadline))
    return std::nullopt;
  return data;
}

void daemon_client::close(std::uint32_t conn_id) {
  inbox_.discard(conn_id);
  write(ipc_command::close, protocol::encode_conn_id(conn_id),
        clock_type::now() + reply_timeout);
}

void daemon_client::disconnect(std::uint32_t conn_id,
                               std::chrono::milliseconds timeout) {
  auto reply = request(ipc_command::close, protocol::encode_conn_id(conn_id),
                       timeout, conn_id);
  if (reply.command == ipc_command::error)
    throw error{code::connection_failed, error_message(reply)};
}

std::optional<protocol::accept_push>
daemon_client::accept(std::uint16_t port, clock_type::time_point deadline) {
  std::optional<protocol::accept_push> accept;
  auto ready = [&] {
    if (!accept)
      accept = inbox_.take_accept(port);
    return accept.has_value();
  };
  if (!wait_until(ready, deadline))
    return std::nullopt;
  return accept;
}

std::optional<protocol::recv_from_push>
daemon_client::receive_datagram(clock_type::time_point deadline) {
  std::optional<protocol::recv_from_push> datagram;
  auto ready = [&] {
    if (!datagram)
      datagram = inbox_.take_datagram();
    return datagram.has_value();
  };
  if (!wait_until(ready, deadline))
    return std::nullopt;
  return datagram;
}

void daemon_client::pause_until(clock_type::time_point deadline) {
  wait_until([] { return false; }, deadline);
}

bool daemon_client::wait_until(const std::function<bool()>& ready,
                               clock_type::time_point deadline) {
  auto sort = [this](protocol::ipc_frame frame) {
    inbox_.add(std::move(frame));
  };
  auto done = [&] {
    return inbox_.has_unclaimed_error() || ready();
  };
  auto ec = client_.read_frames(sort, done, remaining(deadline));
  throw_unclaimed_error();
  if (ec && ec != boost::asio::error::timed_out)
    throw_io_failure(ec);
  return ready();
}

void daemon_client::write(ipc_command command, std::string_view payload,
                          clock_type::time_point deadline) {
  auto frame = protocol::encode_ipc_frame(command, payload);
  if (!frame)
    throw error{code::invalid_argument,
                "the " + std::string{protocol::to_string(command)}
                    + " request of " + std::to_string(payload.size())
                    + " bytes exceeds the IPC frame limit of "
                    + std::to_string(protocol::max_ipc_payload_size)
                    + " bytes"};
  auto ec = client_.write_reading(
      *frame,
      [this](protocol::ipc_frame received) { inbox_.add(std::move(received)); },
      [this] { return inbox_.buffered_bytes() < max_buffered_bytes; },
      remaining(deadline));
  if (ec == boost::asio::error::timed_out)
    throw error{code::timeout,
                "daemon did not read the "
                    + std::string{protocol::to_string(command)}
                    + " request in time",
                "check logs: tail -f ~/.pilot/pilot.log"};
  if (ec)
    throw_io_failure(ec);
}

protocol::ipc_frame
daemon_client::request(ipc_command command, std::string_view payload,
                       std::chrono::milliseconds timeout,
                       std::optional<std::uint32_t> conn_id) {
  throw_unclaimed_error();
  auto deadline = clock_type::now() + timeout;
  auto ticket = inbox_.expect(reply_command(command), conn_id);
  write(command, payload, deadline);
  std::optional<protocol::ipc_frame> reply;
  auto ready = [&] {
    if (!reply)
      reply = inbox_.take_reply(ticket);
    return reply.has_value();
  };
  if (wait_until(ready, deadline))
    return std::move(*reply);
  inbox_.forget(ticket);
  throw error{code::timeout,
              "daemon did not reply to "
                  + std::string{protocol::to_string(command)} + " within "
                  + duration_text(timeout),
              "check logs: tail -f ~/.pilot/pilot.log"};
}

void daemon_client::throw_unclaimed_error() {
  if (auto message = inbox_.take_unclaimed_error())
    throw error{code::connection_failed, *message};
}

void daemon_client::throw_io_failure(boost::system::error_code ec) {
  if (ec == boost::asio::error::eof)
    throw error{code::connection_failed, "the daemon closed the connection",
                "check logs: tail -f ~/.pilot/pilot.log"};
  throw error{code::connection_failed,
              "lost the connection to the daemon: " + ec.message()};
}

} // namespace pilot::control::cli
