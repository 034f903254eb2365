#include "actors/detail/stream_connection.hpp"

namespace pilot::actors::detail {

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
    : id_(id), tuple_(tuple), settings_(settings), last_activity_(now) {}

// TODO: the bodies below are being written; they do nothing yet.
void stream_connection::open_active(time_point, stream_output&) {}

void stream_connection::accept_syn(const protocol::packet_header&, time_point,
                                   stream_output&) {}

void stream_connection::on_packet(protocol::packet&&, time_point,
                                  stream_output&) {}

std::size_t stream_connection::write(std::span<const std::uint8_t>, time_point,
                                     stream_output&) {
  return 0;
}

void stream_connection::close(time_point, stream_output&) {}

void stream_connection::reset(time_point, stream_output&) {}

void stream_connection::on_tick(time_point, stream_output&) {}

void stream_connection::app_consumed(std::size_t, time_point, stream_output&) {}

void stream_connection::keepalive(time_point, stream_output&) {}

bool stream_connection::reapable(time_point) const noexcept {
  return state_ == stream_state::closed;
}

std::size_t stream_connection::send_space() const noexcept {
  return 0;
}

stream_connection::time_point
stream_connection::next_deadline() const noexcept {
  return time_point::max();
}

stream_stats stream_connection::stats() const noexcept {
  return counters_;
}

} // namespace pilot::actors::detail
