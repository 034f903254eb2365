#include "protocol/registry_message.hpp"

#include "protocol/registry_frame.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using namespace pilot::protocol;

namespace {

constexpr std::string_view test_key
    = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

// Returns the 4-byte length prefix in lower-case hex.
std::string prefix_hex(std::string_view body) {
  auto frame = encode_registry_frame(body);
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string hex;
  for (int i = 0; i < 4; ++i) {
    auto byte = static_cast<unsigned char>(frame[static_cast<std::size_t>(i)]);
    hex += digits[byte >> 4];
    hex += digits[byte & 0xF];
  }
  return hex;
}

// Checks a golden frame: the prefix, the body bytes, and that decoding the
// body and encoding it again gives the same bytes.
template <class Message>
Message check_golden(const Message& message, std::string_view prefix,
                     std::string_view body) {
  auto encoded = encode_registry_message(message);
  CHECK_EQ(encoded, body);
  CHECK_EQ(prefix_hex(encoded), prefix);
  auto decoded = decode_registry_message<Message>(body);
  REQUIRE(decoded.has_value());
  CHECK_EQ(encode_registry_message(*decoded), body);
  return *decoded;
}

} // namespace

TEST_CASE("R1 register encodes like the reference") {
  register_request request{"127.0.0.1:4000", std::string{test_key}, "", ""};
  auto decoded = check_golden(
      request, "0000006e",
      R"({"listen_addr":"127.0.0.1:4000","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register"})");
  CHECK_EQ(decoded.listen_addr, "127.0.0.1:4000");
  CHECK_EQ(decoded.public_key, test_key);
  CHECK(decoded.owner.empty());
}

TEST_CASE("R2 register_ok encodes like the reference") {
  register_response response;
  response.node_id = 1;
  response.address = "0:0000.0000.0001";
  response.public_key = test_key;
  auto decoded = check_golden(
      response, "0000008a",
      R"({"address":"0:0000.0000.0001","network_id":0,"node_id":1,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register_ok"})");
  CHECK_EQ(decoded.node_id, 1);
  CHECK_EQ(decoded.address, "0:0000.0000.0001");
}

TEST_CASE("register_ok carries hostname fields only when set") {
  register_response response;
  response.node_id = 2;
  response.address = "0:0000.0000.0002";
  response.public_key = test_key;
  response.hostname = "bob";
  CHECK_EQ(
      encode_registry_message(response),
      R"({"address":"0:0000.0000.0002","hostname":"bob","network_id":0,"node_id":2,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"register_ok"})");
}

TEST_CASE("R3 heartbeat encodes like the reference") {
  heartbeat_request request{1, "VnlNDnMgPNrEstsrIUUV4v6d2E7QkVIddCAIpv1x28UtcY1"
                               "5dnl85d0ldVgesmCWwT8vPsUTgZrs82oJtGTtAQ=="};
  auto decoded = check_golden(
      request, "00000087",
      R"({"node_id":1,"signature":"VnlNDnMgPNrEstsrIUUV4v6d2E7QkVIddCAIpv1x28UtcY15dnl85d0ldVgesmCWwT8vPsUTgZrs82oJtGTtAQ==","type":"heartbeat"})");
  CHECK_EQ(decoded.node_id, 1);
  CHECK_EQ(signing_challenge(decoded), "heartbeat:1");
}

TEST_CASE("R4 heartbeat_ok encodes like the reference") {
  auto decoded = check_golden(heartbeat_response{1767225600}, "00000029",
                              R"({"time":1767225600,"type":"heartbeat_ok"})");
  CHECK_EQ(decoded.time, 1767225600);
}

TEST_CASE("R5 error encodes like the reference") {
  auto decoded = check_golden(error_response{}, "00000029",
                              R"({"error":"request failed","type":"error"})");
  CHECK_EQ(decoded.error, "request failed");
  CHECK_EQ(encode_registry_message(error_response{}), generic_error_body);
}

TEST_CASE("R6 lookup encodes like the reference") {
  auto decoded = check_golden(lookup_request{1}, "0000001d",
                              R"({"node_id":1,"type":"lookup"})");
  CHECK_EQ(decoded.node_id, 1);
}

TEST_CASE("R7 lookup_ok of a bare private node encodes like the reference") {
  lookup_response response;
  response.node_id = 1;
  response.address = "0:0000.0000.0001";
  response.networks = {0};
  response.public_key = test_key;
  auto decoded = check_golden(
      response, "000000a6",
      R"({"address":"0:0000.0000.0001","networks":[0],"node_id":1,"polo_score":0,"public":false,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","type":"lookup_ok"})");
  CHECK_EQ(decoded.networks, std::vector<std::uint16_t>{0});
  CHECK_FALSE(decoded.is_public);
}

TEST_CASE("lookup_ok of a full public node includes optional fields") {
  lookup_response response;
  response.node_id = 3;
  response.address = "0:0000.0000.0003";
  response.networks = {0};
  response.public_key = test_key;
  response.is_public = true;
  response.polo_score = -4;
  response.hostname = "alice";
  response.tags = {"web", "db"};
  response.task_exec = true;
  response.real_addr = "203.0.113.5:4000";
  auto body = encode_registry_message(response);
  CHECK_EQ(
      body,
      R"({"address":"0:0000.0000.0003","hostname":"alice","networks":[0],"node_id":3,"polo_score":-4,"public":true,"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","real_addr":"203.0.113.5:4000","tags":["web","db"],"task_exec":true,"type":"lookup_ok"})");
  auto decoded = decode_registry_message<lookup_response>(body);
  REQUIRE(decoded.has_value());
  CHECK_EQ(decoded->tags, std::vector<std::string>{"web", "db"});
  CHECK_EQ(decoded->polo_score, -4);
  CHECK(decoded->task_exec);
  CHECK_EQ(decoded->real_addr, "203.0.113.5:4000");
}

TEST_CASE("R8 resolve encodes like the reference") {
  resolve_request request{2, 1,
                          "a782c6+50CLxw5CdBgYqTOdXCgBvP0bH1Pc1vA1BZE/"
                          "zb4XhaloIU6GMcNtJVitQIMY57SgoK21CUKmjSAItAw=="};
  auto decoded = check_golden(
      request, "00000096",
      R"({"node_id":2,"requester_id":1,"signature":"a782c6+50CLxw5CdBgYqTOdXCgBvP0bH1Pc1vA1BZE/zb4XhaloIU6GMcNtJVitQIMY57SgoK21CUKmjSAItAw==","type":"resolve"})");
  CHECK_EQ(signing_challenge(decoded), "resolve:1:2");
}

TEST_CASE("R9 deregister encodes like the reference") {
  deregister_request request{1, "Cv3ye2Y0G91zxsEQYlimQpK2nWdQyc0nyfJNsVsH+"
                                "9iw17cANMvgPra2O5ZygO35zLJcHGeEjmLb0T5iAyTvD"
                                "g=="};
  auto decoded = check_golden(
      request, "00000088",
      R"({"node_id":1,"signature":"Cv3ye2Y0G91zxsEQYlimQpK2nWdQyc0nyfJNsVsH+9iw17cANMvgPra2O5ZygO35zLJcHGeEjmLb0T5iAyTvDg==","type":"deregister"})");
  CHECK_EQ(signing_challenge(decoded), "deregister:1");
}

TEST_CASE("R10 deregister_ok encodes like the reference") {
  check_golden(deregister_response{}, "00000018",
               R"({"type":"deregister_ok"})");
}

TEST_CASE("R11 empty poll_handshakes_ok encodes like the reference") {
  auto decoded = check_golden(
      poll_handshakes_response{}, "0000003a",
      R"({"requests":[],"responses":[],"type":"poll_handshakes_ok"})");
  CHECK(decoded.requests.empty());
  CHECK(decoded.responses.empty());
}

TEST_CASE("R12 set_tags_ok after a clear encodes null tags") {
  set_tags_response response{1, {}};
  check_golden(response, "0000002e",
               R"({"node_id":1,"tags":null,"type":"set_tags_ok"})");
  response.tags = {"webserver", "marketing"};
  CHECK_EQ(
      encode_registry_message(response),
      R"({"node_id":1,"tags":["webserver","marketing"],"type":"set_tags_ok"})");
}

TEST_CASE("R13 request_handshake escapes html characters") {
  request_handshake_request request{1, 2, "need <data> & more",
                                    "9S+I5TI03acn8tKkIroprBmv6NzljsX4+"
                                    "ZcP04hlEtUrmPJEww0O11uGhVSGh4Xs/so1V4HlVcL"
                                    "x5g/kulFZCw=="};
  auto decoded = check_golden(
      request, "000000d7",
      R"({"from_node_id":1,"justification":"need \u003cdata\u003e \u0026 more","signature":"9S+I5TI03acn8tKkIroprBmv6NzljsX4+ZcP04hlEtUrmPJEww0O11uGhVSGh4Xs/so1V4HlVcLx5g/kulFZCw==","to_node_id":2,"type":"request_handshake"})");
  CHECK_EQ(decoded.justification, "need <data> & more");
  CHECK_EQ(signing_challenge(decoded), "handshake:1:2");
}

TEST_CASE("R14 beacon_register encodes like the reference") {
  auto decoded = check_golden(
      beacon_register_request{7, "10.0.0.5:9001"}, "0000003f",
      R"({"addr":"10.0.0.5:9001","beacon_id":7,"type":"beacon_register"})");
  CHECK_EQ(decoded.beacon_id, 7);
  CHECK_EQ(decoded.addr, "10.0.0.5:9001");
}

TEST_CASE("R15 beacon_list_ok encodes like the reference") {
  beacon_list_response response;
  response.beacons.push_back({7, "10.0.0.5:9001"});
  auto decoded = check_golden(
      response, "00000045",
      R"({"beacons":[{"addr":"10.0.0.5:9001","id":7}],"type":"beacon_list_ok"})");
  REQUIRE_EQ(decoded.beacons.size(), 1);
  CHECK_EQ(decoded.beacons[0].id, 7);
}

TEST_CASE("unsigned requests leave the signature out") {
  CHECK_EQ(encode_registry_message(heartbeat_request{5, ""}),
           R"({"node_id":5,"type":"heartbeat"})");
  CHECK_EQ(encode_registry_message(set_hostname_request{5, "", ""}),
           R"({"hostname":"","node_id":5,"type":"set_hostname"})");
}

TEST_CASE("every remaining message encodes with sorted keys") {
  CHECK_EQ(
      encode_registry_message(set_visibility_request{1, true, "s"}),
      R"({"node_id":1,"public":true,"signature":"s","type":"set_visibility"})");
  CHECK_EQ(encode_registry_message(set_tags_request{1, {"a"}, ""}),
           R"({"node_id":1,"tags":["a"],"type":"set_tags"})");
  CHECK_EQ(encode_registry_message(set_tags_request{1, {}, ""}),
           R"({"node_id":1,"tags":[],"type":"set_tags"})");
  CHECK_EQ(encode_registry_message(set_task_exec_request{1, true, ""}),
           R"({"enabled":true,"node_id":1,"type":"set_task_exec"})");
  CHECK_EQ(encode_registry_message(report_trust_request{1, 2, ""}),
           R"({"node_id":1,"peer_id":2,"type":"report_trust"})");
  CHECK_EQ(encode_registry_message(revoke_trust_request{1, 2, ""}),
           R"({"node_id":1,"peer_id":2,"type":"revoke_trust"})");
  CHECK_EQ(encode_registry_message(poll_handshakes_request{1, ""}),
           R"({"node_id":1,"type":"poll_handshakes"})");
  CHECK_EQ(
      encode_registry_message(respond_handshake_request{2, 1, false, ""}),
      R"({"accept":false,"node_id":2,"peer_id":1,"type":"respond_handshake"})");
  CHECK_EQ(encode_registry_message(punch_request{1, 1, 2, ""}),
           R"({"node_a":1,"node_b":2,"requester_id":1,"type":"punch"})");
  CHECK_EQ(encode_registry_message(rotate_key_request{1, "k", ""}),
           R"({"new_public_key":"k","node_id":1,"type":"rotate_key"})");
  CHECK_EQ(encode_registry_message(update_polo_score_request{1, -3}),
           R"({"delta":-3,"node_id":1,"type":"update_polo_score"})");
  CHECK_EQ(encode_registry_message(set_polo_score_request{1, 9}),
           R"({"node_id":1,"polo_score":9,"type":"set_polo_score"})");
  CHECK_EQ(encode_registry_message(get_polo_score_request{1}),
           R"({"node_id":1,"type":"get_polo_score"})");
  CHECK_EQ(encode_registry_message(list_networks_request{}),
           R"({"type":"list_networks"})");
  CHECK_EQ(encode_registry_message(list_nodes_request{3}),
           R"({"network_id":3,"type":"list_nodes"})");
  CHECK_EQ(encode_registry_message(beacon_list_request{}),
           R"({"type":"beacon_list"})");
  CHECK_EQ(encode_registry_message(resolve_hostname_request{"bob"}),
           R"({"hostname":"bob","type":"resolve_hostname"})");
}

TEST_CASE("every remaining response encodes with sorted keys") {
  CHECK_EQ(encode_registry_message(resolve_response{2, "1.2.3.4:5"}),
           R"({"node_id":2,"real_addr":"1.2.3.4:5","type":"resolve_ok"})");
  CHECK_EQ(
      encode_registry_message(
          resolve_hostname_response{2, "0:0000.0000.0002", false, "bob"}),
      R"({"address":"0:0000.0000.0002","hostname":"bob","node_id":2,"public":false,"type":"resolve_hostname_ok"})");
  CHECK_EQ(encode_registry_message(set_hostname_response{2, ""}),
           R"({"hostname":"","node_id":2,"type":"set_hostname_ok"})");
  CHECK_EQ(encode_registry_message(set_visibility_response{2, "public"}),
           R"({"node_id":2,"type":"set_visibility_ok","visibility":"public"})");
  CHECK_EQ(encode_registry_message(set_task_exec_response{2, false}),
           R"({"node_id":2,"task_exec":false,"type":"set_task_exec_ok"})");
  CHECK_EQ(encode_registry_message(report_trust_response{}),
           R"({"type":"report_trust_ok"})");
  CHECK_EQ(encode_registry_message(revoke_trust_response{}),
           R"({"type":"revoke_trust_ok"})");
  CHECK_EQ(encode_registry_message(request_handshake_response{"delivered"}),
           R"({"status":"delivered","type":"request_handshake_ok"})");
  CHECK_EQ(encode_registry_message(respond_handshake_response{true, 1}),
           R"({"accept":true,"peer_id":1,"type":"respond_handshake_ok"})");
  CHECK_EQ(
      encode_registry_message(punch_response{1, "a:1", 2, "b:2"}),
      R"({"node_a":1,"node_a_addr":"a:1","node_b":2,"node_b_addr":"b:2","type":"punch_ok"})");
  CHECK_EQ(
      encode_registry_message(rotate_key_response{1, "0:0000.0000.0001", "k"}),
      R"({"address":"0:0000.0000.0001","node_id":1,"public_key":"k","type":"rotate_key_ok"})");
  update_polo_score_response polo;
  polo.node_id = 1;
  polo.address = "0:0000.0000.0001";
  polo.polo_score = 12;
  CHECK_EQ(
      encode_registry_message(polo),
      R"({"address":"0:0000.0000.0001","node_id":1,"polo_score":12,"type":"update_polo_score_ok"})");
  list_networks_response networks;
  networks.networks.push_back({0, "backbone", 2, "open"});
  CHECK_EQ(
      encode_registry_message(networks),
      R"({"networks":[{"id":0,"join_rule":"open","members":2,"name":"backbone"}],"type":"list_networks_ok"})");
  list_nodes_response nodes;
  nodes.nodes.push_back({4, "1:0001.0000.0004", "", false, ""});
  nodes.nodes.push_back({5, "1:0001.0000.0005", "h", true, "1.2.3.4:5"});
  CHECK_EQ(
      encode_registry_message(nodes),
      R"({"nodes":[{"address":"1:0001.0000.0004","node_id":4},{"address":"1:0001.0000.0005","hostname":"h","node_id":5,"real_addr":"1.2.3.4:5","task_exec":true}],"type":"list_nodes_ok"})");
  CHECK_EQ(encode_registry_message(beacon_register_response{7}),
           R"({"beacon_id":7,"type":"beacon_register_ok"})");
}

TEST_CASE("poll_handshakes_ok round-trips its entries") {
  poll_handshakes_response response;
  response.requests.push_back({1, "hi", 1767225600});
  response.responses.push_back({3, true, 1767225601});
  auto body = encode_registry_message(response);
  CHECK_EQ(
      body,
      R"({"requests":[{"from_node_id":1,"justification":"hi","timestamp":1767225600}],"responses":[{"accept":true,"from_node_id":3,"timestamp":1767225601}],"type":"poll_handshakes_ok"})");
  auto decoded = decode_registry_message<poll_handshakes_response>(body);
  REQUIRE(decoded.has_value());
  REQUIRE_EQ(decoded->requests.size(), 1);
  CHECK_EQ(decoded->requests[0].justification, "hi");
  REQUIRE_EQ(decoded->responses.size(), 1);
  CHECK(decoded->responses[0].accept);
  CHECK_EQ(decoded->responses[0].timestamp, 1767225601);
}

TEST_CASE("decoder converts IDs like the reference") {
  struct row {
    std::string_view body;
    std::uint32_t expected;
  };
  const std::array rows{
      row{R"({"node_id":7})", 7},
      row{R"({"node_id":1.9})", 1},
      row{R"({"node_id":7e0})", 7},
      row{R"({"node_id":-1})", 0},
      row{R"({"node_id":-0.5})", 0},
      row{R"({"node_id":4294967295})", 4294967295u},
      row{R"({"node_id":4294967296})", 0},
      row{R"({"node_id":99999999999999999999})", 0},
      row{R"({"node_id":"5"})", 0},
      row{R"({"node_id":true})", 0},
      row{R"({"node_id":null})", 0},
      row{R"({"node_id":[5]})", 0},
      row{R"({})", 0},
      row{R"({"node_id":3,"node_id":4})", 4},
      row{R"({"node_id":3,"node_id":"x"})", 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.body);
    auto decoded = decode_registry_message<lookup_request>(r.body);
    REQUIRE(decoded.has_value());
    CHECK_EQ(decoded->node_id, r.expected);
  }
}

TEST_CASE("decoder reads integers beyond 64 bits as large doubles") {
  auto decoded = decode_registry_message<resolve_hostname_request>(
      R"({"hostname":"123456789012345678901234","x":-123456789012345678901,)"
      R"("y":[1e3,99999999999999999999]})");
  REQUIRE(decoded.has_value());
  CHECK_EQ(decoded->hostname, "123456789012345678901234");
  auto polo = decode_registry_message<set_polo_score_request>(
      R"({"node_id":1,"polo_score":-123456789012345678901})");
  REQUIRE(polo.has_value());
  CHECK_EQ(polo->polo_score, std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("decoder limits network IDs to 16 bits") {
  auto in_range
      = decode_registry_message<list_nodes_request>(R"({"network_id":65535})");
  REQUIRE(in_range.has_value());
  CHECK_EQ(in_range->network_id, 65535);
  auto too_big
      = decode_registry_message<list_nodes_request>(R"({"network_id":65536})");
  REQUIRE(too_big.has_value());
  CHECK_EQ(too_big->network_id, 0);
}

TEST_CASE("decoder reads non-booleans as false and non-strings as empty") {
  auto visibility = decode_registry_message<set_visibility_request>(
      R"({"node_id":1,"public":"true","signature":5})");
  REQUIRE(visibility.has_value());
  CHECK_FALSE(visibility->is_public);
  CHECK(visibility->signature.empty());
  auto public_one = decode_registry_message<set_visibility_request>(
      R"({"public":true,"unknown":{"a":[1]}})");
  REQUIRE(public_one.has_value());
  CHECK(public_one->is_public);
}

TEST_CASE("decoder drops tags that are not strings") {
  auto tags = decode_registry_message<set_tags_request>(
      R"({"node_id":1,"tags":["a",1,null,"b",{"c":1}]})");
  REQUIRE(tags.has_value());
  CHECK_EQ(tags->tags, std::vector<std::string>{"a", "b"});
  auto not_array = decode_registry_message<set_tags_request>(
      R"({"node_id":1,"tags":"a"})");
  REQUIRE(not_array.has_value());
  CHECK(not_array->tags.empty());
}

TEST_CASE("decoder truncates polo deltas toward zero") {
  auto up = decode_registry_message<update_polo_score_request>(
      R"({"node_id":1,"delta":2.9})");
  REQUIRE(up.has_value());
  CHECK_EQ(up->delta, 2);
  auto down = decode_registry_message<update_polo_score_request>(
      R"({"node_id":1,"delta":-2.9})");
  REQUIRE(down.has_value());
  CHECK_EQ(down->delta, -2);
  auto huge = decode_registry_message<update_polo_score_request>(
      R"({"node_id":1,"delta":1e300})");
  REQUIRE(huge.has_value());
  CHECK_EQ(huge->delta, std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("decoder repairs invalid UTF-8 like Go") {
  auto decoded = decode_registry_message<resolve_hostname_request>(
      "{\"hostname\":\"a\xFF\"}");
  REQUIRE(decoded.has_value());
  CHECK_EQ(decoded->hostname, "a\xEF\xBF\xBD");
}

TEST_CASE("decoder rejects bodies that are not JSON objects") {
  const std::array<std::string_view, 10> rejected{
      "",  "{",       R"({"type":"lookup")", "[]",      R"("lookup")",
      "5", "garbage", R"({"a":1} x)",        "{'a':1}", R"({"a":1e999})",
  };
  for (auto body : rejected) {
    CAPTURE(body);
    auto decoded = decode_registry_message<lookup_request>(body);
    REQUIRE_FALSE(decoded.has_value());
    CHECK_EQ(decoded.error(), errc::malformed_json);
    auto request = decode_registry_request(body);
    REQUIRE_FALSE(request.has_value());
    CHECK_EQ(request.error(), errc::malformed_json);
  }
}

TEST_CASE("decoder reads null as all defaults") {
  auto decoded = decode_registry_message<lookup_request>("null");
  REQUIRE(decoded.has_value());
  CHECK_EQ(decoded->node_id, 0);
  auto request = decode_registry_request("null");
  REQUIRE(request.has_value());
  REQUIRE(std::holds_alternative<unknown_request>(*request));
  CHECK(std::get<unknown_request>(*request).type.empty());
}

TEST_CASE("request decoder picks the struct by type") {
  auto request = decode_registry_request(
      R"({"type":"heartbeat","node_id":9,"signature":"sig"})");
  REQUIRE(request.has_value());
  REQUIRE(std::holds_alternative<heartbeat_request>(*request));
  CHECK_EQ(std::get<heartbeat_request>(*request).node_id, 9);
  CHECK_EQ(std::get<heartbeat_request>(*request).signature, "sig");

  auto last_type
      = decode_registry_request(R"({"type":"lookup","type":"beacon_list"})");
  REQUIRE(last_type.has_value());
  CHECK(std::holds_alternative<beacon_list_request>(*last_type));
}

TEST_CASE("request decoder names every request type") {
  const std::array<std::string_view, 24> types{
      "register",          "heartbeat",
      "deregister",        "lookup",
      "resolve",           "resolve_hostname",
      "set_hostname",      "set_visibility",
      "set_tags",          "set_task_exec",
      "report_trust",      "revoke_trust",
      "request_handshake", "poll_handshakes",
      "respond_handshake", "punch",
      "rotate_key",        "update_polo_score",
      "set_polo_score",    "get_polo_score",
      "list_networks",     "list_nodes",
      "beacon_register",   "beacon_list",
  };
  for (auto type : types) {
    CAPTURE(type);
    auto request
        = decode_registry_request(R"({"type":")" + std::string{type} + R"("})");
    REQUIRE(request.has_value());
    CHECK_FALSE(std::holds_alternative<unknown_request>(*request));
  }
}

TEST_CASE("request decoder keeps unknown types") {
  for (std::string_view type :
       {"create_network", "subscribe_replication", "register_ok", ""}) {
    CAPTURE(type);
    auto request
        = decode_registry_request(R"({"type":")" + std::string{type} + R"("})");
    REQUIRE(request.has_value());
    REQUIRE(std::holds_alternative<unknown_request>(*request));
    CHECK_EQ(std::get<unknown_request>(*request).type, type);
  }
  auto no_type = decode_registry_request(R"({"type":5})");
  REQUIRE(no_type.has_value());
  CHECK(std::holds_alternative<unknown_request>(*no_type));
}

TEST_CASE("error responses are recognized by a string error field") {
  CHECK(is_error_response(generic_error_body));
  CHECK(is_error_response(R"({"error":"x","type":"heartbeat_ok"})"));
  CHECK(is_error_response(R"({"error":""})"));
  CHECK(is_error_response("not json"));
  CHECK_FALSE(is_error_response(R"({"time":1,"type":"heartbeat_ok"})"));
  CHECK_FALSE(is_error_response(R"({"error":5,"type":"error"})"));
  CHECK_FALSE(is_error_response(R"({"error":"x","error":null})"));
  CHECK_FALSE(is_error_response("null"));
  CHECK_EQ(error_text(generic_error_body), "request failed");
  CHECK_EQ(error_text(R"({"type":"heartbeat_ok"})"), "");
}
