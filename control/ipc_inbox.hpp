#pragma once

#include "protocol/ipc.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

namespace pilot::control {

/// Sorts the frames that a daemon sends to one IPC client, the way the
/// reference Go driver does. Replies carry no request ID, so each request
/// that expects a reply takes a ticket, and a reply goes to the oldest
/// ticket waiting for its command byte. An error frame goes to the oldest
/// ticket of any kind. With no ticket waiting, it is kept as an unclaimed
/// error, which is how the error of a Send or SendTo arrives. Pushes go to
/// queues: Recv data by connection (also for a connection whose DialOK or
/// Accept has not been taken yet), Accept by the local port, RecvFrom in one
/// queue. Pure logic, no I/O.
class ipc_inbox {
public:
  /// A request's place in the line of requests waiting for a reply.
  using ticket = std::uint64_t;

  /// Bounds of the queues.
  struct limits {
    /// Accepts queued for each listening port; more are dropped, as by the
    /// reference driver.
    std::size_t max_accepts_per_port = 64;
    /// Datagrams queued; more are dropped, as by the reference driver.
    std::size_t max_datagrams = 256;
    /// Unclaimed errors kept; the oldest is dropped beyond it.
    std::size_t max_unclaimed_errors = 16;
  };

  /// The result of a read of a connection.
  struct connection_data {
    std::string data; ///< Empty at the end of the stream.
    bool eof = false; ///< The daemon sent CloseOK and all data was taken.
  };

  ipc_inbox() = default;

  explicit ipc_inbox(limits bounds) : limits_(bounds) {
    // nop
  }

  /// Takes a ticket for a request just sent whose reply has the command
  /// `reply`. For CloseOK, `conn_id` names the connection, so that another
  /// connection's end does not count as the reply.
  ticket expect(protocol::ipc_command reply,
                std::optional<std::uint32_t> conn_id = std::nullopt);

  /// Returns the reply or error frame of `request` once it arrived, and
  /// gives up the ticket then.
  std::optional<protocol::ipc_frame> take_reply(ticket request);

  /// Gives up a ticket whose reply is no longer awaited. A late reply then
  /// goes to the next ticket in line, as with the reference driver.
  void forget(ticket request);

  /// Sorts one frame from the daemon.
  void add(protocol::ipc_frame frame);

  /// Starts queueing Accepts for `port`. Accepts for other ports are
  /// dropped.
  void listen(std::uint16_t port);

  /// Returns the oldest Accept of `port`, if any.
  std::optional<protocol::accept_push> take_accept(std::uint16_t port);

  /// Returns the oldest datagram, if any.
  std::optional<protocol::recv_from_push> take_datagram();

  /// Returns up to `max_bytes` of the oldest data of `conn_id`, or the end
  /// of its stream, or nothing while neither arrived.
  std::optional<connection_data> take_data(std::uint32_t conn_id,
                                           std::size_t max_bytes);

  /// Drops the data of `conn_id` and any that arrives for it until its
  /// CloseOK, after the client closed it.
  void discard(std::uint32_t conn_id);

  /// Returns the oldest error that no ticket took, if any.
  std::optional<std::string> take_unclaimed_error();

  /// Returns whether an unclaimed error waits.
  bool has_unclaimed_error() const noexcept {
    return !unclaimed_errors_.empty();
  }

  /// Returns the bytes of Recv data queued.
  std::size_t buffered_bytes() const noexcept { return buffered_bytes_; }

  /// Returns how many frames were dropped: pushes beyond a queue's bound,
  /// Accepts for ports not listened on, replies no ticket expected and
  /// frames that do not decode.
  std::uint64_t dropped() const noexcept { return dropped_; }

private:
  struct waiter {
    protocol::ipc_command reply{};
    std::optional<std::uint32_t> conn_id;
    std::optional<protocol::ipc_frame> frame;
  };

  struct stream {
    std::deque<std::string> chunks;
    std::size_t offset = 0; ///< Bytes already taken of the first chunk.
    bool eof = false;
    bool discarded = false;
  };

  bool deliver_reply(protocol::ipc_frame& frame,
                     std::optional<std::uint32_t> conn_id);
  void add_error(protocol::ipc_frame frame);
  void add_data(std::string_view payload);
  void add_close(protocol::ipc_frame& frame);

  limits limits_;
  ticket next_ticket_ = 1;
  std::map<ticket, waiter> waiters_;
  std::map<std::uint32_t, stream> streams_;
  std::map<std::uint16_t, std::deque<protocol::accept_push>> accepts_;
  std::deque<protocol::recv_from_push> datagrams_;
  std::deque<std::string> unclaimed_errors_;
  std::size_t buffered_bytes_ = 0;
  std::uint64_t dropped_ = 0;
};

} // namespace pilot::control
