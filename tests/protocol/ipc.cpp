#include "protocol/ipc.hpp"

#include "protocol/utf8.hpp"
#include "tests/protocol/frame_reading.hpp"
#include "tests/protocol/hex.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace pilot::protocol;
using namespace pilot::test;

namespace {

// Encodes a frame that must fit the limit.
std::string encode_frame(ipc_command cmd, std::string_view payload) {
  auto frame = encode_ipc_frame(cmd, payload);
  REQUIRE(frame.has_value());
  return *frame;
}

// Decodes exactly one frame from `wire` and checks that nothing is left.
ipc_frame decode_one(std::string_view wire) {
  ipc_frame_decoder decoder;
  decoder.feed(wire);
  auto frame = decoder.next();
  REQUIRE(frame.has_value());
  REQUIRE(frame->has_value());
  CHECK(decoder.buffered() == 0);
  return **frame;
}

} // namespace

TEST_CASE("ipc bind example matches the reference bytes") {
  auto request = byte_string({0x00, 0x00, 0x00, 0x03, 0x01, 0x03, 0xe8});
  auto reply = byte_string({0x00, 0x00, 0x00, 0x03, 0x02, 0x03, 0xe8});
  CHECK(encode_frame(ipc_command::bind, encode_bind(1000)) == request);
  CHECK(encode_frame(ipc_command::bind_ok, encode_bind(1000)) == reply);
  auto frame = decode_one(request);
  CHECK(frame.command == ipc_command::bind);
  CHECK(decode_bind(frame.payload).value() == 1000);
}

TEST_CASE("ipc dial example matches the reference bytes") {
  auto request = byte_string({0x00, 0x00, 0x00, 0x09, 0x03, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x05, 0x03, 0xe9});
  auto reply
      = byte_string({0x00, 0x00, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00, 0x07});
  dial_request dial{{0, 5}, 1001};
  CHECK(encode_frame(ipc_command::dial, encode_dial(dial)) == request);
  CHECK(encode_frame(ipc_command::dial_ok, encode_conn_id(7)) == reply);
  CHECK(decode_dial(decode_one(request).payload).value() == dial);
  CHECK(decode_conn_id(decode_one(reply).payload).value() == 7);
}

TEST_CASE("ipc send and recv examples match the reference bytes") {
  auto send = byte_string(
      {0x00, 0x00, 0x00, 0x07, 0x06, 0x00, 0x00, 0x00, 0x07, 0x68, 0x69});
  auto recv = byte_string(
      {0x00, 0x00, 0x00, 0x07, 0x07, 0x00, 0x00, 0x00, 0x07, 0x6f, 0x6b});
  CHECK(encode_frame(ipc_command::send, encode_conn_data({7, "hi"})) == send);
  CHECK(encode_frame(ipc_command::recv, encode_conn_data({7, "ok"})) == recv);
  auto data = decode_conn_data(decode_one(recv).payload).value();
  CHECK(data.conn_id == 7);
  CHECK(data.data == "ok");
}

TEST_CASE("ipc accept example matches the reference bytes") {
  auto push
      = byte_string({0x00, 0x00, 0x00, 0x0f, 0x05, 0x03, 0xe8, 0x00, 0x00, 0x00,
                     0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0xc0, 0x00});
  accept_push accept{1000, 9, {0, 9}, 49152};
  CHECK(encode_frame(ipc_command::accept, encode_accept(accept)) == push);
  CHECK(decode_accept(decode_one(push).payload).value() == accept);
}

TEST_CASE("ipc send_to payload puts the address before the port") {
  send_to_request request{{1, 0xF2910004}, 5000, "ping"};
  auto payload = encode_send_to(request);
  CHECK(payload
        == byte_string({0x00, 0x01, 0xf2, 0x91, 0x00, 0x04, 0x13, 0x88})
               + "ping");
  CHECK(decode_send_to(payload).value() == request);
}

TEST_CASE("ipc send_to payload may carry no data") {
  send_to_request request{{0, 5}, 7, ""};
  auto decoded = decode_send_to(encode_send_to(request));
  REQUIRE(decoded.has_value());
  CHECK(decoded->data.empty());
  CHECK(*decoded == request);
}

TEST_CASE("ipc recv_from push carries both ports") {
  recv_from_push push{{0, 9}, 49153, 5000, "pong"};
  auto frame = encode_frame(ipc_command::recv_from, encode_recv_from(push));
  CHECK(frame
        == byte_string({0x00, 0x00, 0x00, 0x0f, 0x0c, 0x00, 0x00, 0x00, 0x00,
                        0x00, 0x09, 0xc0, 0x01, 0x13, 0x88})
               + "pong");
  CHECK(decode_recv_from(decode_one(frame).payload).value() == push);
}

TEST_CASE("ipc handshake example matches the reference bytes") {
  auto request = byte_string(
      {0x00, 0x00, 0x00, 0x08, 0x0f, 0x01, 0x00, 0x00, 0x00, 0x05, 0x68, 0x69});
  std::string json = R"({"node_id":5,"status":"sent"})";
  REQUIRE(json.size() == 29);
  auto reply = byte_string({0x00, 0x00, 0x00, 0x1e, 0x10}) + json;
  auto payload = byte_string({0x01, 0x00, 0x00, 0x00, 0x05}) + "hi";
  CHECK(encode_frame(ipc_command::handshake, payload) == request);
  CHECK(encode_frame(ipc_command::handshake_ok, json) == reply);
  auto frame = decode_one(reply);
  CHECK(frame.command == ipc_command::handshake_ok);
  CHECK(frame.payload == json);
}

TEST_CASE("ipc error example matches the reference bytes") {
  std::string message = "port 1000 already bound";
  REQUIRE(message.size() == 23);
  auto wire = byte_string({0x00, 0x00, 0x00, 0x1a, 0x0a, 0x00, 0x01}) + message;
  CHECK(encode_ipc_error(message) == wire);
  auto frame = decode_one(wire);
  CHECK(frame.command == ipc_command::error);
  CHECK(decode_ipc_error(frame.payload).value() == message);
}

TEST_CASE("ipc info example matches the reference bytes") {
  auto request = byte_string({0x00, 0x00, 0x00, 0x01, 0x0d});
  CHECK(encode_frame(ipc_command::info, "") == request);
  auto frame = decode_one(request);
  CHECK(frame.command == ipc_command::info);
  CHECK(frame.payload.empty());
}

TEST_CASE("ipc decoder waits for a frame split at every byte") {
  auto wire = encode_frame(ipc_command::set_hostname, "web")
              + encode_frame(ipc_command::info, "");
  // Every frame is complete and no byte stays buffered.
  auto frames = read_frames<ipc_frame_decoder>(wire, 1);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0] == ipc_frame{ipc_command::set_hostname, "web"});
  CHECK(frames[1] == ipc_frame{ipc_command::info, ""});
}

TEST_CASE("ipc decoder reports a truncated frame as incomplete") {
  auto wire = encode_frame(ipc_command::set_webhook, "http://x/");
  ipc_frame_decoder decoder;
  decoder.feed(wire.substr(0, wire.size() - 1));
  auto frame = decoder.next();
  REQUIRE(frame.has_value());
  CHECK_FALSE(frame->has_value());
  CHECK(decoder.buffered() == wire.size() - 1);
}

TEST_CASE("ipc decoder skips empty frames") {
  auto wire = byte_string({0, 0, 0, 0, 0, 0, 0, 0})
              + encode_frame(ipc_command::deregister, "");
  auto frame = decode_one(wire);
  CHECK(frame.command == ipc_command::deregister);
}

TEST_CASE("ipc decoder rejects an oversize length before its body") {
  ipc_frame_decoder decoder;
  decoder.feed(byte_string({0x00, 0x10, 0x00, 0x01}));
  auto frame = decoder.next();
  REQUIRE_FALSE(frame.has_value());
  CHECK(frame.error() == errc::oversized);
  // The decoder stays failed, whatever arrives next.
  decoder.feed(encode_frame(ipc_command::info, ""));
  auto again = decoder.next();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error() == errc::oversized);
}

TEST_CASE("ipc decoder accepts a frame of exactly the maximum size") {
  std::string payload(max_ipc_frame_size - 1, 'x');
  auto frame = decode_one(encode_frame(ipc_command::send, payload));
  CHECK(frame.command == ipc_command::send);
  CHECK(frame.payload.size() == max_ipc_frame_size - 1);
}

TEST_CASE("ipc encoder rejects an oversize payload") {
  std::string payload(max_ipc_payload_size + 1, 'x');
  auto frame = encode_ipc_frame(ipc_command::set_hostname_ok, payload);
  REQUIRE_FALSE(frame.has_value());
  CHECK(frame.error() == errc::oversized);
  payload.pop_back();
  CHECK(encode_ipc_frame(ipc_command::set_hostname_ok, payload).has_value());
}

TEST_CASE("ipc error frame cuts an oversize message") {
  // 'a' then 2-byte characters, so that the frame limit falls inside one.
  std::string message = "a";
  while (message.size() <= max_ipc_frame_size)
    message += "\xC3\xA9";
  auto frame = decode_one(encode_ipc_error(message));
  CHECK(frame.command == ipc_command::error);
  CHECK(1 + frame.payload.size() <= max_ipc_frame_size);
  auto text = decode_ipc_error(frame.payload).value();
  CHECK(text.ends_with(ipc_truncation_marker));
  CHECK(is_valid_utf8(text));
  CHECK(message.starts_with(
      text.substr(0, text.size() - ipc_truncation_marker.size())));
  // No more than one character's bytes are given up for the boundary.
  CHECK(1 + frame.payload.size() >= max_ipc_frame_size - 1);
}

TEST_CASE("ipc error frame keeps a message that fits") {
  std::string message(max_ipc_payload_size - 2, 'x');
  auto text = decode_ipc_error(decode_one(encode_ipc_error(message)).payload);
  CHECK(text.value() == message);
}

TEST_CASE("ipc text truncation") {
  CHECK(truncate_text("short", 5) == "short");
  CHECK(truncate_text("abcdefgh", 6) == "abc\xE2\x80\xA6");
  // The cut never splits the 3-byte euro sign.
  CHECK(truncate_text("ab\xE2\x82\xAC"
                      "cdef",
                      7)
        == "ab\xE2\x80\xA6");
  CHECK(truncate_text("abcdef", 3) == "\xE2\x80\xA6");
}

TEST_CASE("ipc decoder keeps unknown command bytes") {
  auto frame = decode_one(byte_string({0x00, 0x00, 0x00, 0x02, 0x7f, 0x41}));
  CHECK(static_cast<std::uint8_t>(frame.command) == 0x7f);
  CHECK_FALSE(is_known(frame.command));
  CHECK(frame.payload == "A");
}

TEST_CASE("ipc command names and bytes") {
  CHECK(to_string(ipc_command::set_hostname) == "set_hostname");
  CHECK(to_string(ipc_command::webhook_stats_ok) == "webhook_stats_ok");
  CHECK(static_cast<int>(ipc_command::set_webhook) == 0x1B);
  CHECK(static_cast<int>(ipc_command::webhook_stats) == 0x40);
  CHECK(static_cast<int>(ipc_command::webhook_stats_ok) == 0x41);
  CHECK(static_cast<int>(ipc_command::set_webhook_config) == 0x42);
  CHECK(static_cast<int>(ipc_command::set_webhook_config_ok) == 0x43);
  CHECK(static_cast<int>(ipc_command::webhook_test) == 0x44);
  CHECK(static_cast<int>(ipc_command::webhook_test_ok) == 0x45);
  CHECK(to_string(ipc_command::set_webhook_config) == "set_webhook_config");
  CHECK(to_string(ipc_command::webhook_test_ok) == "webhook_test_ok");
  CHECK(is_known(ipc_command::set_task_exec_ok));
  CHECK(is_known(ipc_command::webhook_test));
  CHECK_FALSE(is_known(static_cast<ipc_command>(0x1F)));
  CHECK_FALSE(is_known(static_cast<ipc_command>(0x46)));
  CHECK(format_command_byte(0x0d) == "0x0D");
  CHECK(format_command_byte(0xff) == "0xFF");
}

TEST_CASE("ipc error payload without its code is truncated") {
  CHECK(decode_ipc_error(byte_string({0x00})).error() == errc::truncated);
  CHECK(decode_ipc_error(byte_string({0x00, 0x01})).value().empty());
}

TEST_CASE("ipc set visibility payload") {
  CHECK(encode_set_visibility(true) == byte_string({0x01}));
  CHECK(encode_set_visibility(false) == byte_string({0x00}));
  CHECK(decode_set_visibility(byte_string({0x01})).value());
  CHECK_FALSE(decode_set_visibility(byte_string({0x02})).value());
  CHECK(decode_set_visibility("").error() == errc::truncated);
}

TEST_CASE("ipc set tags payload") {
  std::vector<std::string> tags{"gpu", "a\"b"};
  auto payload = encode_set_tags(tags);
  CHECK(payload == R"(["gpu","a\"b"])");
  CHECK(decode_set_tags(payload).value() == tags);
  CHECK(encode_set_tags({}) == "[]");
  CHECK(decode_set_tags("[]").value().empty());
  CHECK(decode_set_tags("null").value().empty());
  CHECK(decode_set_tags(R"(["a",1])").error() == errc::malformed_json);
  CHECK(decode_set_tags(R"({"a":1})").error() == errc::malformed_json);
  CHECK(decode_set_tags("[").error() == errc::malformed_json);
  CHECK(decode_set_tags("").error() == errc::malformed_json);
}

TEST_CASE("ipc short payloads are truncated") {
  CHECK(decode_bind(byte_string({0x03})).error() == errc::truncated);
  CHECK(decode_dial(byte_string({0, 0, 0, 0, 0, 5, 3})).error()
        == errc::truncated);
  CHECK(decode_conn_id(byte_string({0, 0, 7})).error() == errc::truncated);
  CHECK(decode_conn_data(byte_string({0, 0, 7})).error() == errc::truncated);
  CHECK(decode_accept(std::string(13, '\0')).error() == errc::truncated);
  CHECK(decode_send_to(std::string(7, '\0')).error() == errc::truncated);
  CHECK(decode_recv_from(std::string(9, '\0')).error() == errc::truncated);
}

TEST_CASE("ipc handshake request example matches the reference bytes") {
  auto frame = byte_string(
      {0x00, 0x00, 0x00, 0x08, 0x0f, 0x01, 0x00, 0x00, 0x00, 0x05, 0x68, 0x69});
  handshake_command command{handshake_operation::send, 5, "hi"};
  CHECK(encode_ipc_frame(ipc_command::handshake,
                         encode_handshake_command(command))
            .value()
        == frame);
  CHECK(decode_handshake_command(frame.substr(5)).value() == command);
}

TEST_CASE("ipc handshake sub-commands carry only their own arguments") {
  CHECK(encode_handshake_command({handshake_operation::pending, 9, "x"})
        == byte_string({0x04}));
  CHECK(encode_handshake_command({handshake_operation::revoke, 9, "x"})
        == byte_string({0x06, 0, 0, 0, 9}));
  auto approve
      = decode_handshake_command(byte_string({0x02, 0, 0, 0, 9, 0x41}));
  CHECK(approve.value().node == 9);
  CHECK(approve.value().text.empty());
  auto reject
      = decode_handshake_command(byte_string({0x03, 0, 0, 1, 0, 0x6e, 0x6f}));
  CHECK(reject.value().node == 256);
  CHECK(reject.value().text == "no");
  CHECK(decode_handshake_command(byte_string({0x05})).value().operation
        == handshake_operation::trusted);
}

TEST_CASE("ipc handshake payloads without a sub-command or node fail") {
  CHECK(decode_handshake_command("").error() == errc::truncated);
  CHECK(decode_handshake_command(byte_string({0x01, 0, 0, 5})).error()
        == errc::truncated);
  CHECK(decode_handshake_command(byte_string({0x07})).error()
        == errc::unknown_type);
  CHECK(decode_handshake_command(byte_string({0x00})).error()
        == errc::unknown_type);
}

TEST_CASE("ipc webhook config payload carries only the given keys") {
  webhook_config_change change;
  change.events = "conn.*";
  change.retries = 1;
  CHECK(encode_set_webhook_config(change)
        == R"({"events":"conn.*","retries":1})");
  CHECK(encode_set_webhook_config({}) == "{}");
  CHECK(webhook_config_change{}.empty());
  CHECK_FALSE(change.empty());
}

TEST_CASE("ipc webhook config payload round trips") {
  webhook_config_change change;
  change.url = "http://127.0.0.1:8080/hook";
  change.events = "";
  change.secrets = std::vector<std::string>{"whsec_a", "whsec_b"};
  change.ca_file = "/etc/pilot/ca.pem";
  change.retries = 3;
  change.concurrency = 8;
  change.buffer = 65536;
  change.timeout = "1m30s";
  auto decoded = decode_set_webhook_config(encode_set_webhook_config(change));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == change);
  auto cleared = webhook_config_change{};
  cleared.secrets = std::vector<std::string>{};
  auto empty_list
      = decode_set_webhook_config(encode_set_webhook_config(cleared));
  REQUIRE(empty_list.has_value());
  REQUIRE(empty_list->secrets.has_value());
  CHECK(empty_list->secrets->empty());
}

TEST_CASE("ipc webhook config payload errors name the key") {
  struct bad_payload {
    std::string_view payload;
    std::string_view message;
  };
  const bad_payload cases[] = {
      {R"([1,2])", "expected a JSON object"},
      {R"("text")", "expected a JSON object"},
      {R"({"retries":-1})", R"("retries" must be a whole number)"},
      {R"({"retries":1.5})", R"("retries" must be a whole number)"},
      {R"({"buffer":"8"})", R"("buffer" must be a whole number)"},
      {R"({"url":5})", R"("url" must be a string)"},
      {R"({"timeout":5})", R"("timeout" must be a string)"},
      {R"({"secrets":"whsec_a"})", R"("secrets" must be an array of strings)"},
      {R"({"secrets":["whsec_a",1]})",
       R"("secrets" must be an array of strings)"},
      {R"({"colour":"blue"})",
       R"(unknown key "colour"; the keys are url, events, secrets, ca_file, )"
       R"(retries, concurrency, buffer and timeout)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.payload);
    auto decoded = decode_set_webhook_config(c.payload);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message == c.message);
  }
}

TEST_CASE("ipc webhook config payload that is not json fails") {
  for (std::string_view payload : {"", "{", "{\"url\":}", "\xff"}) {
    CAPTURE(payload);
    auto decoded = decode_set_webhook_config(payload);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.starts_with("invalid JSON: "));
  }
}

TEST_CASE("ipc webhook config error never shows a secret") {
  auto decoded
      = decode_set_webhook_config(R"({"secrets":["whsec_x"],"extra":true})");
  REQUIRE_FALSE(decoded.has_value());
  CHECK(decoded.error().message.find("whsec_x") == std::string::npos);
}
