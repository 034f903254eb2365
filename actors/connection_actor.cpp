#include "actors/connection_actor.hpp"

#include "actors/detail/port_table.hpp"
#include "actors/detail/stream_connection.hpp"
#include "actors/detail/syn_limiter.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "protocol/address.hpp"
#include "protocol/beacon_message.hpp"
#include "protocol/events.hpp"
#include "protocol/ipc.hpp"
#include "protocol/packet.hpp"
#include "protocol/tunnel_frame.hpp"

#include <caf/actor_cast.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <boost/json/object.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pilot::actors {

namespace {

using namespace std::chrono_literals;
using detail::stream_state;
using time_point = detail::stream_clock::time_point;

constexpr std::string_view log_component = "connections";

/// The largest datagram payload that reaches a peer on every path. The
/// packet (34-byte header) is sealed in a PILS frame (36 bytes: magic,
/// sender, nonce, tag) and may be relayed by the beacon (9 bytes), all in
/// one IPv4 UDP datagram of at most 65507 bytes. The tunnel would drop a
/// larger one after SendTo had succeeded.
constexpr std::size_t max_datagram_size
    = 65507 - protocol::relay_header_size
      - (4 + 4 + protocol::tunnel_nonce_size + protocol::tunnel_tag_size)
      - protocol::packet_header_size;
static_assert(max_datagram_size == 65428);

/// Control packets to this port are pings.
constexpr std::uint16_t ping_port = 0;

/// Port of the built-in echo service.
constexpr std::uint16_t echo_port = 7;

/// Accept pushes of one port that may wait for the client's socket; a SYN
/// beyond them gets an RST.
constexpr std::size_t accept_queue_limit = 64;

/// RecvFrom pushes that may wait for one client's socket; datagrams beyond
/// them are dropped for that client.
constexpr std::size_t datagram_queue_limit = 256;

/// Writes of one connection that may wait for room in its send buffer.
constexpr std::size_t max_held_writes = 64;

/// Requests to the tunnel for dials and datagrams that may wait at once.
constexpr std::size_t max_peer_requests = 1024;

/// Connections in the table, TIME_WAIT included, per allowed live
/// connection. TIME_WAIT connections do not count against the limits, so
/// without this bound a high SYN rate could grow the table without end.
constexpr std::size_t table_entries_per_live_conn = 4;

/// Shortest time between two timer ticks.
constexpr auto tick_granularity = 5ms;

/// The actor's full interface: the public one plus its own timer, whose
/// argument is the generation of the tick chain.
using internal_actor
    = connection_actor::extend<caf::reacts_to<tick_atom, std::uint64_t>>;

/// Frames pushed to a client and not yet written to its socket. The
/// `written` callbacks decrement it on the I/O thread.
using backlog_counter = std::shared_ptr<std::atomic<std::size_t>>;

backlog_counter make_backlog() {
  return std::make_shared<std::atomic<std::size_t>>(0);
}

struct client_entry {
  push_function push;
  backlog_counter datagrams = make_backlog();
};

/// A connection's key as incoming packets match it: the local port, the
/// remote address and the remote port. The local address is not part of it.
struct tuple_key {
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  protocol::address remote;

  friend bool operator==(const tuple_key&, const tuple_key&) = default;
};

struct tuple_hash {
  std::size_t operator()(const tuple_key& key) const noexcept {
    auto ports = (std::uint64_t{key.local_port} << 32)
                 | (std::uint64_t{key.remote_port} << 16) | key.remote.network;
    return std::hash<std::uint64_t>{}((std::uint64_t{key.remote.node} << 48)
                                      ^ (ports * 0x9E3779B97F4A7C15ull));
  }
};

tuple_key key_of(const detail::stream_tuple& tuple) {
  return {tuple.local_port, tuple.remote_port, tuple.remote};
}

/// A write waiting for room in the send buffer; `offset` bytes of `data`
/// are in the buffer already.
struct held_write {
  caf::typed_response_promise<bool> promise;
  std::string data;
  std::size_t offset = 0;
};

struct conn_entry {
  conn_entry(std::uint32_t id, const detail::stream_tuple& tuple,
             const detail::stream_settings& settings, time_point now,
             std::uint64_t owner_id, bool is_inbound)
      : stream(id, tuple, settings, now), owner(owner_id), inbound(is_inbound),
        created(now) {}

  detail::stream_connection stream;
  /// The IPC client that dialed the connection or bound its port, or
  /// `detail::builtin_owner` for the echo service.
  std::uint64_t owner;
  bool inbound;
  time_point created;
  /// The application closed the connection or went away: delivered data is
  /// discarded and nothing more is pushed.
  bool app_closed = false;
  /// The end of the stream was pushed (CloseOK) or needs no push.
  bool eof_pushed = false;
  /// `close` has been called on the stream.
  bool closing = false;
  /// A Close that arrived while writes were held, which closes the stream
  /// once they are all in its send buffer.
  bool close_after_writes = false;
  /// The connection's ID is in the timer list.
  bool timed = false;
  /// A packet other than a SYN arrived for the connection, so its peer is
  /// real: a spoofed SYN's SYN-ACK goes to a node that never answers it.
  bool confirmed = false;
  /// Delivered chunks that were discarded or echoed, to report as consumed.
  std::size_t chunks_to_release = 0;
  std::optional<caf::typed_response_promise<std::uint32_t>> dial;
  std::deque<held_write> writes;
  /// Echo only: delivered chunks not yet written back, and how much of the
  /// first one is written.
  std::deque<std::vector<std::uint8_t>> echo_backlog;
  std::size_t echo_offset = 0;
};

/// Packets and pushes dropped since the last sweep, logged there once.
struct drop_counters {
  std::uint64_t foreign = 0;       ///< Addressed to another node.
  std::uint64_t unmatched = 0;     ///< Stream packets of no connection.
  std::uint64_t unknown_proto = 0; ///< Unknown protocol byte.
  std::uint64_t syn_global = 0;    ///< SYNs over the node-wide rate.
  std::uint64_t syn_source = 0;    ///< SYNs over their source's rate.
  std::uint64_t syn_refused = 0;   ///< SYNs answered with an RST by a limit.
  std::uint64_t datagrams = 0;     ///< RecvFrom pushes over a client's queue.
  std::uint64_t phantoms = 0;      ///< Inbound connections never confirmed.

  bool any() const noexcept {
    return foreign + unmatched + unknown_proto + syn_global + syn_source
               + syn_refused + datagrams + phantoms
           > 0;
  }
};

struct connections_state {
  static inline const char* name = "pilot.connections";

  connection_options options;
  detail::stream_settings settings;
  packet_transmit_actor tunnel;
  event_sink_actor events;
  /// The node's own address, known after registration.
  std::optional<protocol::address> local;
  detail::port_table ports;
  std::optional<detail::syn_limiter> limiter;
  std::unordered_map<std::uint64_t, client_entry> clients;
  std::unordered_map<std::uint32_t, conn_entry> conns;
  std::unordered_map<tuple_key, std::uint32_t, tuple_hash> by_tuple;
  /// Connections per local port in any state, for the ephemeral allocator.
  std::unordered_map<std::uint16_t, std::size_t> local_port_use;
  /// Accept pushes in flight per bound port.
  std::unordered_map<std::uint16_t, backlog_counter> accept_backlogs;
  std::uint32_t next_conn_id = 1;
  /// IDs of the connections with a timer set.
  std::vector<std::uint32_t> timed;
  std::vector<std::uint32_t> timed_spare;
  /// When the pending tick fires, and its chain's generation; ticks of older
  /// generations do nothing.
  time_point tick_due = time_point::max();
  std::uint64_t tick_generation = 0;
  time_point next_sweep;
  /// Output of the stream call in progress.
  detail::stream_output out;
  /// Packets produced while handling the current message.
  std::vector<outbound_packet> outbox;
  std::size_t peer_requests = 0;
  drop_counters drops;
};

using self_pointer = internal_actor::stateful_pointer<connections_state>;

time_point now_of(self_pointer self) {
  return self->clock().now();
}

// -- events and pushes --------------------------------------------------------

void raise(self_pointer self, protocol::event event) {
  if (self->state.events)
    self->send(self->state.events, std::move(event));
}

// Makes a `conn.*` event; each has the remote address and port, the local
// port and the connection ID, in this order.
template <class Event>
Event conn_event(const conn_entry& entry) {
  const auto& tuple = entry.stream.tuple();
  return Event{protocol::to_string(tuple.remote), tuple.remote_port,
               tuple.local_port, entry.stream.id()};
}

std::string frame_of(protocol::ipc_command command, std::string payload) {
  // Every payload built here is far below the frame limit.
  return protocol::encode_ipc_frame(command, payload).value();
}

client_entry* client_of(self_pointer self, std::uint64_t id) {
  auto i = self->state.clients.find(id);
  return i == self->state.clients.end() ? nullptr : &i->second;
}

void push_close_ok(self_pointer self, conn_entry& entry) {
  if (entry.eof_pushed)
    return;
  entry.eof_pushed = true;
  if (entry.app_closed)
    return;
  if (auto* client = client_of(self, entry.owner))
    client->push(frame_of(protocol::ipc_command::close_ok,
                          protocol::encode_conn_id(entry.stream.id())),
                 {});
}

// Pushes each delivered chunk as one Recv frame. The client's socket taking
// a frame frees the chunk's receive slot, so a slow client closes the
// window instead of filling the daemon's memory.
void push_chunks(self_pointer self, conn_entry& entry,
                 std::vector<std::vector<std::uint8_t>>& chunks) {
  auto* client = client_of(self, entry.owner);
  if (entry.app_closed || client == nullptr) {
    entry.chunks_to_release += chunks.size();
    return;
  }
  auto id = entry.stream.id();
  auto weak = caf::actor_cast<caf::actor_addr>(self);
  for (auto& chunk : chunks) {
    auto payload = protocol::encode_conn_id(id);
    payload.append(chunk.begin(), chunk.end());
    client->push(frame_of(protocol::ipc_command::recv, std::move(payload)),
                 [weak, id] {
                   if (auto hdl = caf::actor_cast<connection_actor>(weak))
                     caf::anon_send(hdl, pushed_atom_v, id, std::uint32_t{1});
                 });
  }
}

// -- connection table ---------------------------------------------------------

conn_entry* find_conn(self_pointer self, std::uint32_t id) {
  auto i = self->state.conns.find(id);
  return i == self->state.conns.end() ? nullptr : &i->second;
}

bool is_live(stream_state state) {
  return state != stream_state::closed && state != stream_state::time_wait;
}

std::uint32_t next_id(self_pointer self) {
  auto& st = self->state;
  auto id = st.next_conn_id++;
  // NOTE: IDs are unique until 2^32 connections have been made; after that
  // the counter wraps and skips 0.
  if (st.next_conn_id == 0)
    st.next_conn_id = 1;
  return id;
}

conn_entry& create_conn(self_pointer self, const detail::stream_tuple& tuple,
                        std::uint64_t owner, bool inbound, time_point now) {
  auto& st = self->state;
  auto id = next_id(self);
  auto& entry
      = st.conns.try_emplace(id, id, tuple, st.settings, now, owner, inbound)
            .first->second;
  st.by_tuple[key_of(tuple)] = id;
  ++st.local_port_use[tuple.local_port];
  return entry;
}

void fail_writes(conn_entry& entry, const caf::error& err) {
  for (auto& write : entry.writes)
    write.promise.deliver(err);
  entry.writes.clear();
}

caf::error not_established_error() {
  return make_error(errc::invalid_argument, "send: connection not established");
}

// Delivers the outcome of a dial, if one is pending. A client learns of no
// connection whose dial failed, so none gets a CloseOK.
void finish_dial(conn_entry& entry, caf::expected<std::uint32_t> result) {
  if (!entry.dial)
    return;
  if (result) {
    entry.dial->deliver(*result);
  } else {
    entry.dial->deliver(std::move(result.error()));
    entry.eof_pushed = true;
  }
  entry.dial.reset();
}

void remove_conn(self_pointer self, std::uint32_t id) {
  auto& st = self->state;
  auto i = st.conns.find(id);
  if (i == st.conns.end())
    return;
  auto& entry = i->second;
  finish_dial(entry, make_error(errc::connection_refused,
                                "dial: connection closed before it was "
                                "established"));
  fail_writes(entry, not_established_error());
  push_close_ok(self, entry);
  auto key = key_of(entry.stream.tuple());
  if (auto j = st.by_tuple.find(key); j != st.by_tuple.end() && j->second == id)
    st.by_tuple.erase(j);
  if (auto j = st.local_port_use.find(key.local_port);
      j != st.local_port_use.end() && --j->second == 0)
    st.local_port_use.erase(j);
  st.conns.erase(i);
}

// -- output handling ----------------------------------------------------------

void schedule_tick(self_pointer self, time_point due, time_point now) {
  auto& st = self->state;
  due = std::max(due, now + tick_granularity);
  // A pending tick no later than this one (give or take the granularity)
  // serves as well.
  if (st.tick_due <= due + tick_granularity)
    return;
  st.tick_due = due;
  self->delayed_send(self, due - now, tick_atom_v, ++st.tick_generation);
}

void track_timer(self_pointer self, conn_entry& entry, time_point now) {
  auto deadline = entry.stream.next_deadline();
  if (deadline == time_point::max())
    return;
  if (!entry.timed) {
    entry.timed = true;
    self->state.timed.push_back(entry.stream.id());
  }
  schedule_tick(self, deadline, now);
}

// Moves what the last stream call produced into the outbox, the client and
// the events, then clears the output. Makes no stream call itself.
void drain_output(self_pointer self, conn_entry& entry) {
  auto& st = self->state;
  auto& out = st.out;
  auto node = entry.stream.tuple().remote.node;
  for (auto& bytes : out.packets)
    st.outbox.push_back({node, std::move(bytes)});
  if (out.wants_relay)
    self->send(st.tunnel, use_relay_atom_v, node);
  if (!out.delivered.empty()) {
    if (entry.owner == detail::builtin_owner)
      for (auto& chunk : out.delivered)
        entry.echo_backlog.push_back(std::move(chunk));
    else
      push_chunks(self, entry, out.delivered);
  }
  if (out.established)
    finish_dial(entry, entry.stream.id());
  if (out.refused)
    finish_dial(entry,
                make_error(errc::connection_refused, "connection refused"));
  if (out.dial_timed_out)
    finish_dial(entry, make_error(errc::timeout, "dial timeout"));
  if (out.fin_received)
    raise(self, conn_event<protocol::conn_fin>(entry));
  // A dial's RST is an RST for a known connection too, so it raises the
  // event as well, as the reference does.
  if (out.rst_received || out.refused)
    raise(self, conn_event<protocol::conn_rst>(entry));
  if (out.receive_closed)
    push_close_ok(self, entry);
  out.clear();
}

// Writes echo data back as far as the send buffer allows. Returns whether
// the stream took any of it.
bool flush_echo(self_pointer self, conn_entry& entry, time_point now) {
  auto& stream = entry.stream;
  if (stream.state() != stream_state::established)
    return false;
  bool wrote = false;
  while (!entry.echo_backlog.empty() && stream.send_space() > 0) {
    auto& chunk = entry.echo_backlog.front();
    std::span<const std::uint8_t> rest{chunk.data() + entry.echo_offset,
                                       chunk.size() - entry.echo_offset};
    auto accepted = stream.write(rest, now, self->state.out);
    if (accepted == 0)
      break;
    wrote = true;
    entry.echo_offset += accepted;
    if (entry.echo_offset < chunk.size())
      break;
    entry.echo_backlog.pop_front();
    entry.echo_offset = 0;
    ++entry.chunks_to_release;
  }
  return wrote;
}

// Moves held writes into the send buffer as far as it has room and delivers
// `true` to each write once all of its data is in. Returns whether the stream
// took any data.
bool flush_writes(self_pointer self, conn_entry& entry, time_point now) {
  auto& stream = entry.stream;
  if (entry.writes.empty())
    return false;
  if (stream.state() != stream_state::established) {
    fail_writes(entry, not_established_error());
    return false;
  }
  bool wrote = false;
  while (!entry.writes.empty() && stream.send_space() > 0) {
    auto& write = entry.writes.front();
    auto rest = std::span{
        reinterpret_cast<const std::uint8_t*>(write.data.data()) + write.offset,
        write.data.size() - write.offset};
    auto accepted = stream.write(rest, now, self->state.out);
    if (accepted == 0)
      break;
    wrote = true;
    write.offset += accepted;
    if (write.offset < write.data.size())
      break;
    write.promise.deliver(true);
    entry.writes.pop_front();
  }
  return wrote;
}

// Runs the next step that follows from earlier output. Returns whether it
// called the stream, whose output then needs draining.
bool follow_up(self_pointer self, conn_entry& entry, time_point now) {
  auto& out = self->state.out;
  if (entry.chunks_to_release > 0) {
    auto chunks = std::exchange(entry.chunks_to_release, 0);
    entry.stream.app_consumed(chunks, now, out);
    return true;
  }
  if (entry.owner == detail::builtin_owner) {
    if (flush_echo(self, entry, now))
      return true;
    // Echo ends its side once the peer's stream ended.
    if (entry.eof_pushed && !entry.closing) {
      entry.closing = true;
      entry.stream.close(now, out);
      return true;
    }
    return false;
  }
  if (flush_writes(self, entry, now))
    return true;
  if (entry.close_after_writes && entry.writes.empty() && !entry.closing) {
    entry.closing = true;
    entry.stream.close(now, out);
    return true;
  }
  return false;
}

// Handles everything that follows from the last call on `entry`'s stream.
// Removes the connection once it is CLOSED, so `entry` must not be used
// after this returns.
void settle(self_pointer self, conn_entry& entry, time_point now) {
  do {
    drain_output(self, entry);
  } while (follow_up(self, entry, now));
  if (entry.stream.state() == stream_state::closed) {
    remove_conn(self, entry.stream.id());
    return;
  }
  track_timer(self, entry, now);
}

// Sends the packets of the current message to the tunnel in one batch.
// Packets for the node itself go straight back into the actor.
void flush_outbox(self_pointer self) {
  auto& st = self->state;
  if (st.outbox.empty())
    return;
  if (st.local) {
    std::vector<protocol::packet> loopback;
    std::erase_if(st.outbox, [&](outbound_packet& pkt) {
      if (pkt.node != st.local->node)
        return false;
      if (auto decoded = protocol::decode_packet(pkt.bytes))
        loopback.push_back(std::move(*decoded));
      return true;
    });
    if (!loopback.empty())
      self->send(self, deliver_atom_v, std::move(loopback));
    if (st.outbox.empty())
      return;
  }
  self->send(st.tunnel, transmit_atom_v, std::move(st.outbox));
  st.outbox = {};
}

// -- incoming packets ---------------------------------------------------------

protocol::packet_header reply_header(const protocol::packet_header& to,
                                     std::uint8_t flags) {
  protocol::packet_header header;
  header.flags = flags;
  header.protocol = to.protocol;
  header.src = to.dst;
  header.dst = to.src;
  header.src_port = to.dst_port;
  header.dst_port = to.src_port;
  return header;
}

void send_packet(self_pointer self, const protocol::packet_header& header,
                 std::span<const std::uint8_t> payload) {
  auto bytes = protocol::encode_packet(header, payload);
  if (bytes)
    self->state.outbox.push_back({header.dst.node, std::move(*bytes)});
}

void send_rst(self_pointer self, const protocol::packet_header& syn) {
  send_packet(self, reply_header(syn, protocol::flag_rst), {});
}

// Returns the live connections on `port` and in total.
std::pair<std::size_t, std::size_t> live_counts(self_pointer self,
                                                std::uint16_t port) {
  std::size_t on_port = 0;
  std::size_t total = 0;
  for (auto& [id, entry] : self->state.conns) {
    if (!is_live(entry.stream.state()))
      continue;
    ++total;
    if (entry.stream.tuple().local_port == port)
      ++on_port;
  }
  return {on_port, total};
}

// Runs the rate limits of a new inbound SYN. Returns whether it may go on.
bool admit_syn(self_pointer self, const protocol::packet_header& syn,
               time_point now) {
  auto& st = self->state;
  switch (st.limiter->admit(syn.src.node, now)) {
    case detail::syn_limiter::verdict::admitted:
      return true;
    case detail::syn_limiter::verdict::global_limited:
      ++st.drops.syn_global;
      raise(self, protocol::security_syn_rate_limited{
                      protocol::to_string(syn.src), syn.src_port});
      return false;
    case detail::syn_limiter::verdict::source_limited:
      ++st.drops.syn_source;
      return false;
  }
  return false;
}

// Returns the accept backlog of a port bound by a client, or null for the
// built-in services, which take connections without a push.
backlog_counter accept_backlog(self_pointer self, std::uint16_t port,
                               std::uint64_t owner) {
  if (owner == detail::builtin_owner)
    return nullptr;
  auto& counter = self->state.accept_backlogs[port];
  if (!counter)
    counter = make_backlog();
  return counter;
}

// Returns whether an inbound connection on `port` may be created: checks
// the connection limits and the accept queue, which must happen before the
// SYN-ACK so that no accepted connection is reset at once.
bool has_room(self_pointer self, std::uint16_t port, std::uint64_t owner) {
  auto& opts = self->state.options;
  auto [on_port, total] = live_counts(self, port);
  if (on_port >= opts.max_conns_per_port || total >= opts.max_conns_total)
    return false;
  if (self->state.conns.size()
      >= table_entries_per_live_conn * opts.max_conns_total)
    return false;
  if (auto backlog = accept_backlog(self, port, owner))
    return backlog->load(std::memory_order_relaxed) < accept_queue_limit;
  return true;
}

void push_accept(self_pointer self, conn_entry& entry) {
  const auto& tuple = entry.stream.tuple();
  auto* client = client_of(self, entry.owner);
  auto backlog = accept_backlog(self, tuple.local_port, entry.owner);
  if (client == nullptr || !backlog)
    return;
  protocol::accept_push push{tuple.local_port,
                             entry.stream.id(),
                             {tuple.remote.network, tuple.remote.node},
                             tuple.remote_port};
  backlog->fetch_add(1, std::memory_order_relaxed);
  client->push(
      frame_of(protocol::ipc_command::accept, protocol::encode_accept(push)),
      [backlog] { backlog->fetch_sub(1, std::memory_order_relaxed); });
}

void on_syn(self_pointer self, protocol::packet&& pkt, time_point now) {
  auto& st = self->state;
  const auto& syn = pkt.header;
  auto owner = st.ports.owner(syn.dst_port);
  if (!owner) {
    send_rst(self, syn);
    return;
  }
  tuple_key key{syn.dst_port, syn.src_port, syn.src};
  if (auto i = st.by_tuple.find(key); i != st.by_tuple.end()) {
    auto& existing = st.conns.at(i->second);
    if (is_live(existing.stream.state())) {
      existing.stream.on_packet(std::move(pkt), now, st.out);
      settle(self, existing, now);
      return;
    }
    // The peer's new connection replaces a finished one with the same ports.
    remove_conn(self, i->second);
  }
  if (!admit_syn(self, syn, now))
    return;
  if (!has_room(self, syn.dst_port, *owner)) {
    ++st.drops.syn_refused;
    send_rst(self, syn);
    return;
  }
  detail::stream_tuple tuple{syn.dst, syn.dst_port, syn.src, syn.src_port};
  if (st.local)
    tuple.local = *st.local;
  auto& entry = create_conn(self, tuple, *owner, true, now);
  raise(self, conn_event<protocol::conn_syn_received>(entry));
  entry.stream.accept_syn(syn, now, st.out);
  raise(self, conn_event<protocol::conn_established>(entry));
  push_accept(self, entry);
  settle(self, entry, now);
}

void on_stream_packet(self_pointer self, protocol::packet&& pkt,
                      time_point now) {
  auto& st = self->state;
  const auto& header = pkt.header;
  if (header.has(protocol::flag_syn) && !header.has(protocol::flag_ack)) {
    on_syn(self, std::move(pkt), now);
    return;
  }
  auto i = st.by_tuple.find({header.dst_port, header.src_port, header.src});
  if (i == st.by_tuple.end()) {
    ++st.drops.unmatched;
    return;
  }
  auto& entry = st.conns.at(i->second);
  entry.confirmed = true;
  entry.stream.on_packet(std::move(pkt), now, st.out);
  settle(self, entry, now);
}

void on_datagram(self_pointer self, const protocol::packet& pkt) {
  auto& st = self->state;
  if (pkt.payload.empty())
    return;
  const auto& header = pkt.header;
  raise(self,
        protocol::data_datagram{protocol::to_string(header.src),
                                header.src_port, header.dst_port,
                                static_cast<std::int64_t>(pkt.payload.size())});
  if (st.clients.empty())
    return;
  protocol::recv_from_push push{{header.src.network, header.src.node},
                                header.src_port,
                                header.dst_port,
                                {pkt.payload.begin(), pkt.payload.end()}};
  auto frame = frame_of(protocol::ipc_command::recv_from,
                        protocol::encode_recv_from(push));
  for (auto& [id, client] : st.clients) {
    if (client.datagrams->load(std::memory_order_relaxed)
        >= datagram_queue_limit) {
      ++st.drops.datagrams;
      continue;
    }
    client.datagrams->fetch_add(1, std::memory_order_relaxed);
    client.push(frame, [counter = client.datagrams] {
      counter->fetch_sub(1, std::memory_order_relaxed);
    });
  }
}

// Replies to a ping with a pong. A ping from port 0 gets no reply, because
// the pong would go to port 0, where the peer would take it for a ping, and
// two nodes would send pongs to each other forever.
void on_control(self_pointer self, const protocol::packet& pkt) {
  const auto& ping = pkt.header;
  if (ping.dst_port != ping_port || ping.src_port == ping_port)
    return;
  auto header = reply_header(ping, protocol::flag_ack);
  header.seq = ping.seq;
  header.ack = ping.seq + 1;
  send_packet(self, header, pkt.payload);
}

void on_deliver(self_pointer self, std::vector<protocol::packet>& batch) {
  auto& st = self->state;
  auto now = now_of(self);
  for (auto& pkt : batch) {
    const auto& dst = pkt.header.dst;
    bool broadcast_datagram
        = pkt.header.protocol == protocol::packet_protocol::datagram
          && dst.node == protocol::broadcast_node;
    if (st.local && dst.node != st.local->node && !broadcast_datagram) {
      ++st.drops.foreign;
      continue;
    }
    switch (pkt.header.protocol) {
      case protocol::packet_protocol::stream:
        on_stream_packet(self, std::move(pkt), now);
        break;
      case protocol::packet_protocol::datagram:
        on_datagram(self, pkt);
        break;
      case protocol::packet_protocol::control:
        on_control(self, pkt);
        break;
      default:
        ++st.drops.unknown_proto;
    }
  }
  flush_outbox(self);
}

// -- timers -------------------------------------------------------------------

void run_timers(self_pointer self, time_point now) {
  auto& st = self->state;
  auto ids = std::exchange(st.timed, std::move(st.timed_spare));
  for (auto id : ids) {
    auto* entry = find_conn(self, id);
    if (entry == nullptr)
      continue;
    entry->timed = false;
    if (entry->stream.next_deadline() <= now) {
      entry->stream.on_tick(now, st.out);
      settle(self, *entry, now);
    } else {
      track_timer(self, *entry, now);
    }
  }
  ids.clear();
  st.timed_spare = std::move(ids);
}

void log_drops(self_pointer self) {
  auto& drops = self->state.drops;
  if (!drops.any())
    return;
  log::info(log_component, "packets-dropped",
            "dropped packets and pushes since the last sweep",
            {{"foreign", std::to_string(drops.foreign)},
             {"unmatched", std::to_string(drops.unmatched)},
             {"unknown_protocol", std::to_string(drops.unknown_proto)},
             {"syn_rate_global", std::to_string(drops.syn_global)},
             {"syn_rate_source", std::to_string(drops.syn_source)},
             {"syn_over_limit", std::to_string(drops.syn_refused)},
             {"datagram_pushes", std::to_string(drops.datagrams)},
             {"unconfirmed", std::to_string(drops.phantoms)}});
  drops = {};
}

// Returns whether an inbound connection has had no packet but SYNs for a
// whole sweep interval. A spoofed SYN makes such a connection, and it would
// otherwise count against the limits until the idle timeout.
bool is_unconfirmed(self_pointer self, const conn_entry& entry,
                    time_point now) {
  return entry.inbound && !entry.confirmed
         && now - entry.created >= self->state.options.sweep_interval;
}

void sweep_conn(self_pointer self, conn_entry& entry, time_point now) {
  auto& st = self->state;
  auto& stream = entry.stream;
  if (stream.reapable(now)) {
    remove_conn(self, stream.id());
    return;
  }
  if (stream.state() != stream_state::established)
    return;
  auto idle = now - stream.idle_since();
  if (is_unconfirmed(self, entry, now)) {
    // The peer never asked for the connection, so it gets no event.
    ++st.drops.phantoms;
    stream.reset(now, st.out);
  } else if (idle > st.options.idle_timeout) {
    raise(self, conn_event<protocol::conn_idle_timeout>(entry));
    push_close_ok(self, entry);
    entry.closing = true;
    stream.close(now, st.out);
  } else if (idle > st.options.keepalive) {
    stream.keepalive(now, st.out);
  } else {
    return;
  }
  settle(self, entry, now);
}

void sweep(self_pointer self, time_point now) {
  auto& st = self->state;
  std::vector<std::uint32_t> ids;
  ids.reserve(st.conns.size());
  for (auto& [id, entry] : st.conns)
    ids.push_back(id);
  for (auto id : ids)
    if (auto* entry = find_conn(self, id))
      sweep_conn(self, *entry, now);
  st.limiter->reap(now);
  log_drops(self);
}

void on_tick(self_pointer self, std::uint64_t generation) {
  auto& st = self->state;
  if (generation != st.tick_generation)
    return;
  st.tick_due = time_point::max();
  auto now = now_of(self);
  run_timers(self, now);
  if (now >= st.next_sweep) {
    sweep(self, now);
    st.next_sweep = now + st.options.sweep_interval;
  }
  flush_outbox(self);
  // The timers re-armed above have scheduled their ticks already.
  schedule_tick(self, st.next_sweep, now);
}

// -- IPC operations -----------------------------------------------------------

caf::error peer_error(const caf::error& err, std::uint32_t node) {
  if (err == caf::sec::request_timeout)
    return make_error(errc::timeout,
                      "resolve node " + std::to_string(node) + ": timed out");
  return err;
}

// Asks the tunnel to make `node` reachable, then runs `then`, or delivers
// the error to `fail`. The node itself needs no tunnel.
template <class Then, class Fail>
void with_peer(self_pointer self, std::uint32_t node, Then then, Fail fail) {
  auto& st = self->state;
  if (st.local && node == st.local->node) {
    then();
    return;
  }
  if (st.peer_requests >= max_peer_requests) {
    fail(make_error(errc::busy, "too many dials and datagrams waiting for "
                                "their peers; try again later"));
    return;
  }
  ++st.peer_requests;
  self->request(st.tunnel, st.options.ensure_peer_timeout, ensure_peer_atom_v,
                node)
      .then(
          [self, then](bool) mutable {
            --self->state.peer_requests;
            then();
          },
          [self, node, fail](caf::error& err) mutable {
            --self->state.peer_requests;
            fail(peer_error(err, node));
          });
}

std::optional<std::uint16_t> ephemeral_port(self_pointer self) {
  auto& st = self->state;
  return st.ports.allocate_ephemeral(
      [&st](std::uint16_t port) { return st.local_port_use.contains(port); });
}

caf::error unregistered_error(std::string_view operation) {
  return make_error(errc::not_registered,
                    std::string{operation}
                        + ": the node is not registered with the registry "
                          "yet");
}

void open_dial(self_pointer self, std::uint64_t client,
               protocol::address remote, std::uint16_t port,
               caf::typed_response_promise<std::uint32_t> promise) {
  auto& st = self->state;
  if (!st.clients.contains(client)) {
    promise.deliver(
        make_error(errc::invalid_argument, "dial: the client disconnected"));
    return;
  }
  auto local_port = ephemeral_port(self);
  if (!local_port) {
    promise.deliver(make_error(errc::busy, "dial: no free ephemeral port"));
    return;
  }
  auto now = now_of(self);
  detail::stream_tuple tuple{*st.local, *local_port, remote, port};
  auto& entry = create_conn(self, tuple, client, false, now);
  entry.dial = std::move(promise);
  entry.stream.open_active(now, st.out);
  settle(self, entry, now);
  flush_outbox(self);
}

caf::typed_response_promise<std::uint32_t> dial(self_pointer self,
                                                std::uint64_t client,
                                                protocol::address remote,
                                                std::uint16_t port) {
  auto& st = self->state;
  auto promise = self->make_response_promise<std::uint32_t>();
  if (!st.local) {
    promise.deliver(unregistered_error("dial"));
    return promise;
  }
  if (!st.clients.contains(client)) {
    promise.deliver(
        make_error(errc::invalid_argument, "dial: unknown IPC client"));
    return promise;
  }
  with_peer(
      self, remote.node,
      [self, client, remote, port, promise] {
        open_dial(self, client, remote, port, promise);
      },
      [promise](caf::error err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

conn_entry* owned_conn(self_pointer self, std::uint64_t client,
                       std::uint32_t id) {
  auto* entry = find_conn(self, id);
  if (entry == nullptr || entry->owner != client || entry->app_closed)
    return nullptr;
  return entry;
}

caf::typed_response_promise<bool> write(self_pointer self, std::uint64_t client,
                                        std::uint32_t id, std::string& data) {
  auto promise = self->make_response_promise<bool>();
  auto* entry = owned_conn(self, client, id);
  if (entry == nullptr) {
    promise.deliver(make_error(
        errc::not_found, "connection " + std::to_string(id) + " not found"));
    return promise;
  }
  if (entry->stream.state() != stream_state::established) {
    promise.deliver(not_established_error());
    return promise;
  }
  if (entry->writes.size() >= max_held_writes) {
    promise.deliver(make_error(errc::busy, "send: too many writes waiting on "
                                           "connection "
                                               + std::to_string(id)));
    return promise;
  }
  entry->writes.push_back({promise, std::move(data), 0});
  auto now = now_of(self);
  if (flush_writes(self, *entry, now))
    settle(self, *entry, now);
  flush_outbox(self);
  return promise;
}

// Any client may close any connection, as in the reference, so that
// `pilotctl disconnect` works on connections other programs opened. The
// owner then gets the CloseOK push that tells it the connection ended.
std::uint32_t close_conn(self_pointer self, std::uint64_t client,
                         std::uint32_t id) {
  auto* entry = find_conn(self, id);
  if (entry == nullptr || entry->app_closed)
    return id;
  auto now = now_of(self);
  if (entry->owner != client)
    push_close_ok(self, *entry);
  entry->app_closed = true;
  entry->eof_pushed = true;
  // The IPC session passes a client's pipelined requests on without waiting
  // for their replies, so Sends made before this Close may still wait for
  // send-buffer space. Their data goes out before the FIN, as it would if
  // each Send had blocked.
  entry->close_after_writes = true;
  settle(self, *entry, now);
  flush_outbox(self);
  return id;
}

void close_client(self_pointer self, std::uint64_t client) {
  auto& st = self->state;
  auto now = now_of(self);
  std::vector<std::uint32_t> owned;
  for (auto& [id, entry] : st.conns)
    if (entry.owner == client)
      owned.push_back(id);
  for (auto id : owned) {
    auto& entry = st.conns.at(id);
    entry.app_closed = true;
    entry.eof_pushed = true;
    fail_writes(entry, make_error(errc::invalid_argument,
                                  "send: the client disconnected"));
    entry.closing = true;
    entry.stream.close(now, st.out);
    settle(self, entry, now);
  }
  for (auto port : st.ports.unbind_owner(client))
    st.accept_backlogs.erase(port);
  st.clients.erase(client);
  flush_outbox(self);
}

caf::typed_response_promise<bool> send_to(self_pointer self,
                                          protocol::address remote,
                                          std::uint16_t port,
                                          std::string& data) {
  auto& st = self->state;
  auto promise = self->make_response_promise<bool>();
  if (remote.node == protocol::broadcast_node) {
    promise.deliver(make_error(
        errc::invalid_argument,
        "broadcast is not available \xE2\x80\x94 custom networks are WIP"));
    return promise;
  }
  if (!st.local) {
    promise.deliver(unregistered_error("send_to"));
    return promise;
  }
  if (data.size() > max_datagram_size) {
    promise.deliver(make_error(
        errc::invalid_argument,
        "send_to: a datagram holds at most " + std::to_string(max_datagram_size)
            + " bytes, not " + std::to_string(data.size())));
    return promise;
  }
  auto src_port = ephemeral_port(self);
  if (!src_port) {
    promise.deliver(make_error(errc::busy, "send_to: no free ephemeral port"));
    return promise;
  }
  protocol::packet_header header;
  header.protocol = protocol::packet_protocol::datagram;
  header.src = *st.local;
  header.dst = remote;
  header.src_port = *src_port;
  header.dst_port = port;
  auto bytes = protocol::encode_packet(
      header,
      {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
  if (!bytes) {
    promise.deliver(make_error(errc::invalid_argument,
                               "send_to: " + bytes.error().message()));
    return promise;
  }
  with_peer(
      self, remote.node,
      [self, promise, node = remote.node,
       packet = std::move(*bytes)]() mutable {
        self->state.outbox.push_back({node, std::move(packet)});
        flush_outbox(self);
        promise.deliver(true);
      },
      [promise](caf::error err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

boost::json::object conn_json(const conn_entry& entry) {
  const auto& tuple = entry.stream.tuple();
  auto stats = entry.stream.stats();
  return {
      {"id", entry.stream.id()},
      {"local_port", tuple.local_port},
      {"remote_addr", protocol::to_string(tuple.remote)},
      {"remote_port", tuple.remote_port},
      {"state", detail::to_string(entry.stream.state())},
      {"cong_win", stats.cong_win},
      {"ssthresh", stats.ssthresh},
      {"in_flight", stats.in_flight},
      {"srtt_ms", stats.srtt_ms},
      {"rttvar_ms", stats.rttvar_ms},
      {"unacked", stats.unacked},
      {"ooo_buf", stats.ooo_buf},
      {"peer_recv_win", stats.peer_recv_win},
      {"recv_win", stats.recv_win},
      {"in_recovery", stats.in_recovery},
      {"bytes_sent", stats.bytes_sent},
      {"bytes_recv", stats.bytes_recv},
      {"segs_sent", stats.segs_sent},
      {"segs_recv", stats.segs_recv},
      {"retransmits", stats.retransmits},
      {"fast_retx", stats.fast_retx},
      {"sack_recv", stats.sack_recv},
      {"sack_sent", stats.sack_sent},
      {"dup_acks", stats.dup_acks},
  };
}

transport_summary summary(self_pointer self) {
  auto& st = self->state;
  transport_summary result;
  result.ports = st.ports.size();
  for (auto& [id, entry] : st.conns) {
    auto state = entry.stream.state();
    if (state == stream_state::syn_sent || state == stream_state::syn_recv
        || state == stream_state::established)
      ++result.connections;
    result.conn_list.emplace_back(conn_json(entry));
  }
  return result;
}

// Sends a FIN on every ESTABLISHED connection and fails every waiting
// request, for the actor's exit.
void shut_down(self_pointer self) {
  auto& st = self->state;
  auto now = now_of(self);
  auto stopping = make_error(errc::stopping, "the daemon is stopping");
  for (auto& [id, entry] : st.conns) {
    if (entry.stream.state() == stream_state::established)
      entry.stream.close(now, st.out);
    for (auto& bytes : st.out.packets)
      st.outbox.push_back({entry.stream.tuple().remote.node, std::move(bytes)});
    st.out.clear();
    fail_writes(entry, stopping);
    finish_dial(entry, stopping);
  }
  if (!st.outbox.empty())
    self->send(st.tunnel, transmit_atom_v, std::move(st.outbox));
  st.outbox = {};
  st.conns.clear();
}

void set_local_address(self_pointer self, const node_info& info) {
  auto& st = self->state;
  if (!info.registered || info.node_id == 0)
    return;
  auto parsed = protocol::parse_address(info.address);
  if (parsed && parsed->node == info.node_id)
    st.local = *parsed;
  else
    st.local = protocol::address{0, info.node_id};
}

std::uint16_t random_ephemeral_start() {
  std::random_device seed;
  std::uniform_int_distribution<int> pick{detail::first_ephemeral_port,
                                          detail::last_ephemeral_port};
  return static_cast<std::uint16_t>(pick(seed));
}

internal_actor::behavior_type connections_behavior(self_pointer self,
                                                   connection_options options,
                                                   packet_transmit_actor tunnel,
                                                   event_sink_actor events) {
  auto& st = self->state;
  auto now = now_of(self);
  st.settings.relay_fallback = options.relay_fallback;
  st.settings.time_wait = options.time_wait;
  st.limiter.emplace(options.syn_rate_limit, now);
  st.ports = detail::port_table{random_ephemeral_start()};
  if (options.echo)
    st.ports.bind(echo_port, detail::builtin_owner);
  st.options = std::move(options);
  st.tunnel = std::move(tunnel);
  st.events = std::move(events);
  st.next_sweep = now + st.options.sweep_interval;
  schedule_tick(self, st.next_sweep, now);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    shut_down(self);
    self->quit(std::move(msg.reason));
  });
  return {
      [self](deliver_atom, std::vector<protocol::packet>& batch) {
        on_deliver(self, batch);
      },
      [self](const node_info& info) { set_local_address(self, info); },
      [self](client_opened_atom, ipc_client& client) {
        self->state.clients[client.id] = client_entry{std::move(client.push)};
      },
      [self](client_closed_atom, std::uint64_t client) {
        close_client(self, client);
      },
      [self](bind_atom, std::uint64_t client,
             std::uint16_t port) -> caf::result<std::uint16_t> {
        if (!self->state.ports.bind(port, client))
          return make_error(errc::invalid_argument,
                            "port " + std::to_string(port) + " already bound");
        self->state.accept_backlogs[port] = make_backlog();
        return port;
      },
      [self](dial_atom, std::uint64_t client, protocol::address remote,
             std::uint16_t port) { return dial(self, client, remote, port); },
      [self](write_atom, std::uint64_t client, std::uint32_t id,
             std::string& data) { return write(self, client, id, data); },
      [self](close_atom, std::uint64_t client, std::uint32_t id) {
        return close_conn(self, client, id);
      },
      [self](send_to_atom, std::uint64_t, protocol::address remote,
             std::uint16_t port,
             std::string& data) { return send_to(self, remote, port, data); },
      [self](pushed_atom, std::uint32_t id, std::uint32_t chunks) {
        auto* entry = find_conn(self, id);
        if (entry == nullptr)
          return;
        auto now = now_of(self);
        entry->stream.app_consumed(chunks, now, self->state.out);
        settle(self, *entry, now);
        flush_outbox(self);
      },
      [self](info_atom) { return summary(self); },
      [self](tick_atom, std::uint64_t generation) {
        on_tick(self, generation);
      },
  };
}

} // namespace

connection_actor spawn_connections(caf::actor_system& sys,
                                   connection_options options,
                                   packet_transmit_actor tunnel,
                                   event_sink_actor events) {
  auto hdl = sys.spawn(connections_behavior, std::move(options),
                       std::move(tunnel), std::move(events));
  return caf::actor_cast<connection_actor>(std::move(hdl));
}

} // namespace pilot::actors
