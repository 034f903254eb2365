#include "actors/trust_actor.hpp"

#include "actors/detail/trust_file.hpp"
#include "actors/error.hpp"
#include "actors/log.hpp"
#include "actors/service_client.hpp"
#include "protocol/handshake_message.hpp"
#include "protocol/registry_message.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace pilot::actors {

namespace {

constexpr std::string_view log_component = "trust";

constexpr std::uint16_t handshake_port = 444;

/// Handle of the trust actor with its own timers: the receive deadline of an
/// inbound connection (`tick_atom`, conn ID, serial) and the tunnel reset
/// after a revoke (`forget_peer_atom`, peer).
using trust_impl_actor = trust_actor::extend<
    caf::reacts_to<tick_atom, std::uint32_t, std::uint64_t>,
    caf::reacts_to<forget_peer_atom, std::uint32_t>>;

/// An inbound connection whose message is not complete yet.
struct inbound_read {
  protocol::address remote;
  std::string buffer;
  std::uint64_t serial = 0;
};

/// A registry record as far as the handshake needs it.
struct peer_record {
  std::string public_key;
  std::vector<std::uint16_t> networks;
};

struct cached_record {
  peer_record record;
  caf::actor_clock::time_point fetched;
};

/// One relayed mailbox item: a request or a response.
using mailbox_item = std::variant<protocol::handshake_request_entry,
                                  protocol::handshake_response_entry>;

struct trust_state {
  static inline const char* name = "pilot.trust";

  const trust_options& options() const { return *settings; }

  std::optional<trust_options> settings;
  connection_actor connections;
  node_directory_actor directory;
  trust_registry_actor registry;
  peer_reset_actor tunnel;
  event_sink_actor events;
  detail::trust_book book;
  /// Our node ID; 0 before the first registration.
  std::uint32_t self_id = 0;
  /// False when there is no trust file or the file did not load. The tables
  /// are then never written, so a broken file stays for the operator.
  bool persist = false;
  std::map<std::uint32_t, inbound_read> inbound;
  std::uint64_t next_serial = 1;
  std::unordered_map<std::uint32_t, cached_record> records;
  std::deque<mailbox_item> mailbox;
  bool mailbox_busy = false;
  /// Peers waiting to be reported to the registry, one request at a time.
  std::deque<std::uint32_t> reports;
  bool report_busy = false;
};

using trust_pointer = trust_impl_actor::stateful_pointer<trust_state>;

std::chrono::system_clock::time_point wall_now(trust_pointer self) {
  return self->state.options().clock();
}

std::string status_json(std::uint32_t peer, std::string_view status) {
  return R"({"node_id":)" + std::to_string(peer) + R"(,"status":")"
         + std::string{status} + "\"}";
}

std::string node_text(std::uint32_t peer) {
  return std::to_string(peer);
}

// -- persistence --------------------------------------------------------------

void load(trust_pointer self) {
  auto& st = self->state;
  const auto& path = st.options().trust_file;
  if (path.empty())
    return;
  auto loaded = detail::load_trust_file(path);
  if (!loaded.error.empty()) {
    log::error(log_component, "trust-file-invalid",
               "cannot load the trust file, so trust starts empty and stays "
               "in memory only. Fix or remove the file and restart the daemon",
               {{"error", loaded.error}});
    return;
  }
  st.persist = true;
  if (!loaded.found)
    return;
  st.book.load(std::move(loaded.records));
  log::info(log_component, "trust-file-loaded", "loaded the trust file",
            {{"path", path.string()},
             {"trusted", std::to_string(st.book.records().trusted.size())},
             {"pending", std::to_string(st.book.records().pending.size())}});
}

void save(trust_pointer self) {
  auto& st = self->state;
  if (!st.persist)
    return;
  if (auto ec
      = detail::save_trust_file(st.options().trust_file, st.book.records()))
    log::error(
        log_component, "trust-file-write-failed",
        "cannot write the trust file, so the change is kept in memory only "
        "and is lost on restart",
        {{"path", st.options().trust_file.string()}, {"error", ec.message()}});
}

// -- registry -----------------------------------------------------------------

using record_callback = std::function<void(std::optional<peer_record>)>;

// Fetches the registry record of `node`, from the cache while it is fresh.
void fetch_record(trust_pointer self, std::uint32_t node,
                  record_callback done) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (auto i = st.records.find(node); i != st.records.end()) {
    if (now - i->second.fetched < st.options().key_cache_lifetime) {
      done(i->second.record);
      return;
    }
    st.records.erase(i);
  }
  self->request(st.directory, st.options().registry_deadline, lookup_atom_v,
                node)
      .then(
          [self, node, done](const std::string& body) {
            auto reply
                = protocol::decode_registry_message<protocol::lookup_response>(
                    body);
            if (!reply) {
              log::warn(log_component, "lookup-malformed",
                        "the registry's record of a node does not decode",
                        {{"node", node_text(node)}});
              done(std::nullopt);
              return;
            }
            auto& st = self->state;
            peer_record record{std::move(reply->public_key),
                               std::move(reply->networks)};
            if (st.records.size() >= st.options().max_cached_keys) {
              auto oldest = std::min_element(
                  st.records.begin(), st.records.end(),
                  [](const auto& x, const auto& y) {
                    return x.second.fetched < y.second.fetched;
                  });
              st.records.erase(oldest);
            }
            st.records[node] = {record, self->clock().now()};
            done(std::move(record));
          },
          [node, done](const caf::error& err) {
            log::warn(log_component, "lookup-failed",
                      "cannot look up a node at the registry",
                      {{"node", node_text(node)}, {"error", error_text(err)}});
            done(std::nullopt);
          });
}

// Returns the first non-zero network that both nodes belong to, or 0.
std::uint16_t shared_network(const std::vector<std::uint16_t>& ours,
                             const std::vector<std::uint16_t>& theirs) {
  for (auto network : ours)
    if (network != 0
        && std::find(theirs.begin(), theirs.end(), network) != theirs.end())
      return network;
  return 0;
}

// Sends one trust request to the registry and logs a failure. `done` runs
// either way.
template <class Atom, class... Ts>
void registry_call(trust_pointer self, std::string_view operation,
                   std::uint32_t peer, std::function<void()> done, Atom atom,
                   Ts... xs) {
  auto& st = self->state;
  self->request(st.registry, st.options().registry_deadline, atom, peer, xs...)
      .then([done](const std::string&) { done(); },
            [operation, peer, done](const caf::error& err) {
              log::warn(log_component, "registry-request-failed",
                        "a trust request to the registry failed",
                        {{"operation", std::string{operation}},
                         {"peer", node_text(peer)},
                         {"error", error_text(err)}});
              done();
            });
}

void report_next(trust_pointer self) {
  auto& st = self->state;
  if (st.report_busy || st.reports.empty())
    return;
  auto peer = st.reports.front();
  st.reports.pop_front();
  st.report_busy = true;
  registry_call(
      self, "report_trust", peer,
      [self] {
        self->state.report_busy = false;
        report_next(self);
      },
      report_trust_atom_v);
}

// Reports every trusted peer again, one request at a time so that a long
// list does not crowd out other registry requests.
void report_all(trust_pointer self) {
  auto& st = self->state;
  st.reports.clear();
  for (auto peer : st.book.trusted_peers())
    st.reports.push_back(peer);
  report_next(self);
}

// -- sending ------------------------------------------------------------------

// Encodes a signed message to `peer`, or fails with the text of the error.
caf::expected<std::string> encode_outbound(trust_pointer self,
                                           protocol::handshake_kind kind,
                                           std::uint32_t peer,
                                           std::string_view text) {
  auto& st = self->state;
  auto now = std::chrono::floor<std::chrono::seconds>(wall_now(self));
  auto message = protocol::make_handshake_message(
      kind, st.options().identity, st.self_id, peer, text,
      now.time_since_epoch().count());
  if (!message)
    return make_error(errc::invalid_argument,
                      "cannot sign the handshake message: "
                          + message.error().message());
  return protocol::encode_handshake_message(*message);
}

/// Receives the outcome of sending one handshake message: empty when it was
/// delivered, else the reason.
using send_outcome = std::function<void(const std::string& failure)>;

void relay_request(trust_pointer self, const detail::outbound_handshake& out,
                   send_outcome done) {
  auto& st = self->state;
  auto peer = out.peer;
  self->request(st.registry, st.options().registry_deadline,
                relay_request_atom_v, peer, out.text)
      .then(
          [peer, done](const std::string&) {
            log::info(log_component, "request-relayed",
                      "left the trust request in the peer's registry mailbox",
                      {{"peer", node_text(peer)}});
            done({});
          },
          [peer, done](const caf::error& err) {
            auto failure = "handshake relay: " + error_text(err);
            log::warn(log_component, "relay-failed",
                      "cannot send the trust request, neither directly nor "
                      "through the registry",
                      {{"peer", node_text(peer)}, {"error", failure}});
            done(failure);
          });
}

// Dials the peer's port 444, writes one message and closes the connection.
// `done` runs once the close is queued or a step has failed; a request whose
// direct send failed goes to the registry's mailbox first.
void send_direct(trust_pointer self, detail::outbound_handshake out,
                 send_outcome done) {
  auto& st = self->state;
  auto kind_text = std::string{protocol::to_type_text(out.kind)};
  auto encoded = encode_outbound(self, out.kind, out.peer, out.text);
  if (!encoded) {
    log::error(log_component, "sign-failed", error_text(encoded.error()),
               {{"peer", node_text(out.peer)}});
    done(error_text(encoded.error()));
    return;
  }
  auto fail = [self, out, kind_text, done](std::string_view step,
                                           const caf::error& err) {
    log::warn(log_component, "send-failed",
              "cannot send a handshake message directly",
              {{"peer", node_text(out.peer)},
               {"type", kind_text},
               {"step", std::string{step}},
               {"error", error_text(err)}});
    if (out.relay_on_failure)
      relay_request(self, out, done);
    else
      done(error_text(err));
  };
  auto id = service_client_id(handshake_port);
  protocol::address remote{0, out.peer};
  self->request(st.connections, st.options().dial_deadline, dial_atom_v, id,
                remote, handshake_port)
      .then(
          [self, id, out, kind_text, encoded = std::move(*encoded), done,
           fail](std::uint32_t conn) mutable {
            auto& st = self->state;
            self->request(st.connections, st.options().write_deadline,
                          write_atom_v, id, conn, std::move(encoded))
                .then(
                    [self, id, conn, out, kind_text, done](bool) {
                      auto& st = self->state;
                      log::info(
                          log_component, "message-sent",
                          "sent a handshake message",
                          {{"peer", node_text(out.peer)}, {"type", kind_text}});
                      self->request(st.connections, st.options().write_deadline,
                                    close_atom_v, id, conn)
                          .then([done](std::uint32_t) { done({}); },
                                [done](const caf::error&) { done({}); });
                    },
                    [self, id, conn, fail](const caf::error& err) {
                      auto& st = self->state;
                      caf::anon_send(
                          caf::actor_cast<caf::actor>(st.connections),
                          close_atom_v, id, conn);
                      fail("write", err);
                    });
          },
          [fail](const caf::error& err) { fail("dial", err); });
}

// Returns a callback that runs `then` once it has been called `count` times.
std::function<void()> after_all(std::size_t count, std::function<void()> then) {
  if (count == 0) {
    then();
    return [] {
    };
  }
  auto left = std::make_shared<std::size_t>(count);
  return [left, then = std::move(then)] {
    if (--*left == 0)
      then();
  };
}

// Carries out one decision in the order `trust_actions` documents.
// `on_request` (may be empty) learns whether our trust request reached the
// peer, directly or through the registry's mailbox.
void carry_out(trust_pointer self, detail::trust_actions actions,
               send_outcome on_request = {}) {
  auto& st = self->state;
  // Step 1: events, the file and the log.
  if (st.events)
    for (auto& event : actions.events)
      caf::anon_send(st.events, std::move(event));
  if (actions.save)
    save(self);
  if (!actions.note.empty())
    log::info(log_component, "handshake-note", actions.note);
  // Step 4, run last: drop the trust pair, and forget the tunnel a little
  // after the messages left, so that their retransmissions still work.
  auto linger = actions.messages.empty() ? std::chrono::milliseconds{0}
                                         : st.options().revoke_linger;
  auto finish = [self, revokes = std::move(actions.revoke_trust),
                 forget = actions.forget_tunnel, linger] {
    for (auto peer : revokes)
      registry_call(
          self, "revoke_trust", peer, [] {}, revoke_trust_atom_v);
    if (forget)
      self->delayed_send(self, linger, forget_peer_atom_v, *forget);
  };
  // Step 3: the messages, once the registry stores the new trust pair.
  auto send_all = [self, messages = std::move(actions.messages),
                   finish = std::move(finish), on_request]() mutable {
    auto sent = after_all(messages.size(), std::move(finish));
    for (auto& out : messages) {
      auto report = out.relay_on_failure ? on_request : send_outcome{};
      auto done = [sent, report](const std::string& failure) {
        if (report)
          report(failure);
        sent();
      };
      if (self->state.self_id == 0) {
        log::warn(log_component, "send-unregistered",
                  "cannot send a handshake message before the node is "
                  "registered",
                  {{"peer", node_text(out.peer)}});
        done("the node is not registered yet");
        continue;
      }
      send_direct(self, std::move(out), done);
    }
  };
  // Step 2: the registry's trust pairs and mailbox responses.
  auto registered
      = after_all(actions.report_trust.size() + actions.relay_answers.size(),
                  std::move(send_all));
  for (auto peer : actions.report_trust)
    registry_call(self, "report_trust", peer, registered, report_trust_atom_v);
  for (auto answer : actions.relay_answers)
    registry_call(self, "respond_handshake", answer.peer, registered,
                  relay_response_atom_v, answer.accept);
}

// -- receiving ----------------------------------------------------------------

void drop(std::uint32_t peer, std::string_view reason) {
  log::warn(log_component, "message-dropped",
            "dropped a handshake message from port 444",
            {{"node", node_text(peer)}, {"reason", std::string{reason}}});
}

// Dispatches an authenticated message.
void dispatch(trust_pointer self, protocol::handshake_kind kind,
              protocol::handshake_message message, peer_record sender) {
  auto peer = message.node_id;
  switch (kind) {
    case protocol::handshake_kind::request: {
      if (!self->state.book.needs_network_check(peer)) {
        carry_out(self,
                  self->state.book.on_request(
                      detail::handshake_source::direct, peer,
                      std::move(sender.public_key),
                      std::move(message.justification), 0, wall_now(self)));
        return;
      }
      fetch_record(self, self->state.self_id,
                   [self, peer, message,
                    sender](std::optional<peer_record> ours) mutable {
                     auto network = ours ? shared_network(ours->networks,
                                                          sender.networks)
                                         : std::uint16_t{0};
                     carry_out(self, self->state.book.on_request(
                                         detail::handshake_source::direct, peer,
                                         std::move(sender.public_key),
                                         std::move(message.justification),
                                         network, wall_now(self)));
                   });
      return;
    }
    case protocol::handshake_kind::accept:
      carry_out(self, self->state.book.on_accept(
                          detail::handshake_source::direct, peer,
                          std::move(sender.public_key), wall_now(self)));
      return;
    case protocol::handshake_kind::reject:
      carry_out(self, self->state.book.on_reject(peer, message.reason));
      return;
    case protocol::handshake_kind::revoke:
      carry_out(self, self->state.book.on_revoke(peer));
      return;
  }
}

// Verifies the signature against the registry's key of the sender, looking
// the key up once more when a cached key fails (the peer may have rotated
// its key).
void authenticate(trust_pointer self, protocol::handshake_kind kind,
                  protocol::handshake_message message, bool retried = false) {
  auto peer = message.node_id;
  auto cached = self->state.records.contains(peer);
  fetch_record(
      self, peer,
      [self, kind, message, cached,
       retried](std::optional<peer_record> sender) mutable {
        auto& st = self->state;
        auto peer = message.node_id;
        if (!sender)
          return drop(peer, "the registry has no record of the sender");
        if (sender->public_key.empty())
          return drop(peer, "the sender has no key at the registry");
        auto valid = (message.public_key.empty()
                      || message.public_key == sender->public_key)
                     && protocol::verify_handshake_signature(
                         message, sender->public_key, st.self_id);
        if (!valid && cached && !retried) {
          st.records.erase(peer);
          return authenticate(self, kind, std::move(message), true);
        }
        if (!valid)
          return drop(peer, "the signature does not verify against the key "
                            "the registry stores for the sender");
        if (!st.book.remember(message, wall_now(self)))
          return drop(peer, "the replay cache is full");
        dispatch(self, kind, std::move(message), std::move(*sender));
      });
}

void on_message(trust_pointer self, const protocol::address& remote,
                protocol::handshake_message message) {
  auto& st = self->state;
  if (st.self_id == 0)
    return drop(message.node_id, "the node is not registered yet");
  if (auto problem = st.book.check_fresh(message, wall_now(self));
      !problem.empty())
    return drop(message.node_id, problem);
  if (message.node_id != remote.node)
    return drop(message.node_id, "node_id differs from the connection's "
                                 "source node "
                                     + node_text(remote.node));
  auto kind = protocol::parse_handshake_kind(message.type);
  if (!kind) {
    log::debug(log_component, "unknown-type",
               "ignored a handshake message of unknown type",
               {{"node", node_text(message.node_id)},
                {"type", shorten_value(message.type)}});
    return;
  }
  authenticate(self, *kind, std::move(message));
}

void close_inbound(trust_pointer self, std::uint32_t conn) {
  auto& st = self->state;
  st.inbound.erase(conn);
  caf::anon_send(caf::actor_cast<caf::actor>(st.connections), close_atom_v,
                 service_client_id(handshake_port), conn);
}

void on_opened(trust_pointer self, const stream_opened& opened) {
  auto& st = self->state;
  if (st.inbound.size() >= st.options().max_inbound) {
    log::warn(log_component, "too-many-inbound",
              "closed a handshake connection because too many are being "
              "read",
              {{"remote", protocol::to_string(opened.remote)}});
    caf::anon_send(caf::actor_cast<caf::actor>(st.connections), close_atom_v,
                   service_client_id(handshake_port), opened.conn_id);
    return;
  }
  auto serial = st.next_serial++;
  st.inbound[opened.conn_id] = {opened.remote, {}, serial};
  self->delayed_send(self, st.options().receive_deadline, tick_atom_v,
                     opened.conn_id, serial);
}

void on_data(trust_pointer self, stream_data& data) {
  auto& st = self->state;
  if (data.consumed)
    data.consumed();
  auto i = st.inbound.find(data.conn_id);
  if (i == st.inbound.end())
    return;
  auto& read = i->second;
  if (read.buffer.size() + data.bytes.size() > st.options().max_message_size) {
    drop(read.remote.node, "the message exceeds "
                               + std::to_string(st.options().max_message_size)
                               + " bytes");
    return close_inbound(self, data.conn_id);
  }
  read.buffer += data.bytes;
  auto message = protocol::decode_handshake_message(read.buffer);
  // Invalid JSON may still be a message that is not complete yet.
  if (!message && message.error() == protocol::errc::malformed_json)
    return;
  auto remote = read.remote;
  close_inbound(self, data.conn_id);
  if (!message)
    return drop(remote.node, "the message has a field of the wrong type");
  on_message(self, remote, std::move(*message));
}

void on_closed(trust_pointer self, const stream_closed& closed) {
  auto& st = self->state;
  auto i = st.inbound.find(closed.conn_id);
  if (i == st.inbound.end())
    return;
  auto remote = i->second.remote;
  st.inbound.erase(i);
  drop(remote.node, "the connection ended before a complete JSON object");
}

void on_receive_deadline(trust_pointer self, std::uint32_t conn,
                         std::uint64_t serial) {
  auto& st = self->state;
  auto i = st.inbound.find(conn);
  if (i == st.inbound.end() || i->second.serial != serial)
    return;
  drop(i->second.remote.node, "no complete message within the deadline");
  close_inbound(self, conn);
}

// -- relayed mailbox ----------------------------------------------------------

void next_mailbox_item(trust_pointer self);

void handle_relayed_request(trust_pointer self,
                            protocol::handshake_request_entry entry) {
  auto peer = entry.from_node_id;
  fetch_record(self, peer, [self, entry](std::optional<peer_record> sender) {
    auto finish = [self, entry, sender](std::uint16_t network) {
      auto key = sender ? sender->public_key : std::string{};
      carry_out(self, self->state.book.on_request(
                          detail::handshake_source::relayed, entry.from_node_id,
                          key, entry.justification, network, wall_now(self)));
      self->state.mailbox_busy = false;
      next_mailbox_item(self);
    };
    if (!sender || !self->state.book.needs_network_check(entry.from_node_id))
      return finish(0);
    fetch_record(self, self->state.self_id,
                 [finish, sender](std::optional<peer_record> ours) {
                   finish(ours
                              ? shared_network(ours->networks, sender->networks)
                              : std::uint16_t{0});
                 });
  });
}

void handle_relayed_response(trust_pointer self,
                             protocol::handshake_response_entry entry) {
  auto peer = entry.from_node_id;
  if (!entry.accept) {
    carry_out(self, self->state.book.on_reject(peer, ""));
    self->state.mailbox_busy = false;
    return next_mailbox_item(self);
  }
  fetch_record(self, peer, [self, peer](std::optional<peer_record> sender) {
    auto key = sender ? sender->public_key : std::string{};
    carry_out(self,
              self->state.book.on_accept(detail::handshake_source::relayed,
                                         peer, key, wall_now(self)));
    self->state.mailbox_busy = false;
    next_mailbox_item(self);
  });
}

// Handles relayed items one at a time, so that their registry lookups do
// not crowd out other registry requests.
void next_mailbox_item(trust_pointer self) {
  auto& st = self->state;
  if (st.mailbox_busy || st.mailbox.empty())
    return;
  auto item = std::move(st.mailbox.front());
  st.mailbox.pop_front();
  st.mailbox_busy = true;
  if (auto* request = std::get_if<protocol::handshake_request_entry>(&item))
    handle_relayed_request(self, std::move(*request));
  else
    handle_relayed_response(
        self, std::get<protocol::handshake_response_entry>(std::move(item)));
}

void on_mailbox(trust_pointer self, protocol::poll_handshakes_response& box) {
  auto& st = self->state;
  auto dropped = std::size_t{0};
  auto add = [&](mailbox_item item) {
    if (st.mailbox.size() >= st.options().max_mailbox_items) {
      ++dropped;
      return;
    }
    st.mailbox.push_back(std::move(item));
  };
  for (auto& request : box.requests)
    add(std::move(request));
  for (auto& response : box.responses)
    add(response);
  if (dropped > 0)
    log::warn(log_component, "mailbox-full",
              "dropped relayed trust items because too many are waiting",
              {{"dropped", std::to_string(dropped)}});
  next_mailbox_item(self);
}

// -- local operations ---------------------------------------------------------

caf::result<std::string> fail_operation(std::string text) {
  return make_error(errc::invalid_argument, std::move(text));
}

caf::result<std::string> send_request(trust_pointer self, std::uint32_t peer,
                                      std::string justification) {
  auto& st = self->state;
  if (st.self_id == 0)
    return make_error(errc::not_registered, "the node is not registered yet");
  // A peer reads only the first 4096 bytes, so reject what would not fit.
  auto encoded = encode_outbound(self, protocol::handshake_kind::request, peer,
                                 justification);
  if (!encoded)
    return encoded.error();
  if (encoded->size() > protocol::max_handshake_message_size)
    return fail_operation(
        "the justification is too long (" + std::to_string(justification.size())
        + " bytes): shorten it so that the whole message fits in "
        + std::to_string(protocol::max_handshake_message_size) + " bytes");
  auto actions = st.book.send_request(st.self_id, peer,
                                      std::move(justification), wall_now(self));
  if (!actions.error.empty())
    return fail_operation(std::move(actions.error));
  // The reply waits for the message to reach the peer or its mailbox, so
  // that the user learns when neither worked.
  auto promise = self->make_response_promise<std::string>();
  auto sends
      = std::count_if(actions.messages.begin(), actions.messages.end(),
                      [](const auto& out) { return out.relay_on_failure; });
  if (sends == 0)
    promise.deliver(status_json(peer, "sent"));
  carry_out(self, std::move(actions),
            [promise, peer](const std::string& failure) mutable {
              if (failure.empty())
                promise.deliver(status_json(peer, "sent"));
              else
                promise.deliver(
                    make_error(errc::registry_unavailable, failure));
            });
  return promise;
}

// Carries out a local operation of the book and returns its status JSON.
caf::result<std::string> local_operation(trust_pointer self,
                                         detail::trust_actions actions,
                                         std::uint32_t peer,
                                         std::string_view status) {
  if (!actions.error.empty())
    return fail_operation(std::move(actions.error));
  log::info(log_component, "trust-changed", "a local trust operation ran",
            {{"peer", node_text(peer)}, {"operation", std::string{status}}});
  carry_out(self, std::move(actions));
  return status_json(peer, status);
}

void on_registration(trust_pointer self, const node_info& info) {
  auto& st = self->state;
  if (!info.registered || info.node_id == 0)
    return;
  if (st.self_id != 0 && st.self_id != info.node_id)
    log::warn(
        log_component, "node-id-changed",
        "the registry gave this node a new ID, and trust stays as it was",
        {{"old", node_text(st.self_id)}, {"new", node_text(info.node_id)}});
  st.self_id = info.node_id;
  report_all(self);
}

void start(trust_pointer self) {
  auto& st = self->state;
  open_service_port(self, st.connections, handshake_port,
                    st.options().registry_deadline)
      .then(
          [](std::uint16_t) {
            log::info(log_component, "listening",
                      "the trust handshake listens on port 444");
          },
          [](const caf::error& err) {
            log::warn(log_component, "bind-failed",
                      "the trust handshake does not listen on port 444, but "
                      "local trust operations still work",
                      {{"error", error_text(err)}});
          });
}

trust_impl_actor::behavior_type
trust_behavior(trust_pointer self, trust_options options,
               connection_actor connections, node_directory_actor directory,
               trust_registry_actor registry, peer_reset_actor tunnel,
               event_sink_actor events) {
  auto& st = self->state;
  st.book = detail::trust_book{options.limits};
  st.settings.emplace(std::move(options));
  st.connections = std::move(connections);
  st.directory = std::move(directory);
  st.registry = std::move(registry);
  st.tunnel = std::move(tunnel);
  st.events = std::move(events);
  load(self);
  start(self);
  return {
      [self](stream_opened& opened) { on_opened(self, opened); },
      [self](stream_data& data) { on_data(self, data); },
      [self](stream_closed& closed) { on_closed(self, closed); },
      [self](handshake_atom, std::uint32_t peer, std::string& justification) {
        return send_request(self, peer, std::move(justification));
      },
      [self](approve_atom, std::uint32_t peer) {
        return local_operation(self,
                               self->state.book.approve(peer, wall_now(self)),
                               peer, "approved");
      },
      [self](reject_atom, std::uint32_t peer, std::string& reason) {
        return local_operation(self,
                               self->state.book.reject(peer, std::move(reason)),
                               peer, "rejected");
      },
      [self](revoke_atom, std::uint32_t peer) {
        return local_operation(self, self->state.book.revoke(peer), peer,
                               "revoked");
      },
      [self](pending_atom) {
        return detail::to_pending_json(self->state.book.records());
      },
      [self](trusted_atom) {
        return detail::to_trusted_json(self->state.book.records());
      },
      [self](protocol::poll_handshakes_response& box) {
        on_mailbox(self, box);
      },
      [self](node_info& info) { on_registration(self, info); },
      [self](tick_atom, std::uint32_t conn, std::uint64_t serial) {
        on_receive_deadline(self, conn, serial);
      },
      [self](forget_peer_atom, std::uint32_t peer) {
        if (self->state.tunnel)
          caf::anon_send(self->state.tunnel, forget_peer_atom_v, peer);
      },
  };
}

} // namespace

trust_actor spawn_trust(caf::actor_system& sys, trust_options options,
                        connection_actor connections,
                        node_directory_actor directory,
                        trust_registry_actor registry, peer_reset_actor tunnel,
                        event_sink_actor events) {
  return sys.spawn(trust_behavior, std::move(options), std::move(connections),
                   std::move(directory), std::move(registry), std::move(tunnel),
                   std::move(events));
}

} // namespace pilot::actors
