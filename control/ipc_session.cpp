#include "control/ipc_session.hpp"

#include "actors/log.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <utility>

namespace pilot::control {

namespace log = actors::log;

namespace {

constexpr std::string_view component = "control";

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
    on_request_(static_cast<std::uint8_t>(command), std::move(payload),
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
    if (i->second.empty())
      ++completed_;
    else
      write_queue_.push_back(std::move(i->second));
    early_replies_.erase(i);
    ++next_reply_;
  }
  if (!writing_ && !write_queue_.empty())
    do_write();
  handle_frames();
}

void ipc_session::do_write() {
  writing_ = true;
  write_timer_.expires_after(limits_.write_timeout);
  write_timer_.async_wait(
      [self = shared_from_this()](boost::system::error_code ec) {
        self->on_write_timeout(ec);
      });
  boost::asio::async_write(socket_, boost::asio::buffer(write_queue_.front()),
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
    log::info(component, "ipc-write-failed", "IPC client write failed",
              {{"client", std::to_string(id_)}, {"error", ec.message()}});
    shutdown();
    return;
  }
  write_queue_.pop_front();
  ++completed_;
  if (!write_queue_.empty())
    do_write();
  handle_frames();
}

void ipc_session::on_write_timeout(boost::system::error_code ec) {
  // A cancelled wait, or one that fired just before the timer was re-armed
  // for the next write, is no timeout.
  if (ec || closed_ || !writing_
      || write_timer_.expiry() > boost::asio::steady_timer::clock_type::now())
    return;
  log::warn(component, "ipc-write-timeout",
            "IPC client did not read its replies in time; closing it",
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
  log::debug(component, "ipc-client-closed", "IPC client disconnected",
             {{"client", std::to_string(id_)}});
  notify_closed();
}

void ipc_session::notify_closed() {
  if (auto on_closed = std::exchange(on_closed_, nullptr))
    on_closed(id_);
}

} // namespace pilot::control
