#pragma once

#include "webhook/detail/connection_pool.hpp"
#include "webhook/detail/tls_context_cache.hpp"
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

/// One webhook POST: resolve, connect (or reuse a pooled connection), make
/// the TLS handshake for https, write the request, read the response headers
/// and then the body, and return the connection to the pool when it may be
/// reused. Once the headers of the
/// final response are in, its status is the outcome. Owned by `shared_ptr`
/// and run on its own strand. Reports exactly one `attempt_result` through
/// its handler.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  /// Prepares the session. `reused` is an idle connection from `pool`
  /// under `pool_key(request)`, or nothing to open a new one. New https
  /// connections take their TLS context from `tls_contexts`.
  http_session(boost::asio::io_context& io,
               std::optional<idle_connection> reused,
               std::shared_ptr<connection_pool> pool,
               std::shared_ptr<tls_context_cache> tls_contexts,
               const http_client_options& options, http_request request,
               attempt_handler done);

  /// Starts the attempt on the session's strand.
  void run();

  /// Returns the key in the pool of the idle connections that may carry
  /// `request`: the same scheme, host and port, and for https the same CA
  /// file, so that no connection verified under other CAs is reused.
  static std::string pool_key(const http_request& request);

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
  void do_handshake();
  void on_handshake(boost::system::error_code ec);
  // Sets `webhook-timestamp` to now and signs the request for it.
  void stamp_message();
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  // The header phase reads interim responses and the headers of the final
  // one. A failure before the final headers fails the attempt.
  void do_read_header();
  void on_read_header(boost::system::error_code ec, std::size_t bytes);
  void on_interim_response();

  // Stops reading from a receiver that sends interim responses without end,
  // so that it costs no CPU, and fails the attempt at its deadline.
  void wait_for_deadline();
  void on_interim_timeout(boost::system::error_code ec);

  void fail_before_response(boost::system::error_code ec);

  // The body phase reads and discards the body of the final response under
  // `body_timeout_`. Its status is the outcome whatever the body does.
  void do_read_body();
  void on_read_body(boost::system::error_code ec, std::size_t bytes);

  // Reports the final response's status after its body failed, took too
  // long or exceeded the limit, and closes the connection.
  void end_response(boost::system::error_code ec);

  // Opens a new connection for the same request after a reused one failed.
  void resend(boost::system::error_code ec);

  // Whether a failure on a reused connection allows `resend`.
  bool may_resend(boost::system::error_code ec) const;

  // Reports the final response's status and returns the connection to the
  // pool when it may be reused.
  void respond();

  // Whether the final response was read completely on a connection that
  // may carry the next request.
  bool may_reuse() const;

  void fail(std::string_view failure_class, std::string detail);
  void finish(attempt_result result);
  void close_stream();
  std::string where() const;

  // Whether a connection is open.
  bool has_stream() const { return plain_ || tls_; }

  // The TCP layer of the open connection, which carries the deadline.
  boost::beast::tcp_stream& tcp_layer();

  // Calls `operation` with the open connection's stream: the TLS stream for
  // https, the TCP stream otherwise.
  template <class Operation>
  void with_stream(Operation&& operation);

  boost::asio::any_io_executor strand_;
  // At most one of `plain_` and `tls_` is set.
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<tls_connection> tls_;
  tcp::resolver resolver_;
  // Ends the attempt at its deadline while no stream operation is pending:
  // during resolving, and after too many interim responses.
  boost::asio::steady_timer deadline_timer_;
  std::shared_ptr<connection_pool> pool_;
  std::shared_ptr<tls_context_cache> tls_contexts_;
  std::size_t max_response_body_;
  std::chrono::milliseconds body_timeout_;
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
