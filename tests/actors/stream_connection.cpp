#include "actors/detail/stream_connection.hpp"

#include "protocol/sack.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace pilot;
using namespace std::chrono_literals;
using actors::detail::stream_clock;
using actors::detail::stream_connection;
using actors::detail::stream_mss;
using actors::detail::stream_output;
using actors::detail::stream_settings;
using actors::detail::stream_state;
using actors::detail::stream_tuple;
using protocol::flag_ack;
using protocol::flag_fin;
using protocol::flag_rst;
using protocol::flag_syn;
using bytes = std::vector<std::uint8_t>;
using time_point = stream_clock::time_point;

namespace {

const time_point start{std::chrono::hours{1000}};

// The endpoints of the reference's golden vectors: node 1 port 49152 dials
// node 2 port 1000.
const stream_tuple dialer_tuple{{0, 1}, 49152, {0, 2}, 1000};
const stream_tuple listener_tuple{{0, 2}, 1000, {0, 1}, 49152};

std::string hex(const bytes& data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto byte : data) {
    out += digits[byte >> 4];
    out += digits[byte & 0xF];
  }
  return out;
}

bytes text_bytes(std::string_view text) {
  return bytes(text.begin(), text.end());
}

protocol::packet decode(const bytes& encoded) {
  auto pkt = protocol::decode_packet(encoded);
  REQUIRE(pkt.has_value());
  return std::move(*pkt);
}

// A packet as encoded and as decoded.
struct sent_packet {
  std::string hex;
  protocol::packet decoded;
};

// Returns the one packet in `out` and clears `out`.
sent_packet take_only_packet(stream_output& out) {
  REQUIRE(out.packets.size() == 1);
  sent_packet result{hex(out.packets[0]), decode(out.packets[0])};
  out.clear();
  return result;
}

bytes pattern(std::size_t size, std::uint32_t seed) {
  std::mt19937 rng{seed};
  bytes data(size);
  for (auto& byte : data)
    byte = static_cast<std::uint8_t>(rng());
  return data;
}

// One end of a simulated connection: the state machine plus what its
// application has seen so far.
struct side {
  side(const stream_tuple& tuple, const stream_settings& settings)
      : conn(1, tuple, settings, start) {}

  stream_connection conn;
  stream_output out;
  std::vector<protocol::packet> sent;
  std::vector<time_point> sent_times;
  bytes received;
  std::size_t chunks = 0;
  std::size_t max_chunk = 0;
  /// Whether the application takes delivered chunks at once.
  bool consume = true;
  std::size_t held = 0;
  /// Every flag any call has raised so far.
  stream_output events;

  std::size_t count_sent(std::uint8_t flags) const {
    return static_cast<std::size_t>(
        std::count_if(sent.begin(), sent.end(), [&](const protocol::packet& p) {
          return p.header.flags == flags;
        }));
  }

  std::size_t count_data_sent() const {
    return static_cast<std::size_t>(
        std::count_if(sent.begin(), sent.end(), [](const protocol::packet& p) {
          return p.header.flags == flag_ack && !p.payload.empty();
        }));
  }
};

// Two connections joined by a simulated network with latency, jitter (so
// reordering), loss and duplication drawn from a seeded generator, plus an
// optional filter that drops chosen packets. Time advances from one event
// to the next, so nothing sleeps.
class network {
public:
  explicit network(const stream_settings& settings = {}, std::uint32_t seed = 1)
      : a(dialer_tuple, settings), b(listener_tuple, settings), rng_(seed) {}

  side a;
  side b;
  time_point now = start;
  stream_clock::duration latency = 5ms;
  stream_clock::duration jitter = 0ms;
  double loss = 0;
  double duplication = 0;
  /// Drops a packet when it returns true; `from` is the sending side.
  std::function<bool(const side& from, const protocol::packet&)> drop;
  /// Runs before every step, e.g. to keep writing.
  std::function<void()> before_step;

  // Dials from `a`, accepts on `b` and runs until both are established.
  void connect() {
    a.conn.open_active(now, a.out);
    collect(a);
    // The listener side is created by the first SYN that arrives.
    while (b.conn.state() == stream_state::closed) {
      REQUIRE(step());
    }
    run_until([&] { return a.events.established; }, 60s);
  }

  void collect(side& s) {
    while (!s.out.packets.empty() || !s.out.delivered.empty()) {
      auto packets = std::move(s.out.packets);
      auto delivered = std::move(s.out.delivered);
      record_flags(s);
      s.out.clear();
      for (auto& encoded : packets)
        send(s, encoded);
      for (auto& chunk : delivered) {
        s.max_chunk = std::max(s.max_chunk, chunk.size());
        s.received.insert(s.received.end(), chunk.begin(), chunk.end());
      }
      s.chunks += delivered.size();
      s.held += delivered.size();
      if (s.consume && s.held > 0) {
        auto n = s.held;
        s.held = 0;
        s.conn.app_consumed(n, now, s.out);
      }
    }
    record_flags(s);
    s.out.clear();
  }

  // Runs one event: the earliest packet arrival or timer. Returns false when
  // nothing is left to do.
  bool step() {
    if (before_step)
      before_step();
    auto next = std::min(a.conn.next_deadline(), b.conn.next_deadline());
    for (const auto& f : flights_)
      next = std::min(next, f.arrival);
    if (next == time_point::max())
      return false;
    now = std::max(now, next);
    deliver_due();
    for (auto* s : {&a, &b})
      if (s->conn.next_deadline() <= now) {
        s->conn.on_tick(now, s->out);
        collect(*s);
      }
    return true;
  }

  void run_until(const std::function<bool()>& done,
                 stream_clock::duration limit) {
    auto deadline = now + limit;
    while (!done() && now < deadline)
      if (!step())
        break;
    REQUIRE(done());
  }

  void run_for(stream_clock::duration span) {
    auto deadline = now + span;
    while (now < deadline) {
      auto next = std::min(a.conn.next_deadline(), b.conn.next_deadline());
      for (const auto& f : flights_)
        next = std::min(next, f.arrival);
      if (next > deadline) {
        now = deadline;
        break;
      }
      step();
    }
  }

  bool idle() const { return flights_.empty(); }

private:
  struct flight {
    time_point arrival;
    std::uint64_t order;
    side* to;
    bytes encoded;
  };

  void record_flags(side& s) {
    auto& seen = s.events;
    seen.established |= s.out.established;
    seen.refused |= s.out.refused;
    seen.dial_timed_out |= s.out.dial_timed_out;
    seen.wants_relay |= s.out.wants_relay;
    seen.receive_closed |= s.out.receive_closed;
    seen.fin_received |= s.out.fin_received;
    seen.rst_received |= s.out.rst_received;
    seen.aborted |= s.out.aborted;
  }

  void send(side& from, const bytes& encoded) {
    auto pkt = decode(encoded);
    from.sent.push_back(pkt);
    from.sent_times.push_back(now);
    if (drop && drop(from, pkt))
      return;
    if (chance(loss))
      return;
    auto copies = chance(duplication) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      auto delay = latency;
      if (jitter > 0ms)
        delay += std::chrono::duration_cast<stream_clock::duration>(
            jitter * uniform_(rng_));
      flights_.push_back(
          {now + delay, order_++, &from == &a ? &b : &a, encoded});
    }
  }

  bool chance(double p) { return p > 0 && uniform_(rng_) < p; }

  void deliver_due() {
    for (;;) {
      auto due = flights_.end();
      for (auto i = flights_.begin(); i != flights_.end(); ++i)
        if (i->arrival <= now
            && (due == flights_.end() || i->arrival < due->arrival
                || (i->arrival == due->arrival && i->order < due->order)))
          due = i;
      if (due == flights_.end())
        return;
      auto f = std::move(*due);
      flights_.erase(due);
      auto pkt = decode(f.encoded);
      auto& to = *f.to;
      if (to.conn.state() == stream_state::closed && &to == &b
          && pkt.header.flags == flag_syn && !b_accepted_) {
        b_accepted_ = true;
        to.conn.accept_syn(pkt.header, now, to.out);
      } else {
        to.conn.on_packet(std::move(pkt), now, to.out);
      }
      collect(to);
    }
  }

  std::mt19937 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::vector<flight> flights_;
  std::uint64_t order_ = 0;
  bool b_accepted_ = false;
};

// Keeps writing `data` into `s` whenever it has room.
struct writer {
  side& s;
  const bytes& data;
  std::size_t offset = 0;
  network& net;

  void operator()() {
    while (offset < data.size() && s.conn.send_space() > 0) {
      auto rest = std::span{data}.subspan(offset);
      offset += s.conn.write(rest, net.now, s.out);
      net.collect(s);
    }
  }
};

} // namespace

TEST_CASE("stream state names match Info's") {
  CHECK(to_string(stream_state::closed) == "CLOSED");
  CHECK(to_string(stream_state::listen) == "LISTEN");
  CHECK(to_string(stream_state::syn_sent) == "SYN_SENT");
  CHECK(to_string(stream_state::syn_recv) == "SYN_RECV");
  CHECK(to_string(stream_state::established) == "ESTABLISHED");
  CHECK(to_string(stream_state::fin_wait) == "FIN_WAIT");
  CHECK(to_string(stream_state::close_wait) == "CLOSE_WAIT");
  CHECK(to_string(stream_state::time_wait) == "TIME_WAIT");
}

TEST_CASE("the handshake and teardown match the golden packets") {
  stream_connection dialer{1, dialer_tuple, {}, start};
  stream_connection listener{2, listener_tuple, {}, start};
  stream_output out;
  // SYN: seq 0, ack 0, window 512.
  dialer.open_active(start, out);
  auto syn = take_only_packet(out);
  CHECK(syn.hex
        == "11010000000000000001000000000002c00003e8000000000000000002"
           "00145ed874");
  CHECK(dialer.state() == stream_state::syn_sent);
  // SYN|ACK: seq 0, ack 1, and the listener is ESTABLISHED at once.
  listener.accept_syn(syn.decoded.header, start, out);
  auto syn_ack = take_only_packet(out);
  CHECK(syn_ack.hex
        == "1301000000000000000200000000000103e8c0000000000000000001020024f40f8"
           "e");
  CHECK(listener.state() == stream_state::established);
  // The handshake ACK: seq 1, ack 1.
  dialer.on_packet(std::move(syn_ack.decoded), start + 1ms, out);
  CHECK(out.established);
  auto handshake_ack = take_only_packet(out);
  CHECK(handshake_ack.hex
        == "12010000000000000001000000000002c00003e8000000010000000102001e21ff5"
           "a");
  CHECK(dialer.state() == stream_state::established);
  listener.on_packet(std::move(handshake_ack.decoded), start + 2ms, out);
  CHECK(out.packets.empty());
  CHECK(listener.state() == stream_state::established);
  // The first data byte is seq 1.
  auto hello = text_bytes("hello");
  CHECK(dialer.write(hello, start + 3ms, out) == 5);
  auto data = take_only_packet(out).decoded;
  CHECK(data.header.flags == flag_ack);
  CHECK(data.header.seq == 1);
  CHECK(data.header.ack == 1);
  CHECK(data.header.window == 512);
  CHECK(data.payload == hello);
  listener.on_packet(std::move(data), start + 4ms, out);
  REQUIRE(out.delivered.size() == 1);
  CHECK(out.delivered[0] == hello);
  out.clear();
  // The ACK is delayed; the timer sends it after 40 ms.
  CHECK(listener.next_deadline() == start + 44ms);
  listener.on_tick(start + 44ms, out);
  auto ack = take_only_packet(out).decoded;
  CHECK(ack.header.ack == 6);
  dialer.on_packet(std::move(ack), start + 45ms, out);
  CHECK(out.packets.empty());
  // FIN: seq 6, ack 0, window 0.
  dialer.close(start + 46ms, out);
  auto fin = take_only_packet(out);
  CHECK(fin.hex
        == "14010000000000000001000000000002c00003e80000000600000000000007a8a6d"
           "2");
  CHECK(dialer.state() == stream_state::fin_wait);
  // FIN|ACK: seq 1, ack 7, window 0, and EOF for the listener.
  listener.on_packet(std::move(fin.decoded), start + 47ms, out);
  CHECK(out.fin_received);
  CHECK(out.receive_closed);
  auto fin_ack = take_only_packet(out);
  CHECK(fin_ack.hex
        == "1601000000000000000200000000000103e8c000000000010000000700007de9519"
           "1");
  CHECK(listener.state() == stream_state::time_wait);
  // The FIN|ACK completes the close and gets no reply.
  dialer.on_packet(protocol::packet{fin_ack.decoded}, start + 48ms, out);
  CHECK(out.packets.empty());
  CHECK_FALSE(out.fin_received);
  CHECK(dialer.state() == stream_state::time_wait);
  dialer.on_packet(std::move(fin_ack.decoded), start + 49ms, out);
  CHECK(out.packets.empty());
  // TIME_WAIT ends 10 s after the last packet.
  CHECK_FALSE(dialer.reapable(start + 10s));
  CHECK(dialer.reapable(start + 49ms + 10s + 1ms));
}

TEST_CASE("an RST has the golden layout and ends both sides") {
  network net;
  net.connect();
  net.b.conn.reset(net.now, net.b.out);
  REQUIRE(net.b.out.packets.size() == 1);
  CHECK(hex(net.b.out.packets[0])
        == "1801000000000000000200000000000103e8c000000000000000000000005daed99"
           "a");
  net.collect(net.b);
  CHECK(net.b.conn.state() == stream_state::closed);
  CHECK(net.b.conn.reapable(net.now));
  net.run_until([&] { return net.idle(); }, 1s);
  CHECK(net.a.events.rst_received);
  CHECK(net.a.events.receive_closed);
  CHECK_FALSE(net.a.events.refused);
  CHECK(net.a.conn.state() == stream_state::closed);
}

TEST_CASE("an RST during the dial refuses it") {
  stream_connection dialer{1, dialer_tuple, {}, start};
  stream_output out;
  dialer.open_active(start, out);
  out.clear();
  protocol::packet rst;
  rst.header.flags = flag_rst;
  dialer.on_packet(std::move(rst), start + 1ms, out);
  CHECK(out.refused);
  CHECK_FALSE(out.rst_received);
  CHECK(out.packets.empty());
  CHECK(dialer.state() == stream_state::closed);
}

TEST_CASE("a lost SYN is resent at 1, 3, 7, 15, 23 and 31 s") {
  stream_connection dialer{1, dialer_tuple, {}, start};
  stream_output out;
  dialer.open_active(start, out);
  std::vector<time_point> sent_at{start};
  out.clear();
  while (dialer.state() == stream_state::syn_sent) {
    auto at = dialer.next_deadline();
    REQUIRE(at != time_point::max());
    dialer.on_tick(at, out);
    for (const auto& encoded : out.packets) {
      auto pkt = decode(encoded);
      CHECK(pkt.header.flags == flag_syn);
      CHECK(pkt.header.seq == 0);
      sent_at.push_back(at);
    }
    CHECK_FALSE(out.wants_relay);
    if (out.dial_timed_out)
      CHECK(at == start + 39s);
    out.clear();
  }
  std::vector<time_point> expected;
  for (auto s : {0, 1, 3, 7, 15, 23, 31})
    expected.push_back(start + std::chrono::seconds{s});
  CHECK(sent_at == expected);
  CHECK(dialer.state() == stream_state::closed);
}

TEST_CASE("the relay fallback restarts the SYN timer after 3 timeouts") {
  stream_settings settings;
  settings.relay_fallback = true;
  stream_connection dialer{1, dialer_tuple, settings, start};
  stream_output out;
  dialer.open_active(start, out);
  out.clear();
  std::vector<time_point> sent_at{start};
  time_point relay_at{};
  time_point timed_out_at{};
  while (dialer.state() == stream_state::syn_sent) {
    auto at = dialer.next_deadline();
    dialer.on_tick(at, out);
    if (out.wants_relay)
      relay_at = at;
    if (out.dial_timed_out)
      timed_out_at = at;
    if (!out.packets.empty())
      sent_at.push_back(at);
    out.clear();
  }
  std::vector<time_point> expected;
  for (auto s : {0, 1, 3, 7, 9, 13, 21})
    expected.push_back(start + std::chrono::seconds{s});
  CHECK(sent_at == expected);
  CHECK(relay_at == start + 7s);
  CHECK(timed_out_at == start + 29s);
}

TEST_CASE("a repeated SYN gets the SYN|ACK again with the ISN") {
  network net;
  net.connect();
  // The listener sends data, so its next sequence number is no longer 1.
  auto reply = text_bytes("reply");
  net.b.conn.write(reply, net.now, net.b.out);
  net.collect(net.b);
  net.run_until([&] { return net.idle(); }, 1s);
  protocol::packet syn;
  syn.header.flags = flag_syn;
  syn.header.seq = 0;
  syn.header.window = 512;
  net.b.conn.on_packet(std::move(syn), net.now, net.b.out);
  REQUIRE(net.b.out.packets.size() == 1);
  auto syn_ack = decode(net.b.out.packets[0]);
  CHECK(syn_ack.header.flags == (flag_syn | flag_ack));
  CHECK(syn_ack.header.seq == 0);
  CHECK(syn_ack.header.ack == 1);
  net.b.out.clear();
}

TEST_CASE("a lost SYN|ACK is recovered by the repeated SYN") {
  network net;
  int dropped = 0;
  net.drop = [&](const side&, const protocol::packet& pkt) {
    return pkt.header.flags == (flag_syn | flag_ack) && dropped++ == 0;
  };
  net.connect();
  CHECK(net.a.count_sent(flag_syn) == 2);
  CHECK(net.b.count_sent(flag_syn | flag_ack) == 2);
  CHECK(net.now >= start + 1s);
}

TEST_CASE("megabytes arrive intact across loss, reordering and duplicates") {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    network net{{}, seed};
    net.latency = 5ms;
    net.jitter = 4ms;
    net.loss = 0.10;
    net.duplication = 0.02;
    net.connect();
    auto data = pattern(2 << 20, seed);
    auto reply = pattern(300000, seed + 100);
    writer to_b{net.a, data, 0, net};
    writer to_a{net.b, reply, 0, net};
    net.before_step = [&] {
      to_b();
      to_a();
    };
    net.run_until(
        [&] {
          return net.b.received.size() == data.size()
                 && net.a.received.size() == reply.size();
        },
        600s);
    CHECK(net.b.received == data);
    CHECK(net.a.received == reply);
    CHECK(net.b.max_chunk <= stream_mss);
    auto stats = net.a.conn.stats();
    CHECK(stats.retransmits > 0);
    CHECK(stats.sack_recv > 0);
    CHECK(stats.fast_retx > 0);
    CHECK(net.b.conn.stats().sack_sent > 0);
    CHECK(stats.bytes_sent == data.size());
    CHECK(net.b.conn.stats().bytes_recv >= data.size());
    // Closing delivers the FIN through the same loss.
    net.before_step = nullptr;
    net.a.conn.close(net.now, net.a.out);
    net.collect(net.a);
    net.run_until([&] { return net.b.events.receive_closed; }, 120s);
    CHECK(net.b.events.fin_received);
    CHECK_FALSE(net.a.events.aborted);
  }
}

TEST_CASE("the RTO follows RFC 6298") {
  stream_connection dialer{1, dialer_tuple, {}, start};
  stream_output out;
  dialer.open_active(start, out);
  out.clear();
  protocol::packet syn_ack;
  syn_ack.header.flags = flag_syn | flag_ack;
  syn_ack.header.ack = 1;
  syn_ack.header.window = 512;
  dialer.on_packet(std::move(syn_ack), start, out);
  out.clear();
  auto send_one = [&](time_point at) {
    dialer.write(text_bytes("x"), at, out);
    REQUIRE(out.packets.size() == 1);
    auto pkt = decode(out.packets[0]);
    out.clear();
    return pkt;
  };
  auto ack_at = [&](std::uint32_t ack, time_point at) {
    protocol::packet pkt;
    pkt.header.flags = flag_ack;
    pkt.header.seq = 1;
    pkt.header.ack = ack;
    pkt.header.window = 512;
    dialer.on_packet(std::move(pkt), at, out);
    out.clear();
  };
  SUBCASE("the first retransmission comes after the initial 1 s") {
    send_one(start);
    CHECK(dialer.next_deadline() == start + 1s);
    dialer.on_tick(start + 999ms, out);
    CHECK(out.packets.empty());
    dialer.on_tick(start + 1s, out);
    REQUIRE(out.packets.size() == 1);
    CHECK(decode(out.packets[0]).header.seq == 1);
    CHECK(dialer.stats().retransmits == 1);
    CHECK(dialer.stats().in_recovery);
    CHECK(dialer.stats().cong_win == 40960);
    // The RTO backs off to 2 s once per loss event.
    CHECK(dialer.next_deadline() == start + 3s);
  }
  SUBCASE("the first sample sets SRTT = R and RTTVAR = R/2") {
    send_one(start);
    ack_at(2, start + 100ms);
    auto stats = dialer.stats();
    CHECK(stats.srtt_ms == 100);
    CHECK(stats.rttvar_ms == 50);
    // RTO = 100 + 4 * 50 = 300 ms.
    send_one(start + 1s);
    CHECK(dialer.next_deadline() == start + 1s + 300ms);
    // A second sample of 300 ms: RTTVAR = 3/4 * 50 + 1/4 * 200 = 87.5 ms,
    // SRTT = 7/8 * 100 + 1/8 * 300 = 125 ms, RTO = 125 + 350 = 475 ms.
    ack_at(3, start + 1300ms);
    stats = dialer.stats();
    CHECK(stats.srtt_ms == 125);
    CHECK(stats.rttvar_ms == 87);
    send_one(start + 2s);
    CHECK(dialer.next_deadline() == start + 2475ms);
  }
  SUBCASE("the RTO is at least 200 ms") {
    send_one(start);
    ack_at(2, start + 10ms);
    send_one(start + 1s);
    CHECK(dialer.next_deadline() == start + 1200ms);
  }
  SUBCASE("the RTO is at most 10 s") {
    send_one(start);
    // Keep the first transmission alive past the backed-off RTO check by
    // acknowledging just before the first timeout.
    ack_at(2, start + 900ms);
    send_one(start + 1s);
    ack_at(3, start + 1s + 9s);
    auto stats = dialer.stats();
    CHECK(stats.srtt_ms > 1000);
    send_one(start + 20s);
    CHECK(dialer.next_deadline() == start + 30s);
  }
}

TEST_CASE("three duplicate ACKs trigger a fast retransmission") {
  network net;
  net.connect();
  // Drop the first data segment once.
  bool dropped = false;
  net.drop = [&](const side& from, const protocol::packet& pkt) {
    if (&from != &net.a || pkt.payload.empty() || dropped)
      return false;
    dropped = true;
    return true;
  };
  auto data = pattern(6 * stream_mss, 7);
  net.a.conn.write(data, net.now, net.a.out);
  auto sent_at = net.now;
  net.collect(net.a);
  net.run_until([&] { return net.b.received.size() == data.size(); }, 5s);
  CHECK(net.b.received == data);
  auto stats = net.a.conn.stats();
  CHECK(stats.fast_retx == 1);
  CHECK(stats.retransmits == 1);
  CHECK(stats.dup_acks >= 3);
  CHECK(stats.sack_recv >= 3);
  // Recovered well before the 1 s RTO.
  CHECK(net.now - sent_at < 100ms);
}

TEST_CASE("SACK blocks are sent and honoured") {
  network net;
  net.connect();
  bool dropped = false;
  net.drop = [&](const side& from, const protocol::packet& pkt) {
    if (&from != &net.a || pkt.payload.empty() || dropped)
      return false;
    dropped = true;
    return true;
  };
  auto data = pattern(2 * stream_mss, 8);
  net.a.conn.write(data, net.now, net.a.out);
  net.collect(net.a);
  // Too few duplicates for a fast retransmission: the RTO resends only the
  // segment the SACK does not cover.
  net.run_until([&] { return net.b.received.size() == data.size(); }, 5s);
  CHECK(net.b.received == data);
  std::vector<protocol::sack_block> advertised;
  for (const auto& pkt : net.b.sent)
    if (!pkt.payload.empty())
      if (auto blocks = protocol::decode_sack(pkt.payload))
        advertised.insert(advertised.end(), blocks->begin(), blocks->end());
  REQUIRE(advertised.size() == 1);
  CHECK(advertised[0].left == 1 + stream_mss);
  CHECK(advertised[0].right == 1 + 2 * stream_mss);
  CHECK(net.a.conn.stats().retransmits == 1);
  CHECK(net.a.count_data_sent() == 3);
}

TEST_CASE("Nagle coalesces small writes while data is in flight") {
  network net;
  net.connect();
  net.a.conn.write(text_bytes("a"), net.now, net.a.out);
  REQUIRE(net.a.out.packets.size() == 1);
  net.collect(net.a);
  for (int i = 0; i < 10; ++i) {
    net.a.conn.write(text_bytes("0123456789"), net.now, net.a.out);
    CHECK(net.a.out.packets.empty());
  }
  net.run_until([&] { return net.b.received.size() == 101; }, 1s);
  CHECK(net.a.count_data_sent() == 2);
  CHECK(net.a.sent.back().payload.size() == 100);
}

TEST_CASE("Nagle flushes a small segment after 40 ms") {
  network net;
  net.connect();
  // Lose the ACK so the first byte stays in flight.
  net.drop = [&](const side& from, const protocol::packet&) {
    return &from == &net.b;
  };
  net.a.conn.write(text_bytes("a"), net.now, net.a.out);
  net.collect(net.a);
  auto written = net.now;
  net.a.conn.write(text_bytes("bc"), net.now, net.a.out);
  CHECK(net.a.out.packets.empty());
  CHECK(net.a.conn.next_deadline() == written + 40ms);
  net.run_until([&] { return net.a.count_data_sent() == 2; }, 1s);
  CHECK(net.now == written + 40ms);
  CHECK(net.a.sent.back().payload == text_bytes("bc"));
}

TEST_CASE("the delayed ACK goes at the second segment or after 40 ms") {
  network net;
  net.connect();
  auto acks_from_b = [&] {
    return net.b.count_sent(flag_ack);
  };
  auto before = acks_from_b();
  // Two full segments: one ACK right after the second.
  net.a.conn.write(pattern(2 * stream_mss, 1), net.now, net.a.out);
  net.collect(net.a);
  auto sent_at = net.now;
  net.run_until([&] { return acks_from_b() == before + 1; }, 1s);
  CHECK(net.now == sent_at + net.latency);
  // One segment: the ACK waits 40 ms.
  net.run_until([&] { return net.idle(); }, 1s);
  net.a.conn.write(pattern(100, 2), net.now, net.a.out);
  net.collect(net.a);
  sent_at = net.now;
  net.run_until([&] { return acks_from_b() == before + 2; }, 1s);
  CHECK(net.now == sent_at + net.latency + 40ms);
}

TEST_CASE("the window counts segments and never advertises 0") {
  network net;
  net.connect();
  net.b.consume = false;
  auto data = pattern(600 * stream_mss, 3);
  writer to_b{net.a, data, 0, net};
  net.before_step = [&] {
    to_b();
  };
  net.run_until([&] { return net.b.chunks >= 512; }, 60s);
  net.run_for(2s);
  // The full receiver advertises 1, which the reference reads as one
  // segment, where 0 would mean "no limit".
  const auto& last_ack = net.b.sent.back();
  CHECK(last_ack.header.window == 1);
  CHECK(net.b.conn.stats().recv_win == stream_mss);
  CHECK(net.a.conn.stats().peer_recv_win == stream_mss);
  CHECK(net.b.chunks <= 1024);
  // The application catches up: the window update lets the rest through.
  auto sent_before = net.b.sent.size();
  net.b.conn.app_consumed(net.b.held, net.now, net.b.out);
  net.b.held = 0;
  net.b.consume = true;
  net.collect(net.b);
  REQUIRE(net.b.sent.size() == sent_before + 1);
  CHECK(net.b.sent.back().header.window == 512);
  net.run_until([&] { return net.b.received.size() == data.size(); }, 60s);
  CHECK(net.b.received == data);
  CHECK_FALSE(net.a.events.aborted);
}

TEST_CASE("a peer window of 0 means no limit") {
  stream_connection dialer{1, dialer_tuple, {}, start};
  stream_output out;
  dialer.open_active(start, out);
  out.clear();
  protocol::packet syn_ack;
  syn_ack.header.flags = flag_syn | flag_ack;
  syn_ack.header.ack = 1;
  SUBCASE("window 0: the congestion window alone limits") {
    syn_ack.header.window = 0;
    dialer.on_packet(std::move(syn_ack), start, out);
    out.clear();
    dialer.write(pattern(20 * stream_mss, 4), start, out);
    CHECK(out.packets.size() == 10);
    CHECK(dialer.stats().peer_recv_win == 0);
  }
  SUBCASE("window 2: two segments in flight") {
    syn_ack.header.window = 2;
    dialer.on_packet(std::move(syn_ack), start, out);
    out.clear();
    dialer.write(pattern(20 * stream_mss, 4), start, out);
    CHECK(out.packets.size() == 2);
    CHECK(dialer.stats().peer_recv_win == 2 * stream_mss);
  }
}

TEST_CASE("a window-blocked sender sends probes with backoff") {
  network net;
  net.connect();
  net.drop = [&](const side& from, const protocol::packet&) {
    return &from == &net.b;
  };
  // The peer's window is one segment.
  protocol::packet window_one;
  window_one.header.flags = flag_ack;
  window_one.header.seq = 1;
  window_one.header.ack = 1;
  window_one.header.window = 1;
  net.a.conn.on_packet(std::move(window_one), net.now, net.a.out);
  net.collect(net.a);
  auto written = net.now;
  net.a.conn.write(pattern(3 * stream_mss, 5), net.now, net.a.out);
  net.collect(net.a);
  CHECK(net.a.count_data_sent() == 1);
  net.run_for(2s);
  // A probe is an empty ACK one below the next sequence number (4097).
  std::vector<time_point> probes;
  for (std::size_t i = 0; i < net.a.sent.size(); ++i) {
    const auto& pkt = net.a.sent[i];
    if (pkt.header.flags == flag_ack && pkt.payload.empty()
        && pkt.header.seq == 4096)
      probes.push_back(net.a.sent_times[i]);
  }
  REQUIRE(probes.size() == 2);
  CHECK(probes[0] == written + 500ms);
  CHECK(probes[1] == written + 1500ms);
  CHECK(net.a.count_data_sent() == 2);
}

TEST_CASE("a keepalive gets a reply and counts as activity") {
  network net;
  net.connect();
  net.run_for(30s);
  auto a_idle = net.a.conn.idle_since();
  auto b_idle = net.b.conn.idle_since();
  auto b_acks = net.b.count_sent(flag_ack);
  net.a.conn.keepalive(net.now, net.a.out);
  REQUIRE(net.a.out.packets.size() == 1);
  auto probe = decode(net.a.out.packets[0]);
  CHECK(probe.header.flags == flag_ack);
  CHECK(probe.payload.empty());
  net.collect(net.a);
  net.run_until([&] { return net.idle(); }, 1s);
  CHECK(net.b.count_sent(flag_ack) == b_acks + 1);
  CHECK(net.b.conn.idle_since() > b_idle);
  CHECK(net.a.conn.idle_since() > a_idle);
  CHECK(net.a.conn.state() == stream_state::established);
}

TEST_CASE("a FIN that overtakes data waits for it") {
  network net;
  net.connect();
  // Hold back the data segment until after the FIN.
  net.drop = [&](const side& from, const protocol::packet& pkt) {
    return &from == &net.a && !pkt.payload.empty()
           && net.a.count_data_sent() == 1;
  };
  auto data = text_bytes("last words");
  net.a.conn.write(data, net.now, net.a.out);
  net.collect(net.a);
  // A reference peer sends its FIN right away; build that FIN by hand.
  protocol::packet fin;
  fin.header.flags = flag_fin;
  fin.header.seq = 1 + static_cast<std::uint32_t>(data.size());
  net.b.conn.on_packet(std::move(fin), net.now, net.b.out);
  CHECK(net.b.out.packets.empty());
  CHECK_FALSE(net.b.out.receive_closed);
  net.b.out.clear();
  net.run_until([&] { return net.b.events.receive_closed; }, 5s);
  CHECK(net.b.received == data);
  CHECK(net.b.events.fin_received);
  CHECK(net.b.count_sent(flag_fin | flag_ack) == 1);
}

TEST_CASE("a held FIN ends the stream after the hold time") {
  stream_connection listener{2, listener_tuple, {}, start};
  stream_output out;
  protocol::packet syn;
  syn.header.flags = flag_syn;
  listener.accept_syn(syn.header, start, out);
  out.clear();
  protocol::packet fin;
  fin.header.flags = flag_fin;
  fin.header.seq = 100;
  listener.on_packet(std::move(fin), start, out);
  CHECK_FALSE(out.receive_closed);
  CHECK(listener.next_deadline() == start + 2s);
  listener.on_tick(start + 2s, out);
  CHECK(out.receive_closed);
  CHECK(out.fin_received);
  REQUIRE(out.packets.size() == 1);
  CHECK(decode(out.packets[0]).header.ack == 101);
  CHECK(listener.state() == stream_state::time_wait);
}

TEST_CASE("close retransmits data and the FIN until acknowledged") {
  network net;
  net.connect();
  // Lose the first transmission of everything a sends after the close.
  std::vector<std::uint32_t> seen;
  net.drop = [&](const side& from, const protocol::packet& pkt) {
    if (&from != &net.a || (pkt.payload.empty() && !pkt.header.has(flag_fin)))
      return false;
    auto key = pkt.header.seq ^ (pkt.header.flags << 28);
    if (std::find(seen.begin(), seen.end(), key) != seen.end())
      return false;
    seen.push_back(key);
    return true;
  };
  auto data = pattern(3 * stream_mss + 10, 6);
  net.a.conn.write(data, net.now, net.a.out);
  net.a.conn.close(net.now, net.a.out);
  net.collect(net.a);
  CHECK(net.a.conn.state() == stream_state::fin_wait);
  CHECK(net.a.count_sent(flag_fin) == 0);
  net.run_until([&] { return net.b.events.receive_closed; }, 30s);
  CHECK(net.b.received == data);
  CHECK(net.a.count_sent(flag_fin) == 2);
  net.run_until([&] { return net.a.conn.state() == stream_state::time_wait; },
                30s);
  CHECK_FALSE(net.a.events.aborted);
  CHECK_FALSE(net.a.events.fin_received);
}

TEST_CASE("a connection aborts after 8 transmissions") {
  network net;
  net.connect();
  net.drop = [&](const side& from, const protocol::packet&) {
    return &from == &net.a;
  };
  net.a.conn.write(text_bytes("lost"), net.now, net.a.out);
  net.collect(net.a);
  net.run_until([&] { return net.a.events.aborted; }, 120s);
  CHECK(net.a.count_data_sent() == 8);
  CHECK(net.a.count_sent(flag_rst) == 1);
  CHECK(net.a.events.receive_closed);
  CHECK(net.a.conn.state() == stream_state::closed);
  CHECK(net.a.conn.next_deadline() == time_point::max());
}

TEST_CASE("an unanswered FIN aborts after 8 transmissions") {
  network net;
  net.connect();
  net.drop = [&](const side& from, const protocol::packet&) {
    return &from == &net.a;
  };
  net.a.conn.close(net.now, net.a.out);
  net.collect(net.a);
  net.run_until([&] { return net.a.events.aborted; }, 120s);
  CHECK(net.a.count_sent(flag_fin) == 8);
  CHECK_FALSE(net.a.events.receive_closed);
}

TEST_CASE("the send buffer is bounded") {
  stream_settings settings;
  settings.send_buffer_limit = 10 * stream_mss;
  network net{settings};
  net.connect();
  net.drop = [&](const side& from, const protocol::packet&) {
    return &from == &net.b;
  };
  auto data = pattern(25 * stream_mss, 9);
  CHECK(net.a.conn.write(data, net.now, net.a.out) == 10 * stream_mss);
  CHECK(net.a.conn.send_space() == 0);
  CHECK(net.a.conn.write(data, net.now, net.a.out) == 0);
  net.collect(net.a);
  net.drop = nullptr;
  net.run_until([&] { return net.a.conn.send_space() > 0; }, 5s);
}

TEST_CASE("user data that looks like SACK is delivered as data") {
  network net;
  net.connect();
  // "SACK", one block [100, 200): nothing a sent covers it.
  bytes data{'S', 'A', 'C', 'K', 1, 0, 0, 0, 100, 0, 0, 0, 200};
  net.a.conn.write(data, net.now, net.a.out);
  net.collect(net.a);
  net.run_until([&] { return net.b.received.size() == data.size(); }, 1s);
  CHECK(net.b.received == data);
  CHECK(net.b.conn.stats().sack_recv == 0);
}

TEST_CASE("a closed connection accepts no writes") {
  network net;
  net.connect();
  net.a.conn.close(net.now, net.a.out);
  net.collect(net.a);
  CHECK(net.a.conn.write(text_bytes("late"), net.now, net.a.out) == 0);
  CHECK(net.a.conn.send_space() == 0);
  net.run_until([&] { return net.a.conn.state() == stream_state::time_wait; },
                1s);
  CHECK(net.b.events.fin_received);
}

TEST_CASE("stats report every counter") {
  network net;
  net.connect();
  auto data = pattern(5 * stream_mss, 10);
  net.a.conn.write(data, net.now, net.a.out);
  net.collect(net.a);
  net.run_until([&] { return net.b.received.size() == data.size(); }, 1s);
  // Let the delayed ACK of the last segment arrive.
  net.run_for(1s);
  auto a = net.a.conn.stats();
  auto b = net.b.conn.stats();
  CHECK(a.bytes_sent == data.size());
  CHECK(a.segs_sent == 5);
  CHECK(b.bytes_recv == data.size());
  CHECK(b.segs_recv == 5);
  CHECK(a.in_flight == 0);
  CHECK(a.unacked == 0);
  CHECK(a.cong_win == 40960 + data.size());
  CHECK(a.ssthresh == 524288);
  CHECK(a.srtt_ms >= 10);
  CHECK(a.peer_recv_win == 512 * stream_mss);
  CHECK(b.recv_win == 512 * stream_mss);
  CHECK(b.ooo_buf == 0);
  CHECK_FALSE(a.in_recovery);
  CHECK(a.retransmits == 0);
}

TEST_CASE("a repeated FIN gets another FIN|ACK") {
  network net;
  net.connect();
  // Lose the first FIN|ACK, so the closing side resends its FIN.
  bool dropped = false;
  net.drop = [&](const side&, const protocol::packet& pkt) {
    if (pkt.header.flags != (flag_fin | flag_ack) || dropped)
      return false;
    dropped = true;
    return true;
  };
  net.a.conn.close(net.now, net.a.out);
  net.collect(net.a);
  net.run_until([&] { return net.a.conn.state() == stream_state::time_wait; },
                10s);
  CHECK(net.a.count_sent(flag_fin) == 2);
  CHECK(net.b.count_sent(flag_fin | flag_ack) == 2);
  CHECK(net.b.events.fin_received);
  CHECK_FALSE(net.a.events.aborted);
}

TEST_CASE("a simultaneous close ends without a FIN|ACK loop") {
  network net;
  net.connect();
  net.a.conn.close(net.now, net.a.out);
  net.b.conn.close(net.now, net.b.out);
  net.collect(net.a);
  net.collect(net.b);
  net.run_for(30s);
  CHECK(net.a.conn.state() == stream_state::time_wait);
  CHECK(net.b.conn.state() == stream_state::time_wait);
  CHECK(net.a.count_sent(flag_fin) == 1);
  CHECK(net.b.count_sent(flag_fin) == 1);
  CHECK(net.a.count_sent(flag_fin | flag_ack) == 1);
  CHECK(net.b.count_sent(flag_fin | flag_ack) == 1);
  // The local closers report no peer FIN.
  CHECK_FALSE(net.a.events.fin_received);
  CHECK_FALSE(net.b.events.fin_received);
  CHECK(net.a.conn.reapable(net.now));
}

TEST_CASE("a SYN in TIME_WAIT is left to the caller") {
  network net;
  net.connect();
  net.a.conn.close(net.now, net.a.out);
  net.collect(net.a);
  net.run_until([&] { return net.b.conn.state() == stream_state::time_wait; },
                1s);
  protocol::packet syn;
  syn.header.flags = flag_syn;
  net.b.conn.on_packet(std::move(syn), net.now, net.b.out);
  CHECK(net.b.out.packets.empty());
}
