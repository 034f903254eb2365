#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/cli_target.hpp"
#include "control/daemon_client.hpp"
#include "protocol/address.hpp"
#include "protocol/duration.hpp"
#include "protocol/event_stream.hpp"
#include "protocol/go_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <iostream>
#include <limits>
#include <optional>

namespace pilot::control::cli {

namespace {

using clock_type = daemon_client::clock_type;

/// The event stream service's port.
constexpr std::uint16_t event_stream_port = 1002;

/// Deadline of dialing and sending when `--timeout` is not given.
constexpr std::chrono::seconds default_timeout{30};

/// Length of each wait of an unbounded `subscribe`.
constexpr std::chrono::minutes subscribe_slice{1};

// Returns one encoded frame, or throws `invalid_argument` when the topic or
// payload is over the frame's limits.
std::string encoded_event(std::string_view topic, std::string_view payload) {
  auto frame = protocol::encode_event_frame(topic, payload);
  if (!frame)
    throw error{code::invalid_argument,
                "the topic is " + std::to_string(topic.size())
                    + " bytes and the data " + std::to_string(payload.size())
                    + " bytes, but a topic carries at most "
                    + std::to_string(protocol::max_event_topic_size)
                    + " bytes and the data at most "
                    + std::to_string(protocol::max_event_payload_size)
                    + " bytes"};
  return *frame;
}

// Opens a connection to the target's event stream, or throws
// `connection_failed` with a hint.
std::uint32_t dial_event_stream(daemon_client& daemon, protocol::address target,
                                std::chrono::milliseconds timeout) {
  try {
    return daemon.dial(target, event_stream_port, timeout);
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    auto address = protocol::to_string(target);
    throw error{code::connection_failed,
                "cannot connect to " + address + " port "
                    + std::to_string(event_stream_port) + ": " + e.what(),
                "check that " + address
                    + " runs the event stream (pilot-daemon without "
                      "--no-eventstream)"};
  }
}

// Sends `bytes` in Sends of at most `max_send_size` bytes.
void send_all(daemon_client& daemon, std::uint32_t conn_id,
              std::string_view bytes, clock_type::time_point deadline) {
  for (std::size_t offset = 0; offset < bytes.size(); offset += max_send_size)
    daemon.send(conn_id, bytes.substr(offset, max_send_size), deadline);
}

boost::json::object event_object(const protocol::event_frame& frame) {
  return {{"topic", protocol::go_valid_utf8(frame.topic)},
          {"data", protocol::go_valid_utf8(frame.payload)},
          {"bytes", frame.payload.size()}};
}

// Prints one received event as it comes: a JSON line when `json_lines` is
// set, else `[topic] payload` unless --json was given.
void show_event(const command_line& cmd, const protocol::event_frame& frame,
                bool json_lines) {
  if (cmd.json && json_lines) {
    std::cout << protocol::to_go_json(event_object(frame)) << '\n';
    std::cout.flush();
    return;
  }
  if (cmd.json)
    return;
  std::cout << "[" << escape_control(frame.topic) << "] "
            << escape_control(frame.payload, true) << '\n';
  std::cout.flush();
}

/// The reason a subscription stopped before its count or deadline.
struct stream_end {
  std::string reason;
};

/// Reads the events of one subscription.
class event_receiver {
public:
  event_receiver(daemon_client& daemon, std::uint32_t conn_id)
      : daemon_(daemon), conn_id_(conn_id) {}

  /// Returns the next event, or nothing when `deadline` passes first or the
  /// stream ends. When the stream ends, `end` receives the reason.
  std::optional<protocol::event_frame> next(clock_type::time_point deadline,
                                            std::optional<stream_end>& end) {
    for (;;) {
      auto frame = reader_.next();
      if (!frame) {
        end = stream_end{"the target sent an invalid event: "
                         + frame.error().message()};
        return std::nullopt;
      }
      if (*frame)
        return std::move(**frame);
      auto data = daemon_.read(
          conn_id_, std::numeric_limits<std::size_t>::max(), deadline);
      if (!data)
        return std::nullopt;
      if (data->eof) {
        end = stream_end{"the target closed the subscription"};
        return std::nullopt;
      }
      reader_.feed(data->data);
    }
  }

private:
  daemon_client& daemon_;
  std::uint32_t conn_id_;
  protocol::event_frame_reader reader_;
};

// Runs a subscription until `count` events (0 for no limit) have arrived
// or the deadline has passed. Returns the `subscribe` result.
success collect_events(const command_line& cmd, event_receiver& receiver,
                       std::uint64_t count,
                       std::optional<clock_type::time_point> deadline) {
  bool bounded = count > 0 || deadline.has_value();
  boost::json::array events;
  bool timed_out = false;
  std::optional<stream_end> end;
  std::uint64_t received = 0;
  while (count == 0 || received < count) {
    auto slice_end = deadline ? *deadline : clock_type::now() + subscribe_slice;
    auto frame = receiver.next(slice_end, end);
    if (end)
      break;
    if (!frame) {
      timed_out = deadline && clock_type::now() >= *deadline;
      if (timed_out)
        break;
      continue;
    }
    ++received;
    show_event(cmd, *frame, !bounded);
    if (bounded)
      events.emplace_back(event_object(*frame));
  }
  if (!bounded)
    throw error{code::connection_failed, "subscription ended after "
                                             + std::to_string(received)
                                             + " events: " + end->reason};
  if (timed_out)
    print_notice(cmd, "timeout");
  boost::json::object data{{"events", std::move(events)},
                           {"timeout", timed_out}};
  if (end) {
    data["error"] = end->reason;
    print_notice(cmd, "error: " + end->reason);
  }
  // Text mode printed each event as it came.
  success result{std::move(data), {}};
  result.silent = !cmd.json;
  return result;
}

} // namespace

success run_publish(const command_line& cmd) {
  constexpr std::string_view usage
      = "publish <address|hostname> <topic> --data d [--timeout 30s]";
  check_operands(cmd, 2, 2, usage);
  auto topic = cmd.positional(2);
  auto data = cmd.value("data").value_or("");
  if (data.empty())
    throw error{code::invalid_argument, "--data is required",
                "usage: pilotctl " + std::string{usage}};
  // Encode before connecting, so that oversized input fails at once.
  auto frames = encoded_event(topic, "") + encoded_event(topic, data);
  auto timeout = timeout_flag(cmd, default_timeout);
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  auto conn_id = dial_event_stream(daemon, target, timeout);
  // The first frame subscribes the connection and the second publishes. The
  // broker never sends a publish back to its sender.
  send_all(daemon, conn_id, frames, clock_type::now() + timeout);
  daemon.close(conn_id);
  auto address = protocol::to_string(target);
  return {boost::json::object{{"target", address},
                              {"topic", protocol::go_valid_utf8(topic)},
                              {"bytes", data.size()}},
          "published " + std::to_string(data.size()) + " bytes to ["
              + escape_control(topic) + "] on " + address};
}

success run_subscribe(const command_line& cmd) {
  constexpr std::string_view usage
      = "subscribe <address|hostname> <topic> [--count n] [--timeout d]";
  check_operands(cmd, 2, 2, usage);
  auto topic = cmd.positional(2);
  auto count = count_flag(cmd, "count", 0, 0);
  auto timeout = timeout_flag(cmd, std::chrono::milliseconds{0});
  auto subscription = encoded_event(topic, "");
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  auto start = clock_type::now();
  auto conn_id = dial_event_stream(
      daemon, target, timeout.count() > 0 ? timeout : default_timeout);
  std::optional<clock_type::time_point> deadline;
  if (timeout.count() > 0)
    deadline = start + timeout;
  send_all(daemon, conn_id, subscription,
           deadline.value_or(clock_type::now() + default_timeout));
  print_notice(cmd, "subscribed to [" + escape_control(topic) + "] on "
                        + protocol::to_string(target));
  event_receiver receiver{daemon, conn_id};
  auto result = collect_events(cmd, receiver, count, deadline);
  daemon.close(conn_id);
  return result;
}

} // namespace pilot::control::cli
