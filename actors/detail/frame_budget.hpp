#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

/// Selection of the connection that loses its unfinished frame when the
/// data exchange or event stream service runs out of frame buffer.
namespace pilot::actors::detail {

/// One connection in the middle of a frame.
struct unfinished_frame {
  std::uint32_t conn_id = 0;
  /// Bytes of the frame received so far.
  std::size_t buffered_bytes = 0;
  /// Arrival time of the frame's first bytes.
  std::chrono::steady_clock::time_point started;
};

/// Returns the connection whose frame has arrived slowest so far (fewest
/// bytes per second since its first bytes, the oldest on a tie), or nothing
/// for an empty list. A sender that trickles bytes to keep buffer space
/// looks like this, while senders that stream at the link's rate keep
/// their place, so closing this one frees space without failing them.
std::optional<std::uint32_t>
slowest_frame(std::span<const unfinished_frame> frames,
              std::chrono::steady_clock::time_point now);

} // namespace pilot::actors::detail
