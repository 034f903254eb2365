#include "webhook/detail/http_session.hpp"

#include "actors/log.hpp"
#include "protocol/webhook_signature.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

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

// Whether `ec` comes from the TLS layer. A TLS stream cut without a
// close_notify alert (`stream_truncated`) counts as a plain close.
bool is_tls_error(boost::system::error_code ec) {
  return ec.category() == asio::error::get_ssl_category()
         && ec != asio::ssl::error::stream_truncated;
}

// Describes why a TLS handshake failed, with the reason of a failed
// certificate verification, such as "hostname mismatch".
std::string handshake_error_text(SSL* ssl, boost::system::error_code ec) {
  auto verify_result = SSL_get_verify_result(ssl);
  if (verify_result != X509_V_OK)
    return std::string{"certificate verify failed: "}
           + X509_verify_cert_error_string(verify_result);
  return ec.message();
}

// Makes the handshake verify that the certificate is issued to `host`,
// and sends `host` as SNI unless it is an IP address. Returns false when
// OpenSSL rejects the host.
bool expect_peer(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str())
           == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1
         && SSL_set1_host(ssl, host.c_str()) == 1;
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
                           std::optional<idle_connection> reused,
                           std::shared_ptr<connection_pool> pool,
                           std::shared_ptr<tls_context_cache> tls_contexts,
                           const http_client_options& options,
                           http_request request, attempt_handler done)
    : strand_(reused ? socket_of(*reused).get_executor()
                     : asio::any_io_executor{asio::make_strand(io)}),
      resolver_(strand_), deadline_timer_(strand_), pool_(std::move(pool)),
      tls_contexts_(std::move(tls_contexts)),
      max_response_body_(options.max_response_body),
      body_timeout_(options.body_timeout),
      max_interim_responses_(options.max_interim_responses),
      request_(std::move(request)),
      message_(make_message(request_, options.user_agent)),
      done_(std::move(done)), reused_(reused.has_value()) {
  if (!reused)
    return;
  if (auto* tls = std::get_if<tls_connection>(&*reused))
    tls_.emplace(std::move(*tls));
  else
    plain_.emplace(std::move(std::get<socket_type>(*reused)));
}

void http_session::run() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->start(); });
}

std::string http_session::pool_key(const http_request& request) {
  const auto& target = *request.target;
  auto key = target.scheme + "://" + target.host_header;
  if (target.is_https())
    key += " ca=" + request.ca_file;
  return key;
}

void http_session::start() {
  started_ = clock_type::now();
  deadline_ = started_ + request_.timeout;
  stamp_message();
  if (has_stream()) {
    tcp_layer().expires_at(deadline_);
    do_write();
  } else {
    do_resolve();
  }
}

void http_session::stamp_message() {
  auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  auto timestamp = std::to_string(unix_seconds.count());
  message_.set("webhook-timestamp", timestamp);
  const auto& keys = request_.signing_keys;
  if (keys && !keys->empty())
    message_.set("webhook-signature",
                 protocol::webhook_signature(*keys, request_.webhook_id,
                                             timestamp, message_.body()));
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
  if (request_.target->is_https()) {
    auto context = tls_contexts_->get(request_.ca_file);
    if (!context) {
      fail("tls", context.error());
      return;
    }
    tls_.emplace(tls_connection{*context, tls_stream{strand_, **context}});
  } else {
    plain_.emplace(strand_);
  }
  tcp_layer().expires_at(deadline_);
  tcp_layer().async_connect(
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
  if (tls_)
    do_handshake();
  else
    do_write();
}

void http_session::do_handshake() {
  if (!expect_peer(tls_->stream.native_handle(), request_.target->host)) {
    fail("tls", "OpenSSL rejected " + request_.target->host
                    + " as the name to verify the certificate of " + where()
                    + " against");
    return;
  }
  tls_->stream.async_handshake(
      asio::ssl::stream_base::client,
      beast::bind_front_handler(&http_session::on_handshake,
                                shared_from_this()));
}

void http_session::on_handshake(boost::system::error_code ec) {
  if (ec == beast::error::timeout) {
    fail("timeout", "TLS handshake with " + where() + " timed out after "
                        + milliseconds_text(request_.timeout));
    return;
  }
  if (ec) {
    fail("tls", "TLS handshake with " + where() + " failed: "
                    + handshake_error_text(tls_->stream.native_handle(), ec));
    return;
  }
  do_write();
}

template <class Operation>
void http_session::with_stream(Operation&& operation) {
  if (tls_)
    operation(tls_->stream);
  else
    operation(*plain_);
}

beast::tcp_stream& http_session::tcp_layer() {
  return tls_ ? beast::get_lowest_layer(tls_->stream) : *plain_;
}

void http_session::do_write() {
  with_stream([this](auto& stream) {
    http::async_write(
        stream, message_,
        beast::bind_front_handler(&http_session::on_write, shared_from_this()));
  });
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
    fail(is_tls_error(ec) ? "tls" : "connect",
         "sending the request to " + where() + " failed: " + ec.message());
    return;
  }
  do_read_header();
}

void http_session::do_read_header() {
  parser_.emplace();
  parser_->body_limit(max_response_body_);
  with_stream([this](auto& stream) {
    http::async_read_header(
        stream, buffer_, *parser_,
        beast::bind_front_handler(&http_session::on_read_header,
                                  shared_from_this()));
  });
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
  // A chunked body would only decide whether the connection is reused, and
  // Beast 1.81's chunk parser trips an assertion on some trailers that
  // arrive in small pieces, so it is never read: the connection closes.
  if (parser_->chunked()) {
    close_stream();
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
  if (is_tls_error(ec)) {
    fail("tls", "TLS error on the connection to " + where()
                    + " before a response: " + ec.message());
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
  tcp_layer().expires_at(
      std::min(deadline_, clock_type::now() + body_timeout_));
  with_stream([this](auto& stream) {
    http::async_read(stream, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read_body,
                                               shared_from_this()));
  });
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
  stamp_message();
  do_resolve();
}

void http_session::respond() {
  if (may_reuse()) {
    tcp_layer().expires_never();
    if (tls_)
      pool_->put(pool_key(request_), std::move(*tls_));
    else
      pool_->put(pool_key(request_), plain_->release_socket());
    tls_.reset();
    plain_.reset();
  } else {
    close_stream();
  }
  attempt_result result;
  result.status = parser_->get().result_int();
  finish(std::move(result));
}

bool http_session::may_reuse() const {
  // After 101 the connection speaks another protocol.
  return has_stream() && parser_->is_done() && parser_->keep_alive()
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
  if (!has_stream())
    return;
  // A TLS connection closes without a close_notify alert: the request is
  // complete or abandoned, and waiting for the peer's alert could hang.
  boost::system::error_code ignored;
  tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp_layer().close();
  tls_.reset();
  plain_.reset();
}

std::string http_session::where() const {
  return request_.target->scheme + "://" + request_.target->host_header;
}

} // namespace pilot::webhook::detail
