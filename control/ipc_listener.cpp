#include "control/ipc_listener.hpp"

#include "actors/log.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <string>
#include <utility>
#include <vector>

namespace pilot::control {

namespace log = actors::log;

namespace {

constexpr std::string_view component = "control";

// Pause after a failed accept, such as one for lack of file descriptors,
// so that the loop does not spin while the condition lasts.
constexpr auto accept_retry_delay = std::chrono::milliseconds{100};

} // namespace

caf::expected<std::shared_ptr<ipc_listener>>
ipc_listener::open(boost::asio::io_context& io,
                   const std::filesystem::path& path, listener_limits limits) {
  auto listener = std::make_shared<ipc_listener>(io, limits);
  auto file = bind_private_socket(listener->acceptor_, path);
  if (!file)
    return std::move(file.error());
  listener->file_ = std::move(*file);
  log::info(component, "control-socket-open", "control socket listening",
            {{"socket", path.string()}});
  return listener;
}

ipc_listener::ipc_listener(boost::asio::io_context& io, listener_limits limits)
    : io_(io), limits_(limits), acceptor_(boost::asio::make_strand(io)),
      retry_timer_(acceptor_.get_executor()) {
  // nop
}

ipc_listener::~ipc_listener() {
  if (!stopped_)
    remove_socket_file(file_);
}

void ipc_listener::start(request_handler handler, client_observer observer) {
  boost::asio::post(acceptor_.get_executor(),
                    [self = shared_from_this(), f = std::move(handler),
                     o = std::move(observer)] {
                      self->handler_ = std::move(f);
                      self->observer_ = std::move(o);
                      self->do_accept();
                    });
}

void ipc_listener::stop() {
  std::vector<std::shared_ptr<ipc_session>> sessions;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopped_)
      return;
    stopped_ = true;
    for (auto& [id, weak] : clients_)
      if (auto session = weak.lock())
        sessions.push_back(std::move(session));
    clients_.clear();
  }
  boost::asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_timer_.cancel();
    self->handler_ = nullptr;
    self->observer_ = {};
  });
  for (auto& session : sessions)
    session->close();
  remove_socket_file(file_);
  log::info(component, "control-socket-closed", "control socket closed",
            {{"socket", file_.path.string()},
             {"clients_closed", std::to_string(sessions.size())}});
}

std::size_t ipc_listener::client_count() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return clients_.size();
}

void ipc_listener::do_accept() {
  acceptor_.async_accept(
      boost::asio::make_strand(io_),
      [self = shared_from_this()](boost::system::error_code ec, auto socket) {
        self->on_accept(ec, ipc_session::socket_type{std::move(socket)});
      });
}

void ipc_listener::on_accept(boost::system::error_code ec,
                             ipc_session::socket_type socket) {
  if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open())
    return;
  if (ec) {
    log::warn(component, "ipc-accept-failed",
              "accepting an IPC client failed; retrying",
              {{"error", ec.message()}});
    retry_timer_.expires_after(accept_retry_delay);
    retry_timer_.async_wait(
        [self = shared_from_this()](boost::system::error_code wait_ec) {
          if (!wait_ec)
            self->do_accept();
        });
    return;
  }
  std::shared_ptr<ipc_session> session;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopped_)
      return;
    if (clients_.size() >= limits_.max_clients) {
      log::warn(component, "ipc-client-rejected",
                "too many IPC clients; closing the new connection",
                {{"max_clients", std::to_string(limits_.max_clients)}});
    } else {
      auto id = next_client_id_++;
      // The observer learns of the departure even after the listener is
      // gone, so that no client stays open in its view.
      auto on_closed = [weak = weak_from_this(),
                        closed = observer_.closed](std::uint64_t closed_id) {
        if (auto self = weak.lock())
          self->on_session_closed(closed_id);
        if (closed)
          closed(closed_id);
      };
      session = std::make_shared<ipc_session>(std::move(socket), id,
                                              limits_.session, handler_,
                                              std::move(on_closed));
      clients_.emplace(id, session);
      // Under the lock, so that `stop` cannot close the session first.
      if (observer_.opened)
        observer_.opened(actors::ipc_client{id, session->make_push()});
    }
  }
  if (session) {
    log::debug(component, "ipc-client-connected", "IPC client connected",
               {{"client", std::to_string(session->id())}});
    session->start();
  }
  do_accept();
}

void ipc_listener::on_session_closed(std::uint64_t id) {
  std::lock_guard<std::mutex> guard{mutex_};
  clients_.erase(id);
}

} // namespace pilot::control
