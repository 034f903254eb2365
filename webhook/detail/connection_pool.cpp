#include "webhook/detail/connection_pool.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

namespace pilot::webhook::detail {

namespace {

void close(socket_type& socket) {
  boost::system::error_code ignored;
  socket.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

// An idle HTTP connection has nothing to read. A readable socket means the
// server closed it (end of file) or sent unsolicited bytes, so it
// cannot carry the next request.
bool is_reusable(socket_type& socket) {
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  if (ec)
    return false;
  char byte = 0;
  socket.receive(boost::asio::buffer(&byte, 1),
                 boost::asio::socket_base::message_peek, ec);
  auto reusable = ec == boost::asio::error::would_block;
  socket.non_blocking(false, ec);
  return reusable && !ec;
}

} // namespace

connection_pool::connection_pool(std::size_t capacity) : capacity_(capacity) {
  // nop
}

connection_pool::~connection_pool() {
  clear();
}

std::optional<socket_type> connection_pool::take(const std::string& key) {
  std::lock_guard guard{mutex_};
  for (auto i = idle_.size(); i-- > 0;) {
    if (idle_[i].first != key)
      continue;
    auto socket = std::move(idle_[i].second);
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    if (is_reusable(socket))
      return socket;
    close(socket);
  }
  return std::nullopt;
}

void connection_pool::put(std::string key, socket_type socket) {
  std::lock_guard guard{mutex_};
  if (capacity_ == 0) {
    close(socket);
    return;
  }
  while (idle_.size() >= capacity_) {
    close(idle_.front().second);
    idle_.pop_front();
  }
  idle_.emplace_back(std::move(key), std::move(socket));
}

std::size_t connection_pool::size() const {
  std::lock_guard guard{mutex_};
  return idle_.size();
}

void connection_pool::clear() {
  std::lock_guard guard{mutex_};
  for (auto& entry : idle_)
    close(entry.second);
  idle_.clear();
}

} // namespace pilot::webhook::detail
