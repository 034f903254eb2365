#pragma once

#include "webhook/detail/connection_pool.hpp"
#include "webhook/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pilot::webhook::detail {

/// Removes the endpoints whose address `protocol::is_refused_address`
/// rejects. Returns the last removed address as text, or "" if none was.
std::string
remove_refused_endpoints(std::vector<boost::asio::ip::tcp::endpoint>& list);

/// One webhook POST: resolve, connect (or reuse a pooled connection), write
/// the request, read the response, then return the connection to the pool
/// when it may be reused. Owned by `shared_ptr` and run on its own strand;
/// reports exactly one `attempt_result` through its handler.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  /// Prepares the session. `reused` is an idle connection from `pool` to
  /// the request's target, or nothing to open a new one.
  http_session(boost::asio::io_context& io, std::optional<socket_type> reused,
               std::shared_ptr<connection_pool> pool,
               const http_client_options& options, http_request request,
               attempt_handler done);

  /// Starts the attempt on the session's strand.
  void run();

  /// Returns the key of idle connections to `target` in the pool.
  static std::string pool_key(const protocol::webhook_target& target);

private:
  using tcp = boost::asio::ip::tcp;
  using clock_type = std::chrono::steady_clock;

  void start();
  void do_resolve();
  void on_resolve_timeout(boost::system::error_code ec);
  void on_resolve(boost::system::error_code ec,
                  const tcp::resolver::results_type& results);
  void do_connect(std::vector<tcp::endpoint> endpoints);
  void on_connect(boost::system::error_code ec, const tcp::endpoint& peer);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void on_interim_response();

  // Opens a new connection for the same request after a reused one failed.
  void resend(boost::system::error_code ec);

  // Whether a failure on a reused connection allows `resend`.
  bool may_resend(boost::system::error_code ec) const;

  void succeed(int status, bool reusable);
  void fail(std::string_view failure_class, std::string detail);
  void finish(attempt_result result);
  void close_stream();
  std::string where() const;

  boost::asio::any_io_executor strand_;
  std::optional<boost::beast::tcp_stream> stream_;
  tcp::resolver resolver_;
  boost::asio::steady_timer resolve_timer_;
  std::shared_ptr<connection_pool> pool_;
  std::size_t max_response_body_;
  std::size_t max_interim_responses_;
  std::size_t interim_responses_ = 0;
  http_request request_;
  boost::beast::http::request<boost::beast::http::string_body> message_;
  boost::beast::flat_buffer buffer_;
  std::optional<
      boost::beast::http::response_parser<boost::beast::http::string_body>>
      parser_;
  attempt_handler done_;
  clock_type::time_point started_;
  clock_type::time_point deadline_;
  bool reused_;
  bool resent_ = false;
  bool finished_ = false;
};

} // namespace pilot::webhook::detail
