#include "webhook/detail/http_session.hpp"

#include "actors/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>

namespace pilot::webhook::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string milliseconds_text(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + " ms";
}

// Moves the body out of `request` into the message.
http::request<http::string_body> make_message(http_request& request,
                                              const std::string& user_agent) {
  const auto& target = *request.target;
  http::request<http::string_body> message{http::verb::post, target.target, 11};
  message.set(http::field::host, target.host_header);
  message.set(http::field::user_agent, user_agent);
  message.set(http::field::content_type, "application/json");
  message.set("webhook-id", request.webhook_id);
  message.set("X-Pilot-Event", request.event_name);
  if (!target.authorization.empty())
    message.set(http::field::authorization, target.authorization);
  message.keep_alive(true);
  message.body() = std::move(request.body);
  message.prepare_payload();
  return message;
}

} // namespace

std::string
remove_refused_endpoints(std::vector<boost::asio::ip::tcp::endpoint>& list) {
  std::string removed;
  std::erase_if(list, [&removed](const boost::asio::ip::tcp::endpoint& x) {
    if (!protocol::is_refused_address(x.address()))
      return false;
    removed = x.address().to_string();
    return true;
  });
  return removed;
}

http_session::http_session(asio::io_context& io,
                           std::optional<socket_type> reused,
                           std::shared_ptr<connection_pool> pool,
                           const http_client_options& options,
                           http_request request, attempt_handler done)
    : strand_(reused ? reused->get_executor()
                     : asio::any_io_executor{asio::make_strand(io)}),
      resolver_(strand_), deadline_timer_(strand_), pool_(std::move(pool)),
      max_response_body_(options.max_response_body),
      body_timeout_(options.body_timeout),
      max_interim_responses_(options.max_interim_responses),
      request_(std::move(request)),
      message_(make_message(request_, options.user_agent)),
      done_(std::move(done)), reused_(reused.has_value()) {
  if (reused)
    stream_.emplace(std::move(*reused));
}

void http_session::run() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->start(); });
}

std::string http_session::pool_key(const protocol::webhook_target& target) {
  return target.scheme + "://" + target.host_header;
}

void http_session::start() {
  started_ = clock_type::now();
  deadline_ = started_ + request_.timeout;
  auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  message_.set("webhook-timestamp", std::to_string(unix_seconds.count()));
  // TODO: a `webhook-signature` header (HMAC-SHA256 over
  // `<webhook-id>.<webhook-timestamp>.<body>`) goes here once webhook
  // secrets are configurable; it has to follow the timestamp.
  if (stream_) {
    stream_->expires_at(deadline_);
    do_write();
  } else {
    do_resolve();
  }
}

void http_session::do_resolve() {
  const auto& target = *request_.target;
  // An IP address needs no resolver.
  boost::system::error_code ec;
  auto address = asio::ip::make_address(target.host, ec);
  if (!ec) {
    do_connect({tcp::endpoint{address, target.port}});
    return;
  }
  deadline_timer_.expires_at(deadline_);
  deadline_timer_.async_wait(beast::bind_front_handler(
      &http_session::on_resolve_timeout, shared_from_this()));
  resolver_.async_resolve(
      target.host, std::to_string(target.port), tcp::resolver::numeric_service,
      beast::bind_front_handler(&http_session::on_resolve, shared_from_this()));
}

void http_session::on_resolve_timeout(boost::system::error_code ec) {
  // The resolver runs getaddrinfo on a helper thread that cannot be
  // interrupted, so the deadline ends the attempt without waiting for it.
  if (ec || finished_)
    return;
  resolver_.cancel();
  fail("timeout", "resolving " + request_.target->host + " timed out after "
                      + milliseconds_text(request_.timeout));
}

void http_session::on_resolve(boost::system::error_code ec,
                              const tcp::resolver::results_type& results) {
  if (finished_)
    return;
  deadline_timer_.cancel();
  if (ec) {
    fail("dns",
         "resolving " + request_.target->host + " failed: " + ec.message());
    return;
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results)
    endpoints.push_back(entry.endpoint());
  do_connect(std::move(endpoints));
}

void http_session::do_connect(std::vector<tcp::endpoint> endpoints) {
  // Checked on every resolved address, so that a name pointing at a
  // metadata endpoint is rejected like the address itself.
  auto rejected = remove_refused_endpoints(endpoints);
  if (endpoints.empty()) {
    fail("connect", "webhook host " + request_.target->host
                        + " resolves only to link-local or cloud metadata "
                          "addresses such as "
                        + rejected);
    return;
  }
  close_stream();
  stream_.emplace(strand_);
  stream_->expires_at(deadline_);
  stream_->async_connect(
      endpoints,
      beast::bind_front_handler(&http_session::on_connect, shared_from_this()));
}

void http_session::on_connect(boost::system::error_code ec,
                              const tcp::endpoint&) {
  if (ec == beast::error::timeout) {
    fail("timeout", "connecting to " + where() + " timed out after "
                        + milliseconds_text(request_.timeout));
    return;
  }
  if (ec) {
    fail("connect", "connecting to " + where() + " failed: " + ec.message());
    return;
  }
  do_write();
}

void http_session::do_write() {
  http::async_write(
      *stream_, message_,
      beast::bind_front_handler(&http_session::on_write, shared_from_this()));
}

void http_session::on_write(boost::system::error_code ec, std::size_t) {
  if (ec == beast::error::timeout) {
    fail("timeout", "sending the request to " + where() + " timed out after "
                        + milliseconds_text(request_.timeout));
    return;
  }
  if (ec && may_resend(ec)) {
    resend(ec);
    return;
  }
  if (ec) {
    fail("connect",
         "sending the request to " + where() + " failed: " + ec.message());
    return;
  }
  do_read_header();
}

void http_session::do_read_header() {
  parser_.emplace();
  parser_->body_limit(max_response_body_);
  http::async_read_header(
      *stream_, buffer_, *parser_,
      beast::bind_front_handler(&http_session::on_read_header,
                                shared_from_this()));
}

void http_session::on_read_header(boost::system::error_code ec, std::size_t) {
  // Beast compares a Content-Length with the body limit as soon as the
  // headers are complete, so an oversize body fails here.
  if (ec && parser_->is_header_done()) {
    end_response(ec);
    return;
  }
  if (ec) {
    fail_before_response(ec);
    return;
  }
  auto status = parser_->get().result_int();
  // An interim 1xx response precedes the final one on the same connection.
  if (status >= 100 && status < 200 && status != 101) {
    on_interim_response();
    return;
  }
  if (parser_->is_done()) {
    respond();
    return;
  }
  do_read_body();
}

void http_session::fail_before_response(boost::system::error_code ec) {
  if (ec == beast::error::timeout) {
    fail("timeout", "timed out after " + milliseconds_text(request_.timeout)
                        + " waiting for a response from " + where());
    return;
  }
  if (may_resend(ec)) {
    resend(ec);
    return;
  }
  if (!parser_->got_some()) {
    fail("connect", where() + " closed the connection without a response: "
                        + ec.message());
    return;
  }
  fail("connect",
       "invalid HTTP response from " + where() + ": " + ec.message());
}

void http_session::on_interim_response() {
  // Responses already in the buffer are parsed without a read on the
  // stream, so its timer alone cannot stop a receiver that sends them
  // faster than they are parsed.
  if (clock_type::now() >= deadline_) {
    fail("timeout", "no final response from " + where() + " within "
                        + milliseconds_text(request_.timeout));
    return;
  }
  if (++interim_responses_ > max_interim_responses_) {
    wait_for_deadline();
    return;
  }
  do_read_header();
}

void http_session::wait_for_deadline() {
  deadline_timer_.expires_at(deadline_);
  deadline_timer_.async_wait(beast::bind_front_handler(
      &http_session::on_interim_timeout, shared_from_this()));
}

void http_session::on_interim_timeout(boost::system::error_code ec) {
  if (ec || finished_)
    return;
  fail("timeout", "no final response from " + where() + " within "
                      + milliseconds_text(request_.timeout)
                      + "; stopped reading after "
                      + std::to_string(max_interim_responses_)
                      + " interim (1xx) responses");
}

void http_session::do_read_body() {
  // The status is the outcome now and the body decides only whether the
  // connection can be reused, which is not worth a long wait.
  stream_->expires_at(std::min(deadline_, clock_type::now() + body_timeout_));
  http::async_read(*stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read_body,
                                             shared_from_this()));
}

void http_session::on_read_body(boost::system::error_code ec, std::size_t) {
  if (ec) {
    end_response(ec);
    return;
  }
  respond();
}

void http_session::end_response(boost::system::error_code ec) {
  actors::log::debug(
      "webhook", "webhook-response-body-unread",
      "response body not read to its end; closing the connection",
      {{"endpoint", where()},
       {"status", std::to_string(parser_->get().result_int())},
       {"error", ec.message()}});
  close_stream();
  respond();
}

bool http_session::may_resend(boost::system::error_code ec) const {
  auto nothing_received
      = interim_responses_ == 0 && (!parser_ || !parser_->got_some());
  return reused_ && !resent_ && ec != beast::error::timeout && nothing_received
         && buffer_.size() == 0;
}

void http_session::resend(boost::system::error_code ec) {
  actors::log::debug("webhook", "webhook-resend",
                     "reused connection failed before a response; sending "
                     "again on a new connection",
                     {{"endpoint", where()}, {"error", ec.message()}});
  resent_ = true;
  reused_ = false;
  parser_.reset();
  buffer_.clear();
  close_stream();
  do_resolve();
}

void http_session::respond() {
  if (may_reuse()) {
    stream_->expires_never();
    pool_->put(pool_key(*request_.target), stream_->release_socket());
    stream_.reset();
  } else {
    close_stream();
  }
  attempt_result result;
  result.status = parser_->get().result_int();
  finish(std::move(result));
}

bool http_session::may_reuse() const {
  // After 101 the connection speaks another protocol.
  return stream_ && parser_->is_done() && parser_->keep_alive()
         && parser_->get().result_int() != 101 && buffer_.size() == 0;
}

void http_session::fail(std::string_view failure_class, std::string detail) {
  close_stream();
  attempt_result result;
  result.failure_class = failure_class;
  result.detail = std::move(detail);
  finish(std::move(result));
}

void http_session::finish(attempt_result result) {
  if (finished_)
    return;
  finished_ = true;
  deadline_timer_.cancel();
  result.attempt_id = request_.attempt_id;
  result.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          clock_type::now() - started_)
                          .count();
  auto done = std::move(done_);
  done(std::move(result));
}

void http_session::close_stream() {
  if (!stream_)
    return;
  boost::system::error_code ignored;
  stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_->close();
  stream_.reset();
}

std::string http_session::where() const {
  return request_.target->scheme + "://" + request_.target->host_header;
}

} // namespace pilot::webhook::detail
