#include "control/registry_client.hpp"

#include "protocol/registry_frame.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>

namespace pilot::control {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// One request and its response on one connection. Each step starts the
// next; the deadline timer closes the socket, which aborts whatever runs.
struct exchange : std::enable_shared_from_this<exchange> {
  exchange(asio::io_context& io, std::string frame)
      : resolver(io), socket(io), deadline(io), frame(std::move(frame)) {
    // nop
  }

  void start(const std::string& host, const std::string& port,
             std::chrono::milliseconds timeout) {
    deadline.expires_after(timeout);
    deadline.async_wait([self = shared_from_this()](auto ec) {
      if (!ec && !self->done)
        self->finish(asio::error::timed_out);
    });
    resolver.async_resolve(host, port,
                           [self = shared_from_this()](auto ec, auto results) {
                             self->on_resolve(ec, results);
                           });
  }

  void on_resolve(boost::system::error_code ec,
                  const tcp::resolver::results_type& results) {
    if (ec || done)
      return finish(ec);
    asio::async_connect(socket, results,
                        [self = shared_from_this()](
                            boost::system::error_code ec,
                            const tcp::endpoint&) { self->on_connect(ec); });
  }

  void on_connect(boost::system::error_code ec) {
    if (ec || done)
      return finish(ec);
    asio::async_write(socket, asio::buffer(frame),
                      [self = shared_from_this()](auto ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(boost::system::error_code ec) {
    if (ec || done)
      return finish(ec);
    do_read();
  }

  void do_read() {
    socket.async_read_some(asio::buffer(buffer),
                           [self = shared_from_this()](auto ec, std::size_t n) {
                             self->on_read(ec, n);
                           });
  }

  void on_read(boost::system::error_code ec, std::size_t size) {
    if (ec || done)
      return finish(ec);
    std::string_view bytes{buffer.data(), size};
    while (!bytes.empty()) {
      auto used = decoder.feed(bytes);
      if (!used)
        return finish(used.error());
      bytes.remove_prefix(*used);
      if (decoder.has_body()) {
        body = decoder.pop_body();
        return finish({});
      }
    }
    do_read();
  }

  void finish(boost::system::error_code ec) {
    if (done)
      return;
    done = true;
    result = ec;
    boost::system::error_code ignored;
    resolver.cancel();
    socket.close(ignored);
    deadline.cancel();
  }

  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  std::string frame;
  std::array<char, 4096> buffer{};
  protocol::registry_frame_decoder decoder;
  std::string body;
  boost::system::error_code result;
  bool done = false;
};

} // namespace

protocol::result<std::string>
registry_request(const std::string& address, std::string_view body,
                 std::chrono::milliseconds timeout) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return protocol::errc::invalid_address;
  auto host = address.substr(0, colon);
  // `[::1]:9000` names an IPv6 host.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  asio::io_context io;
  auto op
      = std::make_shared<exchange>(io, protocol::encode_registry_frame(body));
  op->start(host, address.substr(colon + 1), timeout);
  io.run();
  if (op->result)
    return op->result;
  return std::move(op->body);
}

} // namespace pilot::control
