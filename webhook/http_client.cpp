#include "webhook/http_client.hpp"

#include "webhook/detail/connection_pool.hpp"
#include "webhook/detail/http_session.hpp"
#include "webhook/detail/tls_context_cache.hpp"

#include <boost/asio/post.hpp>

#include <optional>
#include <utility>
#include <variant>

namespace pilot::webhook {

namespace {

// Takes an idle connection for `request` from `pool`. A TLS connection made
// under an earlier version of the request's CA file is closed instead, so
// that a CA file replaced in place applies to the next request.
std::optional<detail::idle_connection>
take_connection(detail::connection_pool& pool,
                detail::tls_context_cache& tls_contexts,
                const http_request& request) {
  auto connection = pool.take(detail::http_session::pool_key(request));
  auto* tls = connection ? std::get_if<detail::tls_connection>(&*connection)
                         : nullptr;
  if (tls == nullptr || request.ca_file.empty())
    return connection;
  auto current_context = tls_contexts.get(request.ca_file);
  if (current_context && *current_context == tls->context)
    return connection;
  return std::nullopt;
}

class http_client final : public transport {
public:
  http_client(boost::asio::io_context& io, http_client_options options)
      : io_(io), options_(std::make_shared<const http_client_options>(
                     std::move(options))),
        pool_(std::make_shared<detail::connection_pool>(
            options_->max_idle_connections)),
        tls_contexts_(std::make_shared<detail::tls_context_cache>(
            options_->max_tls_contexts)) {
    // nop
  }

  ~http_client() override { pool_->clear(); }

  void post(http_request request, attempt_handler done) override {
    // Sessions share the pool and options, never the client, so they may
    // finish after the client is gone.
    boost::asio::post(io_, [&io = io_, options = options_, pool = pool_,
                            tls_contexts = tls_contexts_,
                            request = std::move(request),
                            done = std::move(done)]() mutable {
      auto reused = take_connection(*pool, *tls_contexts, request);
      std::make_shared<detail::http_session>(
          io, std::move(reused), pool, tls_contexts, *options,
          std::move(request), std::move(done))
          ->run();
    });
  }

private:
  boost::asio::io_context& io_;
  std::shared_ptr<const http_client_options> options_;
  std::shared_ptr<detail::connection_pool> pool_;
  std::shared_ptr<detail::tls_context_cache> tls_contexts_;
};

} // namespace

std::shared_ptr<transport> make_http_client(boost::asio::io_context& io,
                                            http_client_options options) {
  return std::make_shared<http_client>(io, std::move(options));
}

} // namespace pilot::webhook
