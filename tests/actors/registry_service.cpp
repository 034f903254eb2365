#include "actors/registry_service.hpp"

#include "actors/detail/registry_rules.hpp"
#include "actors/detail/registry_store.hpp"
#include "protocol/base64.hpp"
#include "protocol/identity.hpp"
#include "tests/protocol/rfc8032_key.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace pilot;
using namespace std::chrono_literals;
using actors::registry_service;
using actors::source_info;
// The key of the golden frames.
using test::rfc8032_identity;

namespace {

constexpr std::string_view error_frame = protocol::generic_error_body;

// 2026-01-01T00:00:00Z, the time of the reference's golden frames.
const registry_service::time_point t0{std::chrono::seconds{1767225600}};

source_info source(std::string_view ip = "127.0.0.1",
                   std::uint16_t port = 51000) {
  return {boost::asio::ip::make_address(ip), port};
}

// A client node: its key and, once registered, its ID.
struct client {
  protocol::identity id = protocol::identity::generate().value();
  std::uint32_t node_id = 0;

  template <class Request>
  Request sign(Request request) const {
    request.signature = id.sign_base64(signing_challenge(request)).value();
    return request;
  }
};

struct fixture {
  registry_service service{actors::registry_config{}, t0};
  registry_service::time_point now = t0;

  std::string call(std::string_view body, const source_info& from = source()) {
    auto reply = service.handle(body, from, now);
    REQUIRE(reply.has_value());
    return *reply;
  }

  template <class Request>
  std::string send(const Request& request, const source_info& from = source()) {
    return call(protocol::encode_registry_message(request), from);
  }

  template <class Response, class Request>
  Response expect(const Request& request) {
    auto body = send(request);
    CAPTURE(body);
    REQUIRE_FALSE(protocol::is_error_response(body));
    return protocol::decode_registry_message<Response>(body).value();
  }

  std::uint32_t register_client(client& c, std::string hostname = "",
                                std::string owner = "",
                                const source_info& from = source()) {
    protocol::register_request request{
        "127.0.0.1:4000", c.id.public_key_base64(), owner, hostname};
    auto body = send(request, from);
    CAPTURE(body);
    REQUIRE_FALSE(protocol::is_error_response(body));
    c.node_id
        = protocol::decode_registry_message<protocol::register_response>(body)
              .value()
              .node_id;
    return c.node_id;
  }

  bool resolves(const client& requester, const client& target) {
    auto body = send(requester.sign(
        protocol::resolve_request{target.node_id, requester.node_id, ""}));
    return !protocol::is_error_response(body);
  }
};

} // namespace

// -- golden frames ------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "registry answers the golden frames byte for byte") {
  // R1 -> R2
  CHECK_EQ(
      call(
          R"({"listen_addr":"127.0.0.1:4000","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register"})"),
      R"({"address":"0:0000.0000.0001","network_id":0,"node_id":1,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register_ok"})");
  // R3 -> R4
  CHECK_EQ(
      call(
          R"({"node_id":1,"signature":"VnlNDnMgPNrEstsrIUUV4v6d2E7QkVIddCAIpv1x28UtcY15dnl85d0ldVgesmCWwT8vPsUTgZrs82oJtGTtAQ==","type":"heartbeat"})"),
      R"({"time":1767225600,"type":"heartbeat_ok"})");
  // R6 -> R7
  CHECK_EQ(
      call(R"({"node_id":1,"type":"lookup"})"),
      R"({"address":"0:0000.0000.0001","networks":[0],"node_id":1,"polo_score":0,"public":false,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"lookup_ok"})");
  // R9 -> R10, then the node is gone
  CHECK_EQ(
      call(
          R"({"node_id":1,"signature":"Cv3ye2Y0G91zxsEQYlimQpK2nWdQyc0nyfJNsVsH+9iw17cANMvgPra2O5ZygO35zLJcHGeEjmLb0T5iAyTvDg==","type":"deregister"})"),
      R"({"type":"deregister_ok"})");
  CHECK_EQ(call(R"({"node_id":1,"type":"lookup"})"), error_frame);
}

TEST_CASE_FIXTURE(fixture, "registry store matches the reference layout") {
  call(
      R"({"listen_addr":"127.0.0.1:4000","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register"})");
  CHECK(service.dirty());
  CHECK_EQ(
      service.snapshot(),
      R"({"next_node":2,"next_net":1,"nodes":{"1":{"id":1,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","real_addr":"127.0.0.1:4000","networks":[0],"last_seen":"2026-01-01T00:00:00Z"}},"networks":{"0":{"id":0,"name":"backbone","join_rule":"open","members":[1],"created":"2026-01-01T00:00:00Z"}},"pub_key_idx":{"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=":1}})");
  CHECK(service.dirty());
  service.mark_saved();
  CHECK_FALSE(service.dirty());
  // A heartbeat changes nothing that is saved.
  call(
      R"({"node_id":1,"signature":"VnlNDnMgPNrEstsrIUUV4v6d2E7QkVIddCAIpv1x28UtcY15dnl85d0ldVgesmCWwT8vPsUTgZrs82oJtGTtAQ==","type":"heartbeat"})");
  CHECK_FALSE(service.dirty());
}

TEST_CASE_FIXTURE(fixture, "deregister of an unknown node succeeds") {
  CHECK_EQ(call(R"({"node_id":42,"type":"deregister"})"),
           R"({"type":"deregister_ok"})");
}

// -- malformed input and refused messages
// ---------------------------------------

TEST_CASE_FIXTURE(fixture, "malformed bodies get no reply") {
  for (std::string_view body : {"", "[]", "\"x\"", "{", "5", "{} {}"}) {
    CAPTURE(body);
    CHECK_FALSE(service.handle(body, source(), now).has_value());
  }
}

TEST_CASE_FIXTURE(fixture, "null and typeless bodies get the error frame") {
  CHECK_EQ(call("null"), error_frame);
  CHECK_EQ(call("{}"), error_frame);
  CHECK_EQ(call(R"({"type":"no_such_type"})"), error_frame);
}

TEST_CASE_FIXTURE(fixture, "networks and replication get the error frame") {
  for (
      std::string_view body :
      {R"({"type":"create_network","node_id":1,"name":"x","join_rule":"open"})",
       R"({"type":"join_network","node_id":1,"network_id":1})",
       R"({"type":"leave_network","node_id":1,"network_id":1})",
       R"({"type":"subscribe_replication","token":"secret"})"}) {
    CAPTURE(body);
    CHECK_EQ(call(body), error_frame);
  }
}

TEST_CASE_FIXTURE(fixture, "list_networks shows the backbone only") {
  client a;
  register_client(a);
  CHECK_EQ(
      send(protocol::list_networks_request{}),
      R"({"networks":[{"id":0,"join_rule":"open","members":1,"name":"backbone"}],"type":"list_networks_ok"})");
  CHECK_EQ(send(protocol::list_nodes_request{0}), error_frame);
  CHECK_EQ(send(protocol::list_nodes_request{1}), error_frame);
}

// -- register -----------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "register takes the host from the TCP source") {
  client a;
  register_client(a, "", "", source("192.0.2.7", 6000));
  auto lookup = expect<protocol::lookup_response>(protocol::lookup_request{1});
  CHECK(lookup.real_addr.empty()); // private nodes do not show it
  auto make_public = a.sign(protocol::set_visibility_request{1, true, ""});
  CHECK_FALSE(protocol::is_error_response(send(make_public)));
  lookup = expect<protocol::lookup_response>(protocol::lookup_request{1});
  CHECK_EQ(lookup.real_addr, "192.0.2.7:4000");
}

TEST_CASE_FIXTURE(fixture, "register without a port uses the source port") {
  client a;
  protocol::register_request request{"", a.id.public_key_base64(), "", ""};
  send(request, source("::1", 7000));
  send(a.sign(protocol::set_visibility_request{1, true, ""}));
  auto lookup = expect<protocol::lookup_response>(protocol::lookup_request{1});
  CHECK_EQ(lookup.real_addr, "[::1]:7000");
  request.listen_addr = "[2001:db8::5]:4444";
  send(request, source("::ffff:198.51.100.1", 7000));
  lookup = expect<protocol::lookup_response>(protocol::lookup_request{1});
  CHECK_EQ(lookup.real_addr, "198.51.100.1:4444");
}

TEST_CASE_FIXTURE(fixture, "register rejects missing and invalid keys") {
  CHECK_EQ(call(R"({"type":"register","listen_addr":"1.2.3.4:5"})"),
           error_frame);
  CHECK_EQ(call(R"({"type":"register","public_key":"AAAA"})"), error_frame);
  CHECK_EQ(call(R"({"type":"register","public_key":5})"), error_frame);
}

TEST_CASE_FIXTURE(fixture, "same key registered again keeps its node ID") {
  client a;
  client b;
  CHECK_EQ(register_client(a), 1);
  CHECK_EQ(register_client(b), 2);
  CHECK_EQ(register_client(a), 1);
  // After a deregister the key reclaims its ID.
  send(a.sign(protocol::deregister_request{1, ""}));
  CHECK_EQ(register_client(a), 1);
  client c;
  CHECK_EQ(register_client(c), 3);
}

TEST_CASE_FIXTURE(fixture, "a non-canonical key spelling maps to the same ID") {
  // The last character of a 32-byte key carries 2 unused bits, so "o" and "p"
  // decode to the same bytes ("11qY...URo=" versus "11qY...URp=").
  auto canonical = rfc8032_identity().public_key_base64();
  auto other = canonical;
  other[42] = 'p';
  REQUIRE(protocol::base64_decode(other).value()
          == protocol::base64_decode(canonical).value());
  auto first = send(protocol::register_request{"", canonical, "", ""});
  auto second = send(protocol::register_request{"", other, "", ""});
  CHECK_EQ(first, second);
  CHECK_NE(second.find(canonical), std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "register with a hostname sets it") {
  client a;
  auto body = send(
      protocol::register_request{"", a.id.public_key_base64(), "", "bob"});
  auto reply
      = protocol::decode_registry_message<protocol::register_response>(body)
            .value();
  CHECK_EQ(reply.hostname, "bob");
  CHECK(reply.hostname_error.empty());
  CHECK_NE(body.find(R"("hostname":"bob")"), std::string::npos);
  auto resolved = expect<protocol::resolve_hostname_response>(
      protocol::resolve_hostname_request{"bob"});
  CHECK_EQ(resolved.node_id, 1);
  CHECK_EQ(resolved.address, "0:0000.0000.0001");
}

TEST_CASE_FIXTURE(fixture, "register with a taken hostname skips it") {
  client a;
  client b;
  register_client(a, "bob");
  auto reply = expect<protocol::register_response>(
      protocol::register_request{"", b.id.public_key_base64(), "", "bob"});
  CHECK_EQ(reply.node_id, 2);
  CHECK(reply.hostname.empty());
  CHECK(reply.hostname_error.empty());
}

TEST_CASE_FIXTURE(fixture, "register with an invalid hostname reports why") {
  client a;
  auto reply = expect<protocol::register_response>(
      protocol::register_request{"", a.id.public_key_base64(), "", "Bob"});
  CHECK_EQ(reply.node_id, 1);
  CHECK(reply.hostname.empty());
  CHECK_FALSE(reply.hostname_error.empty());
}

TEST_CASE_FIXTURE(fixture, "owner alone cannot take over a live node") {
  client victim;
  client attacker;
  register_client(victim, "", "alice@example.com");
  auto taken = register_client(attacker, "", "alice@example.com");
  CHECK_NE(taken, victim.node_id);
  auto lookup = expect<protocol::lookup_response>(
      protocol::lookup_request{victim.node_id});
  CHECK_EQ(lookup.public_key, victim.id.public_key_base64());
}

TEST_CASE_FIXTURE(fixture, "owner reclaims the ID of a departed node") {
  client first;
  register_client(first, "", "alice@example.com");
  send(first.sign(protocol::deregister_request{first.node_id, ""}));
  client second;
  CHECK_EQ(register_client(second, "", "alice@example.com"), first.node_id);
  auto lookup = expect<protocol::lookup_response>(
      protocol::lookup_request{first.node_id});
  CHECK_EQ(lookup.public_key, second.id.public_key_base64());
  // The old key no longer points at the reclaimed ID.
  client old_key = first;
  CHECK_NE(register_client(old_key), first.node_id);
}

TEST_CASE_FIXTURE(fixture, "register respects the node limit") {
  actors::registry_config config;
  config.max_nodes = 2;
  registry_service small{config, t0};
  for (int i = 0; i < 3; ++i) {
    client c;
    auto body = small.handle(
        protocol::encode_registry_message(
            protocol::register_request{"", c.id.public_key_base64(), "", ""}),
        source("10.0.0." + std::to_string(i + 1)), now);
    REQUIRE(body.has_value());
    CHECK_EQ(protocol::is_error_response(*body), i == 2);
  }
  CHECK_EQ(small.node_count(), 2);
}

TEST_CASE_FIXTURE(fixture, "full key index forgets the oldest departed key") {
  actors::registry_config config;
  config.max_known_keys = 2;
  registry_service small{config, t0};
  auto register_key = [&](const client& c) {
    auto body = small.handle(
        protocol::encode_registry_message(
            protocol::register_request{"", c.id.public_key_base64(), "", ""}),
        source(), now);
    return protocol::decode_registry_message<protocol::register_response>(
               body.value())
        .value()
        .node_id;
  };
  client a;
  client b;
  client c;
  CHECK_EQ(register_key(a), 1);
  CHECK_EQ(register_key(b), 2);
  small.handle(protocol::encode_registry_message(
                   a.sign(protocol::deregister_request{1, ""})),
               source(), now);
  // Both keys are known; c evicts a's departed key.
  CHECK_EQ(register_key(c), 3);
  CHECK_EQ(register_key(a), 0); // all remembered keys are live now
  small.handle(protocol::encode_registry_message(
                   b.sign(protocol::deregister_request{2, ""})),
               source(), now);
  CHECK_EQ(register_key(a), 4);
}

// -- rate limit ---------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "eleventh register from one address is limited") {
  std::vector<client> clients(11);
  for (std::size_t i = 0; i < 10; ++i) {
    CAPTURE(i);
    register_client(clients[i]);
  }
  CHECK_EQ(send(protocol::register_request{
               "", clients[10].id.public_key_base64(), "", ""}),
           error_frame);
  CHECK_EQ(service.stats().rate_limited, 1);
  // A known key still passes while the bucket is empty.
  CHECK_EQ(register_client(clients[0]), clients[0].node_id);
  // Another address has its own bucket.
  CHECK_EQ(register_client(clients[10], "", "", source("127.0.0.2")), 11);
}

TEST_CASE_FIXTURE(fixture, "register bucket refills one token per 6 seconds") {
  std::vector<client> clients(12);
  for (std::size_t i = 0; i < 10; ++i)
    register_client(clients[i]);
  now += 5s;
  CHECK_EQ(send(protocol::register_request{
               "", clients[10].id.public_key_base64(), "", ""}),
           error_frame);
  now += 2s;
  CHECK_EQ(register_client(clients[10]), 11);
  CHECK_EQ(send(protocol::register_request{
               "", clients[11].id.public_key_base64(), "", ""}),
           error_frame);
}

TEST_CASE_FIXTURE(fixture, "IPv6 sources share a bucket per /64") {
  std::vector<client> clients(11);
  for (std::size_t i = 0; i < 10; ++i)
    register_client(clients[i], "", "",
                    source("2001:db8::" + std::to_string(i + 1)));
  CHECK_EQ(
      send(protocol::register_request{"", clients[10].id.public_key_base64(),
                                      "", ""},
           source("2001:db8::ffff:1")),
      error_frame);
  CHECK_EQ(register_client(clients[10], "", "", source("2001:db8:0:1::1")), 11);
}

// -- signatures and liveness --------------------------------------------------

TEST_CASE_FIXTURE(fixture, "signed requests need a valid signature") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  CHECK_EQ(send(protocol::heartbeat_request{a.node_id, ""}), error_frame);
  // Signed by the wrong key, and for another message.
  auto forged = b.sign(protocol::heartbeat_request{a.node_id, ""});
  CHECK_EQ(send(forged), error_frame);
  auto replayed = a.sign(protocol::heartbeat_request{a.node_id, ""});
  replayed.node_id = b.node_id;
  CHECK_EQ(send(replayed), error_frame);
  CHECK_EQ(send(protocol::deregister_request{a.node_id, "AAAA"}), error_frame);
  CHECK_EQ(service.stats().bad_signatures, 4);
  CHECK_FALSE(protocol::is_error_response(
      send(a.sign(protocol::heartbeat_request{a.node_id, ""}))));
}

TEST_CASE_FIXTURE(fixture, "stale nodes are reaped and can come back") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  now += 2min;
  send(b.sign(protocol::heartbeat_request{b.node_id, ""}));
  now += 61s;
  CHECK_EQ(service.reap(now), 1);
  CHECK_EQ(service.stats().reaped, 1);
  CHECK_EQ(send(a.sign(protocol::heartbeat_request{a.node_id, ""})),
           error_frame);
  CHECK_FALSE(protocol::is_error_response(
      send(b.sign(protocol::heartbeat_request{b.node_id, ""}))));
  CHECK_EQ(register_client(a), 1);
}

TEST_CASE("stale threshold is a constructor parameter") {
  actors::registry_config config;
  config.stale_after = 10s;
  registry_service service{config, t0};
  client a;
  service.handle(protocol::encode_registry_message(protocol::register_request{
                     "", a.id.public_key_base64(), "", ""}),
                 source(), t0);
  CHECK_EQ(service.reap(t0 + 10s), 0);
  CHECK_EQ(service.reap(t0 + 11s), 1);
}

// -- hostnames, tags, visibility ----------------------------------------------

TEST_CASE_FIXTURE(fixture, "hostname rules match the reference") {
  client a;
  register_client(a);
  auto set = [&](std::string name) {
    return send(
        a.sign(protocol::set_hostname_request{a.node_id, std::move(name), ""}));
  };
  for (const std::string& name : std::vector<std::string>{
           "Alice", "-start", "end-", "hello.world", "localhost", "backbone",
           "broadcast", std::string(64, 'a'), "a b", "caf\xC3\xA9"}) {
    CAPTURE(name);
    CHECK_EQ(set(name), error_frame);
  }
  for (const std::string& name : std::vector<std::string>{
           "a", "node42", "my-agent", std::string(63, 'a')}) {
    CAPTURE(name);
    CHECK_EQ(set(name), R"({"hostname":")" + name
                            + R"(","node_id":1,"type":"set_hostname_ok"})");
  }
  CHECK_EQ(set(""), R"({"hostname":"","node_id":1,"type":"set_hostname_ok"})");
  CHECK_EQ(send(protocol::resolve_hostname_request{std::string(63, 'a')}),
           error_frame);
}

TEST_CASE_FIXTURE(fixture, "hostname held by another node is refused") {
  client a;
  client b;
  register_client(a, "web");
  register_client(b);
  CHECK_EQ(send(b.sign(protocol::set_hostname_request{b.node_id, "web", ""})),
           error_frame);
  // Renaming releases the old name.
  send(a.sign(protocol::set_hostname_request{a.node_id, "web2", ""}));
  CHECK_FALSE(protocol::is_error_response(
      send(b.sign(protocol::set_hostname_request{b.node_id, "web", ""}))));
  CHECK_EQ(expect<protocol::resolve_hostname_response>(
               protocol::resolve_hostname_request{"web"})
               .node_id,
           b.node_id);
}

TEST_CASE_FIXTURE(fixture, "tags are normalized and bounded") {
  client a;
  register_client(a);
  auto set = [&](std::vector<std::string> tags) {
    return send(
        a.sign(protocol::set_tags_request{a.node_id, std::move(tags), ""}));
  };
  CHECK_EQ(
      set({"#webserver", "#marketing"}),
      R"({"node_id":1,"tags":["webserver","marketing"],"type":"set_tags_ok"})");
  auto lookup = expect<protocol::lookup_response>(protocol::lookup_request{1});
  CHECK_EQ(lookup.tags, std::vector<std::string>{"webserver", "marketing"});
  CHECK_EQ(set(std::vector<std::string>(11, "t")), error_frame);
  CHECK_EQ(set({std::string(33, 'a')}), error_frame);
  CHECK_EQ(set({"Upper"}), error_frame);
  CHECK_EQ(set({"two words"}), error_frame);
  CHECK_EQ(set({"#"}), error_frame);
  CHECK_EQ(set({std::string(32, 'a')}).find("error"), std::string::npos);
  CHECK_EQ(set(std::vector<std::string>(10, "t")).find("error"),
           std::string::npos);
  // R12: clearing answers null.
  CHECK_EQ(set({}), R"({"node_id":1,"tags":null,"type":"set_tags_ok"})");
  // Non-string elements are dropped.
  auto body = std::string{R"({"type":"set_tags","node_id":1,"tags":["x",5],)"}
              + R"("signature":")" + a.id.sign_base64("set_tags:1").value()
              + "\"}";
  CHECK_EQ(call(body), R"({"node_id":1,"tags":["x"],"type":"set_tags_ok"})");
}

TEST_CASE_FIXTURE(fixture, "task exec and visibility show in lookup") {
  client a;
  register_client(a);
  CHECK_EQ(send(a.sign(protocol::set_task_exec_request{1, true, ""})),
           R"({"node_id":1,"task_exec":true,"type":"set_task_exec_ok"})");
  CHECK_EQ(send(a.sign(protocol::set_visibility_request{1, true, ""})),
           R"({"node_id":1,"type":"set_visibility_ok","visibility":"public"})");
  auto lookup = expect<protocol::lookup_response>(protocol::lookup_request{1});
  CHECK(lookup.task_exec);
  CHECK(lookup.is_public);
  CHECK_EQ(lookup.real_addr, "127.0.0.1:4000");
  CHECK_EQ(
      send(a.sign(protocol::set_visibility_request{1, false, ""})),
      R"({"node_id":1,"type":"set_visibility_ok","visibility":"private"})");
}

// -- resolve privacy and trust ------------------------------------------------

TEST_CASE_FIXTURE(fixture, "resolve of a private node needs trust") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  CHECK_FALSE(resolves(a, b));
  CHECK_FALSE(resolves(b, a));
  // Either side's report creates the pair for both directions.
  CHECK_EQ(
      send(b.sign(protocol::report_trust_request{b.node_id, a.node_id, ""})),
      R"({"type":"report_trust_ok"})");
  CHECK(resolves(a, b));
  CHECK(resolves(b, a));
  auto resolved = expect<protocol::resolve_response>(
      a.sign(protocol::resolve_request{b.node_id, a.node_id, ""}));
  CHECK_EQ(resolved.real_addr, "127.0.0.1:4000");
  // Either side may revoke.
  CHECK_EQ(
      send(a.sign(protocol::revoke_trust_request{a.node_id, b.node_id, ""})),
      R"({"type":"revoke_trust_ok"})");
  CHECK_FALSE(resolves(a, b));
  CHECK_FALSE(resolves(b, a));
  CHECK_EQ(
      send(a.sign(protocol::revoke_trust_request{a.node_id, b.node_id, ""})),
      error_frame);
}

TEST_CASE_FIXTURE(fixture, "resolve of a public node needs no trust") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  send(b.sign(protocol::set_visibility_request{b.node_id, true, ""}));
  CHECK(resolves(a, b));
  CHECK_FALSE(resolves(b, a));
}

TEST_CASE_FIXTURE(fixture, "report_trust needs both nodes") {
  client a;
  register_client(a);
  CHECK_EQ(send(a.sign(protocol::report_trust_request{a.node_id, 99, ""})),
           error_frame);
  CHECK_EQ(
      send(a.sign(protocol::report_trust_request{a.node_id, a.node_id, ""})),
      error_frame);
}

TEST_CASE_FIXTURE(fixture, "punch discloses endpoints only with trust") {
  client a;
  client b;
  register_client(a);
  register_client(b, "", "", source("192.0.2.9"));
  auto punch
      = a.sign(protocol::punch_request{a.node_id, a.node_id, b.node_id, ""});
  CHECK_EQ(send(punch), error_frame);
  send(a.sign(protocol::report_trust_request{a.node_id, b.node_id, ""}));
  CHECK_EQ(
      send(punch),
      R"({"node_a":1,"node_a_addr":"127.0.0.1:4000","node_b":2,"node_b_addr":"192.0.2.9:4000","type":"punch_ok"})");
  // The requester must be one of the two nodes.
  client c;
  register_client(c);
  CHECK_EQ(send(c.sign(
               protocol::punch_request{c.node_id, a.node_id, b.node_id, ""})),
           error_frame);
}

// -- handshake mailbox --------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "handshake requests travel through the mailbox") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  CHECK_EQ(send(a.sign(protocol::request_handshake_request{a.node_id, b.node_id,
                                                           "need <data>", ""})),
           R"({"status":"delivered","type":"request_handshake_ok"})");
  // One pending request per sender.
  CHECK_EQ(send(a.sign(protocol::request_handshake_request{a.node_id, b.node_id,
                                                           "again", ""})),
           error_frame);
  now += 5s;
  auto polled = expect<protocol::poll_handshakes_response>(
      b.sign(protocol::poll_handshakes_request{b.node_id, ""}));
  REQUIRE_EQ(polled.requests.size(), 1);
  CHECK_EQ(polled.requests[0].from_node_id, a.node_id);
  CHECK_EQ(polled.requests[0].justification, "need <data>");
  CHECK_EQ(polled.requests[0].timestamp, 1767225600);
  // Polling empties the mailbox.
  CHECK_EQ(send(b.sign(protocol::poll_handshakes_request{b.node_id, ""})),
           R"({"requests":[],"responses":[],"type":"poll_handshakes_ok"})");
  // An accepting response creates trust and reaches the requester.
  CHECK_EQ(send(b.sign(protocol::respond_handshake_request{b.node_id, a.node_id,
                                                           true, ""})),
           R"({"accept":true,"peer_id":1,"type":"respond_handshake_ok"})");
  CHECK(resolves(a, b));
  auto answers = expect<protocol::poll_handshakes_response>(
      a.sign(protocol::poll_handshakes_request{a.node_id, ""}));
  REQUIRE_EQ(answers.responses.size(), 1);
  CHECK_EQ(answers.responses[0].from_node_id, b.node_id);
  CHECK(answers.responses[0].accept);
  CHECK_EQ(answers.responses[0].timestamp, 1767225605);
}

TEST_CASE_FIXTURE(fixture, "rejecting response creates no trust") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  send(b.sign(
      protocol::respond_handshake_request{b.node_id, a.node_id, false, ""}));
  CHECK_FALSE(resolves(a, b));
  auto answers = expect<protocol::poll_handshakes_response>(
      a.sign(protocol::poll_handshakes_request{a.node_id, ""}));
  REQUIRE_EQ(answers.responses.size(), 1);
  CHECK_FALSE(answers.responses[0].accept);
}

TEST_CASE_FIXTURE(fixture, "handshake mailbox holds at most 100 requests") {
  client target;
  register_client(target);
  std::vector<client> senders(101);
  for (std::size_t i = 0; i < senders.size(); ++i) {
    // Spread the senders over addresses to stay within the rate limit.
    register_client(senders[i], "", "",
                    source("10.0." + std::to_string(i / 10) + ".1"));
    auto reply = send(senders[i].sign(protocol::request_handshake_request{
        senders[i].node_id, target.node_id, "hi", ""}));
    CAPTURE(i);
    CHECK_EQ(protocol::is_error_response(reply), i == 100);
  }
  auto polled = expect<protocol::poll_handshakes_response>(
      target.sign(protocol::poll_handshakes_request{target.node_id, ""}));
  CHECK_EQ(polled.requests.size(), 100);
}

TEST_CASE_FIXTURE(fixture, "handshake responses are bounded per requester") {
  actors::registry_config config;
  config.mailbox_capacity = 2;
  registry_service small{config, t0};
  auto run = [&](auto request) {
    return small
        .handle(protocol::encode_registry_message(request), source(), now)
        .value();
  };
  std::vector<client> clients(4);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].node_id = static_cast<std::uint32_t>(i + 1);
    run(protocol::register_request{"", clients[i].id.public_key_base64(), "",
                                   ""});
  }
  auto respond = [&](const client& from) {
    return run(from.sign(
        protocol::respond_handshake_request{from.node_id, 1, false, ""}));
  };
  // A repeated response replaces the earlier one instead of piling up.
  CHECK_FALSE(protocol::is_error_response(respond(clients[1])));
  CHECK_FALSE(protocol::is_error_response(respond(clients[1])));
  CHECK_FALSE(protocol::is_error_response(respond(clients[2])));
  CHECK(protocol::is_error_response(respond(clients[3])));
  auto polled
      = protocol::decode_registry_message<protocol::poll_handshakes_response>(
            run(clients[0].sign(protocol::poll_handshakes_request{1, ""})))
            .value();
  CHECK_EQ(polled.responses.size(), 2);
}

TEST_CASE_FIXTURE(fixture, "long justifications are cut at a character") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  // 1023 ASCII bytes and then a 2-byte character across the 1024 limit.
  auto text = std::string(1023, 'x') + "\xC3\xA9" + std::string(100, 'y');
  send(a.sign(
      protocol::request_handshake_request{a.node_id, b.node_id, text, ""}));
  auto polled = expect<protocol::poll_handshakes_response>(
      b.sign(protocol::poll_handshakes_request{b.node_id, ""}));
  REQUIRE_EQ(polled.requests.size(), 1);
  CHECK_EQ(polled.requests[0].justification, std::string(1023, 'x'));
}

// -- key rotation, polo score, beacons ----------------------------------------

TEST_CASE_FIXTURE(fixture, "rotate_key swaps the key with the old signature") {
  client a;
  client b;
  register_client(a);
  register_client(b);
  client fresh;
  auto rotate = a.sign(protocol::rotate_key_request{
      a.node_id, fresh.id.public_key_base64(), ""});
  CHECK_EQ(send(rotate),
           R"({"address":"0:0000.0000.0001","node_id":1,"public_key":")"
               + fresh.id.public_key_base64() + R"(","type":"rotate_key_ok"})");
  // The new key signs from now on, and re-registers to the same ID.
  CHECK_EQ(send(a.sign(protocol::heartbeat_request{a.node_id, ""})),
           error_frame);
  CHECK_FALSE(protocol::is_error_response(
      send(fresh.sign(protocol::heartbeat_request{a.node_id, ""}))));
  CHECK_EQ(register_client(fresh), a.node_id);
  // A key of another node is refused.
  CHECK_EQ(send(fresh.sign(protocol::rotate_key_request{
               a.node_id, b.id.public_key_base64(), ""})),
           error_frame);
  CHECK_EQ(send(protocol::rotate_key_request{a.node_id,
                                             b.id.public_key_base64(), ""}),
           error_frame);
}

TEST_CASE_FIXTURE(fixture, "polo score is read, set and updated") {
  client a;
  register_client(a);
  CHECK_EQ(
      send(protocol::update_polo_score_request{1, 5}),
      R"({"address":"0:0000.0000.0001","node_id":1,"polo_score":5,"type":"update_polo_score_ok"})");
  CHECK_EQ(
      call(R"({"type":"update_polo_score","node_id":1,"delta":-7.9})"),
      R"({"address":"0:0000.0000.0001","node_id":1,"polo_score":-2,"type":"update_polo_score_ok"})");
  CHECK_EQ(
      send(protocol::set_polo_score_request{1, 40}),
      R"({"address":"0:0000.0000.0001","node_id":1,"polo_score":40,"type":"set_polo_score_ok"})");
  CHECK_EQ(
      send(protocol::get_polo_score_request{1}),
      R"({"address":"0:0000.0000.0001","node_id":1,"polo_score":40,"type":"get_polo_score_ok"})");
  CHECK_EQ(send(protocol::get_polo_score_request{2}), error_frame);
}

TEST_CASE_FIXTURE(fixture, "beacon directory lists beacons for 60 seconds") {
  // R14 -> R15
  CHECK_EQ(
      call(
          R"({"addr":"10.0.0.5:9001","beacon_id":7,"type":"beacon_register"})"),
      R"({"beacon_id":7,"type":"beacon_register_ok"})");
  CHECK_EQ(
      call(R"({"type":"beacon_list"})"),
      R"({"beacons":[{"addr":"10.0.0.5:9001","id":7}],"type":"beacon_list_ok"})");
  now += 60s;
  CHECK_EQ(
      call(R"({"type":"beacon_list"})"),
      R"({"beacons":[{"addr":"10.0.0.5:9001","id":7}],"type":"beacon_list_ok"})");
  now += 1s;
  CHECK_EQ(call(R"({"type":"beacon_list"})"),
           R"({"beacons":[],"type":"beacon_list_ok"})");
  CHECK_EQ(call(R"({"type":"beacon_register","beacon_id":0,"addr":"x"})"),
           error_frame);
  CHECK_EQ(call(R"({"type":"beacon_register","beacon_id":3,"addr":""})"),
           error_frame);
}

TEST_CASE_FIXTURE(fixture, "beacon directory is bounded") {
  actors::registry_config config;
  config.max_beacons = 2;
  registry_service small{config, t0};
  auto add = [&](std::uint32_t id, registry_service::time_point when) {
    auto body = small.handle(protocol::encode_registry_message(
                                 protocol::beacon_register_request{id, "b:1"}),
                             source(), when);
    return !protocol::is_error_response(body.value());
  };
  CHECK(add(1, t0));
  CHECK(add(2, t0));
  CHECK_FALSE(add(3, t0));
  CHECK(add(2, t0 + 30s)); // an update of a known beacon
  CHECK(add(3, t0 + 61s)); // beacon 1 expired and made room
}

// -- persistence --------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "store round trip keeps IDs, trust and mailboxes") {
  client a;
  client b;
  client departed;
  register_client(a, "alpha", "a@example.com");
  register_client(b);
  register_client(departed);
  send(a.sign(protocol::set_tags_request{a.node_id, {"web"}, ""}));
  send(a.sign(protocol::set_visibility_request{a.node_id, true, ""}));
  send(a.sign(protocol::set_task_exec_request{a.node_id, true, ""}));
  send(protocol::set_polo_score_request{a.node_id, -3});
  send(a.sign(protocol::report_trust_request{a.node_id, b.node_id, ""}));
  send(b.sign(
      protocol::request_handshake_request{b.node_id, a.node_id, "why", ""}));
  send(departed.sign(protocol::deregister_request{departed.node_id, ""}));
  auto stored = service.snapshot();

  registry_service restarted{actors::registry_config{}, t0 + 1h};
  restarted.load(stored, t0 + 1h);
  CHECK_EQ(restarted.snapshot(), [&] {
    // Loading moves every node's last_seen to the load time.
    registry_service copy{actors::registry_config{}, t0 + 1h};
    copy.load(stored, t0 + 1h);
    return copy.snapshot();
  }());
  auto run = [&](auto request) {
    return restarted
        .handle(protocol::encode_registry_message(request), source(), t0 + 1h)
        .value();
  };
  // Same IDs for known keys, departed ones included; new keys continue.
  auto id_of = [&](const client& c) {
    return protocol::decode_registry_message<protocol::register_response>(
               run(protocol::register_request{"", c.id.public_key_base64(), "",
                                              ""}))
        .value()
        .node_id;
  };
  CHECK_EQ(id_of(a), a.node_id);
  CHECK_EQ(id_of(departed), departed.node_id);
  CHECK_EQ(id_of(client{}), 4);
  auto lookup = protocol::decode_registry_message<protocol::lookup_response>(
                    run(protocol::lookup_request{a.node_id}))
                    .value();
  CHECK_EQ(lookup.hostname, "alpha");
  CHECK_EQ(lookup.tags, std::vector<std::string>{"web"});
  CHECK(lookup.is_public);
  CHECK(lookup.task_exec);
  CHECK_EQ(lookup.polo_score, -3);
  CHECK_FALSE(protocol::is_error_response(
      run(b.sign(protocol::resolve_request{a.node_id, b.node_id, ""}))));
  // Private b resolves for a thanks to the stored trust pair.
  CHECK_FALSE(protocol::is_error_response(
      run(a.sign(protocol::resolve_request{b.node_id, a.node_id, ""}))));
  auto polled
      = protocol::decode_registry_message<protocol::poll_handshakes_response>(
            run(a.sign(protocol::poll_handshakes_request{a.node_id, ""})))
            .value();
  REQUIRE_EQ(polled.requests.size(), 1);
  CHECK_EQ(polled.requests[0].justification, "why");
  CHECK_EQ(polled.requests[0].timestamp, 1767225600);
}

TEST_CASE("loaded nodes are not reaped right after a restart") {
  registry_service first{actors::registry_config{}, t0};
  client a;
  first.handle(protocol::encode_registry_message(protocol::register_request{
                   "", a.id.public_key_base64(), "", ""}),
               source(), t0);
  auto stored = first.snapshot();
  registry_service second{actors::registry_config{}, t0 + 1h};
  second.load(stored, t0 + 1h);
  CHECK_EQ(second.reap(t0 + 1h + 1min), 0);
  CHECK_EQ(second.reap(t0 + 1h + 4min), 1);
}

TEST_CASE("store written by the reference loads") {
  // A non-canonical key spelling, a local time offset, no backbone entry and
  // a departed node in the key index.
  constexpr std::string_view go_store
      = R"({"next_node":5,"next_net":1,"nodes":{"2":{"id":2,"owner":"o@x",)"
        R"("public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",)"
        R"("real_addr":"1.2.3.4:4000","networks":[0],"public":true,)"
        R"("last_seen":"2026-01-01T01:00:00+01:00","hostname":"h"}},)"
        R"("networks":{},"trust_pairs":["2:3"],)"
        R"("pub_key_idx":{"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=":2,)"
        R"("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=":3}})";
  registry_service service{actors::registry_config{}, t0};
  service.load(go_store, t0);
  CHECK_EQ(service.node_count(), 1);
  auto run = [&](std::string_view body) {
    return service.handle(body, source(), t0).value();
  };
  CHECK_EQ(
      run(R"({"type":"list_networks"})"),
      R"({"networks":[{"id":0,"join_rule":"open","members":1,"name":"backbone"}],"type":"list_networks_ok"})");
  CHECK_EQ(
      run(R"({"type":"register","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="})"),
      R"({"address":"0:0000.0000.0002","network_id":0,"node_id":2,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register_ok"})");
  auto departed = protocol::decode_registry_message<
      protocol::register_response>(run(
      R"({"type":"register","public_key":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="})"));
  REQUIRE(departed.has_value());
  CHECK_EQ(departed->node_id, 3);
  auto fresh = run(
      R"({"type":"register","public_key":"AgIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="})");
  CHECK_NE(fresh.find(R"("node_id":5)"), std::string::npos);
}

TEST_CASE("invalid store files are rejected and change nothing") {
  registry_service service{actors::registry_config{}, t0};
  client a;
  service.handle(protocol::encode_registry_message(protocol::register_request{
                     "", a.id.public_key_base64(), "", ""}),
                 source(), t0);
  for (
      std::string_view text :
      {"", "[]", R"({"nodes":[]})",
       R"({"nodes":{"1":{"id":1,"public_key":"AAAA","networks":[0]}}})",
       R"({"nodes":{"1":{"id":1,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","last_seen":"yesterday"}}})",
       R"({"next_node":"5"})", R"({"trust_pairs":["1-2"]})"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(service.load(text, t0), std::invalid_argument);
    CHECK_EQ(service.node_count(), 1);
  }
}

TEST_CASE("nodes of a stored network see each other") {
  // Networks other than the backbone exist only in stores of older servers.
  client a;
  client b;
  client outsider;
  auto node = [](const client& c, int id) {
    return R"(")" + std::to_string(id) + R"(":{"id":)" + std::to_string(id)
           + R"(,"public_key":")" + c.id.public_key_base64()
           + R"(","real_addr":"10.0.0.)" + std::to_string(id)
           + R"(:4000","networks":[0,5]})";
  };
  auto store
      = R"({"next_node":4,"next_net":6,"nodes":{)" + node(a, 1) + ","
        + node(b, 2) + "," + node(outsider, 3)
        + R"(},"networks":{"5":{"id":5,"name":"lab","join_rule":"token",)"
        + R"("members":[1,2],"created":"2026-01-01T00:00:00Z"}}})";
  registry_service service{actors::registry_config{}, t0};
  service.load(store, t0);
  a.node_id = 1;
  b.node_id = 2;
  outsider.node_id = 3;
  auto run = [&](const auto& request) {
    return service
        .handle(protocol::encode_registry_message(request), source(), t0)
        .value();
  };
  CHECK_EQ(
      run(protocol::list_nodes_request{5}),
      R"({"nodes":[{"address":"5:0005.0000.0001","node_id":1},)"
      R"({"address":"5:0005.0000.0002","node_id":2}],"type":"list_nodes_ok"})");
  CHECK_NE(run(a.sign(protocol::resolve_request{2, 1, ""})), error_frame);
  CHECK_EQ(run(outsider.sign(protocol::resolve_request{2, 3, ""})),
           error_frame);
  CHECK_NE(run(protocol::list_networks_request{})
               .find(R"("members":2,"name":"lab")"),
           std::string::npos);
}

TEST_CASE("store times use RFC 3339") {
  using actors::detail::format_rfc3339;
  using actors::detail::parse_rfc3339;
  CHECK_EQ(format_rfc3339(t0, false), "2026-01-01T00:00:00Z");
  CHECK_EQ(format_rfc3339(t0 + 123456789ns, true),
           "2026-01-01T00:00:00.123456789Z");
  CHECK_EQ(format_rfc3339(t0 + 500ms, true), "2026-01-01T00:00:00.5Z");
  CHECK_EQ(format_rfc3339(t0 + 500ms, false), "2026-01-01T00:00:00Z");
  CHECK_EQ(parse_rfc3339("2026-01-01T00:00:00Z").value(), t0);
  CHECK_EQ(parse_rfc3339("2026-01-01T01:30:00+01:30").value(), t0);
  CHECK_EQ(parse_rfc3339("2025-12-31T19:00:00-05:00").value(), t0);
  CHECK_EQ(parse_rfc3339("2026-01-01T00:00:00.25Z").value(), t0 + 250ms);
  for (std::string_view bad :
       {"", "2026-01-01", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00+0100", "2026-01-01 00:00:00Z",
        // Outside the nanosecond clock's range of about 1678 to 2262.
        "0001-01-01T00:00:00Z", "1677-01-01T00:00:00Z", "2263-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

TEST_CASE("endpoints keep only the port of listen_addr") {
  using actors::detail::endpoint_from;
  auto ip = boost::asio::ip::make_address("203.0.113.5");
  CHECK_EQ(endpoint_from("10.0.0.1:4000", ip, 999), "203.0.113.5:4000");
  CHECK_EQ(endpoint_from(":4000", ip, 999), "203.0.113.5:4000");
  CHECK_EQ(endpoint_from("[::1]:4000", ip, 999), "203.0.113.5:4000");
  CHECK_EQ(endpoint_from("", ip, 999), "203.0.113.5:999");
  CHECK_EQ(endpoint_from("10.0.0.1", ip, 999), "203.0.113.5:999");
  CHECK_EQ(endpoint_from("::1:4000", ip, 999), "203.0.113.5:999");
  CHECK_EQ(endpoint_from("h:port", ip, 999), "203.0.113.5:999");
  CHECK_EQ(endpoint_from("h:70000", ip, 999), "203.0.113.5:999");
  CHECK_EQ(
      endpoint_from("h:1", boost::asio::ip::make_address("2001:db8::1"), 9),
      "[2001:db8::1]:1");
}
