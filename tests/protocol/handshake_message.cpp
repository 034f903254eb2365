#include "protocol/handshake_message.hpp"

#include "protocol/error.hpp"
#include "protocol/identity.hpp"
#include "tests/protocol/rfc8032_key.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

using namespace pilot::protocol;
using namespace pilot::test;

namespace {

// The signature of `handshake:1:2` by the RFC 8032 key, computed with
// Python `cryptography`.
constexpr std::string_view handshake_1_2_signature
    = "9S+I5TI03acn8tKkIroprBmv6NzljsX4+ZcP04hlEtUrmPJEww0O11uGhVSGh4Xs/so1V4H"
      "lVcLx5g/kulFZCw==";

handshake_message sample_message() {
  handshake_message message;
  message.type = "handshake_request";
  message.node_id = 1;
  message.public_key = std::string{rfc8032_public_key};
  message.justification = "why";
  message.signature = std::string{handshake_1_2_signature};
  message.timestamp = 1772200000;
  return message;
}

} // namespace

TEST_CASE("a request signature matches the golden vector") {
  auto message = make_handshake_message(
      handshake_kind::request, rfc8032_identity(), 1, 2, "why", 1772200000);
  REQUIRE(message.has_value());
  CHECK(message->signature == handshake_1_2_signature);
  CHECK(message->public_key == rfc8032_public_key);
  CHECK(message->type == "handshake_request");
  CHECK(message->justification == "why");
  CHECK(message->reason.empty());
  CHECK(*message == sample_message());
}

TEST_CASE("every kind signs the same challenge") {
  for (auto kind : {handshake_kind::accept, handshake_kind::reject,
                    handshake_kind::revoke}) {
    auto message
        = make_handshake_message(kind, rfc8032_identity(), 1, 2, "no", 5);
    REQUIRE(message.has_value());
    CHECK(message->signature == handshake_1_2_signature);
    CHECK(message->justification.empty());
  }
}

TEST_CASE("reject and revoke carry their reasons") {
  auto reject = make_handshake_message(handshake_kind::reject,
                                       rfc8032_identity(), 1, 2, "busy", 5);
  REQUIRE(reject.has_value());
  CHECK(reject->reason == "busy");
  auto revoke = make_handshake_message(handshake_kind::revoke,
                                       rfc8032_identity(), 1, 2, "ignored", 5);
  REQUIRE(revoke.has_value());
  CHECK(revoke->reason == "trust revoked");
  auto accept = make_handshake_message(handshake_kind::accept,
                                       rfc8032_identity(), 1, 2, "ignored", 5);
  REQUIRE(accept.has_value());
  CHECK(accept->reason.empty());
}

TEST_CASE("the encoding has the seven fields in Go's order") {
  CHECK(encode_handshake_message(sample_message())
        == R"({"type":"handshake_request","node_id":1,)"
           R"("public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",)"
           R"("justification":"why","signature":")"
               + std::string{handshake_1_2_signature}
               + R"(","reason":"","timestamp":1772200000})");
}

TEST_CASE("an empty message still writes every field") {
  CHECK(encode_handshake_message({})
        == R"({"type":"","node_id":0,"public_key":"","justification":"",)"
           R"("signature":"","reason":"","timestamp":0})");
}

TEST_CASE("the encoding escapes text as Go does") {
  handshake_message message;
  message.justification = "<a&b>\n\"q\"";
  auto text = encode_handshake_message(message);
  CHECK(text.find(R"("justification":"\u003ca\u0026b\u003e\n\"q\"")")
        != std::string::npos);
}

TEST_CASE("a message round-trips through its encoding") {
  auto message = sample_message();
  message.reason = "r\u00e9ason";
  message.timestamp = -3;
  auto decoded = decode_handshake_message(encode_handshake_message(message));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == message);
}

TEST_CASE("any key order and unknown keys decode") {
  auto decoded = decode_handshake_message(
      R"({"timestamp":7,"extra":{"x":[1,2]},"reason":"r","node_id":9,)"
      R"("type":"handshake_revoke","signature":"s","public_key":"k"})");
  REQUIRE(decoded.has_value());
  CHECK(decoded->type == "handshake_revoke");
  CHECK(decoded->node_id == 9);
  CHECK(decoded->public_key == "k");
  CHECK(decoded->justification.empty());
  CHECK(decoded->signature == "s");
  CHECK(decoded->reason == "r");
  CHECK(decoded->timestamp == 7);
}

TEST_CASE("missing keys and nulls keep zero values") {
  auto decoded = decode_handshake_message(
      R"({"type":"handshake_accept","reason":null,"node_id":null})");
  REQUIRE(decoded.has_value());
  CHECK(decoded->type == "handshake_accept");
  CHECK(decoded->node_id == 0);
  CHECK(decoded->reason.empty());
  CHECK(decoded->timestamp == 0);
}

TEST_CASE("the last of duplicate keys wins") {
  auto decoded = decode_handshake_message(R"({"node_id":1,"node_id":2})");
  REQUIRE(decoded.has_value());
  CHECK(decoded->node_id == 2);
}

TEST_CASE("values of the wrong type are rejected") {
  for (std::string_view text : {
           R"({"type":1})",
           R"({"node_id":"1"})",
           R"({"node_id":-1})",
           R"({"node_id":4294967296})",
           R"({"node_id":1.5})",
           R"({"node_id":1e3})",
           R"({"timestamp":"now"})",
           R"({"timestamp":18446744073709551615})",
           R"({"timestamp":1.0})",
           R"({"public_key":true})",
           R"({"justification":["a"]})",
           R"({"signature":{}})",
           R"({"reason":false})",
           R"([1,2])",
           R"("text")",
       }) {
    CAPTURE(text);
    auto decoded = decode_handshake_message(text);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == errc::invalid_field);
  }
}

TEST_CASE("the largest node ID is accepted") {
  auto decoded = decode_handshake_message(R"({"node_id":4294967295})");
  REQUIRE(decoded.has_value());
  CHECK(decoded->node_id == 4294967295u);
}

TEST_CASE("incomplete or invalid JSON is malformed") {
  auto full = encode_handshake_message(sample_message());
  for (std::string text : {
           full.substr(0, full.size() / 2),
           full.substr(0, full.size() - 1),
           full + "{}",
           std::string{"{\"type\":"},
           std::string{},
           std::string{"not json"},
       }) {
    CAPTURE(text);
    auto decoded = decode_handshake_message(text);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error() == errc::malformed_json);
  }
}

TEST_CASE("a kind is named by its type text") {
  CHECK(parse_handshake_kind("handshake_request") == handshake_kind::request);
  CHECK(parse_handshake_kind("handshake_accept") == handshake_kind::accept);
  CHECK(parse_handshake_kind("handshake_reject") == handshake_kind::reject);
  CHECK(parse_handshake_kind("handshake_revoke") == handshake_kind::revoke);
  CHECK_FALSE(parse_handshake_kind("handshake_hello").has_value());
  CHECK(to_type_text(handshake_kind::revoke) == "handshake_revoke");
}

TEST_CASE("a signature verifies against the sender's key and receiver") {
  auto message = sample_message();
  CHECK(verify_handshake_signature(message, rfc8032_public_key, 2));
  CHECK_FALSE(verify_handshake_signature(message, rfc8032_public_key, 3));
  message.node_id = 5;
  CHECK_FALSE(verify_handshake_signature(message, rfc8032_public_key, 2));
}

TEST_CASE("a signature by another key does not verify") {
  auto other = identity::generate();
  REQUIRE(other.has_value());
  CHECK_FALSE(verify_handshake_signature(sample_message(),
                                         other->public_key_base64(), 2));
}

TEST_CASE("an empty or malformed signature does not verify") {
  auto message = sample_message();
  CHECK_FALSE(verify_handshake_signature(message, "", 2));
  message.signature.clear();
  CHECK_FALSE(verify_handshake_signature(message, rfc8032_public_key, 2));
  message.signature = "not base64!";
  CHECK_FALSE(verify_handshake_signature(message, rfc8032_public_key, 2));
}

TEST_CASE("the replay key changes with every field") {
  auto base = sample_message();
  auto key = replay_key(base);
  CHECK(replay_key(base) == key);
  auto changed = [&](auto change) {
    auto message = base;
    change(message);
    return replay_key(message) != key;
  };
  CHECK(changed([](handshake_message& m) { m.type = "handshake_accept"; }));
  CHECK(changed([](handshake_message& m) { m.node_id = 2; }));
  CHECK(changed([](handshake_message& m) { m.public_key += "x"; }));
  CHECK(changed([](handshake_message& m) { m.justification = "wh"; }));
  CHECK(changed([](handshake_message& m) { m.signature.clear(); }));
  CHECK(changed([](handshake_message& m) { m.reason = "r"; }));
  CHECK(changed([](handshake_message& m) { m.timestamp += 1; }));
}

TEST_CASE("the replay key keeps field boundaries apart") {
  handshake_message first;
  first.justification = "ab";
  handshake_message second;
  second.justification = "a";
  second.signature = "b";
  CHECK(replay_key(first) != replay_key(second));
}
