#include "actors/detail/stream_connection.hpp"

#include "protocol/sack.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace pilot::actors::detail {

namespace {

using namespace std::chrono_literals;
using protocol::flag_ack;
using protocol::flag_fin;
using protocol::flag_rst;
using protocol::flag_syn;

constexpr std::uint64_t initial_cwnd = 10 * stream_mss;
constexpr std::uint64_t max_cwnd = 1 << 20;
constexpr std::uint64_t initial_ssthresh = 512 * 1024;
constexpr std::uint64_t min_ssthresh = stream_mss;
constexpr std::uint32_t duplicate_ack_threshold = 3;
constexpr std::uint8_t max_attempts = 8;

constexpr stream_clock::duration initial_rto = 1s;
constexpr stream_clock::duration min_rto = 200ms;
constexpr stream_clock::duration max_rto = 10s;
constexpr stream_clock::duration clock_granularity = 10ms;

constexpr stream_clock::duration initial_syn_timeout = 1s;
constexpr stream_clock::duration max_syn_timeout = 8s;
constexpr std::uint32_t syn_retries_before_relay = 3;
constexpr std::uint32_t max_syn_retries = 6;

constexpr std::uint32_t segments_per_ack = 2;
constexpr stream_clock::duration ack_delay = 40ms;
constexpr stream_clock::duration nagle_delay = 40ms;
constexpr stream_clock::duration initial_probe_interval = 500ms;
constexpr stream_clock::duration max_probe_interval = 30s;

/// Most segments one event retransmits during loss recovery.
constexpr std::size_t max_holes_per_event = 16;

/// Spare segment buffers kept for reuse.
constexpr std::size_t max_spare_buffers = 64;

// Sequence numbers compare modulo 2^32 (RFC 1982).
bool seq_before(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}

bool seq_after(std::uint32_t a, std::uint32_t b) noexcept {
  return seq_before(b, a);
}

std::uint32_t seq_end(std::uint32_t seq, std::size_t size) noexcept {
  return seq + static_cast<std::uint32_t>(size);
}

// Whether `payload` has the exact size of a SACK payload and its magic, so
// that decoding it is worth trying.
bool looks_like_sack(std::span<const std::uint8_t> payload) noexcept {
  constexpr std::array<std::uint8_t, 4> magic{'S', 'A', 'C', 'K'};
  if (payload.size() < protocol::sack_prefix_size
      || payload.size()
             > protocol::sack_prefix_size
                   + protocol::max_sack_blocks * protocol::sack_block_size)
    return false;
  return std::equal(magic.begin(), magic.end(), payload.begin());
}

} // namespace

std::string_view to_string(stream_state state) noexcept {
  switch (state) {
    case stream_state::closed:
      return "CLOSED";
    case stream_state::listen:
      return "LISTEN";
    case stream_state::syn_sent:
      return "SYN_SENT";
    case stream_state::syn_recv:
      return "SYN_RECV";
    case stream_state::established:
      return "ESTABLISHED";
    case stream_state::fin_wait:
      return "FIN_WAIT";
    case stream_state::close_wait:
      return "CLOSE_WAIT";
    case stream_state::time_wait:
      return "TIME_WAIT";
  }
  return "CLOSED";
}

void stream_output::clear() noexcept {
  packets.clear();
  delivered.clear();
  established = false;
  refused = false;
  dial_timed_out = false;
  wants_relay = false;
  receive_closed = false;
  fin_received = false;
  rst_received = false;
  aborted = false;
}

stream_connection::stream_connection(std::uint32_t id,
                                     const stream_tuple& tuple,
                                     const stream_settings& settings,
                                     time_point now)
    : id_(id), tuple_(tuple), settings_(settings), last_activity_(now),
      cwnd_(initial_cwnd), ssthresh_(initial_ssthresh),
      probe_interval_(initial_probe_interval), rto_(initial_rto) {}

// -- public operations --------------------------------------------------------

void stream_connection::open_active(time_point now, stream_output& out) {
  if (state_ != stream_state::closed)
    return;
  state_ = stream_state::syn_sent;
  last_activity_ = now;
  emit(flag_syn, 0, 0, advertised_window(), {}, out);
  snd_una_ = snd_nxt_ = 1;
  syn_timeout_ = initial_syn_timeout;
  syn_deadline_ = now + syn_timeout_;
}

void stream_connection::accept_syn(const protocol::packet_header& syn,
                                   time_point now, stream_output& out) {
  if (state_ != stream_state::closed)
    return;
  state_ = stream_state::syn_recv;
  last_activity_ = now;
  rcv_nxt_ = syn.seq + 1;
  peer_window_ = std::uint64_t{syn.window} * stream_mss;
  emit(flag_syn | flag_ack, 0, rcv_nxt_, advertised_window(), {}, out);
  snd_una_ = snd_nxt_ = 1;
  state_ = stream_state::established;
}

void stream_connection::on_packet(protocol::packet&& pkt, time_point now,
                                  stream_output& out) {
  if (state_ == stream_state::closed)
    return;
  last_activity_ = now;
  const auto& header = pkt.header;
  if (header.has(flag_syn) && !header.has(flag_ack))
    on_syn(out);
  else if (header.has(flag_syn | flag_ack))
    on_syn_ack(header, now, out);
  else if (header.has(flag_fin))
    on_fin(header, now, out);
  else if (header.has(flag_rst))
    on_rst(out);
  else if (header.has(flag_ack))
    on_ack_packet(std::move(pkt), now, out);
}

std::size_t stream_connection::write(std::span<const std::uint8_t> data,
                                     time_point now, stream_output& out) {
  auto accepted = std::min(data.size(), send_space());
  auto rest = data.first(accepted);
  while (!rest.empty()) {
    // Append to the last queued segment while it has room, so that small
    // writes coalesce (Nagle); otherwise start a segment.
    if (sent_count_ == queue_.size()
        || queue_.back().data.size() == stream_mss) {
      queue_.emplace_back();
      queue_.back().data = take_buffer();
    }
    auto& tail = queue_.back().data;
    auto n = std::min(rest.size(), stream_mss - tail.size());
    tail.insert(tail.end(), rest.begin(), rest.begin() + n);
    rest = rest.subspan(n);
  }
  buffered_bytes_ += accepted;
  if (accepted > 0)
    send_queued(now, false, out);
  return accepted;
}

void stream_connection::close(time_point now, stream_output& out) {
  switch (state_) {
    case stream_state::established:
      // The application is gone, so pending acknowledgements go out now and
      // data still out of order is dropped with the receive side.
      if (ack_pending_ > 0)
        send_ack(out);
      out_of_order_.clear();
      out_of_order_bytes_ = 0;
      peer_fin_pending_ = false;
      peer_fin_deadline_ = time_point::max();
      state_ = stream_state::fin_wait;
      last_activity_ = now;
      send_queued(now, true, out);
      send_fin_when_done(now, out);
      return;
    case stream_state::fin_wait:
    case stream_state::time_wait:
    case stream_state::closed:
      return;
    default:
      enter_closed();
      return;
  }
}

void stream_connection::reset(time_point, stream_output& out) {
  if (state_ == stream_state::closed)
    return;
  send_rst(out);
  enter_closed();
}

void stream_connection::on_tick(time_point now, stream_output& out) {
  if (state_ == stream_state::syn_sent) {
    if (now >= syn_deadline_)
      on_syn_timer(now, out);
    return;
  }
  if (state_ != stream_state::established && state_ != stream_state::fin_wait)
    return;
  // Step 1: a FIN held for missing data ends the stream without it.
  if (peer_fin_pending_ && now >= peer_fin_deadline_) {
    finish_peer_fin(now, out);
    return;
  }
  // Step 2: acknowledgements and retransmissions.
  if (ack_pending_ > 0 && now >= ack_deadline_)
    send_ack(out);
  on_rto_timer(now, out);
  if (state_ == stream_state::closed)
    return;
  on_fin_timer(now, out);
  if (state_ == stream_state::closed)
    return;
  // Step 3: queued data whose Nagle delay ran out, then window probes.
  if (now >= nagle_deadline_)
    send_queued(now, true, out);
  if (now >= probe_deadline_) {
    if (window_blocked()) {
      send_probe(out);
      probe_interval_ = std::min(probe_interval_ * 2, max_probe_interval);
      probe_deadline_ = now + probe_interval_;
    } else {
      probe_deadline_ = time_point::max();
    }
  }
  send_fin_when_done(now, out);
}

void stream_connection::app_consumed(std::size_t chunks, time_point,
                                     stream_output& out) {
  held_chunks_ -= std::min(chunks, held_chunks_);
  if (state_ != stream_state::established)
    return;
  // Tell the peer once the window has grown by a quarter of its size,
  // because a window the peer last saw as nearly full throttles it.
  if (advertised_window()
      >= last_advertised_ + settings_.receive_slots / 4u + 1u)
    send_ack(out);
}

void stream_connection::keepalive(time_point, stream_output& out) {
  if (state_ == stream_state::established)
    send_probe(out);
}

bool stream_connection::reapable(time_point now) const noexcept {
  if (state_ == stream_state::closed)
    return true;
  return state_ == stream_state::time_wait
         && now - last_activity_ > settings_.time_wait;
}

std::size_t stream_connection::send_space() const noexcept {
  if (state_ != stream_state::established
      || buffered_bytes_ >= settings_.send_buffer_limit)
    return 0;
  return settings_.send_buffer_limit - buffered_bytes_;
}

stream_connection::time_point
stream_connection::next_deadline() const noexcept {
  if (state_ == stream_state::syn_sent)
    return syn_deadline_;
  if (state_ != stream_state::established && state_ != stream_state::fin_wait)
    return time_point::max();
  auto deadline
      = std::min({probe_deadline_, fin_deadline_, peer_fin_deadline_});
  if (ack_pending_ > 0)
    deadline = std::min(deadline, ack_deadline_);
  // A Nagle flush that the window blocks waits for an ACK, not the clock.
  if (!window_blocked())
    deadline = std::min(deadline, nagle_deadline_);
  if (auto i = first_unsacked(); i < sent_count_) {
    auto due = queue_[i].sent_at + rto_;
    if (last_rto_retransmit_ != time_point::min())
      due = std::max(due, last_rto_retransmit_ + rto_);
    deadline = std::min(deadline, due);
  }
  return deadline;
}

stream_stats stream_connection::stats() const noexcept {
  using ms = std::chrono::milliseconds;
  auto result = counters_;
  result.cong_win = cwnd_;
  result.ssthresh = ssthresh_;
  result.in_flight = in_flight();
  result.srtt_ms
      = static_cast<double>(std::chrono::duration_cast<ms>(srtt_).count());
  result.rttvar_ms
      = static_cast<double>(std::chrono::duration_cast<ms>(rttvar_).count());
  result.unacked = sent_count_;
  result.ooo_buf = out_of_order_.size();
  result.peer_recv_win = peer_window_;
  result.recv_win = std::uint64_t{advertised_window()} * stream_mss;
  result.in_recovery = in_recovery_;
  return result;
}

// -- packet building ----------------------------------------------------------

void stream_connection::emit(std::uint8_t flags, std::uint32_t seq,
                             std::uint32_t ack, std::uint16_t window,
                             std::span<const std::uint8_t> payload,
                             stream_output& out) {
  protocol::packet_header header;
  header.flags = flags;
  header.protocol = protocol::packet_protocol::stream;
  header.src = tuple_.local;
  header.dst = tuple_.remote;
  header.src_port = tuple_.local_port;
  header.dst_port = tuple_.remote_port;
  header.seq = seq;
  header.ack = ack;
  header.window = window;
  // Segments never exceed the MSS, so encoding cannot fail.
  if (auto bytes = protocol::encode_packet(header, payload))
    out.packets.push_back(std::move(*bytes));
  // Every ACK-flagged packet carries the acknowledgement and the window.
  if ((flags & flag_ack) != 0 && (flags & (flag_fin | flag_rst)) == 0) {
    ack_pending_ = 0;
    ack_deadline_ = time_point::max();
    last_advertised_ = window;
  }
}

std::uint16_t stream_connection::advertised_window() const noexcept {
  // The reference reads a window of 0 as "no limit", so a full receiver
  // advertises 1 instead.
  std::size_t slots = settings_.receive_slots;
  if (held_chunks_ >= slots)
    return 1;
  return static_cast<std::uint16_t>(std::max<std::size_t>(
      1, std::min<std::size_t>(slots - held_chunks_, 0xFFFF)));
}

void stream_connection::send_ack(stream_output& out) {
  if (out_of_order_.empty()) {
    emit(flag_ack, snd_nxt_, rcv_nxt_, advertised_window(), {}, out);
    return;
  }
  std::vector<protocol::sack_block> ranges;
  ranges.reserve(out_of_order_.size());
  for (const auto& held : out_of_order_)
    ranges.push_back({held.seq, seq_end(held.seq, held.data.size())});
  auto blocks = protocol::build_sack_blocks(ranges, rcv_nxt_);
  auto payload = protocol::encode_sack(blocks);
  if (!payload) {
    emit(flag_ack, snd_nxt_, rcv_nxt_, advertised_window(), {}, out);
    return;
  }
  emit(flag_ack, snd_nxt_, rcv_nxt_, advertised_window(), *payload, out);
  ++counters_.sack_sent;
}

// A window probe or keepalive is an empty ACK one below our next sequence
// number. A reference peer ignores the sequence number of an empty ACK, and
// a peer running this code replies with an ACK (see `on_ack_packet`).
void stream_connection::send_probe(stream_output& out) {
  emit(flag_ack, snd_nxt_ - 1, rcv_nxt_, advertised_window(), {}, out);
}

void stream_connection::send_rst(stream_output& out) {
  emit(flag_rst, 0, 0, 0, {}, out);
}

// -- handshake ----------------------------------------------------------------

void stream_connection::on_syn(stream_output& out) {
  // A repeated SYN means our SYN|ACK was lost. It always carries the ISN,
  // because the reference's `SendSeq - 1` is wrong once data went out. In
  // TIME_WAIT the peer completed the handshake long ago, so the SYN opens a
  // new connection (a restarted reference daemon reuses its first ephemeral
  // ports) and a reply for the old one would strand it.
  if (state_ == stream_state::syn_sent || state_ == stream_state::time_wait)
    return;
  emit(flag_syn | flag_ack, 0, rcv_nxt_, advertised_window(), {}, out);
}

void stream_connection::on_syn_ack(const protocol::packet_header& header,
                                   time_point now, stream_output& out) {
  // Our SYN had seq 0, so any other acknowledgement belongs to something
  // else.
  if (state_ != stream_state::syn_sent || header.ack != 1)
    return;
  // The ISN is 0 on both sides. A reference responder that resends its
  // SYN|ACK after sending data writes a later seq there, and trusting it
  // would skip that data.
  rcv_nxt_ = 1;
  peer_window_ = std::uint64_t{header.window} * stream_mss;
  state_ = stream_state::established;
  syn_deadline_ = time_point::max();
  out.established = true;
  emit(flag_ack, snd_nxt_, rcv_nxt_, advertised_window(), {}, out);
  send_queued(now, false, out);
}

void stream_connection::on_syn_timer(time_point now, stream_output& out) {
  ++syn_retries_;
  if (syn_retries_ > max_syn_retries) {
    out.dial_timed_out = true;
    enter_closed();
    return;
  }
  if (syn_retries_ == syn_retries_before_relay && settings_.relay_fallback) {
    out.wants_relay = true;
    syn_timeout_ = initial_syn_timeout;
  }
  emit(flag_syn, 0, 0, advertised_window(), {}, out);
  syn_timeout_ = std::min(syn_timeout_ * 2, max_syn_timeout);
  syn_deadline_ = now + syn_timeout_;
}

// -- receiving ----------------------------------------------------------------

void stream_connection::on_ack_packet(protocol::packet&& pkt, time_point now,
                                      stream_output& out) {
  if (state_ != stream_state::established && state_ != stream_state::fin_wait)
    return;
  const auto& header = pkt.header;
  auto old_window = peer_window_;
  peer_window_ = std::uint64_t{header.window} * stream_mss;
  bool has_sack = read_sack(pkt);
  bool empty = pkt.payload.empty();
  // Step 1: the cumulative acknowledgement. An ACK for data never sent is
  // ignored.
  auto ack = header.ack;
  bool valid_ack = ack != 0 && !seq_after(ack, snd_nxt_);
  if (valid_ack && seq_after(ack, snd_una_))
    on_new_ack(ack, now, out);
  else if (valid_ack && ack == snd_una_ && sent_count_ > 0
           && (has_sack || (empty && old_window == peer_window_)))
    on_duplicate_ack(now, out);
  if (state_ == stream_state::closed)
    return;
  // Step 2: the payload, which is data unless it was SACK.
  if (!empty && !has_sack) {
    if (state_ == stream_state::established)
      on_data(std::move(pkt), now, out);
  } else if (empty && state_ == stream_state::established
             && header.seq == rcv_nxt_ - 1) {
    // A window probe or keepalive from a peer running this code.
    send_ack(out);
  }
  // Step 3: the windows may have opened.
  send_queued(now, false, out);
  send_fin_when_done(now, out);
}

// Decodes a SACK payload and marks the segments it covers. A payload counts
// as SACK only when every block lies above the packet's cumulative ACK and
// within data we sent, as every genuine SACK does. User data that merely
// starts like a SACK stays data.
bool stream_connection::read_sack(const protocol::packet& pkt) {
  if (!looks_like_sack(pkt.payload))
    return false;
  auto blocks = protocol::decode_sack(pkt.payload);
  if (!blocks)
    return false;
  auto ack = pkt.header.ack;
  for (const auto& block : *blocks)
    if (!seq_after(block.left, ack) || !seq_after(block.right, block.left)
        || seq_after(block.right, snd_nxt_))
      return false;
  ++counters_.sack_recv;
  for (std::size_t i = 0; i < sent_count_; ++i) {
    auto& seg = queue_[i];
    if (seg.sacked)
      continue;
    for (const auto& block : *blocks) {
      auto size = static_cast<std::uint32_t>(seg.data.size());
      if (protocol::sack_covers(block, seg.seq, size)) {
        seg.sacked = true;
        break;
      }
    }
  }
  for (const auto& block : *blocks)
    if (!have_high_sacked_ || seq_after(block.right, high_sacked_)) {
      high_sacked_ = block.right;
      have_high_sacked_ = true;
    }
  return true;
}

void stream_connection::on_data(protocol::packet&& pkt, time_point now,
                                stream_output& out) {
  auto seq = pkt.header.seq;
  auto& data = pkt.payload;
  ++counters_.segs_recv;
  counters_.bytes_recv += data.size();
  // Step 1: a segment that starts later waits out of order, and the peer
  // learns about it at once through SACK.
  if (seq_after(seq, rcv_nxt_)) {
    hold_out_of_order(seq, std::move(data));
    send_ack(out);
    return;
  }
  // Step 2: a segment we already have is acknowledged at once, because our
  // earlier ACK may have been lost; an overlapping one is trimmed.
  if (seq_before(seq, rcv_nxt_)) {
    auto end = seq_end(seq, data.size());
    if (!seq_after(end, rcv_nxt_)) {
      send_ack(out);
      return;
    }
    data.erase(data.begin(), data.begin() + (rcv_nxt_ - seq));
  }
  if (!deliver(std::move(data), out))
    return;
  drain_out_of_order(out);
  if (peer_fin_pending_ && !seq_before(rcv_nxt_, peer_fin_seq_)) {
    finish_peer_fin(now, out);
    return;
  }
  // Step 3: acknowledge every second segment, or after the ACK delay, and at
  // once while a gap remains.
  if (!out_of_order_.empty() || ++ack_pending_ >= segments_per_ack) {
    send_ack(out);
    return;
  }
  if (ack_deadline_ == time_point::max())
    ack_deadline_ = now + ack_delay;
}

// Hands in-order data to the application in chunks of at most one MSS.
// Returns false, dropping the data unacknowledged, when the application
// already has `receive_limit` chunks.
bool stream_connection::deliver(std::vector<std::uint8_t>&& data,
                                stream_output& out) {
  if (held_chunks_ >= settings_.receive_limit)
    return false;
  rcv_nxt_ = seq_end(rcv_nxt_, data.size());
  if (data.size() <= stream_mss) {
    out.delivered.push_back(std::move(data));
    ++held_chunks_;
    return true;
  }
  for (std::size_t pos = 0; pos < data.size(); pos += stream_mss) {
    auto n = std::min(stream_mss, data.size() - pos);
    out.delivered.emplace_back(data.begin() + pos, data.begin() + pos + n);
    ++held_chunks_;
  }
  return true;
}

void stream_connection::hold_out_of_order(std::uint32_t seq,
                                          std::vector<std::uint8_t>&& data) {
  if (out_of_order_.size() >= settings_.out_of_order_limit
      || out_of_order_bytes_ + data.size()
             > settings_.out_of_order_limit * stream_mss)
    return;
  auto offset = [this](std::uint32_t s) {
    return s - rcv_nxt_;
  };
  auto pos = std::lower_bound(out_of_order_.begin(), out_of_order_.end(),
                              offset(seq),
                              [&](const held_segment& held, std::uint32_t o) {
                                return offset(held.seq) < o;
                              });
  if (pos != out_of_order_.end() && pos->seq == seq)
    return;
  out_of_order_bytes_ += data.size();
  out_of_order_.insert(pos, held_segment{seq, std::move(data)});
}

void stream_connection::drain_out_of_order(stream_output& out) {
  std::size_t taken = 0;
  for (; taken < out_of_order_.size(); ++taken) {
    auto& held = out_of_order_[taken];
    if (seq_after(held.seq, rcv_nxt_))
      break;
    out_of_order_bytes_ -= held.data.size();
    auto end = seq_end(held.seq, held.data.size());
    if (!seq_after(end, rcv_nxt_))
      continue;
    auto& data = held.data;
    data.erase(data.begin(), data.begin() + (rcv_nxt_ - held.seq));
    if (!deliver(std::move(data), out)) {
      // Keep the rest for when the application catches up; the peer
      // retransmits the dropped segment.
      ++taken;
      break;
    }
  }
  out_of_order_.erase(out_of_order_.begin(),
                      out_of_order_.begin()
                          + static_cast<std::ptrdiff_t>(taken));
}

// -- teardown -----------------------------------------------------------------

void stream_connection::on_fin(const protocol::packet_header& header,
                               time_point now, stream_output& out) {
  // A FIN|ACK replies to a FIN and gets no reply itself, so two closing
  // peers do not bounce FIN|ACKs forever.
  bool needs_reply = !header.has(flag_ack);
  switch (state_) {
    case stream_state::established:
      peer_fin_seq_ = header.seq;
      peer_fin_needs_reply_ = needs_reply;
      // A FIN that overtook data waits for it, for `fin_hold` at most.
      if (seq_after(header.seq, rcv_nxt_)) {
        peer_fin_pending_ = true;
        peer_fin_deadline_ = now + settings_.fin_hold;
        return;
      }
      finish_peer_fin(now, out);
      return;
    case stream_state::fin_wait:
    case stream_state::time_wait:
      // Either the peer acknowledged our FIN or it closed as well.
      if (needs_reply)
        emit(flag_fin | flag_ack, snd_nxt_, header.seq + 1, 0, {}, out);
      if (state_ == stream_state::fin_wait)
        enter_time_wait(now);
      return;
    default:
      return;
  }
}

void stream_connection::finish_peer_fin(time_point now, stream_output& out) {
  out.receive_closed = true;
  out.fin_received = true;
  enter_time_wait(now);
  if (peer_fin_needs_reply_)
    emit(flag_fin | flag_ack, snd_nxt_, peer_fin_seq_ + 1, 0, {}, out);
}

void stream_connection::on_rst(stream_output& out) {
  if (state_ == stream_state::syn_sent) {
    out.refused = true;
  } else {
    out.rst_received = true;
    out.receive_closed = state_ == stream_state::established;
  }
  enter_closed();
}

void stream_connection::abort(stream_output& out) {
  out.aborted = true;
  out.receive_closed = state_ == stream_state::established;
  send_rst(out);
  enter_closed();
}

void stream_connection::enter_closed() noexcept {
  state_ = stream_state::closed;
  drop_send_queue();
  out_of_order_.clear();
  out_of_order_bytes_ = 0;
  syn_deadline_ = time_point::max();
  ack_pending_ = 0;
  ack_deadline_ = time_point::max();
  peer_fin_pending_ = false;
  peer_fin_deadline_ = time_point::max();
}

void stream_connection::enter_time_wait(time_point now) noexcept {
  enter_closed();
  state_ = stream_state::time_wait;
  last_activity_ = now;
}

void stream_connection::drop_send_queue() noexcept {
  for (auto& seg : queue_)
    if (spare_buffers_.size() < max_spare_buffers) {
      seg.data.clear();
      spare_buffers_.push_back(std::move(seg.data));
    }
  queue_.clear();
  sent_count_ = 0;
  buffered_bytes_ = 0;
  nagle_deadline_ = time_point::max();
  probe_deadline_ = time_point::max();
  fin_deadline_ = time_point::max();
  in_recovery_ = false;
}

// The FIN follows the last byte only once the peer has acknowledged all
// data, because a reference peer ends the stream the moment a FIN arrives.
void stream_connection::send_fin_when_done(time_point now, stream_output& out) {
  if (state_ != stream_state::fin_wait || fin_sent_ || !queue_.empty())
    return;
  fin_sent_ = true;
  fin_seq_ = snd_nxt_;
  fin_attempts_ = 1;
  emit(flag_fin, fin_seq_, 0, 0, {}, out);
  fin_deadline_ = now + rto_;
}

void stream_connection::on_fin_timer(time_point now, stream_output& out) {
  if (!fin_sent_ || now < fin_deadline_)
    return;
  if (fin_attempts_ >= max_attempts) {
    abort(out);
    return;
  }
  ++fin_attempts_;
  ++counters_.retransmits;
  emit(flag_fin, fin_seq_, 0, 0, {}, out);
  auto backoff = rto_ * (1 << std::min<int>(fin_attempts_ - 1, 6));
  fin_deadline_ = now + std::min<stream_clock::duration>(backoff, max_rto);
}

// -- sending ------------------------------------------------------------------

// Sends queued segments while the congestion and peer windows allow. The
// last segment, when shorter than the MSS, waits (Nagle) until nothing is in
// flight, unless `flush` is set, the Nagle delay ran out or we are closing.
void stream_connection::send_queued(time_point now, bool flush,
                                    stream_output& out) {
  if (state_ != stream_state::established && state_ != stream_state::fin_wait)
    return;
  flush = flush || state_ == stream_state::fin_wait || now >= nagle_deadline_;
  while (sent_count_ < queue_.size()) {
    auto& seg = queue_[sent_count_];
    bool partial
        = seg.data.size() < stream_mss && sent_count_ + 1 == queue_.size();
    if (partial && !flush && in_flight() > 0) {
      if (nagle_deadline_ == time_point::max())
        nagle_deadline_ = now + nagle_delay;
      return;
    }
    if (in_flight() >= send_limit()) {
      if (probe_deadline_ == time_point::max())
        probe_deadline_ = now + probe_interval_;
      return;
    }
    seg.seq = snd_nxt_;
    snd_nxt_ = seq_end(snd_nxt_, seg.data.size());
    ++sent_count_;
    ++counters_.segs_sent;
    counters_.bytes_sent += seg.data.size();
    last_activity_ = now;
    transmit(seg, now, out);
  }
  nagle_deadline_ = time_point::max();
  probe_deadline_ = time_point::max();
}

void stream_connection::transmit(segment& seg, time_point now,
                                 stream_output& out) {
  emit(flag_ack, seg.seq, rcv_nxt_, advertised_window(), seg.data, out);
  seg.sent_at = now;
  ++seg.attempts;
}

// Resends `seg`, or aborts the connection when it has been sent
// `max_attempts` times. Returns whether the connection is still open.
bool stream_connection::retransmit(segment& seg, time_point now,
                                   stream_output& out) {
  if (seg.attempts >= max_attempts) {
    abort(out);
    return false;
  }
  seg.recovery_episode = recovery_episode_;
  ++counters_.retransmits;
  transmit(seg, now, out);
  return true;
}

void stream_connection::on_new_ack(std::uint32_t ack, time_point now,
                                   stream_output& out) {
  // Step 1: bookkeeping.
  std::uint64_t acked_bytes = ack - snd_una_;
  snd_una_ = ack;
  dup_acks_ = 0;
  last_rto_retransmit_ = time_point::min();
  probe_interval_ = initial_probe_interval;
  probe_deadline_ = time_point::max();
  if (in_recovery_ && !seq_before(ack, recovery_point_))
    in_recovery_ = false;
  if (have_high_sacked_ && !seq_after(high_sacked_, ack))
    have_high_sacked_ = false;
  // Step 2: drop acknowledged segments; the newest one sent only once gives
  // an RTT sample (Karn's rule).
  const segment* sample = nullptr;
  std::size_t acked = 0;
  while (acked < sent_count_) {
    auto& seg = queue_[acked];
    if (seq_after(seq_end(seg.seq, seg.data.size()), ack))
      break;
    if (seg.attempts == 1 && !seg.sacked)
      sample = &seg;
    ++acked;
  }
  if (sample != nullptr)
    add_rtt_sample(now - sample->sent_at);
  for (std::size_t i = 0; i < acked; ++i) {
    buffered_bytes_ -= queue_.front().data.size();
    recycle(std::move(queue_.front().data));
    queue_.pop_front();
  }
  sent_count_ -= acked;
  // Step 3: grow the congestion window: by the bytes acknowledged in slow
  // start, by about one MSS per window afterwards.
  if (cwnd_ < ssthresh_)
    cwnd_ += acked_bytes;
  else
    cwnd_ += std::max<std::uint64_t>(1, stream_mss * acked_bytes / cwnd_);
  cwnd_ = std::min(cwnd_, max_cwnd);
  // Step 4: a partial ACK during recovery exposes the next hole.
  if (in_recovery_)
    retransmit_holes(now, out);
}

void stream_connection::on_duplicate_ack(time_point now, stream_output& out) {
  ++dup_acks_;
  ++counters_.dup_acks;
  if (dup_acks_ == duplicate_ack_threshold) {
    if (!in_recovery_) {
      ssthresh_ = std::max(cwnd_ / 2, min_ssthresh);
      cwnd_ = ssthresh_ + duplicate_ack_threshold * stream_mss;
      in_recovery_ = true;
      recovery_point_ = snd_nxt_;
      ++recovery_episode_;
    }
    ++counters_.fast_retx;
    retransmit_holes(now, out);
    return;
  }
  if (dup_acks_ > duplicate_ack_threshold) {
    cwnd_ = std::min(cwnd_ + stream_mss, max_cwnd);
    retransmit_holes(now, out);
  }
}

// Retransmits, once per recovery episode, the first unacknowledged segment
// that the peer has not selectively acknowledged, and every such segment
// with at least three segments' worth of data SACKed above it.
void stream_connection::retransmit_holes(time_point now, stream_output& out) {
  std::size_t sent = 0;
  bool first = true;
  for (std::size_t i = 0; i < sent_count_ && sent < max_holes_per_event; ++i) {
    auto& seg = queue_[i];
    if (seg.sacked)
      continue;
    auto end = seq_end(seg.seq, seg.data.size());
    bool lost = first
                || (have_high_sacked_
                    && !seq_after(end + 2 * stream_mss, high_sacked_));
    first = false;
    if (!lost)
      break;
    if (seg.recovery_episode == recovery_episode_)
      continue;
    if (!retransmit(seg, now, out))
      return;
    ++sent;
  }
}

void stream_connection::on_rto_timer(time_point now, stream_output& out) {
  auto i = first_unsacked();
  if (i == sent_count_ || now < queue_[i].sent_at + rto_)
    return;
  if (last_rto_retransmit_ != time_point::min()
      && now < last_rto_retransmit_ + rto_)
    return;
  // A new loss event restarts from the initial window and backs the RTO
  // off once. Later timeouts in the same event do not back it off again.
  if (!in_recovery_) {
    ssthresh_ = std::max(cwnd_ / 2, min_ssthresh);
    cwnd_ = initial_cwnd;
    in_recovery_ = true;
    recovery_point_ = snd_nxt_;
    ++recovery_episode_;
    rto_ = std::min(rto_ * 2, max_rto);
  }
  last_rto_retransmit_ = now;
  retransmit(queue_[i], now, out);
}

void stream_connection::add_rtt_sample(stream_clock::duration sample) noexcept {
  // RFC 6298, section 2, with alpha = 1/8 and beta = 1/4.
  if (!have_rtt_) {
    srtt_ = sample;
    rttvar_ = sample / 2;
    have_rtt_ = true;
  } else {
    auto delta = srtt_ > sample ? srtt_ - sample : sample - srtt_;
    rttvar_ = (3 * rttvar_ + delta) / 4;
    srtt_ = (7 * srtt_ + sample) / 8;
  }
  auto rto = srtt_
             + std::max<stream_clock::duration>(clock_granularity, 4 * rttvar_);
  rto_ = std::clamp<stream_clock::duration>(rto, min_rto, max_rto);
}

std::size_t stream_connection::first_unsacked() const noexcept {
  std::size_t i = 0;
  while (i < sent_count_ && queue_[i].sacked)
    ++i;
  return i;
}

std::uint64_t stream_connection::in_flight() const noexcept {
  return static_cast<std::uint32_t>(snd_nxt_ - snd_una_);
}

std::uint64_t stream_connection::send_limit() const noexcept {
  if (peer_window_ == 0)
    return cwnd_;
  return std::min(cwnd_, peer_window_);
}

bool stream_connection::window_blocked() const noexcept {
  return sent_count_ < queue_.size() && in_flight() >= send_limit();
}

std::vector<std::uint8_t> stream_connection::take_buffer() {
  if (spare_buffers_.empty()) {
    std::vector<std::uint8_t> buffer;
    buffer.reserve(stream_mss);
    return buffer;
  }
  auto buffer = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return buffer;
}

void stream_connection::recycle(std::vector<std::uint8_t>&& buffer) {
  if (spare_buffers_.size() >= max_spare_buffers)
    return;
  buffer.clear();
  spare_buffers_.push_back(std::move(buffer));
}

} // namespace pilot::actors::detail
