#include "actors/event_stream_actor.hpp"

#include "actors/detail/frame_budget.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/service_client.hpp"
#include "protocol/address.hpp"
#include "protocol/event_stream.hpp"
#include "protocol/events.hpp"

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace pilot::actors {

namespace {

constexpr std::string_view log_component = "event-stream";

constexpr auto client_id = service_client_id(event_stream_port);

using detail::delivery;
using detail::shared_frame;

struct event_stream_state {
  static inline const char* name = "pilot.event_stream";

  event_stream_options options;
  connection_actor connections;
  event_sink_actor events;
  detail::pubsub_broker broker;
  /// The frame reader of each connection the broker tracks.
  std::unordered_map<std::uint32_t, protocol::event_frame_reader> readers;
  /// When the unfinished frame of each reader began.
  std::unordered_map<std::uint32_t, caf::actor_clock::time_point> frame_starts;
  /// Bytes of unfinished frames over all readers.
  std::size_t buffered = 0;
  std::uint64_t malformed_frames = 0;
  std::uint64_t slow_subscribers = 0;
};

using self_pointer = stream_service_actor::stateful_pointer<event_stream_state>;

void raise(self_pointer self, protocol::event event) {
  if (self->state.events)
    caf::anon_send(self->state.events, std::move(event));
}

std::string remote_text(const stream_opened& opened) {
  return protocol::to_string(opened.remote) + ":"
         + std::to_string(opened.remote_port);
}

// -- connections --------------------------------------------------------------

void request_close(self_pointer self, std::uint32_t conn_id) {
  self->request(self->state.connections, self->state.options.request_timeout,
                close_atom_v, client_id, conn_id)
      .then([](std::uint32_t) {},
            [conn_id](caf::error& err) {
              log::debug(log_component, "close-failed",
                         "cannot close a connection",
                         {{"conn_id", std::to_string(conn_id)},
                          {"error", error_text(err)}});
            });
}

// Forgets a connection and raises `pubsub.unsubscribed` when it had
// subscribed. Returns false when the connection was not tracked.
bool forget(self_pointer self, std::uint32_t conn_id) {
  auto& st = self->state;
  if (auto i = st.readers.find(conn_id); i != st.readers.end()) {
    st.buffered -= i->second.buffered();
    st.readers.erase(i);
  }
  st.frame_starts.erase(conn_id);
  auto closed = st.broker.close(conn_id);
  if (!closed)
    return false;
  if (closed->topic) {
    log::debug(log_component, "unsubscribed", "a subscriber left",
               {{"conn_id", std::to_string(conn_id)},
                {"topic", shorten_value(*closed->topic)},
                {"remote", closed->remote}});
    raise(self, protocol::pubsub_unsubscribed{std::move(*closed->topic),
                                              std::move(closed->remote)});
  }
  return true;
}

// Forgets a connection and requests the connection actor to close it.
void disconnect(self_pointer self, std::uint32_t conn_id) {
  if (forget(self, conn_id))
    request_close(self, conn_id);
}

// -- fan-out ------------------------------------------------------------------

void write_frame(self_pointer self, std::uint32_t subscriber,
                 const shared_frame& frame);

void on_written(self_pointer self, std::uint32_t subscriber) {
  if (auto next = self->state.broker.complete_write(subscriber))
    write_frame(self, subscriber, next);
}

void write_frame(self_pointer self, std::uint32_t subscriber,
                 const shared_frame& frame) {
  auto& st = self->state;
  self->request(st.connections, st.options.write_timeout, write_atom_v,
                client_id, subscriber, *frame)
      .then([self, subscriber](bool) { on_written(self, subscriber); },
            [self, subscriber](caf::error& err) {
              log::info(log_component, "write-failed",
                        "dropping a subscriber whose write failed",
                        {{"conn_id", std::to_string(subscriber)},
                         {"error", error_text(err)}});
              disconnect(self, subscriber);
            });
}

void drop_slow_subscriber(self_pointer self, std::uint32_t subscriber) {
  auto& st = self->state;
  ++st.slow_subscribers;
  auto* entry = st.broker.find(subscriber);
  log::warn(log_component, "subscriber-too-slow",
            "disconnecting a subscriber whose queue is full",
            {{"conn_id", std::to_string(subscriber)},
             {"remote", entry ? entry->remote : std::string{}},
             {"queued_frames", std::to_string(entry ? entry->queue.size() : 0)},
             {"queued_bytes", std::to_string(entry ? entry->queued_bytes : 0)},
             {"count", std::to_string(st.slow_subscribers)}});
  disconnect(self, subscriber);
}

void publish(self_pointer self, std::uint32_t sender, std::string from,
             protocol::event_frame& frame) {
  auto& st = self->state;
  // The reader enforced both limits, so the frame encodes again.
  auto encoded = protocol::encode_event_frame(frame.topic, frame.payload);
  if (!encoded)
    return;
  auto shared = std::make_shared<const std::string>(std::move(*encoded));
  for (auto subscriber : st.broker.recipients(sender, frame.topic)) {
    switch (st.broker.deliver(subscriber, shared)) {
      case delivery::write_now:
        write_frame(self, subscriber, shared);
        break;
      case delivery::queued:
        break;
      case delivery::disconnect:
        drop_slow_subscriber(self, subscriber);
        break;
    }
  }
  raise(self,
        protocol::pubsub_published{
            std::move(frame.topic),
            static_cast<std::int64_t>(frame.payload.size()), std::move(from)});
}

// -- frames -------------------------------------------------------------------

void handle_frame(self_pointer self, std::uint32_t conn_id,
                  protocol::event_frame& frame) {
  auto& st = self->state;
  auto* entry = st.broker.find(conn_id);
  if (!entry)
    return;
  if (entry->topic) {
    publish(self, conn_id, entry->remote, frame);
    return;
  }
  // The first frame subscribes, and its payload is ignored.
  auto remote = entry->remote;
  st.broker.subscribe(conn_id, frame.topic);
  log::debug(log_component, "subscribed", "a subscriber joined",
             {{"conn_id", std::to_string(conn_id)},
              {"topic", shorten_value(frame.topic)},
              {"remote", remote}});
  raise(self,
        protocol::pubsub_subscribed{std::move(frame.topic), std::move(remote)});
}

// Handles every complete frame of the connection. Returns false when the
// connection was closed for a malformed frame.
bool drain_frames(self_pointer self, std::uint32_t conn_id,
                  protocol::event_frame_reader& reader) {
  auto& st = self->state;
  for (;;) {
    auto before = reader.buffered();
    auto frame = reader.next();
    if (!frame) {
      ++st.malformed_frames;
      auto* entry = st.broker.find(conn_id);
      log::warn(log_component, "frame-malformed",
                "closing a connection that sent a frame over the limits",
                {{"conn_id", std::to_string(conn_id)},
                 {"remote", entry ? entry->remote : std::string{}},
                 {"error", frame.error().message()},
                 {"count", std::to_string(st.malformed_frames)}});
      disconnect(self, conn_id);
      return false;
    }
    st.buffered -= before - reader.buffered();
    if (!*frame)
      return true;
    handle_frame(self, conn_id, **frame);
    // The bytes left in the reader belong to the next frame.
    st.frame_starts[conn_id] = self->clock().now();
  }
}

// Disconnects the connections whose frames arrive slowest until the
// buffered bytes fit the limit again, so that a sender trickling bytes to
// hold buffer space cannot make others' publishes fail.
void enforce_buffer_limit(self_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  while (st.buffered > st.options.max_buffered_bytes) {
    std::vector<detail::unfinished_frame> frames;
    for (const auto& [id, reader] : st.readers)
      if (reader.buffered() > 0)
        frames.push_back({id, reader.buffered(), st.frame_starts[id]});
    auto slowest = detail::slowest_frame(frames, now);
    if (!slowest)
      return;
    log::warn(log_component, "buffer-full",
              "closing the connection whose frame arrives slowest because "
              "unfinished frames exceed the buffer limit",
              {{"conn_id", std::to_string(*slowest)},
               {"buffered", std::to_string(st.buffered)},
               {"limit", std::to_string(st.options.max_buffered_bytes)}});
    disconnect(self, *slowest);
  }
}

// -- stream events ------------------------------------------------------------

void on_opened(self_pointer self, const stream_opened& opened) {
  auto& st = self->state;
  if (opened.local_port != event_stream_port)
    return;
  auto remote = remote_text(opened);
  if (!st.broker.open(opened.conn_id, remote)) {
    log::warn(log_component, "too-many-connections",
              "closing a connection because the broker already tracks its "
              "maximum number of connections",
              {{"conn_id", std::to_string(opened.conn_id)},
               {"remote", remote},
               {"max", std::to_string(st.options.limits.max_connections)}});
    request_close(self, opened.conn_id);
    return;
  }
  st.readers.insert_or_assign(opened.conn_id, protocol::event_frame_reader{});
}

void on_data(self_pointer self, stream_data& data) {
  auto& st = self->state;
  auto i = st.readers.find(data.conn_id);
  if (i == st.readers.end()) {
    if (data.consumed)
      data.consumed();
    return;
  }
  auto& reader = i->second;
  if (reader.buffered() == 0)
    st.frame_starts[data.conn_id] = self->clock().now();
  reader.feed(data.bytes);
  st.buffered += data.bytes.size();
  // The bytes are in the reader, which `max_buffered_bytes` bounds, so the
  // receive window may open again.
  if (data.consumed)
    data.consumed();
  if (drain_frames(self, data.conn_id, reader))
    enforce_buffer_limit(self);
}

void on_closed(self_pointer self, const stream_closed& closed) {
  forget(self, closed.conn_id);
}

void start(self_pointer self) {
  auto& st = self->state;
  open_service_port(self, st.connections, event_stream_port,
                    st.options.request_timeout)
      .then(
          [](std::uint16_t port) {
            log::info(log_component, "listening", "event stream started",
                      {{"port", std::to_string(port)}});
          },
          [](caf::error& err) {
            log::warn(log_component, "port-unavailable",
                      "event stream not started because its port cannot be "
                      "bound",
                      {{"port", std::to_string(event_stream_port)},
                       {"error", error_text(err)}});
          });
}

stream_service_actor::behavior_type
event_stream_behavior(self_pointer self, event_stream_options options,
                      connection_actor connections, event_sink_actor events) {
  auto& st = self->state;
  st.broker = detail::pubsub_broker{options.limits};
  st.options = std::move(options);
  st.connections = std::move(connections);
  st.events = std::move(events);
  start(self);
  return {
      [self](stream_opened& opened) { on_opened(self, opened); },
      [self](stream_data& data) { on_data(self, data); },
      [self](stream_closed& closed) { on_closed(self, closed); },
  };
}

} // namespace

stream_service_actor spawn_event_stream(caf::actor_system& sys,
                                        event_stream_options options,
                                        connection_actor connections,
                                        event_sink_actor events) {
  return sys.spawn(event_stream_behavior, std::move(options),
                   std::move(connections), std::move(events));
}

} // namespace pilot::actors
