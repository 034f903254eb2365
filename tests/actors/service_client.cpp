#include "actors/service_client.hpp"

#include "protocol/ipc.hpp"
#include "tests/actors/actor_test_support.hpp"

#include <doctest/doctest.h>

#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace pilot::actors;
using namespace pilot::test;
namespace protocol = pilot::protocol;

namespace {

/// What the recording service received, in order.
struct service_log {
  std::vector<stream_opened> opened;
  std::vector<stream_data> data;
  std::vector<std::uint32_t> closed;
};

stream_service_actor::behavior_type
recording_service(std::shared_ptr<service_log> log) {
  return {
      [log](stream_opened& opened) { log->opened.push_back(opened); },
      [log](stream_data& data) { log->data.push_back(std::move(data)); },
      [log](stream_closed& closed) { log->closed.push_back(closed.conn_id); },
  };
}

std::string frame(protocol::ipc_command command, const std::string& payload) {
  return protocol::encode_ipc_frame(command, payload).value();
}

struct fixture : deterministic_system {
  fixture() {
    service = sys.spawn(recording_service, log);
    client = make_service_client(service_client_id(1001), service);
  }

  ~fixture() {
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    sched.run();
  }

  std::shared_ptr<service_log> log = std::make_shared<service_log>();
  stream_service_actor service;
  ipc_client client;
};

} // namespace

TEST_CASE("service client IDs never meet IPC client IDs") {
  CHECK(service_client_id(444) != service_client_id(1001));
  CHECK(service_client_id(0) > (std::uint64_t{1} << 62));
}

TEST_CASE_FIXTURE(fixture, "pushes reach the service as typed messages") {
  protocol::accept_push accept{1001, 9, {0, 7}, 49152};
  client.push(
      frame(protocol::ipc_command::accept, protocol::encode_accept(accept)),
      {});
  client.push(
      frame(protocol::ipc_command::close_ok, protocol::encode_conn_id(9)), {});
  sched.run();
  REQUIRE(log->opened.size() == 1);
  CHECK(log->opened[0].local_port == 1001);
  CHECK(log->opened[0].conn_id == 9);
  CHECK(log->opened[0].remote == protocol::address{0, 7});
  CHECK(log->opened[0].remote_port == 49152);
  CHECK(log->closed == std::vector<std::uint32_t>{9});
}

TEST_CASE_FIXTURE(fixture, "data is released only when the service "
                           "consumed it") {
  int released = 0;
  client.push(frame(protocol::ipc_command::recv,
                    protocol::encode_conn_data({9, "hello"})),
              [&released] { ++released; });
  CHECK(released == 0);
  sched.run();
  REQUIRE(log->data.size() == 1);
  CHECK(log->data[0].conn_id == 9);
  CHECK(log->data[0].bytes == "hello");
  CHECK(released == 0);
  log->data[0].consumed();
  CHECK(released == 1);
}

TEST_CASE_FIXTURE(fixture, "pushes a service has no use for are released") {
  int released = 0;
  protocol::recv_from_push datagram{{0, 7}, 5, 6, "x"};
  client.push(frame(protocol::ipc_command::recv_from,
                    protocol::encode_recv_from(datagram)),
              [&released] { ++released; });
  client.push(std::string(2, '\0'), [&released] { ++released; });
  sched.run();
  CHECK(released == 2);
  CHECK(log->data.empty());
}
