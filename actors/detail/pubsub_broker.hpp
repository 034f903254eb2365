#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

/// The event stream broker's bookkeeping, without I/O: which connection
/// subscribed to which topic, who receives a publish, and the bounded
/// queue of frames that wait for each subscriber's connection.
namespace pilot::actors::detail {

/// An encoded frame, shared by every subscriber it goes to.
using shared_frame = std::shared_ptr<const std::string>;

/// Limits of the broker. A subscriber's memory is bounded by its writes in
/// flight plus its queue.
struct pubsub_limits {
  /// Maximum number of connections tracked; `open` rejects more.
  std::size_t max_connections = 1024;
  /// Maximum number of writes handed to one connection and not yet accepted
  /// into its send buffer. Further frames wait in the queue.
  std::size_t max_writes_in_flight = 4;
  /// Maximum number of frames waiting behind the writes in flight.
  std::size_t max_queued_frames = 1024;
  /// Maximum number of bytes waiting behind one subscriber's writes in
  /// flight. One frame of the largest size fits.
  std::size_t max_queued_bytes = (std::size_t{16} << 20) + 2048;
  /// Maximum number of bytes waiting over all subscribers, each shared
  /// frame counted once per subscriber it waits for.
  std::size_t max_total_queued_bytes = std::size_t{256} << 20;
};

/// The broker's decision for one frame and one subscriber.
enum class delivery {
  /// Write the frame to the subscriber now, and count it as in flight.
  write_now,
  /// The frame waits until a write in flight completes.
  queued,
  /// The subscriber's queue is over its bound, so close its connection. The
  /// frame was not queued.
  disconnect,
};

/// One connection as the broker tracks it.
struct pubsub_connection {
  /// The peer as `N:XXXX.XXXX.XXXX:<port>`.
  std::string remote;
  /// The topic of the first frame, empty until that frame arrives. An empty
  /// topic is a valid subscription too.
  std::optional<std::string> topic;
  /// Writes handed to the connection and not yet completed.
  std::size_t in_flight = 0;
  /// Frames waiting for a write slot, oldest first.
  std::deque<shared_frame> queue;
  /// Total size of the frames in `queue`.
  std::size_t queued_bytes = 0;
};

/// The subscription table of the event stream. Each connection subscribes
/// once, with its first frame, and stays on that topic until it closes.
/// A publish on topic `t` goes to every subscriber of `t` and, unless `t`
/// is `*`, to every subscriber of `*`, in both cases except the sender.
class pubsub_broker {
public:
  explicit pubsub_broker(pubsub_limits limits = {}) : limits_(limits) {}

  /// Starts tracking the connection `conn_id` from `remote`. Returns false
  /// when `max_connections` are already tracked or the ID is in use.
  bool open(std::uint32_t conn_id, std::string remote);

  /// Subscribes `conn_id` to `topic`. Returns false when the connection is
  /// unknown or already subscribed.
  bool subscribe(std::uint32_t conn_id, std::string topic);

  /// Returns the connection, or null when it is not tracked.
  const pubsub_connection* find(std::uint32_t conn_id) const;

  /// Returns the connections that a publish on `topic` from `sender`
  /// reaches, in ascending order of connection ID.
  std::vector<std::uint32_t> recipients(std::uint32_t sender,
                                        std::string_view topic) const;

  /// Decides what happens to `frame` for `subscriber`: written at once
  /// while a write slot is free and nothing waits, queued while the queue
  /// stays within its bounds and the total bound, and otherwise the
  /// subscriber is disconnected.
  /// An unknown subscriber gets `disconnect`.
  delivery deliver(std::uint32_t subscriber, shared_frame frame);

  /// Records that a write to `subscriber` completed and returns the next
  /// frame to write, which then counts as in flight, or null when nothing
  /// waits or the subscriber is gone.
  shared_frame complete_write(std::uint32_t subscriber);

  /// Stops tracking the connection and drops its queue. Returns the
  /// connection's last state, or nothing when it was not tracked.
  std::optional<pubsub_connection> close(std::uint32_t conn_id);

  /// Returns the number of connections tracked.
  std::size_t size() const noexcept { return connections_.size(); }

  /// Returns the bytes waiting over all subscribers.
  std::size_t total_queued_bytes() const noexcept { return total_queued_; }

private:
  pubsub_limits limits_;
  std::unordered_map<std::uint32_t, pubsub_connection> connections_;
  std::size_t total_queued_ = 0;
  /// The subscribers of each topic.
  std::map<std::string, std::set<std::uint32_t>, std::less<>> topics_;
};

} // namespace pilot::actors::detail
