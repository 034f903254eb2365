#include "control/ipc_inbox.hpp"

#include <algorithm>

namespace pilot::control {

using protocol::ipc_command;

ipc_inbox::ticket ipc_inbox::expect(ipc_command reply,
                                    std::optional<std::uint32_t> conn_id) {
  auto request = next_ticket_++;
  waiters_.emplace(request, waiter{reply, conn_id, std::nullopt});
  return request;
}

std::optional<protocol::ipc_frame> ipc_inbox::take_reply(ticket request) {
  auto i = waiters_.find(request);
  if (i == waiters_.end() || !i->second.frame)
    return std::nullopt;
  auto frame = std::move(i->second.frame);
  waiters_.erase(i);
  return frame;
}

void ipc_inbox::forget(ticket request) {
  waiters_.erase(request);
}

void ipc_inbox::add(protocol::ipc_frame frame) {
  switch (frame.command) {
    case ipc_command::error:
      return add_error(std::move(frame));
    case ipc_command::recv:
      return add_data(frame.payload);
    case ipc_command::close_ok:
      return add_close(frame);
    case ipc_command::accept: {
      auto accept = protocol::decode_accept(frame.payload);
      auto queue = accept ? accepts_.find(accept->local_port) : accepts_.end();
      if (queue == accepts_.end()
          || queue->second.size() >= limits_.max_accepts_per_port) {
        ++dropped_;
        return;
      }
      streams_.try_emplace(accept->conn_id);
      queue->second.push_back(*accept);
      return;
    }
    case ipc_command::recv_from: {
      auto datagram = protocol::decode_recv_from(frame.payload);
      if (!datagram || datagrams_.size() >= limits_.max_datagrams) {
        ++dropped_;
        return;
      }
      datagrams_.push_back(std::move(*datagram));
      return;
    }
    case ipc_command::dial_ok:
      // The connection's CloseOK may follow before the DialOK is taken.
      if (auto conn_id = protocol::decode_conn_id(frame.payload))
        streams_.try_emplace(*conn_id);
      [[fallthrough]];
    default:
      if (!deliver_reply(frame, std::nullopt))
        ++dropped_;
  }
}

void ipc_inbox::listen(std::uint16_t port) {
  accepts_.try_emplace(port);
}

std::optional<protocol::accept_push>
ipc_inbox::take_accept(std::uint16_t port) {
  auto queue = accepts_.find(port);
  if (queue == accepts_.end() || queue->second.empty())
    return std::nullopt;
  auto accept = queue->second.front();
  queue->second.pop_front();
  return accept;
}

std::optional<protocol::recv_from_push> ipc_inbox::take_datagram() {
  if (datagrams_.empty())
    return std::nullopt;
  auto datagram = std::move(datagrams_.front());
  datagrams_.pop_front();
  return datagram;
}

std::optional<ipc_inbox::connection_data>
ipc_inbox::take_data(std::uint32_t conn_id, std::size_t max_bytes) {
  auto i = streams_.find(conn_id);
  // A connection this client never learned of sends nothing.
  if (i == streams_.end())
    return connection_data{{}, true};
  auto& stream = i->second;
  if (stream.chunks.empty()) {
    if (!stream.eof)
      return std::nullopt;
    streams_.erase(i);
    return connection_data{{}, true};
  }
  auto& chunk = stream.chunks.front();
  auto size = std::min(max_bytes, chunk.size() - stream.offset);
  connection_data result{chunk.substr(stream.offset, size), false};
  stream.offset += size;
  buffered_bytes_ -= size;
  if (stream.offset == chunk.size()) {
    stream.chunks.pop_front();
    stream.offset = 0;
  }
  return result;
}

void ipc_inbox::discard(std::uint32_t conn_id) {
  auto& stream = streams_[conn_id];
  for (const auto& chunk : stream.chunks)
    buffered_bytes_ -= chunk.size();
  buffered_bytes_ += stream.offset;
  if (stream.eof) {
    streams_.erase(conn_id);
    return;
  }
  stream.chunks.clear();
  stream.offset = 0;
  stream.discarded = true;
}

std::optional<std::string> ipc_inbox::take_unclaimed_error() {
  if (unclaimed_errors_.empty())
    return std::nullopt;
  auto message = std::move(unclaimed_errors_.front());
  unclaimed_errors_.pop_front();
  return message;
}

bool ipc_inbox::deliver_reply(protocol::ipc_frame& frame,
                              std::optional<std::uint32_t> conn_id) {
  for (auto& [request, waiting] : waiters_) {
    if (waiting.frame || waiting.reply != frame.command)
      continue;
    if (conn_id && waiting.conn_id && *conn_id != *waiting.conn_id)
      continue;
    waiting.frame = std::move(frame);
    return true;
  }
  return false;
}

void ipc_inbox::add_error(protocol::ipc_frame frame) {
  for (auto& [request, waiting] : waiters_) {
    if (!waiting.frame) {
      waiting.frame = std::move(frame);
      return;
    }
  }
  auto message = protocol::decode_ipc_error(frame.payload);
  if (!message) {
    ++dropped_;
    return;
  }
  if (unclaimed_errors_.size() >= limits_.max_unclaimed_errors) {
    unclaimed_errors_.pop_front();
    ++dropped_;
  }
  unclaimed_errors_.push_back(std::move(*message));
}

void ipc_inbox::add_data(std::string_view payload) {
  auto data = protocol::decode_conn_data(payload);
  if (!data) {
    ++dropped_;
    return;
  }
  auto& stream = streams_[data->conn_id];
  if (stream.discarded || data->data.empty())
    return;
  buffered_bytes_ += data->data.size();
  stream.chunks.push_back(std::move(data->data));
}

// A CloseOK is both the reply to Close and the push that ends a stream.
void ipc_inbox::add_close(protocol::ipc_frame& frame) {
  auto conn_id = protocol::decode_conn_id(frame.payload);
  if (!conn_id) {
    ++dropped_;
    return;
  }
  deliver_reply(frame, *conn_id);
  auto i = streams_.find(*conn_id);
  if (i == streams_.end())
    return;
  if (i->second.discarded)
    streams_.erase(i);
  else
    i->second.eof = true;
}

} // namespace pilot::control
