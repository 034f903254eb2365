#include "control/ipc_inbox.hpp"

#include <doctest/doctest.h>

using namespace pilot;
using control::ipc_inbox;
using protocol::ipc_command;
using protocol::ipc_frame;

namespace {

ipc_frame error_frame(std::string_view message) {
  auto frame = protocol::encode_ipc_error(message);
  // Drop the length prefix and the command byte.
  return {ipc_command::error, frame.substr(5)};
}

ipc_frame conn_frame(ipc_command command, std::uint32_t conn_id) {
  return {command, protocol::encode_conn_id(conn_id)};
}

ipc_frame recv_frame(std::uint32_t conn_id, std::string data) {
  return {ipc_command::recv, protocol::encode_conn_data({conn_id, data})};
}

ipc_frame accept_frame(std::uint16_t port, std::uint32_t conn_id) {
  return {ipc_command::accept,
          protocol::encode_accept({port, conn_id, {0, 9}, 49152})};
}

ipc_frame datagram_frame(std::uint16_t port, std::string data) {
  return {ipc_command::recv_from,
          protocol::encode_recv_from({{0, 9}, 49152, port, std::move(data)})};
}

} // namespace

TEST_CASE("inbox replies go to the oldest waiter") {
  ipc_inbox inbox;
  auto first = inbox.expect(ipc_command::bind_ok);
  auto second = inbox.expect(ipc_command::bind_ok);
  inbox.add({ipc_command::bind_ok, protocol::encode_bind(1)});
  inbox.add({ipc_command::bind_ok, protocol::encode_bind(2)});
  auto second_reply = inbox.take_reply(second);
  auto first_reply = inbox.take_reply(first);
  REQUIRE(first_reply.has_value());
  REQUIRE(second_reply.has_value());
  CHECK(protocol::decode_bind(first_reply->payload).value() == 1);
  CHECK(protocol::decode_bind(second_reply->payload).value() == 2);
  CHECK_FALSE(inbox.take_reply(first).has_value());
}

TEST_CASE("inbox errors go to the oldest waiter") {
  ipc_inbox inbox;
  auto dial = inbox.expect(ipc_command::dial_ok);
  auto bind = inbox.expect(ipc_command::bind_ok);
  inbox.add(error_frame("dial timeout"));
  auto reply = inbox.take_reply(dial);
  REQUIRE(reply.has_value());
  CHECK(reply->command == ipc_command::error);
  CHECK_FALSE(inbox.take_reply(bind).has_value());
  CHECK_FALSE(inbox.has_unclaimed_error());
}

TEST_CASE("inbox keeps errors without a waiter") {
  ipc_inbox inbox;
  inbox.add(error_frame("connection 5 not found"));
  CHECK(inbox.has_unclaimed_error());
  CHECK(inbox.take_unclaimed_error() == "connection 5 not found");
  CHECK_FALSE(inbox.has_unclaimed_error());
}

TEST_CASE("inbox unclaimed errors are bounded") {
  ipc_inbox inbox{{64, 256, 2}};
  for (auto message : {"a", "b", "c"})
    inbox.add(error_frame(message));
  CHECK(inbox.take_unclaimed_error() == "b");
  CHECK(inbox.take_unclaimed_error() == "c");
  CHECK(inbox.dropped() == 1);
}

TEST_CASE("inbox keeps data sent before dial ok") {
  ipc_inbox inbox;
  auto dial = inbox.expect(ipc_command::dial_ok);
  inbox.add(recv_frame(5, "early"));
  inbox.add(conn_frame(ipc_command::dial_ok, 5));
  REQUIRE(inbox.take_reply(dial).has_value());
  auto data = inbox.take_data(5, 100);
  REQUIRE(data.has_value());
  CHECK(data->data == "early");
  CHECK_FALSE(data->eof);
  CHECK_FALSE(inbox.take_data(5, 100).has_value());
}

TEST_CASE("inbox close ok ends a stream") {
  ipc_inbox inbox;
  auto dial = inbox.expect(ipc_command::dial_ok);
  inbox.add(conn_frame(ipc_command::dial_ok, 5));
  inbox.add(conn_frame(ipc_command::close_ok, 5));
  REQUIRE(inbox.take_reply(dial).has_value());
  auto end = inbox.take_data(5, 100);
  REQUIRE(end.has_value());
  CHECK(end->eof);
  CHECK(end->data.empty());
}

TEST_CASE("inbox reads split a chunk") {
  ipc_inbox inbox;
  inbox.add(recv_frame(5, "abcdef"));
  CHECK(inbox.buffered_bytes() == 6);
  CHECK(inbox.take_data(5, 4)->data == "abcd");
  CHECK(inbox.buffered_bytes() == 2);
  CHECK(inbox.take_data(5, 4)->data == "ef");
  CHECK(inbox.buffered_bytes() == 0);
}

TEST_CASE("inbox close ok matches its connection") {
  ipc_inbox inbox;
  auto close = inbox.expect(ipc_command::close_ok, 3);
  inbox.add(conn_frame(ipc_command::close_ok, 4));
  CHECK_FALSE(inbox.take_reply(close).has_value());
  inbox.add(conn_frame(ipc_command::close_ok, 3));
  auto reply = inbox.take_reply(close);
  REQUIRE(reply.has_value());
  CHECK(protocol::decode_conn_id(reply->payload).value() == 3);
}

TEST_CASE("inbox drops data of a discarded connection") {
  ipc_inbox inbox;
  inbox.add(recv_frame(5, "kept until discarded"));
  inbox.discard(5);
  CHECK(inbox.buffered_bytes() == 0);
  inbox.add(recv_frame(5, "late"));
  CHECK(inbox.buffered_bytes() == 0);
  inbox.add(conn_frame(ipc_command::close_ok, 5));
  // The stream is gone; a read of it ends at once.
  auto end = inbox.take_data(5, 100);
  REQUIRE(end.has_value());
  CHECK(end->eof);
}

TEST_CASE("inbox accepts only listened ports") {
  ipc_inbox inbox;
  inbox.listen(1000);
  inbox.add(accept_frame(2000, 7));
  inbox.add(accept_frame(1000, 8));
  CHECK_FALSE(inbox.take_accept(2000).has_value());
  auto accept = inbox.take_accept(1000);
  REQUIRE(accept.has_value());
  CHECK(accept->conn_id == 8);
  CHECK(inbox.dropped() == 1);
}

TEST_CASE("inbox accept queue holds 64") {
  ipc_inbox inbox;
  inbox.listen(1000);
  for (std::uint32_t id = 1; id <= 70; ++id)
    inbox.add(accept_frame(1000, id));
  int taken = 0;
  while (inbox.take_accept(1000))
    ++taken;
  CHECK(taken == 64);
  CHECK(inbox.dropped() == 6);
}

TEST_CASE("inbox datagram queue holds 256") {
  ipc_inbox inbox;
  for (int i = 0; i < 300; ++i)
    inbox.add(datagram_frame(5000, std::to_string(i)));
  auto first = inbox.take_datagram();
  REQUIRE(first.has_value());
  CHECK(first->data == "0");
  CHECK(first->dst_port == 5000);
  int taken = 1;
  while (inbox.take_datagram())
    ++taken;
  CHECK(taken == 256);
  CHECK(inbox.dropped() == 44);
}

TEST_CASE("inbox counts unexpected replies") {
  ipc_inbox inbox;
  inbox.add({ipc_command::info_ok, "{}"});
  inbox.add({ipc_command::recv, "\x01"});
  CHECK(inbox.dropped() == 2);
}
