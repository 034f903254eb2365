#include "actors/data_exchange_actor.hpp"

#include "actors/service_fwd.hpp"
#include "protocol/address.hpp"
#include "protocol/data_exchange.hpp"
#include "protocol/events.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "tests/actors/file_test_support.hpp"

#include <doctest/doctest.h>

#include <caf/send.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace pilot::actors;
using namespace pilot::test;
namespace protocol = pilot::protocol;
namespace fs = std::filesystem;

namespace {

constexpr protocol::address peer{0, 7};

// -- helpers ------------------------------------------------------------------

std::string frame_of(protocol::data_type type, std::string_view payload) {
  auto frame
      = protocol::encode_data_frame(static_cast<std::uint32_t>(type), payload);
  REQUIRE(frame.has_value());
  return *frame;
}

std::string file_frame(std::string_view name, std::string_view data) {
  auto payload = protocol::encode_file_payload(name, data);
  REQUIRE(payload.has_value());
  return frame_of(protocol::data_type::file, *payload);
}

// Returns the TEXT payloads of the frames in `wire`.
std::vector<std::string> acks_in(std::string_view wire) {
  protocol::data_frame_reader reader;
  reader.feed(wire);
  std::vector<std::string> acks;
  for (;;) {
    auto frame = reader.next();
    REQUIRE(frame.has_value());
    if (!*frame)
      break;
    CHECK((*frame)->type == 1);
    acks.push_back((*frame)->payload);
  }
  CHECK(reader.buffered() == 0);
  return acks;
}

std::size_t files_in(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return 0;
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator{dir}, fs::directory_iterator{}));
}

// -- fixture ------------------------------------------------------------------

struct fixture : deterministic_system {
  fixture() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("pilot-dx-" + std::to_string(rd()));
    record->expected_client = service_client_id(data_exchange_port);
    connections = sys.spawn(recording_connections, record);
    sink = sys.spawn(recording_sink, events);
  }

  ~fixture() {
    if (service)
      caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    sched.run();
    caf::anon_send_exit(connections, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    sched.run();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void start(data_exchange_options options = {}) {
    options.data_dir = dir;
    service = spawn_data_exchange(sys, std::move(options), connections, sink);
    sched.run();
  }

  void open(std::uint32_t conn_id) {
    caf::anon_send(service,
                   stream_opened{data_exchange_port, conn_id, peer, 49152});
    sched.run();
  }

  // Delivers `bytes` as one chunk and counts its `consumed` call.
  void deliver(std::uint32_t conn_id, std::string bytes) {
    auto counter = consumed;
    caf::anon_send(service, stream_data{conn_id, std::move(bytes), [counter] {
                                          ++*counter;
                                        }});
    sched.run();
  }

  // Delivers `bytes` in chunks of at most one segment, as the transport does.
  void deliver_segments(std::uint32_t conn_id, std::string_view bytes) {
    for (std::size_t offset = 0; offset < bytes.size(); offset += 4096)
      deliver(conn_id, std::string{bytes.substr(offset, 4096)});
  }

  void end(std::uint32_t conn_id) {
    caf::anon_send(service, stream_closed{conn_id});
    sched.run();
  }

  std::vector<std::string> acks(std::uint32_t conn_id) {
    return acks_in(record->bytes_written_to(conn_id));
  }

  fs::path dir;
  connection_record_pointer record = std::make_shared<connection_record>();
  event_list events = std::make_shared<std::vector<protocol::event>>();
  std::shared_ptr<int> consumed = std::make_shared<int>(0);
  connection_actor connections;
  event_sink_actor sink;
  stream_service_actor service;
};

} // namespace

TEST_CASE_FIXTURE(fixture, "the service binds port 1001 as its own client") {
  start();
  REQUIRE(record->opened_clients.size() == 1);
  CHECK(record->opened_clients[0] == service_client_id(1001));
  REQUIRE(record->binds.size() == 1);
  CHECK(record->binds[0].first == service_client_id(1001));
  CHECK(record->binds[0].second == 1001);
}

TEST_CASE_FIXTURE(fixture, "the service unregisters when it exits") {
  start();
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  sched.run();
  service = nullptr;
  REQUIRE(record->closed_clients.size() == 1);
  CHECK(record->closed_clients[0] == service_client_id(1001));
}

TEST_CASE_FIXTURE(fixture, "a taken port leaves the service idle") {
  record->taken_ports.insert(data_exchange_port);
  start();
  CHECK(record->binds.size() == 1);
  // No connection can reach it; a stray one is still handled safely.
  open(1);
  deliver(1, frame_of(protocol::data_type::text, "hi"));
  CHECK(*consumed == 1);
}

TEST_CASE_FIXTURE(fixture, "a TEXT message is saved, raised and acked") {
  start();
  open(1);
  deliver(1, frame_of(protocol::data_type::text, "hello"));
  CHECK(*consumed == 1);
  CHECK(acks(1) == std::vector<std::string>{"ACK TEXT 5 bytes"});
  auto raised = events_of<protocol::message_received>(events);
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].type == "TEXT");
  CHECK(raised[0].from == "0:0000.0000.0007");
  CHECK(raised[0].size == 5);
  REQUIRE(files_in(dir / "inbox") == 1);
  auto saved = fs::directory_iterator {
    dir / "inbox"
    } -> path();
  CHECK(saved.filename().string().starts_with("TEXT-"));
  CHECK(read_file(saved).find(R"("data":"hello")") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "frames split over chunks are acked in order") {
  start();
  open(1);
  auto wire = frame_of(protocol::data_type::json, R"({"k":[1,2]})")
              + frame_of(protocol::data_type::binary, std::string{"\0\1", 2})
              + frame_of(protocol::data_type::text, "tail");
  deliver(1, wire.substr(0, 5));
  deliver(1, wire.substr(5, 20));
  deliver(1, wire.substr(25));
  CHECK(*consumed == 3);
  CHECK(acks(1)
        == std::vector<std::string>{"ACK JSON 11 bytes", "ACK BINARY 2 bytes",
                                    "ACK TEXT 4 bytes"});
  auto raised = events_of<protocol::message_received>(events);
  REQUIRE(raised.size() == 3);
  CHECK(raised[0].type == "JSON");
  CHECK(raised[1].type == "BINARY");
  CHECK(raised[2].type == "TEXT");
  CHECK(files_in(dir / "inbox") == 3);
}

TEST_CASE_FIXTURE(fixture, "a named file is saved before its event") {
  start();
  open(1);
  std::string data(10000, 'd');
  deliver_segments(1, file_frame("../notes.txt", data));
  CHECK(acks(1) == std::vector<std::string>{"ACK FILE 10000 bytes"});
  auto raised = events_of<protocol::file_received>(events);
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].filename == "notes.txt");
  CHECK(raised[0].size == 10000);
  fs::path path{raised[0].path};
  CHECK(path.is_absolute());
  CHECK(path.parent_path() == fs::absolute(dir / "received"));
  CHECK(path.filename().string().starts_with("notes-"));
  CHECK(path.extension() == ".txt");
  CHECK(read_file(path) == data);
}

TEST_CASE_FIXTURE(fixture, "a file without a name is acked, not saved") {
  start();
  open(1);
  std::string payload{"\x00\x09xy", 4};
  deliver(1, frame_of(protocol::data_type::file, payload));
  CHECK(acks(1) == std::vector<std::string>{"ACK FILE 4 bytes"});
  CHECK(events->empty());
  CHECK(files_in(dir / "received") == 0);
}

TEST_CASE_FIXTURE(fixture, "an unknown type is acked, not saved") {
  start();
  open(1);
  deliver(1, frame_of(static_cast<protocol::data_type>(9), "abc"));
  CHECK(acks(1) == std::vector<std::string>{"ACK UNKNOWN(9) 3 bytes"});
  CHECK(events->empty());
  CHECK(files_in(dir / "inbox") == 0);
}

TEST_CASE_FIXTURE(fixture, "a failed save is an ERR ack without an event") {
  fs::create_directories(dir);
  { std::ofstream{dir / "inbox"} << "not a folder"; }
  start();
  open(1);
  deliver(1, frame_of(protocol::data_type::text, "hello"));
  auto replies = acks(1);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].starts_with("ERR TEXT save failed: "));
  CHECK(replies[0].size() > std::string_view{"ERR TEXT save failed: "}.size());
  CHECK(events->empty());
}

TEST_CASE_FIXTURE(fixture, "an oversize frame closes its connection") {
  start();
  open(1);
  deliver(1, std::string{"\0\0\0\1\1\0\0\1", 8});
  CHECK(record->closes == std::vector<std::uint32_t>{1});
  CHECK(record->bytes_written_to(1).empty());
  // Bytes still in flight are taken and dropped.
  deliver(1, frame_of(protocol::data_type::text, "late"));
  CHECK(*consumed == 2);
  CHECK(record->bytes_written_to(1).empty());
  CHECK(events->empty());
}

TEST_CASE_FIXTURE(fixture, "a frame of exactly 16 MiB is accepted") {
  start();
  open(1);
  std::string data(protocol::max_data_payload_size, 'b');
  deliver_segments(1, frame_of(protocol::data_type::binary, data));
  CHECK(record->closes.empty());
  CHECK(acks(1) == std::vector<std::string>{"ACK BINARY 16777216 bytes"});
}

TEST_CASE_FIXTURE(fixture, "the slowest frame goes when buffers fill") {
  data_exchange_options options;
  options.max_buffered_bytes = 100;
  start(std::move(options));
  open(1);
  open(2);
  auto first = frame_of(protocol::data_type::text, std::string(90, 'a'));
  auto second = frame_of(protocol::data_type::text, std::string(90, 'b'));
  // Connection 1 keeps its 60 bytes for seconds, as a trickling sender
  // would; connection 2 sends as fast as the link allows.
  deliver(1, first.substr(0, 60));
  sched.advance_time(5s);
  deliver(2, second.substr(0, 60));
  CHECK(record->closes == std::vector<std::uint32_t>{1});
  deliver(2, second.substr(60));
  CHECK(acks(2) == std::vector<std::string>{"ACK TEXT 90 bytes"});
  CHECK(record->bytes_written_to(1).empty());
}

TEST_CASE_FIXTURE(fixture, "a connection stalled mid-frame is closed") {
  data_exchange_options options;
  options.stall_timeout = 60s;
  options.sweep_interval = 5s;
  start(std::move(options));
  open(1);
  open(2);
  deliver(1, frame_of(protocol::data_type::text, "partial").substr(0, 10));
  deliver(2, frame_of(protocol::data_type::text, "whole"));
  for (int i = 0; i < 11; ++i) {
    sched.advance_time(5s);
    sched.run();
  }
  CHECK(record->closes.empty());
  sched.advance_time(5s);
  sched.run();
  CHECK(record->closes == std::vector<std::uint32_t>{1});
}

TEST_CASE_FIXTURE(fixture, "a closed connection drops its partial frame") {
  data_exchange_options options;
  options.max_buffered_bytes = 100;
  start(std::move(options));
  open(1);
  deliver(
      1,
      frame_of(protocol::data_type::text, std::string(90, 'a')).substr(0, 80));
  end(1);
  // The dropped bytes no longer count against the limit.
  open(2);
  deliver(2, frame_of(protocol::data_type::text, std::string(90, 'b')));
  CHECK(record->closes.empty());
  CHECK(acks(2) == std::vector<std::string>{"ACK TEXT 90 bytes"});
}
