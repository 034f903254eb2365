#include "webhook/detail/connection_pool.hpp"

#include <cerrno>

#include <sys/socket.h>

namespace pilot::webhook::detail {

namespace {

void close(socket_type& socket) {
  boost::system::error_code ignored;
  socket.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

void close(idle_connection& connection) {
  close(socket_of(connection));
}

// An idle HTTP connection has nothing to read. A readable socket means the
// server closed it (end of file, after a TLS close_notify alert for TLS)
// or sent unsolicited bytes, so it cannot carry the next request.
// MSG_DONTWAIT makes this one peek return at once, without the two fcntl
// calls that switching the socket to non-blocking mode and back would take.
bool is_reusable(idle_connection& connection) {
  auto& socket = socket_of(connection);
  if (!socket.is_open())
    return false;
  char byte = 0;
  auto received
      = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace

socket_type& socket_of(idle_connection& connection) {
  if (auto* tls = std::get_if<tls_connection>(&connection))
    return boost::beast::get_lowest_layer(tls->stream).socket();
  return std::get<socket_type>(connection);
}

connection_pool::connection_pool(std::size_t capacity) : capacity_(capacity) {
  // nop
}

connection_pool::~connection_pool() {
  clear();
}

std::optional<idle_connection> connection_pool::take(const std::string& key) {
  std::lock_guard guard{mutex_};
  for (auto i = idle_.size(); i-- > 0;) {
    if (idle_[i].first != key)
      continue;
    auto connection = std::move(idle_[i].second);
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    if (is_reusable(connection))
      return connection;
    close(connection);
  }
  return std::nullopt;
}

void connection_pool::put(std::string key, idle_connection connection) {
  std::lock_guard guard{mutex_};
  if (capacity_ == 0) {
    close(connection);
    return;
  }
  while (idle_.size() >= capacity_) {
    close(idle_.front().second);
    idle_.pop_front();
  }
  idle_.emplace_back(std::move(key), std::move(connection));
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
