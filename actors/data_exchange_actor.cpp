#include "actors/data_exchange_actor.hpp"

#include "actors/detail/frame_budget.hpp"
#include "actors/detail/received_store.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/service_client.hpp"
#include "protocol/address.hpp"
#include "protocol/data_exchange.hpp"
#include "protocol/events.hpp"

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace pilot::actors {

namespace {

constexpr std::string_view log_component = "data-exchange";

constexpr auto client_id = service_client_id(data_exchange_port);

using internal_actor = stream_service_actor::extend<caf::reacts_to<tick_atom>>;

using time_point = caf::actor_clock::time_point;

/// One inbound connection and its frame in progress.
struct data_connection {
  protocol::data_frame_reader reader;
  /// The remote address without a port, as events and the inbox show it.
  std::string from;
  /// Time the connection last delivered bytes.
  time_point last_data;
  /// Time the first bytes of the unfinished frame arrived.
  time_point frame_started;
};

struct data_exchange_state {
  static inline const char* name = "pilot.data_exchange";

  data_exchange_options options;
  std::optional<detail::received_store> store;
  connection_actor connections;
  event_sink_actor events;
  std::map<std::uint32_t, data_connection> conns;
  /// Bytes of unfinished frames over all connections.
  std::size_t buffered = 0;
  std::uint64_t oversize_frames = 0;
  std::uint64_t overload_closes = 0;
  std::uint64_t stall_closes = 0;
};

using self_pointer = internal_actor::stateful_pointer<data_exchange_state>;

void raise(self_pointer self, protocol::event event) {
  if (self->state.events)
    caf::anon_send(self->state.events, std::move(event));
}

// -- connection actor requests ------------------------------------------------

void write_ack(self_pointer self, std::uint32_t conn_id,
               const std::string& text) {
  auto frame = protocol::encode_data_frame(
      static_cast<std::uint32_t>(protocol::data_type::text), text);
  // An acknowledgement is far below the frame limit.
  if (!frame)
    return;
  self->request(self->state.connections, self->state.options.request_timeout,
                write_atom_v, client_id, conn_id, std::move(*frame))
      .then([](bool) {},
            [conn_id](caf::error& err) {
              log::debug(log_component, "ack-not-sent",
                         "cannot write an acknowledgement",
                         {{"conn_id", std::to_string(conn_id)},
                          {"error", error_text(err)}});
            });
}

// Forgets a connection and requests the connection actor to close it.
void close_connection(self_pointer self, std::uint32_t conn_id) {
  auto& st = self->state;
  auto i = st.conns.find(conn_id);
  if (i == st.conns.end())
    return;
  st.buffered -= i->second.reader.buffered();
  st.conns.erase(i);
  self->request(st.connections, st.options.request_timeout, close_atom_v,
                client_id, conn_id)
      .then([](std::uint32_t) {},
            [conn_id](caf::error& err) {
              log::debug(log_component, "close-failed",
                         "cannot close a connection",
                         {{"conn_id", std::to_string(conn_id)},
                          {"error", error_text(err)}});
            });
}

// -- frames -------------------------------------------------------------------

// Saves a TEXT, BINARY or JSON frame and returns its acknowledgement.
std::string save_message(self_pointer self, const data_connection& conn,
                         const protocol::data_frame& frame) {
  auto type_name = protocol::data_type_name(frame.type);
  auto size = frame.payload.size();
  auto saved
      = self->state.store->save_message(type_name, conn.from, frame.payload);
  if (!saved) {
    log::warn(log_component, "message-not-saved", "cannot save a message",
              {{"type", type_name},
               {"from", conn.from},
               {"error", saved.error().message()}});
    return protocol::data_error_text(frame.type, saved.error().message());
  }
  log::debug(log_component, "message-saved", "saved a message",
             {{"type", type_name},
              {"from", conn.from},
              {"bytes", std::to_string(size)},
              {"path", saved->string()}});
  raise(self, protocol::message_received{type_name, conn.from,
                                         static_cast<std::int64_t>(size)});
  return protocol::data_ack_text(frame.type, size);
}

// Saves a FILE frame when it has a name and returns its acknowledgement.
std::string save_file(self_pointer self, const data_connection& conn,
                      const protocol::data_frame& frame) {
  auto parts = protocol::split_file_payload(frame.payload);
  if (!parts.named) {
    log::debug(
        log_component, "file-unnamed",
        "acknowledged a file without a name, not saved",
        {{"from", conn.from}, {"bytes", std::to_string(parts.data.size())}});
    return protocol::data_ack_text(frame.type, parts.data.size());
  }
  auto saved = self->state.store->save_file(parts.name, parts.data);
  if (!saved) {
    log::warn(log_component, "file-not-saved", "cannot save a file",
              {{"name", shorten_value(parts.name)},
               {"from", conn.from},
               {"error", saved.error().message()}});
    return protocol::data_error_text(frame.type, saved.error().message());
  }
  log::info(log_component, "file-saved", "saved a received file",
            {{"name", shorten_value(saved->name)},
             {"from", conn.from},
             {"bytes", std::to_string(parts.data.size())},
             {"path", saved->path.string()}});
  raise(self, protocol::file_received{
                  saved->name, static_cast<std::int64_t>(parts.data.size()),
                  saved->path.string()});
  return protocol::data_ack_text(frame.type, parts.data.size());
}

void handle_frame(self_pointer self, std::uint32_t conn_id,
                  const data_connection& conn,
                  const protocol::data_frame& frame) {
  std::string ack;
  switch (static_cast<protocol::data_type>(frame.type)) {
    case protocol::data_type::text:
    case protocol::data_type::binary:
    case protocol::data_type::json:
      ack = save_message(self, conn, frame);
      break;
    case protocol::data_type::file:
      ack = save_file(self, conn, frame);
      break;
    default:
      log::debug(log_component, "unknown-type",
                 "acknowledged a frame of an unknown type, not saved",
                 {{"type", std::to_string(frame.type)}, {"from", conn.from}});
      ack = protocol::data_ack_text(frame.type, frame.payload.size());
      break;
  }
  write_ack(self, conn_id, ack);
}

// Handles every complete frame of the connection. Returns false when the
// connection was closed for an oversize frame.
bool drain_frames(self_pointer self, std::uint32_t conn_id,
                  data_connection& conn) {
  auto& st = self->state;
  for (;;) {
    auto before = conn.reader.buffered();
    auto frame = conn.reader.next();
    if (!frame) {
      ++st.oversize_frames;
      log::warn(log_component, "frame-too-large",
                "closing a connection that sent a frame over 16 MiB",
                {{"conn_id", std::to_string(conn_id)},
                 {"from", conn.from},
                 {"count", std::to_string(st.oversize_frames)}});
      // The reader dropped its buffer already.
      st.buffered -= before;
      close_connection(self, conn_id);
      return false;
    }
    st.buffered -= before - conn.reader.buffered();
    if (!*frame)
      return true;
    handle_frame(self, conn_id, conn, **frame);
    // The bytes left in the reader belong to the next frame.
    conn.frame_started = conn.last_data;
  }
}

// Closes the connections whose frames arrive slowest until the buffered
// bytes fit the limit again, so that a sender trickling bytes to hold
// buffer space cannot make others' frames fail.
void enforce_buffer_limit(self_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  while (st.buffered > st.options.max_buffered_bytes) {
    std::vector<detail::unfinished_frame> frames;
    for (const auto& [id, conn] : st.conns)
      if (conn.reader.in_frame())
        frames.push_back({id, conn.reader.buffered(), conn.frame_started});
    auto slowest = detail::slowest_frame(frames, now);
    if (!slowest)
      return;
    ++st.overload_closes;
    log::warn(log_component, "buffer-full",
              "closing the connection whose frame arrives slowest because "
              "unfinished frames exceed the buffer limit",
              {{"conn_id", std::to_string(*slowest)},
               {"from", st.conns.at(*slowest).from},
               {"buffered", std::to_string(st.buffered)},
               {"limit", std::to_string(st.options.max_buffered_bytes)}});
    close_connection(self, *slowest);
  }
}

// -- stream events ------------------------------------------------------------

void on_opened(self_pointer self, const stream_opened& opened) {
  auto& st = self->state;
  if (opened.local_port != data_exchange_port)
    return;
  data_connection conn;
  conn.from = protocol::to_string(opened.remote);
  conn.last_data = self->clock().now();
  st.conns.insert_or_assign(opened.conn_id, std::move(conn));
}

void on_data(self_pointer self, stream_data& data) {
  auto& st = self->state;
  auto i = st.conns.find(data.conn_id);
  if (i == st.conns.end()) {
    if (data.consumed)
      data.consumed();
    return;
  }
  auto& conn = i->second;
  conn.last_data = self->clock().now();
  if (!conn.reader.in_frame())
    conn.frame_started = conn.last_data;
  conn.reader.feed(data.bytes);
  st.buffered += data.bytes.size();
  // The bytes are in the frame buffer, which `max_buffered_bytes` bounds,
  // so the receive window may open again.
  if (data.consumed)
    data.consumed();
  if (drain_frames(self, data.conn_id, conn))
    enforce_buffer_limit(self);
}

void on_closed(self_pointer self, const stream_closed& closed) {
  auto& st = self->state;
  auto i = st.conns.find(closed.conn_id);
  if (i == st.conns.end())
    return;
  if (i->second.reader.in_frame())
    log::debug(log_component, "partial-frame-dropped",
               "a connection ended in the middle of a frame",
               {{"conn_id", std::to_string(closed.conn_id)},
                {"from", i->second.from},
                {"bytes", std::to_string(i->second.reader.buffered())}});
  st.buffered -= i->second.reader.buffered();
  st.conns.erase(i);
}

// Closes connections that stopped in the middle of a frame.
void sweep_stalled(self_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  std::vector<std::uint32_t> stalled;
  for (const auto& [id, conn] : st.conns)
    if (conn.reader.in_frame()
        && now - conn.last_data >= st.options.stall_timeout)
      stalled.push_back(id);
  for (auto id : stalled) {
    ++st.stall_closes;
    log::warn(log_component, "frame-stalled",
              "closing a connection that stopped in the middle of a frame",
              {{"conn_id", std::to_string(id)},
               {"from", st.conns[id].from},
               {"buffered", std::to_string(st.conns[id].reader.buffered())}});
    close_connection(self, id);
  }
  self->delayed_send(self, st.options.sweep_interval, tick_atom_v);
}

void start(self_pointer self) {
  auto& st = self->state;
  open_service_port(self, st.connections, data_exchange_port,
                    st.options.request_timeout)
      .then(
          [self](std::uint16_t port) {
            log::info(
                log_component, "listening", "data exchange service started",
                {{"port", std::to_string(port)},
                 {"inbox", self->state.store->inbox_dir().string()},
                 {"received", self->state.store->received_dir().string()}});
            self->delayed_send(self, self->state.options.sweep_interval,
                               tick_atom_v);
          },
          [](caf::error& err) {
            log::warn(log_component, "port-unavailable",
                      "data exchange service not started because its port "
                      "cannot be bound",
                      {{"port", std::to_string(data_exchange_port)},
                       {"error", error_text(err)}});
          });
}

internal_actor::behavior_type
data_exchange_behavior(self_pointer self, data_exchange_options options,
                       connection_actor connections, event_sink_actor events) {
  auto& st = self->state;
  st.store.emplace(options.data_dir, options.clock);
  st.options = std::move(options);
  st.connections = std::move(connections);
  st.events = std::move(events);
  start(self);
  return {
      [self](stream_opened& opened) { on_opened(self, opened); },
      [self](stream_data& data) { on_data(self, data); },
      [self](stream_closed& closed) { on_closed(self, closed); },
      [self](tick_atom) { sweep_stalled(self); },
  };
}

} // namespace

stream_service_actor spawn_data_exchange(caf::actor_system& sys,
                                         data_exchange_options options,
                                         connection_actor connections,
                                         event_sink_actor events) {
  auto hdl = sys.spawn(data_exchange_behavior, std::move(options),
                       std::move(connections), std::move(events));
  return caf::actor_cast<stream_service_actor>(std::move(hdl));
}

} // namespace pilot::actors
