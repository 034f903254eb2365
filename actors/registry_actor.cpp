#include "actors/registry_actor.hpp"

#include "actors/detail/registry_rules.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "protocol/address.hpp"
#include "protocol/registry_frame.hpp"
#include "protocol/registry_message.hpp"

#include <caf/actor_cast.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace pilot::actors {

namespace {

constexpr std::string_view log_component = "registry-client";

/// The IPC path accepts at most this many tags, although the registry
/// accepts 10.
constexpr std::size_t max_ipc_tags = 3;

/// Heartbeat failures in a row after which the node registers again.
constexpr std::size_t failures_before_reregister = 3;

/// Largest registry response passed through to an IPC client. The
/// responses that are passed through hold a few short fields, so a larger
/// one is a broken or hostile registry and must not fill the IPC frame.
constexpr std::size_t max_forwarded_response_size = 64 * 1024;

enum class registration_phase {
  registering,   ///< No registration has succeeded yet.
  registered,    ///< Heartbeating.
  reregistering, ///< Heartbeats failed; each tick sends `register` instead.
  deregistered,  ///< An IPC client deregistered the node.
  stopping,      ///< `stop_atom` arrived.
};

using reply_handler = std::function<void(const registry_reply&)>;

struct registry_state {
  static inline const char* name = "pilot.registry";

  ~registry_state() {
    if (transport)
      transport->close();
  }

  const registry_actor_options& options() const { return *settings; }

  std::optional<registry_actor_options> settings;
  std::shared_ptr<registry_transport> transport;
  event_sink_actor events;
  node_info info;
  registration_phase phase = registration_phase::registering;
  /// The settings the node should have in the registry. They are applied
  /// after every registration and updated by successful IPC requests.
  std::string wanted_hostname;
  bool wanted_public = false;
  std::vector<std::string> wanted_tags;
  std::uint64_t next_request_id = 1;
  std::unordered_map<std::uint64_t, reply_handler> pending;
  /// Requests from IPC clients among `pending`.
  std::size_t pending_ipc = 0;
  bool register_in_flight = false;
  std::size_t register_attempts = 0;
  std::chrono::milliseconds register_backoff{0};
  bool heartbeat_in_flight = false;
  /// A `poll_handshakes` waits for its response.
  bool poll_in_flight = false;
  std::size_t heartbeat_failures = 0;
  /// False after a request failed without a response; the next response
  /// sets it again. IPC requests fail at once while it is false.
  bool registry_reachable = true;
  std::string last_transport_error;
  std::vector<caf::typed_response_promise<node_info>> registration_waiters;
};

using registry_pointer
    = registry_client_actor::stateful_pointer<registry_state>;

// -- validation ---------------------------------------------------------------

// Returns why the registry would reject `name` as a hostname, or "".
std::string hostname_problem(const std::string& name) {
  if (auto problem = detail::hostname_error(name))
    return "invalid hostname " + quote_value(name) + ": " + *problem;
  return {};
}

// Strips one leading '#' from each tag, as the registry does, and returns
// why a tag is invalid, or "".
std::string normalize_tags(std::vector<std::string>& tags) {
  for (auto& tag : tags) {
    std::vector<std::string> single{tag};
    if (auto problem = detail::normalize_tags(single))
      return "invalid tag " + quote_value(tag) + ": " + *problem;
    tag = std::move(single.front());
  }
  return {};
}

// Returns why the node cannot adopt the ID and address of `response`, or "".
// The address must be the backbone address of the node ID, so a registry
// cannot make the daemon show or announce arbitrary text.
std::string
register_response_problem(const protocol::register_response& response) {
  if (response.node_id == 0 || response.node_id == protocol::broadcast_node)
    return "register: the response has no valid node_id";
  auto address = protocol::parse_address(response.address);
  if (!address || address->network != 0 || address->node != response.node_id)
    return "register: the response's address " + quote_value(response.address)
           + " is not the backbone address of node "
           + std::to_string(response.node_id);
  return {};
}

// -- plumbing -----------------------------------------------------------------

void report_status(registry_pointer self, const std::string& status) {
  if (const auto& listener = self->state.options().status_listener)
    listener(status);
}

void report_registration(registry_pointer self) {
  if (const auto& listener = self->state.options().registration_listener)
    listener(self->state.info);
}

void raise_event(registry_pointer self, protocol::event event) {
  if (self->state.events)
    self->send(self->state.events, std::move(event));
}

void announce_node_id(registry_pointer self, std::uint32_t node_id) {
  if (self->state.events)
    self->send(self->state.events, node_id_atom_v, node_id);
}

void send_request(registry_pointer self, std::string body,
                  std::chrono::milliseconds deadline, reply_handler handler) {
  auto& st = self->state;
  auto id = st.next_request_id++;
  st.pending.emplace(id, std::move(handler));
  st.transport->send(id, std::move(body), deadline);
}

// Signs `request` with the node's key and encodes it, or returns nothing
// when signing failed (logged).
template <class Request>
std::optional<std::string> signed_body(registry_pointer self, Request request) {
  auto signature = self->state.options().identity.sign_base64(
      protocol::signing_challenge(request));
  if (!signature) {
    log::error(log_component, "signing-failed",
               "cannot sign a registry request",
               {{"type", std::string{Request::type}},
                {"error", signature.error().message()}});
    return std::nullopt;
  }
  request.signature = std::move(*signature);
  return protocol::encode_registry_message(request);
}

// Returns the error for a request that got no response or an error frame,
// or an empty error when `reply` carries a regular response.
caf::error reply_error(const registry_reply& reply, std::string_view operation,
                       std::string_view rejection) {
  std::string prefix{operation};
  prefix += ": ";
  if (!reply.error.empty())
    return make_error(reply.timed_out ? errc::timeout
                                      : errc::registry_unavailable,
                      prefix + reply.error);
  if (protocol::is_error_response(reply.body)) {
    if (rejection.empty())
      return make_error(errc::registry_rejected,
                        prefix + "the registry rejected the request: "
                            + protocol::error_text(reply.body));
    return make_error(errc::registry_rejected, prefix + std::string{rejection});
  }
  return {};
}

// -- registration -------------------------------------------------------------

void send_heartbeat(registry_pointer self);
void poll_handshakes(registry_pointer self);
void restore_settings(registry_pointer self);
void on_register_reply(registry_pointer self, const registry_reply& reply);

void send_register(registry_pointer self) {
  auto& st = self->state;
  const auto& opts = st.options();
  protocol::register_request request;
  request.listen_addr = opts.endpoint;
  request.public_key = opts.identity.public_key_base64();
  request.owner = opts.owner;
  st.register_in_flight = true;
  ++st.register_attempts;
  send_request(
      self, protocol::encode_registry_message(request), opts.request_deadline,
      [self](const registry_reply& reply) { on_register_reply(self, reply); });
}

void on_register_failed(registry_pointer self, const std::string& reason) {
  auto& st = self->state;
  const auto& opts = st.options();
  st.info.registry_error = reason;
  if (st.phase == registration_phase::reregistering) {
    log::warn(log_component, "reregister-failed",
              "re-registration failed; retrying at the next heartbeat",
              {{"registry", opts.registry_address}, {"error", reason}});
    return;
  }
  if (st.phase != registration_phase::registering)
    return;
  // Back off from the initial pause, doubling up to the maximum.
  st.register_backoff
      = st.register_attempts == 1
            ? opts.initial_register_backoff
            : std::min(st.register_backoff * 2, opts.max_register_backoff);
  log::warn(log_component, "register-failed", "registration failed; retrying",
            {{"registry", opts.registry_address},
             {"attempt", std::to_string(st.register_attempts)},
             {"retry_in_ms", std::to_string(st.register_backoff.count())},
             {"error", reason}});
  report_status(self, "registration with " + opts.registry_address
                          + " failed, retrying: " + reason);
  self->delayed_send(self, st.register_backoff, register_atom_v);
}

void on_first_registration(registry_pointer self) {
  auto& st = self->state;
  const auto& opts = st.options();
  st.phase = registration_phase::registered;
  st.info.registered = true;
  announce_node_id(self, st.info.node_id);
  raise_event(self, protocol::node_registered{st.info.address, opts.endpoint});
  log::info(log_component, "registered", "registered with the registry",
            {{"registry", opts.registry_address},
             {"node_id", std::to_string(st.info.node_id)},
             {"address", st.info.address},
             {"endpoint", opts.endpoint},
             {"attempts", std::to_string(st.register_attempts)}});
  report_status(self, "registered as " + st.info.address);
  report_registration(self);
  for (auto& waiter : st.registration_waiters)
    waiter.deliver(st.info);
  st.registration_waiters.clear();
  self->delayed_send(self, opts.keepalive, heartbeat_atom_v);
}

void on_reregistration(registry_pointer self, std::uint32_t old_node_id) {
  auto& st = self->state;
  st.phase = registration_phase::registered;
  st.info.registered = true;
  st.heartbeat_failures = 0;
  if (st.info.node_id != old_node_id) {
    log::warn(log_component, "node-id-changed",
              "the registry assigned a new node ID",
              {{"old_node_id", std::to_string(old_node_id)},
               {"node_id", std::to_string(st.info.node_id)},
               {"address", st.info.address}});
    announce_node_id(self, st.info.node_id);
  }
  raise_event(self, protocol::node_reregistered{st.info.address});
  log::info(log_component, "reregistered", "registered again",
            {{"node_id", std::to_string(st.info.node_id)},
             {"address", st.info.address}});
  report_status(self, "registered again as " + st.info.address);
  report_registration(self);
}

void on_register_reply(registry_pointer self, const registry_reply& reply) {
  auto& st = self->state;
  st.register_in_flight = false;
  if (st.phase != registration_phase::registering
      && st.phase != registration_phase::reregistering)
    return;
  if (auto err
      = reply_error(reply, "register", "the registry rejected the request")) {
    on_register_failed(self, error_text(err));
    return;
  }
  auto response
      = protocol::decode_registry_message<protocol::register_response>(
          reply.body);
  if (!response) {
    on_register_failed(self, "register: the response is not a register_ok");
    return;
  }
  if (auto problem = register_response_problem(*response); !problem.empty()) {
    on_register_failed(self, problem);
    return;
  }
  auto old_node_id = st.info.node_id;
  st.info.node_id = response->node_id;
  st.info.address = protocol::to_string(protocol::address{0, st.info.node_id});
  st.info.registry_error.clear();
  if (st.phase == registration_phase::registering)
    on_first_registration(self);
  else
    on_reregistration(self, old_node_id);
  restore_settings(self);
}

// Returns a reply handler for a setting sent after a registration: it logs
// the outcome and calls `on_success` when the registry accepted it.
reply_handler restore_handler(std::string_view operation,
                              std::string_view rejection,
                              std::function<void()> on_success) {
  return [operation, rejection, on_success](const registry_reply& reply) {
    if (auto err = reply_error(reply, operation, rejection)) {
      log::warn(log_component, "restore-failed",
                "cannot apply a setting after registering",
                {{"error", error_text(err)}});
      return;
    }
    log::info(log_component, "restored", "applied a setting",
              {{"operation", std::string{operation}}});
    on_success();
  };
}

// Applies visibility, hostname and tags after a registration, because the
// registry resets them whenever it creates the node's record anew.
void restore_settings(registry_pointer self) {
  auto& st = self->state;
  auto deadline = st.options().request_deadline;
  auto node_id = st.info.node_id;
  if (st.wanted_public) {
    protocol::set_visibility_request request{node_id, true, {}};
    if (auto body = signed_body(self, request))
      send_request(
          self, std::move(*body), deadline,
          restore_handler("set_visibility", "the registry rejected the request",
                          [self] { self->state.info.is_public = true; }));
  }
  if (!st.wanted_hostname.empty()) {
    auto name = st.wanted_hostname;
    protocol::set_hostname_request request{node_id, name, {}};
    if (auto body = signed_body(self, request))
      send_request(
          self, std::move(*body), deadline,
          restore_handler("set_hostname",
                          "the registry rejected the hostname; "
                          "another node probably holds it",
                          [self, name] { self->state.info.hostname = name; }));
  }
  if (!st.wanted_tags.empty()) {
    protocol::set_tags_request request{node_id, st.wanted_tags, {}};
    if (auto body = signed_body(self, request))
      send_request(self, std::move(*body), deadline,
                   restore_handler("set_tags",
                                   "the registry rejected the request", [] {}));
  }
}

// -- heartbeat ----------------------------------------------------------------

void on_heartbeat_reply(registry_pointer self, const registry_reply& reply) {
  auto& st = self->state;
  st.heartbeat_in_flight = false;
  if (st.phase != registration_phase::registered)
    return;
  auto err = reply_error(reply, "heartbeat",
                         "the registry rejected the heartbeat; it may have "
                         "dropped the node");
  if (!err) {
    if (st.heartbeat_failures > 0)
      log::info(log_component, "heartbeat-recovered",
                "heartbeat succeeded again",
                {{"failures", std::to_string(st.heartbeat_failures)}});
    st.heartbeat_failures = 0;
    st.info.registry_error.clear();
    poll_handshakes(self);
    return;
  }
  st.info.registry_error = error_text(err);
  ++st.heartbeat_failures;
  log::warn(log_component, "heartbeat-failed", "heartbeat failed",
            {{"failures", std::to_string(st.heartbeat_failures)},
             {"error", error_text(err)}});
  if (st.heartbeat_failures < failures_before_reregister)
    return;
  st.heartbeat_failures = 0;
  st.phase = registration_phase::reregistering;
  log::warn(log_component, "reregistering",
            "heartbeats failed; registering again with the same key",
            {{"registry", st.options().registry_address}});
  report_status(self,
                "registering again with " + st.options().registry_address);
  send_register(self);
}

void send_heartbeat(registry_pointer self) {
  auto& st = self->state;
  auto body
      = signed_body(self, protocol::heartbeat_request{st.info.node_id, {}});
  if (!body)
    return;
  st.heartbeat_in_flight = true;
  send_request(
      self, std::move(*body), st.options().request_deadline,
      [self](const registry_reply& reply) { on_heartbeat_reply(self, reply); });
}

void on_heartbeat_tick(registry_pointer self) {
  auto& st = self->state;
  if (st.phase == registration_phase::stopping
      || st.phase == registration_phase::deregistered)
    return;
  self->delayed_send(self, st.options().keepalive, heartbeat_atom_v);
  if (st.phase == registration_phase::registered && !st.heartbeat_in_flight)
    send_heartbeat(self);
  else if (st.phase == registration_phase::reregistering
           && !st.register_in_flight)
    send_register(self);
}

// -- IPC requests -------------------------------------------------------------

// Returns why `operation` cannot run now, or an empty error.
caf::error refusal(registry_pointer self, std::string_view operation,
                   bool needs_registration) {
  auto& st = self->state;
  std::string prefix{operation};
  prefix += ": ";
  const auto& registry = st.options().registry_address;
  switch (st.phase) {
    case registration_phase::stopping:
      return make_error(errc::stopping, prefix + "the daemon is stopping");
    case registration_phase::deregistered:
      if (needs_registration)
        return make_error(errc::not_registered,
                          prefix
                              + "the node is deregistered; restart the daemon "
                                "to register again");
      break;
    case registration_phase::registering:
      if (needs_registration)
        return make_error(errc::not_registered,
                          prefix
                              + "not registered yet; still registering "
                                "with "
                              + registry);
      break;
    default:
      break;
  }
  if (!st.registry_reachable)
    return make_error(errc::registry_unavailable,
                      prefix + "registry " + registry + " is unreachable ("
                          + st.last_transport_error
                          + "); the daemon keeps retrying");
  if (st.pending_ipc >= st.options().max_pending_requests)
    return make_error(errc::busy,
                      prefix + "too many registry requests waiting (maximum "
                          + std::to_string(st.options().max_pending_requests)
                          + ")");
  return {};
}

// Sends `body` for an IPC client and delivers the registry's response JSON,
// or an error that names `operation`. Calls `on_success` first on success.
caf::typed_response_promise<std::string>
forward_request(registry_pointer self, std::string operation,
                std::optional<std::string> body, std::string rejection,
                std::function<void()> on_success = {}) {
  auto promise = self->make_response_promise<std::string>();
  if (!body) {
    promise.deliver(make_error(errc::invalid_argument,
                               operation + ": cannot sign the request"));
    return promise;
  }
  ++self->state.pending_ipc;
  send_request(self, std::move(*body), self->state.options().request_deadline,
               [self, promise, operation, rejection,
                on_success](const registry_reply& reply) mutable {
                 --self->state.pending_ipc;
                 if (auto err = reply_error(reply, operation, rejection)) {
                   promise.deliver(std::move(err));
                   return;
                 }
                 if (reply.body.size() > max_forwarded_response_size) {
                   promise.deliver(make_error(
                       errc::malformed_reply,
                       operation + ": the registry's response is too large ("
                           + std::to_string(reply.body.size()) + " bytes)"));
                   return;
                 }
                 if (on_success)
                   on_success();
                 promise.deliver(reply.body);
               });
  return promise;
}

caf::typed_response_promise<std::string> fail_request(registry_pointer self,
                                                      caf::error err) {
  auto promise = self->make_response_promise<std::string>();
  promise.deliver(std::move(err));
  return promise;
}

caf::typed_response_promise<std::string> set_hostname(registry_pointer self,
                                                      const std::string& name) {
  auto& st = self->state;
  if (!name.empty())
    if (auto problem = hostname_problem(name); !problem.empty())
      return fail_request(
          self, make_error(errc::invalid_argument, "set_hostname: " + problem));
  if (auto err = refusal(self, "set_hostname", true))
    return fail_request(self, std::move(err));
  auto rejection = name.empty() ? std::string{"the registry rejected the "
                                              "request"}
                                : "the registry rejected " + quote_value(name)
                                      + "; another node probably holds it";
  return forward_request(
      self, "set_hostname",
      signed_body(self,
                  protocol::set_hostname_request{st.info.node_id, name, {}}),
      std::move(rejection), [self, name] {
        self->state.wanted_hostname = name;
        self->state.info.hostname = name;
        log::info(log_component, "hostname-set", "set the hostname",
                  {{"hostname", name}});
      });
}

caf::typed_response_promise<std::string> set_visibility(registry_pointer self,
                                                        bool is_public) {
  auto& st = self->state;
  if (auto err = refusal(self, "set_visibility", true))
    return fail_request(self, std::move(err));
  return forward_request(
      self, "set_visibility",
      signed_body(
          self,
          protocol::set_visibility_request{st.info.node_id, is_public, {}}),
      "the registry rejected the request", [self, is_public] {
        self->state.wanted_public = is_public;
        self->state.info.is_public = is_public;
        log::info(log_component, "visibility-set", "set the visibility",
                  {{"public", is_public ? "true" : "false"}});
      });
}

caf::typed_response_promise<std::string>
set_tags(registry_pointer self, std::vector<std::string> tags) {
  auto& st = self->state;
  if (tags.size() > max_ipc_tags)
    return fail_request(self, make_error(errc::invalid_argument,
                                         "set_tags: maximum 3 tags allowed"));
  if (auto problem = normalize_tags(tags); !problem.empty())
    return fail_request(
        self, make_error(errc::invalid_argument, "set_tags: " + problem));
  if (auto err = refusal(self, "set_tags", true))
    return fail_request(self, std::move(err));
  auto body = signed_body(
      self, protocol::set_tags_request{st.info.node_id, tags, {}});
  return forward_request(self, "set_tags", std::move(body),
                         "the registry rejected the request",
                         [self, tags] { self->state.wanted_tags = tags; });
}

caf::typed_response_promise<std::string>
resolve_hostname(registry_pointer self, const std::string& name) {
  if (name.empty())
    return fail_request(self, make_error(errc::invalid_argument,
                                         "resolve_hostname: missing hostname"));
  // No node can hold a hostname that the registry would not accept.
  if (auto problem = hostname_problem(name); !problem.empty())
    return fail_request(self, make_error(errc::invalid_argument,
                                         "resolve_hostname: " + problem));
  if (auto err = refusal(self, "resolve_hostname", false))
    return fail_request(self, std::move(err));
  return forward_request(self, "resolve_hostname",
                         protocol::encode_registry_message(
                             protocol::resolve_hostname_request{name}),
                         "no node has the hostname " + quote_value(name));
}

caf::typed_response_promise<std::string> lookup(registry_pointer self,
                                                std::uint32_t node) {
  auto operation = "lookup node " + std::to_string(node);
  if (auto err = refusal(self, operation, false))
    return fail_request(self, std::move(err));
  return forward_request(
      self, operation,
      protocol::encode_registry_message(protocol::lookup_request{node}),
      "the registry rejected the request: node " + std::to_string(node)
          + " does not exist");
}

caf::typed_response_promise<std::string> resolve(registry_pointer self,
                                                 std::uint32_t node) {
  auto& st = self->state;
  auto operation = "resolve node " + std::to_string(node);
  if (auto err = refusal(self, operation, true))
    return fail_request(self, std::move(err));
  return forward_request(
      self, operation,
      signed_body(self, protocol::resolve_request{node, st.info.node_id, {}}),
      "the registry rejected the request: node " + std::to_string(node)
          + " does not exist, or it is private and has no trust pair with "
            "this node");
}

// -- trust --------------------------------------------------------------------

// Sends one signed trust request for the trust actor. The registry's own
// error text is passed on, since it shows the user what went wrong (such
// as "handshake request already pending").
template <class Request>
caf::typed_response_promise<std::string>
trust_request(registry_pointer self, std::string operation, Request request) {
  if (auto err = refusal(self, operation, true))
    return fail_request(self, std::move(err));
  return forward_request(self, std::move(operation),
                         signed_body(self, std::move(request)), "");
}

caf::typed_response_promise<std::string> report_trust(registry_pointer self,
                                                      std::uint32_t peer) {
  auto node = self->state.info.node_id;
  return trust_request(self, "report_trust",
                       protocol::report_trust_request{node, peer, {}});
}

caf::typed_response_promise<std::string> revoke_trust(registry_pointer self,
                                                      std::uint32_t peer) {
  auto node = self->state.info.node_id;
  return trust_request(self, "revoke_trust",
                       protocol::revoke_trust_request{node, peer, {}});
}

caf::typed_response_promise<std::string>
relay_request(registry_pointer self, std::uint32_t peer,
              std::string justification) {
  auto node = self->state.info.node_id;
  return trust_request(self, "handshake relay",
                       protocol::request_handshake_request{
                           node, peer, std::move(justification), {}});
}

caf::typed_response_promise<std::string>
relay_response(registry_pointer self, std::uint32_t peer, bool accept) {
  auto node = self->state.info.node_id;
  return trust_request(
      self, "handshake relay",
      protocol::respond_handshake_request{node, peer, accept, {}});
}

void on_poll_reply(registry_pointer self, const registry_reply& reply) {
  auto& st = self->state;
  st.poll_in_flight = false;
  if (auto err = reply_error(reply, "poll_handshakes", "")) {
    log::warn(log_component, "poll-failed",
              "cannot fetch the relayed trust requests",
              {{"error", error_text(err)}});
    return;
  }
  auto mailbox
      = protocol::decode_registry_message<protocol::poll_handshakes_response>(
          reply.body);
  if (!mailbox) {
    log::warn(log_component, "poll-malformed",
              "the registry's relayed trust requests do not decode",
              {{"error", mailbox.error().message()}});
    return;
  }
  if (!mailbox->requests.empty() || !mailbox->responses.empty())
    st.options().handshake_listener(std::move(*mailbox));
}

// Fetches the node's registry mailbox, after a successful heartbeat as the
// reference does, so relayed trust requests arrive within one keepalive.
void poll_handshakes(registry_pointer self) {
  auto& st = self->state;
  if (!st.options().handshake_listener || st.poll_in_flight)
    return;
  auto body = signed_body(
      self, protocol::poll_handshakes_request{st.info.node_id, {}});
  if (!body)
    return;
  st.poll_in_flight = true;
  send_request(
      self, std::move(*body), st.options().request_deadline,
      [self](const registry_reply& reply) { on_poll_reply(self, reply); });
}

caf::typed_response_promise<std::string> deregister(registry_pointer self) {
  auto& st = self->state;
  if (auto err = refusal(self, "deregister", true))
    return fail_request(self, std::move(err));
  return forward_request(
      self, "deregister",
      signed_body(self, protocol::deregister_request{st.info.node_id, {}}),
      "the registry rejected the request", [self] {
        auto& st = self->state;
        st.phase = registration_phase::deregistered;
        st.info.registered = false;
        raise_event(self, protocol::node_deregistered{});
        log::info(log_component, "deregistered",
                  "deregistered on request; the node stays unregistered "
                  "until the daemon restarts",
                  {{"node_id", std::to_string(st.info.node_id)}});
        report_status(self, "deregistered");
      });
}

caf::typed_response_promise<node_info>
await_registration(registry_pointer self) {
  auto& st = self->state;
  auto promise = self->make_response_promise<node_info>();
  switch (st.phase) {
    case registration_phase::registering:
      st.registration_waiters.push_back(promise);
      break;
    case registration_phase::stopping:
      promise.deliver(make_error(errc::stopping, "the daemon is stopping"));
      break;
    case registration_phase::deregistered:
      promise.deliver(
          make_error(errc::not_registered, "the node is deregistered"));
      break;
    default:
      promise.deliver(st.info);
  }
  return promise;
}

// -- stop ---------------------------------------------------------------------

// Sends the signed `deregister` of a stopping node and delivers `true` to
// `promise` once the registry responded or the short stop deadline passed.
void deregister_on_stop(registry_pointer self,
                        caf::typed_response_promise<bool> promise) {
  auto& st = self->state;
  auto body
      = signed_body(self, protocol::deregister_request{st.info.node_id, {}});
  if (!body) {
    promise.deliver(true);
    self->quit();
    return;
  }
  send_request(self, std::move(*body), st.options().stop_deadline,
               [self, promise](const registry_reply& reply) mutable {
                 if (auto err = reply_error(reply, "deregister",
                                            "the registry rejected the "
                                            "request"))
                   log::warn(log_component, "deregister-failed",
                             "cannot deregister; the registry drops the node "
                             "after about 3 minutes without heartbeats",
                             {{"error", error_text(err)}});
                 else
                   log::info(
                       log_component, "deregistered",
                       "deregistered from the registry",
                       {{"node_id", std::to_string(self->state.info.node_id)}});
                 promise.deliver(true);
                 self->quit();
               });
}

caf::typed_response_promise<bool> stop(registry_pointer self) {
  auto& st = self->state;
  auto promise = self->make_response_promise<bool>();
  auto was = st.phase;
  st.phase = registration_phase::stopping;
  for (auto& waiter : st.registration_waiters)
    waiter.deliver(make_error(errc::stopping, "the daemon is stopping"));
  st.registration_waiters.clear();
  if (was == registration_phase::registered
      || was == registration_phase::reregistering) {
    raise_event(self, protocol::node_deregistered{});
    deregister_on_stop(self, promise);
    return promise;
  }
  // Never registered, already deregistered or already stopping: there is
  // nothing to take back.
  promise.deliver(true);
  self->quit();
  return promise;
}

// -- behavior -----------------------------------------------------------------

void on_reply(registry_pointer self, registry_reply& reply) {
  auto& st = self->state;
  auto i = st.pending.find(reply.request_id);
  if (i == st.pending.end())
    return;
  auto handler = std::move(i->second);
  st.pending.erase(i);
  // A request that failed before it was sent is no sign of an unreachable
  // registry, so it fails alone.
  if (!reply.unsent) {
    st.registry_reachable = reply.error.empty();
    if (!reply.error.empty())
      st.last_transport_error = reply.error;
  }
  handler(reply);
}

registry_client_actor::behavior_type
registry_behavior(registry_pointer self, registry_actor_options options,
                  event_sink_actor events,
                  registry_transport_factory make_transport) {
  auto& st = self->state;
  st.wanted_hostname = options.hostname;
  st.wanted_public = options.is_public;
  st.info.endpoint = options.endpoint;
  st.info.owner = options.owner;
  st.info.public_key = options.identity.public_key_base64();
  st.info.registry = options.registry_address;
  st.settings.emplace(std::move(options));
  st.events = std::move(events);
  st.transport = make_transport(caf::actor_cast<registry_reply_sink>(self));
  log::info(log_component, "registering", "registering with the registry",
            {{"registry", st.options().registry_address},
             {"endpoint", st.options().endpoint}});
  report_status(self, "registering with " + st.options().registry_address);
  send_register(self);
  return {
      [self](info_atom) { return self->state.info; },
      [self](registered_atom) { return await_registration(self); },
      [self](hostname_atom, const std::string& name) {
        return set_hostname(self, name);
      },
      [self](visibility_atom, bool is_public) {
        return set_visibility(self, is_public);
      },
      [self](tags_atom, std::vector<std::string>& tags) {
        return set_tags(self, std::move(tags));
      },
      [self](find_atom, const std::string& name) {
        return resolve_hostname(self, name);
      },
      [self](lookup_atom, std::uint32_t node) { return lookup(self, node); },
      [self](resolve_atom, std::uint32_t node) { return resolve(self, node); },
      [self](report_trust_atom, std::uint32_t peer) {
        return report_trust(self, peer);
      },
      [self](revoke_trust_atom, std::uint32_t peer) {
        return revoke_trust(self, peer);
      },
      [self](relay_request_atom, std::uint32_t peer,
             std::string& justification) {
        return relay_request(self, peer, std::move(justification));
      },
      [self](relay_response_atom, std::uint32_t peer, bool accept) {
        return relay_response(self, peer, accept);
      },
      [self](deregister_atom) { return deregister(self); },
      [self](stop_atom) { return stop(self); },
      [self](heartbeat_atom) { on_heartbeat_tick(self); },
      [self](register_atom) {
        auto& st = self->state;
        if (st.phase == registration_phase::registering
            && !st.register_in_flight)
          send_register(self);
      },
      [self](registry_reply& reply) { on_reply(self, reply); },
  };
}

} // namespace

registry_client_actor
spawn_registry_actor(caf::actor_system& sys, registry_actor_options options,
                     event_sink_actor events,
                     registry_transport_factory make_transport) {
  return sys.spawn(registry_behavior, std::move(options), std::move(events),
                   std::move(make_transport));
}

registry_client_actor spawn_registry_actor(caf::actor_system& sys,
                                           boost::asio::io_context& io,
                                           registry_actor_options options,
                                           event_sink_actor events) {
  registry_connection_options connection;
  connection.address = options.registry_address;
  connection.connect_timeout
      = std::min(connection.connect_timeout, options.request_deadline);
  // Heartbeats and registration retry on their own schedule, so a request
  // fails at its first failed connection attempt. IPC clients then learn
  // of an outage at once instead of after a series of attempts.
  connection.max_connect_attempts = 1;
  std::string host;
  std::string port;
  if (!split_host_port(connection.address, host, port))
    throw std::invalid_argument("invalid registry address \""
                                + connection.address
                                + "\": expected host:port");
  return spawn_registry_actor(sys, std::move(options), std::move(events),
                              [&io, connection](registry_reply_sink sink) {
                                return make_registry_connection(
                                    io, connection, std::move(sink));
                              });
}

} // namespace pilot::actors
