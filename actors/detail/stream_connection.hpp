#pragma once

#include "protocol/address.hpp"
#include "protocol/packet.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

/// The per-connection state machine of the stream transport (protocol 0x01):
/// handshake, segmentation with Nagle, the receive window in segments,
/// in-order delivery, SACK, congestion control, retransmission and teardown,
/// wire-compatible with the Go reference daemon v0.5.
///
/// The class does no I/O and reads no clock: every call takes `now` and
/// appends what happened to a `stream_output` that the caller drains after
/// the call. One `on_tick` at `next_deadline()` drives every timer.
namespace pilot::actors::detail {

/// The clock every time parameter refers to.
using stream_clock = std::chrono::steady_clock;

/// Connection states, numbered as the reference numbers them.
enum class stream_state : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_recv,
  established,
  /// Closed locally; the remaining data and then the FIN are being sent
  /// until the peer acknowledges them.
  fin_wait,
  close_wait,
  /// Finished; kept until `stream_settings::time_wait` passes without
  /// packets from the peer, so that late packets still match it.
  time_wait,
};

/// Returns the upper-case name Info reports: `CLOSED`, `LISTEN`, `SYN_SENT`,
/// `SYN_RECV`, `ESTABLISHED`, `FIN_WAIT`, `CLOSE_WAIT` or `TIME_WAIT`.
std::string_view to_string(stream_state state) noexcept;

/// Maximum payload of one data segment, and the unit of the window field.
inline constexpr std::size_t stream_mss = 4096;

/// The addresses and virtual ports of a connection.
struct stream_tuple {
  protocol::address local;
  std::uint16_t local_port = 0;
  protocol::address remote;
  std::uint16_t remote_port = 0;
};

/// Limits and timers of one connection; the defaults are the reference's.
struct stream_settings {
  /// Receive window advertised to the peer, in segments.
  std::uint16_t receive_slots = 512;
  /// Maximum number of delivered chunks the application may hold before
  /// in-order data is dropped unacknowledged. It is above `receive_slots`
  /// because a peer that sends small segments may overrun a window counted
  /// in segments.
  std::size_t receive_limit = 1024;
  /// Maximum number of out-of-order segments kept (and `stream_mss` times
  /// that in bytes). It matches `receive_slots`: with the reference's 128, a
  /// loss early in a full window makes the receiver drop most of the window
  /// behind it, and the sender resends several times what was lost.
  std::size_t out_of_order_limit = 512;
  /// Maximum number of bytes written but not yet acknowledged.
  std::size_t send_buffer_limit = std::size_t{1} << 20;
  /// Whether the third SYN timeout sets `stream_output::wants_relay` and
  /// restarts the SYN timer at 1 s (a beacon is configured and the peer is
  /// not reached through it yet).
  bool relay_fallback = false;
  /// How long a TIME_WAIT connection lingers after the last packet.
  stream_clock::duration time_wait = std::chrono::seconds{10};
  /// How long a FIN that arrived ahead of missing data waits for that data
  /// before the stream ends without it.
  stream_clock::duration fin_hold = std::chrono::seconds{2};
};

/// Counters and congestion state, with the fields of an Info `conn_list`
/// entry.
struct stream_stats {
  std::uint64_t cong_win = 0;      ///< Congestion window, bytes.
  std::uint64_t ssthresh = 0;      ///< Slow-start threshold, bytes.
  std::uint64_t in_flight = 0;     ///< Bytes sent and not yet acknowledged.
  double srtt_ms = 0;              ///< Smoothed RTT, whole milliseconds.
  double rttvar_ms = 0;            ///< RTT variation, whole milliseconds.
  std::uint64_t unacked = 0;       ///< Segments sent and not yet acknowledged.
  std::uint64_t ooo_buf = 0;       ///< Segments held out of order.
  std::uint64_t peer_recv_win = 0; ///< Peer's window in bytes; 0 = no limit.
  std::uint64_t recv_win = 0;      ///< Our advertised window in bytes.
  bool in_recovery = false;
  std::uint64_t bytes_sent = 0; ///< Payload bytes sent, retransmissions too.
  std::uint64_t bytes_recv = 0; ///< Payload bytes received.
  std::uint64_t segs_sent = 0;
  std::uint64_t segs_recv = 0;
  std::uint64_t retransmits = 0;
  std::uint64_t fast_retx = 0;
  std::uint64_t sack_recv = 0; ///< ACKs received with SACK blocks.
  std::uint64_t sack_sent = 0; ///< ACKs sent with SACK blocks.
  std::uint64_t dup_acks = 0;
};

/// The output of one call. The caller sends `packets` to the peer, hands
/// `delivered` to the application, reacts to the flags and then calls
/// `clear()` before passing the object to the next call.
struct stream_output {
  /// Encoded packets for the peer (`tuple.remote.node`), in sending order.
  std::vector<std::vector<std::uint8_t>> packets;
  /// Stream data for the application, in order, at most `stream_mss` bytes
  /// per chunk. Each chunk occupies one receive slot until the caller
  /// reports it through `app_consumed`.
  std::vector<std::vector<std::uint8_t>> delivered;
  /// The dial succeeded: a SYN-ACK arrived in SYN_SENT.
  bool established = false;
  /// The dial failed because the peer replied with an RST.
  bool refused = false;
  /// The dial failed because the 7th SYN got no reply.
  bool dial_timed_out = false;
  /// The third SYN timed out with `relay_fallback` set; the caller should
  /// switch the peer to the relay.
  bool wants_relay = false;
  /// The peer's stream ended (FIN, RST or abort); the application gets EOF.
  /// Not set by a local `close`.
  bool receive_closed = false;
  /// A FIN (or FIN|ACK) from the peer ended an ESTABLISHED connection: the
  /// moment of `conn.fin`.
  bool fin_received = false;
  /// An RST from the peer closed the connection: the moment of `conn.rst`.
  /// Not set during a dial, which reports `refused` instead.
  bool rst_received = false;
  /// A segment or FIN went unacknowledged after 8 transmissions; an RST was
  /// sent and the connection is CLOSED.
  bool aborted = false;

  /// Empties both vectors and resets every flag.
  void clear() noexcept;
};

/// One stream connection. Sequence numbers start at 0 on both sides (the
/// SYN consumes one), the window counts segments of `stream_mss` bytes, and
/// a window of 0 from the peer means no limit.
class stream_connection {
public:
  using time_point = stream_clock::time_point;

  /// Creates a CLOSED connection; `id` is the daemon-wide connection ID.
  stream_connection(std::uint32_t id, const stream_tuple& tuple,
                    const stream_settings& settings, time_point now);

  /// Starts a dial: sends SYN(seq 0) and enters SYN_SENT. The SYN is resent
  /// 1, 3, 7, 15, 23 and 31 s later (7, 9, 13 and 21 s after the switch when
  /// `relay_fallback` is set) and the dial times out 8 s after the last one.
  void open_active(time_point now, stream_output& out);

  /// Replies to the SYN `syn` of a new inbound connection: sends
  /// SYN|ACK(seq 0, ack syn.seq + 1) and enters ESTABLISHED at once, as the
  /// reference does. The caller has run the listener and limit checks.
  void accept_syn(const protocol::packet_header& syn, time_point now,
                  stream_output& out);

  /// Handles a stream packet whose tuple matches this connection: a repeated
  /// SYN (which gets the SYN|ACK again), a SYN|ACK, FIN, RST or ACK, with
  /// or without data or SACK blocks. Takes the payload to avoid a copy.
  ///
  /// A SYN in TIME_WAIT is ignored: it starts a new connection, so the
  /// caller should drop this one and handle the SYN as a new one.
  void on_packet(protocol::packet&& pkt, time_point now, stream_output& out);

  /// Queues `data` for sending and sends what the windows and Nagle's rule
  /// allow. Returns how many bytes were accepted: fewer than `data.size()`
  /// when the send buffer is full (see `send_space`), and 0 unless
  /// ESTABLISHED.
  std::size_t write(std::span<const std::uint8_t> data, time_point now,
                    stream_output& out);

  /// Closes the connection locally. In ESTABLISHED it flushes the queued
  /// data, sends the FIN once all data is acknowledged and enters FIN_WAIT
  /// until the FIN is acknowledged (then TIME_WAIT). Before the handshake
  /// completes it enters CLOSED without sending anything.
  void close(time_point now, stream_output& out);

  /// Sends an RST (unless CLOSED) and enters CLOSED, dropping all data.
  void reset(time_point now, stream_output& out);

  /// Runs the timers due at `now`: SYN retransmission, retransmission
  /// timeout, delayed ACK, Nagle flush, window probe and the held FIN.
  void on_tick(time_point now, stream_output& out);

  /// Reports that the application has taken `chunks` delivered chunks. This
  /// frees receive slots and sends a window update when the window has grown
  /// by a quarter since it was last advertised.
  void app_consumed(std::size_t chunks, time_point now, stream_output& out);

  /// Sends a keepalive (an empty ACK) when ESTABLISHED. A peer running this
  /// implementation replies to it, a reference peer only counts it as activity.
  void keepalive(time_point now, stream_output& out);

  /// The daemon-wide connection ID.
  std::uint32_t id() const noexcept { return id_; }

  const stream_tuple& tuple() const noexcept { return tuple_; }

  stream_state state() const noexcept { return state_; }

  /// Returns the time of the last activity, for the idle timeout and
  /// keepalives: a packet from the peer, new data sent, the connection's
  /// creation or a local close. Keepalives sent do not count.
  time_point idle_since() const noexcept { return last_activity_; }

  /// Returns whether the caller can forget the connection: it is CLOSED, or
  /// in TIME_WAIT with no packet from the peer for `settings.time_wait`.
  bool reapable(time_point now) const noexcept;

  /// Returns how many more bytes `write` accepts now.
  std::size_t send_space() const noexcept;

  /// Returns the next time `on_tick` has work, or `time_point::max()`.
  time_point next_deadline() const noexcept;

  /// Returns the counters and congestion state for Info.
  stream_stats stats() const noexcept;

private:
  /// A data segment: queued, in flight, or selectively acknowledged.
  struct segment {
    std::uint32_t seq = 0;
    std::vector<std::uint8_t> data;
    time_point sent_at;
    /// Transmissions so far; 0 while queued.
    std::uint8_t attempts = 0;
    bool sacked = false;
    /// Loss recovery episode in which it was last retransmitted.
    std::uint32_t recovery_episode = 0;
  };

  /// A segment that arrived ahead of the next expected byte.
  struct held_segment {
    std::uint32_t seq = 0;
    std::vector<std::uint8_t> data;
  };

  // Packet building.
  void emit(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
            std::uint16_t window, std::span<const std::uint8_t> payload,
            stream_output& out);
  std::uint16_t advertised_window() const noexcept;
  void send_ack(stream_output& out);
  void send_probe(stream_output& out);
  void send_rst(stream_output& out);

  // Handshake.
  void on_syn(stream_output& out);
  void on_syn_ack(const protocol::packet_header& header, time_point now,
                  stream_output& out);
  void on_syn_timer(time_point now, stream_output& out);

  // Receiving.
  void on_ack_packet(protocol::packet&& pkt, time_point now,
                     stream_output& out);
  bool read_sack(const protocol::packet& pkt);
  void on_data(protocol::packet&& pkt, time_point now, stream_output& out);
  bool deliver(std::vector<std::uint8_t>&& data, stream_output& out);
  void hold_out_of_order(std::uint32_t seq, std::vector<std::uint8_t>&& data);
  void drain_out_of_order(stream_output& out);

  // Teardown.
  void on_fin(const protocol::packet_header& header, time_point now,
              stream_output& out);
  void finish_peer_fin(time_point now, stream_output& out);
  void on_rst(stream_output& out);
  void abort(stream_output& out);
  void enter_closed() noexcept;
  void enter_time_wait(time_point now) noexcept;
  void drop_send_queue() noexcept;
  void send_fin_when_done(time_point now, stream_output& out);
  void on_fin_timer(time_point now, stream_output& out);

  // Sending and acknowledgements.
  void send_queued(time_point now, bool flush, stream_output& out);
  void transmit(segment& seg, time_point now, stream_output& out);
  bool retransmit(segment& seg, time_point now, stream_output& out);
  void on_new_ack(std::uint32_t ack, time_point now, stream_output& out);
  void on_duplicate_ack(time_point now, stream_output& out);
  void retransmit_holes(time_point now, stream_output& out);
  void on_rto_timer(time_point now, stream_output& out);
  void add_rtt_sample(stream_clock::duration sample) noexcept;
  /// Index of the first segment in flight and not SACKed, or `sent_count_`.
  std::size_t first_unsacked() const noexcept;
  std::uint64_t in_flight() const noexcept;
  std::uint64_t send_limit() const noexcept;
  bool window_blocked() const noexcept;
  std::vector<std::uint8_t> take_buffer();
  void recycle(std::vector<std::uint8_t>&& buffer);

  // Identity.
  std::uint32_t id_;
  stream_tuple tuple_;
  stream_settings settings_;
  stream_state state_ = stream_state::closed;
  time_point last_activity_;

  // Dial.
  std::uint32_t syn_retries_ = 0;
  stream_clock::duration syn_timeout_{};
  time_point syn_deadline_ = time_point::max();

  // Send side. `queue_` contains every segment from `snd_una_` on: the first
  // `sent_count_` are in flight (or sacked), the rest are queued.
  std::deque<segment> queue_;
  std::size_t sent_count_ = 0;
  std::size_t buffered_bytes_ = 0;
  std::uint32_t snd_una_ = 0;
  std::uint32_t snd_nxt_ = 0;
  std::uint64_t peer_window_ = 0;
  std::uint64_t cwnd_;
  std::uint64_t ssthresh_;
  std::uint32_t dup_acks_ = 0;
  bool in_recovery_ = false;
  std::uint32_t recovery_point_ = 0;
  std::uint32_t recovery_episode_ = 0;
  bool have_high_sacked_ = false;
  std::uint32_t high_sacked_ = 0;
  time_point nagle_deadline_ = time_point::max();
  time_point probe_deadline_ = time_point::max();
  stream_clock::duration probe_interval_;
  time_point last_rto_retransmit_ = time_point::min();
  std::vector<std::vector<std::uint8_t>> spare_buffers_;

  // RTT estimation (RFC 6298).
  bool have_rtt_ = false;
  stream_clock::duration srtt_{};
  stream_clock::duration rttvar_{};
  stream_clock::duration rto_;

  // Local close.
  bool fin_sent_ = false;
  std::uint32_t fin_seq_ = 0;
  std::uint8_t fin_attempts_ = 0;
  time_point fin_deadline_ = time_point::max();

  // Receive side.
  std::uint32_t rcv_nxt_ = 0;
  std::size_t held_chunks_ = 0;
  std::uint16_t last_advertised_ = 0;
  std::vector<held_segment> out_of_order_;
  std::size_t out_of_order_bytes_ = 0;
  std::uint32_t ack_pending_ = 0;
  time_point ack_deadline_ = time_point::max();
  bool peer_fin_pending_ = false;
  bool peer_fin_needs_reply_ = false;
  std::uint32_t peer_fin_seq_ = 0;
  time_point peer_fin_deadline_ = time_point::max();

  stream_stats counters_;
};

} // namespace pilot::actors::detail
