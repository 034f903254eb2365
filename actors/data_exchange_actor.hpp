#pragma once

#include "actors/fwd.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>

namespace pilot::actors {

/// The port of the data exchange service.
inline constexpr std::uint16_t data_exchange_port = 1001;

/// Settings of the data exchange service.
struct data_exchange_options {
  /// Messages are saved to `<data_dir>/inbox`, files to
  /// `<data_dir>/received`.
  std::filesystem::path data_dir;
  /// Maximum bytes of unfinished frames buffered over all connections.
  /// Above it, the connection that opened last among those buffering is
  /// closed. One frame is at most 16 MiB plus its 8-byte header.
  std::size_t max_buffered_bytes = std::size_t{64} << 20;
  /// A connection that stops sending for this long in the middle of a
  /// frame is closed. A connection idle between frames stays open.
  std::chrono::milliseconds stall_timeout{60'000};
  /// Interval of the check for stalled connections.
  std::chrono::milliseconds sweep_interval{5'000};
  /// Deadline of each request to the connection actor.
  std::chrono::milliseconds request_timeout{10'000};
  /// Clock for the saved names and `received_at`, the system clock when
  /// empty.
  std::function<std::chrono::system_clock::time_point()> clock;
};

/// Spawns the data exchange service. It registers with `connections` as the
/// client `service_client_id(data_exchange_port)` and binds the port. When
/// the port is already bound, it logs a warning and stays idle.
///
/// It saves TEXT, BINARY and JSON frames to the inbox and named FILE frames
/// to the received folder. Once the data is on disk, it raises
/// `message.received` or `file.received` at `events`. It responds to every
/// frame with the TEXT frame `ACK <TYPE> <n> bytes` (or `ERR <TYPE> save
/// failed: <reason>`). Frames of other types and FILE frames without a name
/// are acknowledged without being saved. A frame longer
/// than 16 MiB closes its connection.
///
/// Saving runs on the actor's thread, so a 16 MiB frame blocks that thread
/// while it is written and flushed to disk.
stream_service_actor spawn_data_exchange(caf::actor_system& sys,
                                         data_exchange_options options,
                                         connection_actor connections,
                                         event_sink_actor events);

} // namespace pilot::actors
