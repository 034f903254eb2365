#pragma once

#include "actors/detail/pubsub_broker.hpp"
#include "actors/fwd.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace pilot::actors {

/// The port of the event stream service.
inline constexpr std::uint16_t event_stream_port = 1002;

/// Settings of the event stream service.
struct event_stream_options {
  /// Bounds of the subscription table and of each subscriber's queue.
  detail::pubsub_limits limits;
  /// Maximum bytes of unfinished frames buffered over all connections.
  /// The connection whose data exceeds it is closed. One frame is at most
  /// 16 MiB plus its topic and 6 bytes of lengths.
  std::size_t max_buffered_bytes = std::size_t{64} << 20;
  /// Deadline of the bind and close requests to the connection actor.
  std::chrono::milliseconds request_timeout{10'000};
  /// A subscriber whose connection does not accept a write into its send
  /// buffer within this time is disconnected.
  std::chrono::milliseconds write_timeout{30'000};
};

/// Spawns the event stream broker. It registers with `connections` as the
/// client `service_client_id(event_stream_port)` and binds the port. When
/// the port is already bound, it logs a warning and stays idle.
///
/// The first frame of a connection subscribes it to the frame's topic and
/// raises `pubsub.subscribed`. Every later frame is a publish: it is
/// written unchanged to every subscriber of its topic and, unless the topic
/// is `*`, to every `*` subscriber, never back to the sender, and then
/// `pubsub.published` is raised. A subscriber that falls behind by more
/// than its queue bound, or whose write fails or times out, is
/// disconnected, so it never holds back the others. When a subscribed
/// connection ends, `pubsub.unsubscribed` is raised, also for the empty
/// topic. A malformed frame closes its connection.
stream_service_actor spawn_event_stream(caf::actor_system& sys,
                                        event_stream_options options,
                                        connection_actor connections,
                                        event_sink_actor events);

} // namespace pilot::actors
