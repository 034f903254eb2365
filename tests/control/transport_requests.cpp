#include "control/detail/control_state.hpp"

#include "tests/control/control_fixture.hpp"
#include "tests/control/stand_in_transport.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

using namespace pilot;
using namespace pilot::test;

namespace {

struct transport_fixture : fixture {
  transport_fixture() { connections = sys.spawn(stand_in_connections, stats); }

  std::shared_ptr<stand_in_stats> stats = std::make_shared<stand_in_stats>();
};

protocol::ipc_frame receive(std::unique_ptr<control::ipc_client>& client) {
  auto frame = client->receive(5s);
  REQUIRE(frame.has_value());
  return *frame;
}

std::string dial_payload(std::uint16_t port) {
  return protocol::encode_dial({{0, stand_in_address.node}, port});
}

std::uint32_t dial(std::unique_ptr<control::ipc_client>& client,
                   std::uint16_t port) {
  auto reply = call(client, ipc_command::dial, dial_payload(port));
  REQUIRE(reply.command == ipc_command::dial_ok);
  return protocol::decode_conn_id(reply.payload).value();
}

void send(std::unique_ptr<control::ipc_client>& client, std::uint32_t conn_id,
          std::string data) {
  REQUIRE_FALSE(client->send_bytes(
      frame_bytes(ipc_command::send,
                  protocol::encode_conn_data({conn_id, std::move(data)})),
      5s));
}

std::string send_to_payload(std::uint32_t node, std::uint16_t port,
                            std::string data) {
  return protocol::encode_send_to({{0, node}, port, std::move(data)});
}

} // namespace

TEST_CASE_FIXTURE(transport_fixture, "bind dial and send reach the peer") {
  start();
  auto server = connect();
  auto client = connect();
  auto bound = call(server, ipc_command::bind, protocol::encode_bind(1000));
  REQUIRE(bound.command == ipc_command::bind_ok);
  CHECK(protocol::decode_bind(bound.payload).value() == 1000);
  auto conn_id = dial(client, 1000);
  auto accept = receive(server);
  REQUIRE(accept.command == ipc_command::accept);
  auto pushed = protocol::decode_accept(accept.payload).value();
  CHECK(pushed.local_port == 1000);
  CHECK(pushed.remote_port == stand_in_source_port);
  CHECK(pushed.conn_id != conn_id);
  send(client, conn_id, "hi");
  auto data = receive(server);
  REQUIRE(data.command == ipc_command::recv);
  CHECK(protocol::decode_conn_data(data.payload).value()
        == protocol::conn_data{pushed.conn_id, "hi"});
  // A Send that succeeds has no reply, so the next frame is the Info reply.
  CHECK(call(client, ipc_command::info).command == ipc_command::info_ok);
  CHECK(stats->bytes_written == 2);
}

TEST_CASE_FIXTURE(transport_fixture, "transport errors carry ipc texts") {
  start();
  auto client = connect();
  REQUIRE(call(client, ipc_command::bind, protocol::encode_bind(1000)).command
          == ipc_command::bind_ok);
  CHECK(error_text(call(client, ipc_command::bind, protocol::encode_bind(1000)))
        == "port 1000 already bound");
  CHECK(error_text(call(client, ipc_command::dial, dial_payload(2000)))
        == "connection refused");
  CHECK(error_text(call(client, ipc_command::send,
                        protocol::encode_conn_data({42, "x"})))
        == "connection 42 not found");
  CHECK(error_text(
            call(client, ipc_command::send_to, send_to_payload(404, 5000, "x")))
        == "resolve node 404: not found");
  CHECK(error_text(call(client, ipc_command::send_to,
                        send_to_payload(protocol::broadcast_node, 5000, "x")))
        == "broadcast is not available \xE2\x80\x94 custom networks are WIP");
}

TEST_CASE_FIXTURE(transport_fixture, "data before dial ok waits for it") {
  start();
  auto client = connect();
  REQUIRE_FALSE(client->send_bytes(
      frame_bytes(ipc_command::dial, dial_payload(greeting_port)), 5s));
  auto first = receive(client);
  REQUIRE(first.command == ipc_command::dial_ok);
  auto conn_id = protocol::decode_conn_id(first.payload).value();
  auto second = receive(client);
  REQUIRE(second.command == ipc_command::recv);
  CHECK(protocol::decode_conn_data(second.payload).value()
        == protocol::conn_data{conn_id, "hello"});
  auto third = receive(client);
  REQUIRE(third.command == ipc_command::close_ok);
  CHECK(protocol::decode_conn_id(third.payload).value() == conn_id);
}

TEST_CASE_FIXTURE(transport_fixture, "stuck dial times out") {
  auto opts = options();
  opts.dial_timeout = 300ms;
  start(opts);
  auto client = connect();
  CHECK(error_text(call(client, ipc_command::dial, dial_payload(stalling_port)))
        == "dial: the connection actor did not answer within 300 ms");
}

TEST_CASE_FIXTURE(transport_fixture, "send near the frame limit arrives") {
  start();
  auto client = connect();
  auto conn_id = dial(client, echo_port);
  // The largest payload one frame holds, less the connection ID.
  std::string data(protocol::max_ipc_payload_size - 4, '\0');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 7 % 251);
  send(client, conn_id, data);
  std::string echoed;
  while (echoed.size() < data.size()) {
    auto frame = receive(client);
    REQUIRE(frame.command == ipc_command::recv);
    auto chunk = protocol::decode_conn_data(frame.payload).value();
    CHECK(chunk.conn_id == conn_id);
    CHECK(chunk.data.size() <= 4096);
    echoed += chunk.data;
  }
  CHECK(echoed == data);
  CHECK(stats->largest_write == data.size());
  CHECK(eventually([&] { return stats->pushes_written == stats->pushes; }));
}

TEST_CASE_FIXTURE(transport_fixture, "datagrams reach every client") {
  start();
  auto sender = connect();
  auto other = connect();
  // Info makes sure that both clients are known before the datagram.
  REQUIRE(call(other, ipc_command::info).command == ipc_command::info_ok);
  REQUIRE_FALSE(sender->send_bytes(
      frame_bytes(ipc_command::send_to,
                  send_to_payload(stand_in_address.node, 5000, "ping")),
      5s));
  for (auto* client : {&sender, &other}) {
    auto frame = receive(*client);
    REQUIRE(frame.command == ipc_command::recv_from);
    auto datagram = protocol::decode_recv_from(frame.payload).value();
    CHECK(datagram.dst_port == 5000);
    CHECK(datagram.src_port == stand_in_source_port);
    CHECK(datagram.src_address.node == stand_in_address.node);
    CHECK(datagram.data == "ping");
  }
}

TEST_CASE_FIXTURE(transport_fixture, "close replies and ends the peer") {
  start();
  auto server = connect();
  auto client = connect();
  REQUIRE(call(server, ipc_command::bind, protocol::encode_bind(1000)).command
          == ipc_command::bind_ok);
  auto conn_id = dial(client, 1000);
  auto accepted
      = protocol::decode_accept(receive(server).payload).value().conn_id;
  auto closed
      = call(client, ipc_command::close, protocol::encode_conn_id(conn_id));
  // Both the EOF push and the reply are CloseOK, in either order.
  CHECK(closed.command == ipc_command::close_ok);
  CHECK(protocol::decode_conn_id(closed.payload).value() == conn_id);
  auto other = receive(client);
  CHECK(other.command == ipc_command::close_ok);
  auto eof = receive(server);
  REQUIRE(eof.command == ipc_command::close_ok);
  CHECK(protocol::decode_conn_id(eof.payload).value() == accepted);
}

TEST_CASE_FIXTURE(transport_fixture, "a leaving client ends its connections") {
  start();
  auto server = connect();
  REQUIRE(call(server, ipc_command::bind, protocol::encode_bind(1000)).command
          == ipc_command::bind_ok);
  {
    auto client = connect();
    dial(client, 1000);
  }
  auto accepted
      = protocol::decode_accept(receive(server).payload).value().conn_id;
  auto eof = receive(server);
  REQUIRE(eof.command == ipc_command::close_ok);
  CHECK(protocol::decode_conn_id(eof.payload).value() == accepted);
  CHECK(eventually([&] { return stats->clients_closed == 1; }));
  CHECK(stats->clients_opened == 2);
}

TEST_CASE_FIXTURE(transport_fixture, "info merges tunnel and connections") {
  tunnel = sys.spawn(stand_in_tunnel);
  start();
  auto client = connect();
  auto conn_id = dial(client, echo_port);
  auto reply = call(client, ipc_command::info);
  REQUIRE(reply.command == ipc_command::info_ok);
  simdjson::dom::parser parser;
  auto info = parser.parse(reply.payload);
  REQUIRE(info.error() == simdjson::SUCCESS);
  CHECK(info["peers"].get_uint64().value() == 2);
  CHECK(info["encrypted_peers"].get_uint64().value() == 2);
  CHECK(info["authenticated_peers"].get_uint64().value() == 1);
  CHECK(info["bytes_sent"].get_uint64().value() == 1000);
  CHECK(info["bytes_recv"].get_uint64().value() == 2000);
  CHECK(info["pkts_sent"].get_uint64().value() == 10);
  CHECK(info["pkts_recv"].get_uint64().value() == 20);
  CHECK(info["frames_dropped"].get_uint64().value() == 3);
  auto peers = info["peer_list"].get_array();
  REQUIRE(peers.size() == 2);
  auto second = peers.at(1);
  CHECK(second["node_id"].get_uint64().value() == 12);
  CHECK(second["endpoint"].get_string().value() == "[::1]:4001");
  CHECK(second["encrypted"].get_bool().value());
  CHECK_FALSE(second["authenticated"].get_bool().value());
  CHECK(second["relay"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(info["connections"].get_uint64().value() == 1);
  CHECK(info["ports"].get_uint64().value() == 1);
  auto conns = info["conn_list"].get_array();
  REQUIRE(conns.size() == 1);
  CHECK(conns.at(0)["id"].get_uint64().value() == conn_id);
  CHECK(conns.at(0)["state"].get_string().value() == "ESTABLISHED");
}
