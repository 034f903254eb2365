#include "control/ipc_session.hpp"

#include "actors/log.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <utility>

namespace pilot::control {

namespace log = actors::log;

using protocol::ipc_command;

namespace {

constexpr std::string_view component = "control";

// Offset of the command byte in an encoded frame, after the length prefix.
constexpr std::size_t command_offset = protocol::ipc_frame_header_size;

// Offset of the payload in an encoded frame.
constexpr std::size_t payload_offset = command_offset + 1;

ipc_command command_of(const std::string& frame) {
  if (frame.size() <= command_offset)
    return ipc_command{};
  return static_cast<ipc_command>(frame[command_offset]);
}

// Returns the big-endian u32 at `offset` in the frame's payload, or an empty
// optional when the payload is shorter.
std::optional<std::uint32_t> payload_u32(const std::string& frame,
                                         std::size_t offset) {
  auto start = payload_offset + offset;
  if (frame.size() < start + 4)
    return std::nullopt;
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i)
    value = value << 8 | static_cast<unsigned char>(frame[start + i]);
  return value;
}

// Returns the connection that a Recv, CloseOK, DialOK or Accept frame names.
std::optional<std::uint32_t> connection_of(const std::string& frame) {
  switch (command_of(frame)) {
    case ipc_command::recv:
    case ipc_command::close_ok:
    case ipc_command::dial_ok:
      return payload_u32(frame, 0);
    case ipc_command::accept:
      // The local port comes first.
      return payload_u32(frame, 2);
    default:
      return std::nullopt;
  }
}

} // namespace

ipc_session::ipc_session(socket_type socket, std::uint64_t id,
                         session_limits limits, request_handler on_request,
                         closed_handler on_closed)
    : socket_(std::move(socket)), executor_(socket_.get_executor()),
      write_timer_(executor_), id_(id), limits_(limits),
      on_request_(std::move(on_request)), on_closed_(std::move(on_closed)) {
  // nop
}

ipc_session::~ipc_session() {
  run_push_callbacks();
  notify_closed();
}

void ipc_session::start() {
  boost::asio::post(executor_,
                    [self = shared_from_this()] { self->handle_frames(); });
}

void ipc_session::close() {
  boost::asio::post(executor_,
                    [self = shared_from_this()] { self->shutdown(); });
}

actors::push_function ipc_session::make_push() {
  return [weak = weak_from_this()](std::string frame,
                                   std::function<void()> written) {
    auto self = weak.lock();
    if (!self) {
      if (written)
        written();
      return;
    }
    boost::asio::post(self->executor_,
                      [self, frame = std::move(frame),
                       written = std::move(written)]() mutable {
                        self->on_push(std::move(frame), std::move(written));
                      });
  };
}

void ipc_session::do_read() {
  reading_ = true;
  socket_.async_read_some(boost::asio::buffer(read_buffer_),
                          [self = shared_from_this()](
                              boost::system::error_code ec, std::size_t size) {
                            self->on_read(ec, size);
                          });
}

void ipc_session::on_read(boost::system::error_code ec, std::size_t size) {
  reading_ = false;
  if (closed_)
    return;
  if (ec == boost::asio::error::eof) {
    peer_finished_ = true;
    handle_frames();
    return;
  }
  if (ec) {
    if (ec != boost::asio::error::operation_aborted)
      log::info(component, "ipc-read-failed", "IPC client read failed",
                {{"client", std::to_string(id_)}, {"error", ec.message()}});
    shutdown();
    return;
  }
  decoder_.feed(std::string_view{read_buffer_.data(), size});
  handle_frames();
}

// Hands buffered requests to the handler while fewer than the maximum are
// outstanding, and reads more once the buffered bytes are used up. Runs
// again whenever a reply completes, so that reading resumes below the
// maximum.
void ipc_session::handle_frames() {
  while (!closed_ && outstanding() < limits_.max_outstanding) {
    auto frame = decoder_.next();
    if (!frame) {
      log::warn(component, "ipc-frame-oversize",
                "IPC client sent a frame above the 1 MiB limit; closing it",
                {{"client", std::to_string(id_)}});
      shutdown();
      return;
    }
    if (!*frame) {
      if (!peer_finished_) {
        if (!reading_)
          do_read();
      } else if (outstanding() == 0) {
        shutdown();
      }
      return;
    }
    auto& [command, payload] = **frame;
    auto sequence = next_sequence_++;
    if (command == ipc_command::dial)
      pending_dials_.insert(sequence);
    on_request_(id_, static_cast<std::uint8_t>(command), std::move(payload),
                make_reply(sequence));
  }
}

// The reply function owns the session: with reading paused and nothing to
// write, the outstanding requests are all that keep it alive. A reply
// function dropped without a call releases the session too.
reply_function ipc_session::make_reply(std::uint64_t sequence) {
  return [self = shared_from_this(), sequence](std::string frame) {
    boost::asio::post(self->executor_,
                      [self, sequence, frame = std::move(frame)]() mutable {
                        self->on_reply(sequence, std::move(frame));
                      });
  };
}

void ipc_session::on_reply(std::uint64_t sequence, std::string frame) {
  // A second call for the same request is ignored.
  if (closed_ || sequence < next_reply_ || early_replies_.contains(sequence))
    return;
  early_replies_.emplace(sequence, std::move(frame));
  // Queue every reply whose predecessors are all queued.
  for (auto i = early_replies_.find(next_reply_); i != early_replies_.end();
       i = early_replies_.find(next_reply_)) {
    queue_reply(i->first, std::move(i->second));
    early_replies_.erase(i);
    ++next_reply_;
  }
  if (!writing_ && !write_queue_.empty())
    do_write();
  handle_frames();
}

void ipc_session::queue_reply(std::uint64_t sequence, std::string frame) {
  note_connection(frame);
  if (frame.empty())
    ++completed_;
  else
    write_queue_.push_back(outgoing_frame{std::move(frame), false, nullptr});
  if (pending_dials_.erase(sequence) > 0)
    release_held_pushes();
}

void ipc_session::on_push(std::string frame, std::function<void()> written) {
  if (closed_) {
    if (written)
      written();
    return;
  }
  if (queued_push_bytes_ + frame.size() > limits_.max_push_bytes) {
    if (command_of(frame) == ipc_command::recv_from) {
      if (dropped_datagrams_++ == 0)
        log::warn(component, "ipc-datagram-dropped",
                  "IPC client does not read its datagrams; dropping them",
                  {{"client", std::to_string(id_)},
                   {"queued_bytes", std::to_string(queued_push_bytes_)}});
      if (written)
        written();
      return;
    }
    log::warn(component, "ipc-push-overflow",
              "IPC client does not read its connections' data; closing it",
              {{"client", std::to_string(id_)},
               {"queued_bytes", std::to_string(queued_push_bytes_)},
               {"max_push_bytes", std::to_string(limits_.max_push_bytes)}});
    if (written)
      written();
    shutdown();
    return;
  }
  queued_push_bytes_ += frame.size();
  outgoing_frame push{std::move(frame), true, std::move(written)};
  if (must_hold(push.bytes)) {
    held_pushes_.push_back(std::move(push));
    return;
  }
  queue_push(std::move(push));
  if (!writing_)
    do_write();
}

// Data and EOF of a connection that the client has not learned of wait
// while a Dial is outstanding: the connection may be the dialed one, whose
// data can reach the session before the DialOK reply does.
bool ipc_session::must_hold(const std::string& frame) const {
  if (pending_dials_.empty())
    return false;
  auto command = command_of(frame);
  if (command != ipc_command::recv && command != ipc_command::close_ok)
    return false;
  auto conn_id = connection_of(frame);
  return conn_id && !known_connections_.contains(*conn_id);
}

void ipc_session::queue_push(outgoing_frame frame) {
  note_connection(frame.bytes);
  write_queue_.push_back(std::move(frame));
}

void ipc_session::release_held_pushes() {
  std::deque<outgoing_frame> still_held;
  for (auto& push : held_pushes_) {
    if (must_hold(push.bytes))
      still_held.push_back(std::move(push));
    else
      queue_push(std::move(push));
  }
  held_pushes_ = std::move(still_held);
}

void ipc_session::note_connection(const std::string& frame) {
  auto command = command_of(frame);
  auto conn_id = connection_of(frame);
  if (!conn_id)
    return;
  if (command == ipc_command::dial_ok || command == ipc_command::accept)
    known_connections_.insert(*conn_id);
  else if (command == ipc_command::close_ok)
    known_connections_.erase(*conn_id);
}

void ipc_session::do_write() {
  writing_ = true;
  write_timer_.expires_after(limits_.write_timeout);
  write_timer_.async_wait(
      [self = shared_from_this()](boost::system::error_code ec) {
        self->on_write_timeout(ec);
      });
  const auto& bytes = write_queue_.front().bytes;
  boost::asio::async_write(socket_, boost::asio::buffer(bytes),
                           [self = shared_from_this()](
                               boost::system::error_code ec, std::size_t size) {
                             self->on_write(ec, size);
                           });
}

void ipc_session::on_write(boost::system::error_code ec, std::size_t) {
  writing_ = false;
  write_timer_.cancel();
  if (closed_)
    return;
  if (ec) {
    // A client that exits without reading its last pushes is routine.
    auto gone = ec == boost::asio::error::broken_pipe
                || ec == boost::asio::error::connection_reset;
    log::write(gone ? log::level::debug : log::level::info, component,
               "ipc-write-failed", "IPC client write failed",
               {{"client", std::to_string(id_)}, {"error", ec.message()}});
    shutdown();
    return;
  }
  auto done = std::move(write_queue_.front());
  write_queue_.pop_front();
  if (done.push)
    queued_push_bytes_ -= done.bytes.size();
  else
    ++completed_;
  if (!write_queue_.empty())
    do_write();
  if (done.written)
    done.written();
  handle_frames();
}

void ipc_session::on_write_timeout(boost::system::error_code ec) {
  // A cancelled wait, or one that fired just before the timer was re-armed
  // for the next write, is no timeout.
  if (ec || closed_ || !writing_
      || write_timer_.expiry() > boost::asio::steady_timer::clock_type::now())
    return;
  log::warn(component, "ipc-write-timeout",
            "IPC client did not read in time; closing it",
            {{"client", std::to_string(id_)},
             {"timeout_ms", std::to_string(limits_.write_timeout.count())}});
  shutdown();
}

void ipc_session::shutdown() {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(socket_type::shutdown_both, ignored);
  socket_.close(ignored);
  write_timer_.cancel();
  // The write queue stays until destruction: a pending write may still
  // refer to its front.
  early_replies_.clear();
  run_push_callbacks();
  log::debug(component, "ipc-client-closed", "IPC client disconnected",
             {{"client", std::to_string(id_)},
              {"dropped_datagrams", std::to_string(dropped_datagrams_)}});
  notify_closed();
}

void ipc_session::notify_closed() {
  if (auto on_closed = std::exchange(on_closed_, nullptr))
    on_closed(id_);
}

// Tells the senders of the pushes that will never be written that they are
// done with, so that they stop counting them as unread.
void ipc_session::run_push_callbacks() {
  for (auto* queue : {&write_queue_, &held_pushes_})
    for (auto& frame : *queue)
      if (auto written = std::exchange(frame.written, nullptr))
        written();
  held_pushes_.clear();
}

} // namespace pilot::control
