#include "actors/registry_actor.hpp"

#include "actors/error.hpp"
#include "protocol/identity.hpp"
#include "protocol/registry_message.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/protocol/rfc8032_key.hpp"

#include <doctest/doctest.h>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using namespace pilot::actors;
using pilot::test::rfc8032_identity;
using pilot::test::rfc8032_public_key;
namespace protocol = pilot::protocol;

namespace {

/// One request that the registry actor handed to its transport.
struct sent_request {
  std::uint64_t id = 0;
  std::string body;
  std::chrono::milliseconds deadline{0};
};

/// Plays the registry: records each request, and the test responds to them.
class scripted_transport : public registry_transport {
public:
  explicit scripted_transport(registry_reply_sink sink)
      : sink_(std::move(sink)) {}

  void send(std::uint64_t request_id, std::string body,
            std::chrono::milliseconds deadline) override {
    requests.push_back({request_id, std::move(body), deadline});
  }

  void close() override { closed = true; }

  void respond(std::uint64_t request_id, std::string body) {
    caf::anon_send(sink_, registry_reply{request_id, std::move(body), {}});
  }

  void fail(std::uint64_t request_id, std::string error) {
    caf::anon_send(sink_,
                   registry_reply{request_id, {}, std::move(error), false});
  }

  // Fails a request the way a transport fails one it could not send.
  void fail_unsent(std::uint64_t request_id, std::string error) {
    registry_reply reply{request_id, {}, std::move(error), false};
    reply.unsent = true;
    caf::anon_send(sink_, std::move(reply));
  }

  std::vector<sent_request> requests;
  bool closed = false;

private:
  registry_reply_sink sink_;
};

/// What the registry actor sent to its event sink, in order.
struct sink_record {
  std::optional<std::uint32_t> node_id;
  std::optional<protocol::event> event;
};

using record_list = std::shared_ptr<std::vector<sink_record>>;

event_sink_actor::behavior_type recording_sink(record_list records) {
  return {
      [records](protocol::event& event) {
        records->push_back({std::nullopt, std::move(event)});
      },
      [records](node_id_atom, std::uint32_t id) {
        records->push_back({id, std::nullopt});
      },
  };
}

/// The response to one request made from a test, once it arrived.
template <class T>
using answer_slot = std::shared_ptr<std::optional<caf::expected<T>>>;

struct fixture : pilot::test::deterministic_system {
  fixture() { sink = sys.spawn(recording_sink, records); }

  ~fixture() {
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    if (registry)
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
  }

  registry_actor_options make_options() {
    registry_actor_options options{rfc8032_identity()};
    options.registry_address = "127.0.0.1:9000";
    options.endpoint = "127.0.0.1:4000";
    options.owner = "ops@example.com";
    options.status_listener = [this](const std::string& status) {
      statuses.push_back(status);
    };
    options.registration_listener = [this](const node_info& info) {
      registrations.push_back(info);
    };
    return options;
  }

  void start(registry_actor_options options) {
    registry = spawn_registry_actor(
        sys, std::move(options), sink, [this](registry_reply_sink reply_sink) {
          auto t = std::make_shared<scripted_transport>(reply_sink);
          transport = t;
          return t;
        });
    sched.run();
    REQUIRE(transport != nullptr);
  }

  /// Sends a request to the registry actor from a helper actor and returns
  /// the slot where its response lands once the scheduler ran.
  template <class T, class... Ts>
  answer_slot<T> ask(Ts... xs) {
    auto slot = std::make_shared<std::optional<caf::expected<T>>>();
    sys.spawn([slot, target = registry, xs...](caf::event_based_actor* self) {
      self->request(target, caf::infinite, xs...)
          .then([slot](T& value) { *slot = std::move(value); },
                [slot](caf::error& err) {
                  *slot = caf::expected<T>{std::move(err)};
                });
    });
    sched.run();
    return slot;
  }

  const sent_request& last_request() {
    REQUIRE_FALSE(transport->requests.empty());
    return transport->requests.back();
  }

  template <class Request>
  Request decode_last() {
    auto request = protocol::decode_registry_request(last_request().body);
    REQUIRE(request.has_value());
    auto typed = std::get_if<Request>(&*request);
    REQUIRE(typed != nullptr);
    return *typed;
  }

  void respond_last(std::string body) {
    transport->respond(last_request().id, std::move(body));
    sched.run();
  }

  void fail_last(std::string error) {
    transport->fail(last_request().id, std::move(error));
    sched.run();
  }

  /// Completes the first registration with node ID `node_id`.
  void register_as(std::uint32_t node_id, std::string address) {
    protocol::register_response response;
    response.node_id = node_id;
    response.address = std::move(address);
    response.public_key = std::string{rfc8032_public_key};
    respond_last(protocol::encode_registry_message(response));
  }

  /// Fires the heartbeat timer once.
  void tick() {
    sched.trigger_timeouts();
    sched.run();
  }

  record_list records = std::make_shared<std::vector<sink_record>>();
  event_sink_actor sink;
  registry_client_actor registry;
  std::shared_ptr<scripted_transport> transport;
  std::vector<std::string> statuses;
  std::vector<node_info> registrations;
};

bool signed_by_test_key(std::string_view challenge,
                        std::string_view signature) {
  return protocol::verify_base64(rfc8032_public_key, challenge, signature);
}

} // namespace

TEST_CASE_FIXTURE(fixture, "registry actor registers with its key") {
  start(make_options());
  REQUIRE(transport->requests.size() == 1);
  auto request = decode_last<protocol::register_request>();
  CHECK(request.listen_addr == "127.0.0.1:4000");
  CHECK(request.public_key == rfc8032_public_key);
  CHECK(request.owner == "ops@example.com");
  CHECK(last_request().deadline == 10s);
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0] == "registering with 127.0.0.1:9000");
}

TEST_CASE_FIXTURE(fixture, "registration sends node ID then node.registered") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  REQUIRE(records->size() == 2);
  REQUIRE((*records)[0].node_id.has_value());
  CHECK(*(*records)[0].node_id == 5);
  REQUIRE((*records)[1].event.has_value());
  auto registered
      = std::get_if<protocol::node_registered>(&*(*records)[1].event);
  REQUIRE(registered != nullptr);
  CHECK(registered->address == "0:0000.0000.0005");
  CHECK(registered->endpoint == "127.0.0.1:4000");
  CHECK(statuses.back() == "registered as 0:0000.0000.0005");
  auto info = ask<node_info>(info_atom_v);
  REQUIRE(info->has_value());
  REQUIRE((*info)->engaged());
  CHECK((**info)->registered);
  CHECK((**info)->node_id == 5);
  CHECK((**info)->address == "0:0000.0000.0005");
  CHECK((**info)->public_key == rfc8032_public_key);
}

TEST_CASE_FIXTURE(fixture, "registration sets visibility and hostname") {
  auto options = make_options();
  options.is_public = true;
  options.hostname = "web";
  start(std::move(options));
  register_as(5, "0:0000.0000.0005");
  REQUIRE(transport->requests.size() == 3);
  auto visibility
      = protocol::decode_registry_message<protocol::set_visibility_request>(
          transport->requests[1].body);
  REQUIRE(visibility.has_value());
  CHECK(visibility->node_id == 5);
  CHECK(visibility->is_public);
  CHECK(signed_by_test_key("set_visibility:5", visibility->signature));
  auto hostname
      = protocol::decode_registry_message<protocol::set_hostname_request>(
          transport->requests[2].body);
  REQUIRE(hostname.has_value());
  CHECK(hostname->node_id == 5);
  CHECK(hostname->hostname == "web");
  CHECK(signed_by_test_key("set_hostname:5", hostname->signature));
}

TEST_CASE_FIXTURE(fixture, "failed registration is retried") {
  start(make_options());
  fail_last("cannot connect to registry 127.0.0.1:9000: Connection refused");
  CHECK(records->empty());
  CHECK(statuses.back()
        == "registration with 127.0.0.1:9000 failed, retrying: register: "
           "cannot connect to registry 127.0.0.1:9000: Connection refused");
  tick();
  REQUIRE(transport->requests.size() == 2);
  respond_last(std::string{protocol::generic_error_body});
  CHECK(records->empty());
  tick();
  REQUIRE(transport->requests.size() == 3);
  decode_last<protocol::register_request>();
  register_as(7, "0:0000.0000.0007");
  REQUIRE(records->size() == 2);
  CHECK(
      std::holds_alternative<protocol::node_registered>(*(*records)[1].event));
}

TEST_CASE_FIXTURE(fixture, "registered request waits for registration") {
  start(make_options());
  auto waiter = ask<node_info>(registered_atom_v);
  CHECK_FALSE(waiter->has_value());
  register_as(5, "0:0000.0000.0005");
  REQUIRE(waiter->has_value());
  REQUIRE((*waiter)->engaged());
  CHECK((**waiter)->node_id == 5);
}

TEST_CASE_FIXTURE(fixture, "heartbeats are signed") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  tick();
  auto heartbeat = decode_last<protocol::heartbeat_request>();
  CHECK(heartbeat.node_id == 5);
  CHECK(signed_by_test_key("heartbeat:5", heartbeat.signature));
}

TEST_CASE_FIXTURE(fixture, "three heartbeat failures re-register") {
  auto options = make_options();
  options.is_public = true;
  options.hostname = "web";
  start(std::move(options));
  register_as(5, "0:0000.0000.0005");
  respond_last(R"({"type":"set_hostname_ok","node_id":5,"hostname":"web"})");
  for (int i = 0; i < 3; ++i) {
    tick();
    decode_last<protocol::heartbeat_request>();
    respond_last(std::string{protocol::generic_error_body});
  }
  auto reregister = decode_last<protocol::register_request>();
  CHECK(reregister.public_key == rfc8032_public_key);
  CHECK(reregister.listen_addr == "127.0.0.1:4000");
  records->clear();
  auto requests_before = transport->requests.size();
  register_as(9, "0:0000.0000.0009");
  // The sink learns the new node ID before the event that carries it.
  REQUIRE(records->size() == 2);
  REQUIRE((*records)[0].node_id.has_value());
  CHECK(*(*records)[0].node_id == 9);
  REQUIRE((*records)[1].event.has_value());
  auto reregistered
      = std::get_if<protocol::node_reregistered>(&*(*records)[1].event);
  REQUIRE(reregistered != nullptr);
  CHECK(reregistered->address == "0:0000.0000.0009");
  // The listener hears of the first registration and of this one.
  REQUIRE(registrations.size() == 2);
  CHECK(registrations[0].node_id == 5);
  CHECK(registrations[1].node_id == 9);
  CHECK(registrations[1].address == "0:0000.0000.0009");
  // Visibility and hostname are applied again under the new ID.
  REQUIRE(transport->requests.size() == requests_before + 2);
  auto visibility
      = protocol::decode_registry_message<protocol::set_visibility_request>(
          transport->requests[requests_before].body);
  REQUIRE(visibility.has_value());
  CHECK(visibility->node_id == 9);
  CHECK(visibility->is_public);
  CHECK(signed_by_test_key("set_visibility:9", visibility->signature));
  auto hostname
      = protocol::decode_registry_message<protocol::set_hostname_request>(
          transport->requests[requests_before + 1].body);
  REQUIRE(hostname.has_value());
  CHECK(hostname->node_id == 9);
  CHECK(hostname->hostname == "web");
  CHECK(signed_by_test_key("set_hostname:9", hostname->signature));
}

TEST_CASE_FIXTURE(fixture, "re-registration with the same ID keeps it") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  for (int i = 0; i < 3; ++i) {
    tick();
    fail_last("registry 127.0.0.1:9000 did not respond within 10s");
  }
  decode_last<protocol::register_request>();
  records->clear();
  register_as(5, "0:0000.0000.0005");
  // No new node ID to announce, but the event fires all the same.
  REQUIRE(records->size() == 1);
  REQUIRE((*records)[0].event.has_value());
  CHECK(std::holds_alternative<protocol::node_reregistered>(
      *(*records)[0].event));
}

TEST_CASE_FIXTURE(fixture, "a heartbeat success resets the failure count") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto fail_heartbeat = [this] {
    tick();
    decode_last<protocol::heartbeat_request>();
    respond_last(std::string{protocol::generic_error_body});
  };
  fail_heartbeat();
  fail_heartbeat();
  tick();
  respond_last(R"({"time":1700000000,"type":"heartbeat_ok"})");
  fail_heartbeat();
  fail_heartbeat();
  tick();
  // Two failures since the success: still heartbeating, not registering.
  decode_last<protocol::heartbeat_request>();
}

TEST_CASE_FIXTURE(fixture, "stop raises node.deregistered, then deregisters") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  records->clear();
  auto stopped = ask<bool>(stop_atom_v);
  REQUIRE(records->size() == 1);
  REQUIRE((*records)[0].event.has_value());
  CHECK(std::holds_alternative<protocol::node_deregistered>(
      *(*records)[0].event));
  auto deregister = decode_last<protocol::deregister_request>();
  CHECK(deregister.node_id == 5);
  CHECK(signed_by_test_key("deregister:5", deregister.signature));
  CHECK(last_request().deadline == 2s);
  CHECK_FALSE(stopped->has_value());
  respond_last(R"({"type":"deregister_ok"})");
  REQUIRE(stopped->has_value());
  REQUIRE((*stopped)->engaged());
  CHECK(***stopped);
  CHECK(transport->closed);
}

TEST_CASE_FIXTURE(fixture, "stop completes when deregister fails") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto stopped = ask<bool>(stop_atom_v);
  fail_last("registry 127.0.0.1:9000 did not respond within 2s");
  REQUIRE(stopped->has_value());
  REQUIRE((*stopped)->engaged());
  CHECK(***stopped);
}

TEST_CASE_FIXTURE(fixture, "stop before registration sends nothing") {
  start(make_options());
  auto stopped = ask<bool>(stop_atom_v);
  REQUIRE(stopped->has_value());
  REQUIRE((*stopped)->engaged());
  CHECK(***stopped);
  CHECK(records->empty());
  CHECK(transport->requests.size() == 1);
}

TEST_CASE_FIXTURE(fixture, "requests before registration fail at once") {
  start(make_options());
  auto hostname = ask<std::string>(hostname_atom_v, std::string{"web"});
  REQUIRE(hostname->has_value());
  REQUIRE_FALSE((*hostname)->engaged());
  CHECK((*hostname)->error().code()
        == static_cast<uint8_t>(errc::not_registered));
  CHECK(error_text((*hostname)->error())
        == "set_hostname: not registered yet; still registering with "
           "127.0.0.1:9000");
  auto visibility = ask<std::string>(visibility_atom_v, true);
  REQUIRE(visibility->has_value());
  CHECK_FALSE((*visibility)->engaged());
  // Only the registration went out.
  CHECK(transport->requests.size() == 1);
}

TEST_CASE_FIXTURE(fixture, "requests fail at once while unreachable") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  tick();
  fail_last("cannot connect to registry 127.0.0.1:9000: Connection refused");
  auto requests_before = transport->requests.size();
  auto found = ask<std::string>(find_atom_v, std::string{"web"});
  REQUIRE(found->has_value());
  REQUIRE_FALSE((*found)->engaged());
  CHECK(error_text((*found)->error())
        == "resolve_hostname: registry 127.0.0.1:9000 is unreachable "
           "(cannot connect to registry 127.0.0.1:9000: Connection "
           "refused); the daemon keeps retrying");
  CHECK(transport->requests.size() == requests_before);
  // The next heartbeat that gets through makes the registry usable again.
  tick();
  respond_last(R"({"time":1700000000,"type":"heartbeat_ok"})");
  ask<std::string>(find_atom_v, std::string{"web"});
  CHECK(transport->requests.size() == requests_before + 2);
  decode_last<protocol::resolve_hostname_request>();
}

TEST_CASE_FIXTURE(fixture, "hostname requests pass the registry JSON through") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto answer = ask<std::string>(hostname_atom_v, std::string{"web"});
  auto request = decode_last<protocol::set_hostname_request>();
  CHECK(request.hostname == "web");
  CHECK(signed_by_test_key("set_hostname:5", request.signature));
  std::string body
      = R"({"hostname":"web","node_id":5,"type":"set_hostname_ok"})";
  respond_last(body);
  REQUIRE(answer->has_value());
  REQUIRE((*answer)->engaged());
  CHECK(***answer == body);
  auto info = ask<node_info>(info_atom_v);
  REQUIRE(info->has_value());
  REQUIRE((*info)->engaged());
  CHECK((**info)->hostname == "web");
}

TEST_CASE_FIXTURE(fixture, "a rejected hostname names the likely cause") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto answer = ask<std::string>(hostname_atom_v, std::string{"web"});
  respond_last(std::string{protocol::generic_error_body});
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::registry_rejected));
  CHECK(error_text((*answer)->error())
        == "set_hostname: the registry rejected \"web\"; another node "
           "probably holds it");
}

TEST_CASE_FIXTURE(fixture, "invalid hostnames are rejected locally") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto requests_before = transport->requests.size();
  auto upper = ask<std::string>(hostname_atom_v, std::string{"Web"});
  REQUIRE(upper->has_value());
  REQUIRE_FALSE((*upper)->engaged());
  CHECK(error_text((*upper)->error())
        == "set_hostname: invalid hostname \"Web\": hostname must be "
           "lowercase letters, digits and hyphens, starting and ending with "
           "a letter or digit");
  auto reserved = ask<std::string>(hostname_atom_v, std::string{"localhost"});
  REQUIRE(reserved->has_value());
  REQUIRE_FALSE((*reserved)->engaged());
  CHECK(error_text((*reserved)->error())
        == "set_hostname: invalid hostname \"localhost\": hostname is "
           "reserved");
  CHECK(transport->requests.size() == requests_before);
}

TEST_CASE_FIXTURE(fixture, "more than three tags are rejected") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto answer = ask<std::string>(tags_atom_v,
                                 std::vector<std::string>{"a", "b", "c", "d"});
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::invalid_argument));
  CHECK(error_text((*answer)->error()) == "set_tags: maximum 3 tags allowed");
}

TEST_CASE_FIXTURE(fixture, "tags lose one leading hash sign") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto answer
      = ask<std::string>(tags_atom_v, std::vector<std::string>{"#gpu", "llm"});
  auto request = decode_last<protocol::set_tags_request>();
  CHECK(request.tags == std::vector<std::string>{"gpu", "llm"});
  CHECK(signed_by_test_key("set_tags:5", request.signature));
}

TEST_CASE_FIXTURE(fixture, "a missing response times out with its own code") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto answer = ask<std::string>(visibility_atom_v, false);
  caf::anon_send(caf::actor_cast<registry_reply_sink>(registry),
                 registry_reply{last_request().id,
                                {},
                                "registry 127.0.0.1:9000 did not respond "
                                "within 10s",
                                true});
  sched.run();
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code() == static_cast<uint8_t>(errc::timeout));
  CHECK(error_text((*answer)->error())
        == "set_visibility: registry 127.0.0.1:9000 did not respond within "
           "10s");
}

TEST_CASE_FIXTURE(fixture, "deregister on request raises node.deregistered") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  records->clear();
  auto answer = ask<std::string>(deregister_atom_v);
  auto request = decode_last<protocol::deregister_request>();
  CHECK(signed_by_test_key("deregister:5", request.signature));
  respond_last(R"({"type":"deregister_ok"})");
  REQUIRE(answer->has_value());
  REQUIRE((*answer)->engaged());
  CHECK(***answer == R"({"type":"deregister_ok"})");
  REQUIRE(records->size() == 1);
  CHECK(std::holds_alternative<protocol::node_deregistered>(
      *(*records)[0].event));
  auto info = ask<node_info>(info_atom_v);
  REQUIRE((*info)->engaged());
  CHECK_FALSE((**info)->registered);
  // Stopping after that sends nothing more.
  auto requests_before = transport->requests.size();
  auto stopped = ask<bool>(stop_atom_v);
  REQUIRE((*stopped)->engaged());
  CHECK(transport->requests.size() == requests_before);
  CHECK(records->size() == 1);
}

TEST_CASE_FIXTURE(fixture, "invalid tags are rejected locally") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto requests_before = transport->requests.size();
  auto answer = ask<std::string>(tags_atom_v,
                                 std::vector<std::string>{"gpu", "Bad Tag"});
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::invalid_argument));
  CHECK(error_text((*answer)->error())
            .starts_with("set_tags: invalid tag \"Bad Tag\": "));
  CHECK(transport->requests.size() == requests_before);
}

TEST_CASE_FIXTURE(fixture, "a huge hostname gets a short error") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto requests_before = transport->requests.size();
  std::string huge((1 << 20) - 64, 'h');
  auto answer = ask<std::string>(hostname_atom_v, huge);
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::invalid_argument));
  auto text = error_text((*answer)->error());
  CHECK(text
        == "set_hostname: invalid hostname \"" + std::string(64, 'h')
               + "\"... (1048512 bytes): hostname longer than 63 characters");
  CHECK(transport->requests.size() == requests_before);
}

TEST_CASE_FIXTURE(fixture, "a huge tag gets a short error") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto requests_before = transport->requests.size();
  std::vector<std::string> tags{"gpu", std::string((1 << 20) - 64, 't')};
  auto answer = ask<std::string>(tags_atom_v, tags);
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  auto text = error_text((*answer)->error());
  CHECK(text.starts_with("set_tags: invalid tag \"" + std::string(64, 't')
                         + "\"... (1048512 bytes): "));
  CHECK(text.size() < 256);
  CHECK(transport->requests.size() == requests_before);
}

TEST_CASE_FIXTURE(fixture, "a huge lookup is rejected before sending") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto requests_before = transport->requests.size();
  auto answer = ask<std::string>(find_atom_v, std::string((1 << 20) - 16, 'h'));
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::invalid_argument));
  auto text = error_text((*answer)->error());
  CHECK(text.starts_with("resolve_hostname: invalid hostname \"hhh"));
  CHECK(text.size() < 256);
  CHECK(transport->requests.size() == requests_before);
}

TEST_CASE_FIXTURE(fixture, "a rejected lookup quotes the hostname") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto answer = ask<std::string>(find_atom_v, std::string{"web"});
  respond_last(std::string{protocol::generic_error_body});
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK(error_text((*answer)->error())
        == "resolve_hostname: no node has the hostname \"web\"");
}

TEST_CASE_FIXTURE(fixture, "an unsent request fails only itself") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto found = ask<std::string>(find_atom_v, std::string{"web"});
  transport->fail_unsent(last_request().id,
                         "registry request too large (1048600 bytes, "
                         "maximum 1048576)");
  sched.run();
  REQUIRE(found->has_value());
  REQUIRE_FALSE((*found)->engaged());
  CHECK((*found)->error().code()
        == static_cast<uint8_t>(errc::registry_unavailable));
  // The registry was not asked, so it still counts as reachable.
  auto requests_before = transport->requests.size();
  auto hostname = ask<std::string>(hostname_atom_v, std::string{"web"});
  REQUIRE(transport->requests.size() == requests_before + 1);
  decode_last<protocol::set_hostname_request>();
  respond_last(R"({"hostname":"web","node_id":5,"type":"set_hostname_ok"})");
  REQUIRE(hostname->has_value());
  CHECK((*hostname)->engaged());
}

TEST_CASE_FIXTURE(fixture, "an oversized passed-through response fails") {
  start(make_options());
  register_as(5, "0:0000.0000.0005");
  auto found = ask<std::string>(find_atom_v, std::string{"web"});
  respond_last(R"({"type":"resolve_hostname_ok","pad":")"
               + std::string(70 * 1024, 'x') + "\"}");
  REQUIRE(found->has_value());
  REQUIRE_FALSE((*found)->engaged());
  CHECK((*found)->error().code()
        == static_cast<uint8_t>(errc::malformed_reply));
  CHECK(error_text((*found)->error())
            .starts_with("resolve_hostname: the registry's response is too "
                         "large"));
}

TEST_CASE_FIXTURE(fixture, "a forged address fails the registration") {
  start(make_options());
  auto forged
      = {std::string{"0:0000.0000.0007\n"} + std::string(5000, 'A'),
         std::string{"0:0000.0000.0008"}, std::string{"1:0001.0000.0007"},
         std::string{"not an address"}};
  for (const auto& address : forged) {
    auto prefix = address.substr(0, 20);
    CAPTURE(prefix);
    auto requests_before = transport->requests.size();
    register_as(7, address);
    CHECK(records->empty());
    auto info = ask<node_info>(info_atom_v);
    REQUIRE((*info)->engaged());
    CHECK_FALSE((**info)->registered);
    CHECK((**info)->address == "");
    CHECK((**info)->registry_error.starts_with("register: the response's "
                                               "address \""));
    CHECK((**info)->registry_error.size() < 256);
    CHECK(statuses.back().size() < 512);
    // The attempt counts as failed, so the actor tries again.
    tick();
    CHECK(transport->requests.size() == requests_before + 1);
    decode_last<protocol::register_request>();
  }
  register_as(7, "0:0000.0000.0007");
  auto info = ask<node_info>(info_atom_v);
  REQUIRE((*info)->engaged());
  CHECK((**info)->registered);
  CHECK((**info)->address == "0:0000.0000.0007");
}

TEST_CASE_FIXTURE(fixture, "a lower-case address is stored upper-case") {
  start(make_options());
  register_as(0xABCD, "0:0000.0000.abcd");
  auto info = ask<node_info>(info_atom_v);
  REQUIRE((*info)->engaged());
  CHECK((**info)->registered);
  CHECK((**info)->address == "0:0000.0000.ABCD");
}

TEST_CASE_FIXTURE(fixture, "node info reports the registration state") {
  start(make_options());
  auto info = ask<node_info>(info_atom_v);
  REQUIRE((*info)->engaged());
  CHECK((**info)->registry == "127.0.0.1:9000");
  CHECK((**info)->registry_error == "");
  fail_last("cannot connect to registry 127.0.0.1:9000: Connection refused");
  info = ask<node_info>(info_atom_v);
  CHECK((**info)->registry_error
        == "register: cannot connect to registry 127.0.0.1:9000: "
           "Connection refused");
  tick();
  register_as(5, "0:0000.0000.0005");
  info = ask<node_info>(info_atom_v);
  CHECK((**info)->registry_error == "");
  tick();
  decode_last<protocol::heartbeat_request>();
  respond_last(std::string{protocol::generic_error_body});
  info = ask<node_info>(info_atom_v);
  CHECK((**info)->registry_error.starts_with("heartbeat: the registry "
                                             "rejected the heartbeat"));
  tick();
  respond_last(R"({"time":1700000000,"type":"heartbeat_ok"})");
  info = ask<node_info>(info_atom_v);
  CHECK((**info)->registry_error == "");
}

TEST_CASE_FIXTURE(fixture, "lookup passes the registry JSON through") {
  start(make_options());
  register_as(1, "0:0000.0000.0001");
  auto answer = ask<std::string>(lookup_atom_v, std::uint32_t{2});
  CHECK(last_request().body == R"({"node_id":2,"type":"lookup"})");
  std::string body
      = R"({"address":"0:0000.0000.0002","networks":[0],"node_id":2,)"
        R"("polo_score":0,"public":false,"public_key":")"
        + std::string{rfc8032_public_key} + R"(","type":"lookup_ok"})";
  respond_last(body);
  REQUIRE(answer->has_value());
  REQUIRE((*answer)->engaged());
  CHECK(***answer == body);
}

TEST_CASE_FIXTURE(fixture, "lookup works before registration") {
  start(make_options());
  ask<std::string>(lookup_atom_v, std::uint32_t{2});
  REQUIRE(transport->requests.size() == 2);
  decode_last<protocol::lookup_request>();
}

TEST_CASE_FIXTURE(fixture, "resolve is signed by this node") {
  start(make_options());
  register_as(1, "0:0000.0000.0001");
  auto answer = ask<std::string>(resolve_atom_v, std::uint32_t{2});
  // The registry frame R8 of the reference: node 1 resolves node 2.
  CHECK(last_request().body
        == R"({"node_id":2,"requester_id":1,"signature":")"
           R"(a782c6+50CLxw5CdBgYqTOdXCgBvP0bH1Pc1vA1BZE/zb4XhaloIU6GMcNtJ)"
           R"(VitQIMY57SgoK21CUKmjSAItAw==","type":"resolve"})");
  std::string body
      = R"({"node_id":2,"real_addr":"127.0.0.1:4001","type":"resolve_ok"})";
  respond_last(body);
  REQUIRE(answer->has_value());
  REQUIRE((*answer)->engaged());
  CHECK(***answer == body);
}

TEST_CASE_FIXTURE(fixture, "a rejected resolve names the node") {
  start(make_options());
  register_as(1, "0:0000.0000.0001");
  auto answer = ask<std::string>(resolve_atom_v, std::uint32_t{2});
  respond_last(std::string{protocol::generic_error_body});
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::registry_rejected));
  CHECK(error_text((*answer)->error())
        == "resolve node 2: the registry rejected the request: node 2 does "
           "not exist, or it is private and has no trust pair with this "
           "node");
}

TEST_CASE_FIXTURE(fixture, "resolve before registration fails at once") {
  start(make_options());
  auto answer = ask<std::string>(resolve_atom_v, std::uint32_t{2});
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK((*answer)->error().code()
        == static_cast<uint8_t>(errc::not_registered));
  CHECK(error_text((*answer)->error())
        == "resolve node 2: not registered yet; still registering with "
           "127.0.0.1:9000");
  CHECK(transport->requests.size() == 1);
}

TEST_CASE_FIXTURE(fixture, "report_trust is signed for the pair") {
  start(make_options());
  register_as(1, "0:0000.0000.0001");
  auto answer = ask<std::string>(report_trust_atom_v, std::uint32_t{2});
  auto request = decode_last<protocol::report_trust_request>();
  CHECK(request.node_id == 1);
  CHECK(request.peer_id == 2);
  CHECK(request.signature
        == "suyxylsOLhA8QtW5asqmG+Xl+IbllzPaK2XqCMA7Zu2mt+ZdBePC1ABHLQvy1m4LwI"
           "HG20TnShT8xainjSdjCw==");
  respond_last(R"({"type":"report_trust_ok"})");
  REQUIRE(answer->has_value());
  CHECK(***answer == R"({"type":"report_trust_ok"})");
}

TEST_CASE_FIXTURE(fixture, "a refused trust request passes the registry's "
                           "reason on") {
  start(make_options());
  register_as(1, "0:0000.0000.0001");
  auto answer = ask<std::string>(relay_request_atom_v, std::uint32_t{2},
                                 std::string{"why"});
  auto request = decode_last<protocol::request_handshake_request>();
  CHECK(request.from_node_id == 1);
  CHECK(request.to_node_id == 2);
  CHECK(request.justification == "why");
  CHECK(signed_by_test_key("handshake:1:2", request.signature));
  respond_last(
      R"({"error":"handshake request already pending from node 1","type":"error"})");
  REQUIRE(answer->has_value());
  REQUIRE_FALSE((*answer)->engaged());
  CHECK(error_text((*answer)->error())
        == "handshake relay: the registry rejected the request: handshake "
           "request already pending from node 1");
}

TEST_CASE_FIXTURE(fixture, "respond_handshake and revoke_trust are signed") {
  start(make_options());
  register_as(2, "0:0000.0000.0002");
  ask<std::string>(relay_response_atom_v, std::uint32_t{1}, true);
  auto response = decode_last<protocol::respond_handshake_request>();
  CHECK(response.node_id == 2);
  CHECK(response.peer_id == 1);
  CHECK(response.accept);
  CHECK(signed_by_test_key("respond:2:1", response.signature));
  ask<std::string>(revoke_trust_atom_v, std::uint32_t{1});
  auto revoke = decode_last<protocol::revoke_trust_request>();
  CHECK(signed_by_test_key("revoke_trust:2:1", revoke.signature));
}

TEST_CASE_FIXTURE(fixture, "the mailbox is polled after a good heartbeat") {
  std::vector<protocol::poll_handshakes_response> polled;
  auto options = make_options();
  options.handshake_listener
      = [&polled](protocol::poll_handshakes_response mailbox) {
          polled.push_back(std::move(mailbox));
        };
  start(std::move(options));
  register_as(1, "0:0000.0000.0001");
  tick();
  decode_last<protocol::heartbeat_request>();
  respond_last(R"({"time":1767225600,"type":"heartbeat_ok"})");
  auto poll = decode_last<protocol::poll_handshakes_request>();
  CHECK(signed_by_test_key("poll_handshakes:1", poll.signature));
  respond_last(
      R"({"requests":[{"from_node_id":7,"justification":"hi",)"
      R"("timestamp":5}],"responses":[],"type":"poll_handshakes_ok"})");
  REQUIRE(polled.size() == 1);
  REQUIRE(polled[0].requests.size() == 1);
  CHECK(polled[0].requests[0].from_node_id == 7);
  CHECK(polled[0].requests[0].justification == "hi");
  // An empty mailbox is not handed on.
  tick();
  respond_last(R"({"time":1767225630,"type":"heartbeat_ok"})");
  respond_last(R"({"requests":[],"responses":[],"type":"poll_handshakes_ok"})");
  CHECK(polled.size() == 1);
}

TEST_CASE_FIXTURE(fixture, "a failed heartbeat polls nothing") {
  std::size_t polls = 0;
  auto options = make_options();
  options.handshake_listener = [&polls](protocol::poll_handshakes_response) {
    ++polls;
  };
  start(std::move(options));
  register_as(1, "0:0000.0000.0001");
  tick();
  auto sent = transport->requests.size();
  fail_last("connection refused");
  CHECK(transport->requests.size() == sent);
  CHECK(polls == 0);
}
