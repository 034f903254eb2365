#include "control/cli_commands.hpp"

#include "control/cli_settings.hpp"
#include "control/cli_target.hpp"
#include "control/daemon_client.hpp"
#include "control/json_text.hpp"
#include "protocol/address.hpp"
#include "protocol/duration.hpp"
#include "protocol/go_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <unistd.h>

namespace pilot::control::cli {

namespace {

using clock_type = daemon_client::clock_type;

/// The built-in echo service's port.
constexpr std::uint16_t echo_port = 7;

/// `connect`'s port unless given.
constexpr std::uint16_t default_connect_port = 1000;

/// Bytes that one read of `connect`, `send` and `recv` returns at most, as
/// the reference's 65535-byte buffer.
constexpr std::size_t read_size = 65535;

/// Bytes that one read of `ping` and `traceroute` returns at most.
constexpr std::size_t echo_read_size = 1024;

/// Size of each write of `bench`, one segment.
constexpr std::size_t bench_chunk_size = 4096;

/// Pause between two pings.
constexpr std::chrono::seconds ping_interval{1};

/// Slice of an unbounded `listen`, which waits in slices of this length.
constexpr std::chrono::minutes listen_slice{1};

// -- argument parsing ---------------------------------------------------------

std::uint32_t parse_conn_id(const std::string& text) {
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw error{code::invalid_argument,
                "invalid connection ID \"" + escape_control(text)
                    + "\": expected a number from 0 to 4294967295",
                "list the connections with: pilotctl connections"};
  return id;
}

// Reads the piped standard input, its lines joined by "\n" as the reference
// does. Throws `invalid_argument` for a terminal, no data, or more than one
// Send carries.
std::string read_piped_input() {
  if (::isatty(STDIN_FILENO) == 1)
    throw error{code::invalid_argument,
                "--message is required when standard input is a terminal",
                "use --message to send one message, or pipe data in"};
  std::string data;
  std::string line;
  bool first = true;
  while (std::getline(std::cin, line)) {
    if (line.ends_with('\r'))
      line.pop_back();
    if (!first)
      data += '\n';
    data += line;
    first = false;
    if (data.size() > max_send_size)
      throw error{code::invalid_argument,
                  "standard input exceeds " + std::to_string(max_send_size)
                      + " bytes, the most one IPC Send carries"};
  }
  if (data.empty())
    throw error{code::invalid_argument,
                "no data on standard input; use --message or pipe data"};
  return data;
}

// -- output -------------------------------------------------------------------

// Prints one line of text output at once, for commands that take seconds
// and show progress as the reference does. Prints nothing with --json.
void print_progress(const command_line& cmd, const std::string& line) {
  if (cmd.json)
    return;
  std::cout << escape_control(line, true) << '\n';
  std::cout.flush();
}

double milliseconds(clock_type::duration elapsed) {
  auto micros
      = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  return static_cast<double>(micros) / 1000.0;
}

std::string duration_text(clock_type::duration elapsed) {
  return protocol::format_duration(
      std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed));
}

// Formats a byte count with binary units: `512 B`, `4.0 KiB`, `1.0 MiB`.
std::string bytes_text(std::uint64_t bytes) {
  constexpr std::array units{"KiB", "MiB", "GiB"};
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  for (value /= 1024; value >= 1024 && unit + 1 < units.size(); ++unit)
    value /= 1024;
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

// Returns the rate in Mbit/s, 10^6 bits per second.
double megabits_per_second(std::uint64_t bytes, clock_type::duration elapsed) {
  auto seconds = std::chrono::duration<double>(elapsed).count();
  if (seconds <= 0)
    return 0;
  return static_cast<double>(bytes) * 8 / seconds / 1e6;
}

std::string rate_text(double mbits) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f Mbit/s", mbits);
  return text;
}

// An array that Go would marshal as null when empty, as the reference's nil
// slices are.
boost::json::value nil_if_empty(boost::json::array items) {
  if (items.empty())
    return nullptr;
  return items;
}

// -- connections --------------------------------------------------------------

// Returns the time left until `deadline`, at least 1 ms.
std::chrono::milliseconds remaining_until(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
  return std::max(left, std::chrono::milliseconds{1});
}

// Opens a connection, or throws `connection_failed` with a hint to ping.
std::uint32_t dial_target(daemon_client& daemon, protocol::address target,
                          std::uint16_t port,
                          std::chrono::milliseconds timeout) {
  try {
    return daemon.dial(target, port, timeout);
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    auto address = protocol::to_string(target);
    throw error{code::connection_failed,
                "cannot connect to " + address + " port " + std::to_string(port)
                    + ": " + e.what(),
                "check that " + address + " is reachable: pilotctl ping "
                    + address};
  }
}

// Sends `data` on a new connection and returns one read of the reply, ""
// when the peer closed the connection without data. Throws `timeout` when
// nothing arrives within `timeout`.
std::string exchange(daemon_client& daemon, protocol::address target,
                     std::uint16_t port, const std::string& data,
                     std::chrono::milliseconds timeout) {
  auto conn_id = dial_target(daemon, target, port, timeout);
  auto deadline = clock_type::now() + timeout;
  daemon.send(conn_id, data, deadline);
  auto reply = daemon.read(conn_id, read_size, deadline);
  if (!reply)
    throw error{code::timeout, "no response within " + duration_text(timeout),
                "increase --timeout, or check that the target listens on port "
                    + std::to_string(port)};
  daemon.close(conn_id);
  return reply->data;
}

success exchange_result(const protocol::address& target, std::uint16_t port,
                        const std::string& sent, const std::string& response) {
  boost::json::object data{{"target", protocol::to_string(target)},
                           {"port", port},
                           {"sent", protocol::go_valid_utf8(sent)},
                           {"response", protocol::go_valid_utf8(response)}};
  std::string text = response.empty() ? "sent " + std::to_string(sent.size())
                                            + " bytes (no response)"
                                      : escape_control(response, true);
  return {std::move(data), text};
}

// Returns one ping's result: the echo's size and round-trip time, or why
// there is none. Sets `timed_out` when the deadline passed.
boost::json::object ping_once(daemon_client& daemon, const command_line& cmd,
                              protocol::address target, std::uint64_t seq,
                              clock_type::time_point deadline,
                              bool& timed_out) {
  auto start = clock_type::now();
  std::uint32_t conn_id = 0;
  try {
    conn_id = daemon.dial(target, echo_port, remaining_until(deadline));
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    print_progress(cmd, "seq=" + std::to_string(seq) + " error: " + e.what());
    return {{"seq", seq}, {"error", e.what()}};
  }
  daemon.send(conn_id, "ping-" + std::to_string(seq), deadline);
  auto echo = daemon.read(conn_id, echo_read_size, deadline);
  daemon.close(conn_id);
  auto rtt = clock_type::now() - start;
  boost::json::object result{{"seq", seq}, {"rtt_ms", milliseconds(rtt)}};
  std::string error_text;
  if (!echo) {
    timed_out = true;
    error_text = "no echo before the timeout";
  } else if (echo->eof) {
    error_text = "EOF";
  }
  if (!error_text.empty()) {
    result["error"] = error_text;
    print_progress(cmd, "seq=" + std::to_string(seq) + " error: " + error_text);
    return result;
  }
  result["bytes"] = echo->data.size();
  print_progress(cmd, "seq=" + std::to_string(seq)
                          + " bytes=" + std::to_string(echo->data.size())
                          + " time=" + duration_text(rtt));
  return result;
}

// Returns one traceroute sample: an echo's round-trip time and size.
boost::json::object trace_sample(daemon_client& daemon, const command_line& cmd,
                                 std::uint32_t conn_id, int index,
                                 clock_type::time_point deadline) {
  auto start = clock_type::now();
  daemon.send(conn_id, "trace-" + std::to_string(index), deadline);
  auto echo = daemon.read(conn_id, echo_read_size, deadline);
  auto rtt = clock_type::now() - start;
  boost::json::object sample{{"rtt_ms", milliseconds(rtt)}};
  if (echo && !echo->eof) {
    sample["bytes"] = echo->data.size();
    print_progress(cmd, "     rtt=" + duration_text(rtt)
                            + " bytes=" + std::to_string(echo->data.size()));
    return sample;
  }
  std::string reason = echo ? "EOF" : "no echo before the timeout";
  sample["error"] = reason;
  print_progress(cmd, "     rtt=" + duration_text(rtt) + " error: " + reason);
  return sample;
}

// Counts the echoed data that arrives until `deadline`, and then what has
// arrived already. Returns false at the end of the stream.
bool collect_echo(daemon_client& daemon, std::uint32_t conn_id,
                  std::uint64_t& received, clock_type::time_point deadline) {
  for (;;) {
    auto data = daemon.read(conn_id, std::numeric_limits<std::size_t>::max(),
                            deadline);
    if (!data)
      return true;
    if (data->eof)
      return false;
    received += data->data.size();
    deadline = clock_type::now();
  }
}

std::uint64_t bench_size(const command_line& cmd) {
  auto text = cmd.positional(2);
  if (text.empty())
    return std::uint64_t{1} << 20;
  char* end = nullptr;
  double mib = std::strtod(text.c_str(), &end);
  // At most 1 TiB, far beyond any test but safe from overflow.
  if (end != text.c_str() + text.size() || !std::isfinite(mib) || mib <= 0
      || mib > 1024 * 1024)
    throw error{code::invalid_argument,
                "invalid size \"" + escape_control(text)
                    + "\": expected MiB as a number above 0, such as 1 or 0.5",
                "usage: pilotctl bench <address|hostname> [size_mb]"};
  auto bytes = static_cast<std::uint64_t>(mib * 1024 * 1024);
  return std::max<std::uint64_t>(bytes, 1);
}

// Returns whether a peer entry matches `search`, ignoring case.
bool peer_matches(const boost::json::value& peer, const std::string& search) {
  auto lower = [](std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
      return static_cast<char>(std::tolower(c));
    });
    return text;
  };
  if (search.empty())
    return true;
  const auto* object = peer.if_object();
  if (object == nullptr)
    return false;
  auto needle = lower(search);
  auto* node_id = object->if_contains("node_id");
  auto node_text = node_id ? plain_text(*node_id) : std::string{};
  return node_text.find(needle) != std::string::npos
         || lower(string_member(*object, "endpoint")).find(needle)
                != std::string::npos;
}

boost::json::array info_list(daemon_client& daemon, std::string_view key) {
  auto info = daemon.call_json(protocol::ipc_command::info, {});
  auto* object = info.if_object();
  if (object == nullptr)
    throw error{code::internal, "daemon's Info reply is not a JSON object"};
  if (auto* list = object->if_contains(key); list && list->is_array())
    return list->as_array();
  return {};
}

// Returns whether a connection in `state` (an Info `conn_list` state) is
// still open, not closing or closed.
bool is_open_state(const std::string& state) {
  return state == "ESTABLISHED" || state == "SYN_SENT" || state == "SYN_RECV";
}

// Returns one `recv` message: the first read of an accepted connection,
// which is closed then. Sets `timed_out` when the deadline passed.
boost::json::object
receive_message(daemon_client& daemon, const command_line& cmd,
                const protocol::accept_push& accept, std::uint64_t seq,
                clock_type::time_point deadline, bool& timed_out) {
  auto data = daemon.read(accept.conn_id, read_size, deadline);
  daemon.close(accept.conn_id);
  boost::json::object message{{"seq", seq}, {"port", accept.local_port}};
  if (data && !data->eof) {
    message["data"] = protocol::go_valid_utf8(data->data);
    message["bytes"] = data->data.size();
    print_progress(cmd, escape_control(data->data, true));
    return message;
  }
  timed_out = !data;
  std::string reason = data ? "EOF" : "no data before the timeout";
  message["error"] = reason;
  print_notice(cmd, "error: " + reason);
  return message;
}

// Returns one `listen` message and prints it: as a JSON line when
// `json_lines` is set, else as text unless --json was given.
boost::json::object show_datagram(const command_line& cmd,
                                  const protocol::recv_from_push& datagram,
                                  bool json_lines) {
  auto source = protocol::to_string(protocol::address{
      datagram.src_address.network, datagram.src_address.node});
  boost::json::object message{{"src_addr", source},
                              {"src_port", datagram.src_port},
                              {"data", protocol::go_valid_utf8(datagram.data)},
                              {"bytes", datagram.data.size()}};
  if (cmd.json && json_lines) {
    std::cout << protocol::to_go_json(message) << '\n';
    std::cout.flush();
  } else {
    print_progress(cmd, "[" + source + ":" + std::to_string(datagram.src_port)
                            + "] " + escape_control(datagram.data, true));
  }
  return message;
}

// Returns the result of `recv` and `listen`; `silent` when the messages
// were printed as they came.
success list_result(boost::json::array messages, bool timed_out, bool silent) {
  success result{
      boost::json::object{{"messages", nil_if_empty(std::move(messages))},
                          {"timeout", timed_out}},
      {}};
  result.silent = silent;
  return result;
}

/// The measurements of one `bench`.
struct bench_run {
  std::uint64_t total = 0; ///< Bytes to send.
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  clock_type::duration send_duration{};
  clock_type::duration total_duration{};
};

// Sends `run.total` bytes in 4096-byte writes and counts the echo, which
// ends at `timeout` after the start.
void run_bench_transfer(daemon_client& daemon, std::uint32_t conn_id,
                        std::chrono::milliseconds timeout, bench_run& run) {
  std::string chunk(bench_chunk_size, '\0');
  for (std::size_t i = 0; i < chunk.size(); ++i)
    chunk[i] = static_cast<char>(i % 256);
  auto start = clock_type::now();
  auto deadline = start + timeout;
  bool open = true;
  while (run.sent < run.total) {
    auto size = std::min<std::uint64_t>(chunk.size(), run.total - run.sent);
    daemon.send(conn_id, std::string_view{chunk}.substr(0, size), deadline);
    run.sent += size;
    // Take the echo as it comes, so that it never piles up.
    open = collect_echo(daemon, conn_id, run.received, clock_type::now());
  }
  run.send_duration = clock_type::now() - start;
  while (open && run.received < run.total && clock_type::now() < deadline)
    open = collect_echo(daemon, conn_id, run.received, deadline);
  run.total_duration = clock_type::now() - start;
}

double whole_milliseconds(clock_type::duration elapsed) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
}

success bench_result(const std::string& address, const bench_run& run) {
  auto send_rate = megabits_per_second(run.total, run.send_duration);
  auto total_rate = megabits_per_second(run.total, run.total_duration);
  std::string text = "  Sent:     " + bytes_text(run.sent) + " in "
                     + duration_text(run.send_duration) + " ("
                     + rate_text(send_rate) + ")\n"
                     + "  Echoed:   " + bytes_text(run.received) + " in "
                     + duration_text(run.total_duration) + " ("
                     + rate_text(total_rate) + " round trip)";
  if (run.received < run.total)
    text += "\nwarning: the echo stopped at " + bytes_text(run.received)
            + " of " + bytes_text(run.total);
  return {boost::json::object{
              {"target", address},
              {"sent_bytes", run.sent},
              {"recv_bytes", run.received},
              {"send_duration_ms", whole_milliseconds(run.send_duration)},
              {"total_duration_ms", whole_milliseconds(run.total_duration)},
              {"send_mbps", send_rate},
              {"total_mbps", total_rate},
              {"unit", "Mbit/s"}},
          text};
}

// Returns the value of `--data`; throws when it is missing or empty.
std::string required_data(const command_line& cmd, std::string_view usage) {
  auto data = cmd.value("data").value_or("");
  if (data.empty())
    throw error{code::invalid_argument, "--data is required",
                "usage: pilotctl " + std::string{usage}};
  return data;
}

} // namespace

success run_connect(const command_line& cmd) {
  constexpr std::string_view usage
      = "connect <address|hostname> [port] [--message m] [--timeout 30s]";
  check_operands(cmd, 1, 2, usage);
  auto port = cmd.positionals.size() > 2 ? parse_port(cmd.positional(2), usage)
                                         : default_connect_port;
  auto timeout = timeout_flag(cmd, std::chrono::seconds{30});
  auto message = cmd.value("message").value_or("");
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  if (message.empty())
    message = read_piped_input();
  auto response = exchange(daemon, target, port, message, timeout);
  return exchange_result(target, port, message, response);
}

success run_send(const command_line& cmd) {
  constexpr std::string_view usage
      = "send <address|hostname> <port> --data d [--timeout 30s]";
  check_operands(cmd, 2, 2, usage);
  auto port = parse_port(cmd.positional(2), usage);
  auto data = required_data(cmd, usage);
  auto timeout = timeout_flag(cmd, std::chrono::seconds{30});
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  auto response = exchange(daemon, target, port, data, timeout);
  return exchange_result(target, port, data, response);
}

success run_send_datagram(const command_line& cmd) {
  constexpr std::string_view usage
      = "send-datagram <address|hostname> <port> --data d";
  check_operands(cmd, 2, 2, usage);
  auto port = parse_port(cmd.positional(2), usage);
  auto data = required_data(cmd, usage);
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  daemon.send_datagram(target, port, data);
  auto address = protocol::to_string(target);
  return {boost::json::object{
              {"target", address}, {"port", port}, {"bytes", data.size()}},
          "sent " + std::to_string(data.size()) + " bytes to " + address + ":"
              + std::to_string(port)};
}

success run_recv(const command_line& cmd) {
  constexpr std::string_view usage = "recv <port> [--count 1] [--timeout 30s]";
  check_operands(cmd, 1, 1, usage);
  auto port = parse_port(cmd.positional(1), usage);
  auto count = count_flag(cmd, "count", 1, 1);
  auto timeout = timeout_flag(cmd, std::chrono::seconds{30});
  daemon_client daemon{configured_socket(cmd)};
  try {
    daemon.bind(port);
  } catch (const error& e) {
    throw error{e.code(), std::string{"listen: "} + e.what(), e.hint()};
  }
  auto deadline = clock_type::now() + timeout;
  boost::json::array messages;
  bool timed_out = false;
  for (std::uint64_t seq = 0; seq < count && !timed_out; ++seq) {
    auto accept = daemon.accept(port, deadline);
    if (!accept) {
      timed_out = true;
      break;
    }
    messages.emplace_back(
        receive_message(daemon, cmd, *accept, seq, deadline, timed_out));
  }
  if (timed_out)
    print_notice(cmd, "timeout");
  // Text mode printed each message as it came.
  return list_result(std::move(messages), timed_out, !cmd.json);
}

success run_listen(const command_line& cmd) {
  constexpr std::string_view usage = "listen <port> [--count n] [--timeout d]";
  check_operands(cmd, 1, 1, usage);
  auto port = parse_port(cmd.positional(1), usage);
  auto count = count_flag(cmd, "count", 0, 0);
  auto timeout = timeout_flag(cmd, std::chrono::milliseconds{0});
  daemon_client daemon{configured_socket(cmd)};
  print_notice(cmd, "listening on port " + std::to_string(port)
                        + ", waiting for datagrams");
  std::optional<clock_type::time_point> deadline;
  if (timeout.count() > 0)
    deadline = clock_type::now() + timeout;
  boost::json::array messages;
  bool timed_out = false;
  while (count == 0 || messages.size() < count) {
    auto slice_end = deadline ? *deadline : clock_type::now() + listen_slice;
    auto datagram = daemon.receive_datagram(slice_end);
    if (!datagram) {
      timed_out = deadline && clock_type::now() >= *deadline;
      if (timed_out)
        break;
      continue;
    }
    if (datagram->dst_port == port)
      messages.emplace_back(show_datagram(cmd, *datagram, count == 0));
  }
  if (timed_out)
    print_notice(cmd, "timeout");
  // Text mode and unbounded JSON printed each datagram as it came.
  return list_result(std::move(messages), timed_out, !cmd.json || count == 0);
}

success run_ping(const command_line& cmd) {
  constexpr std::string_view usage
      = "ping <address|hostname> [--count 4] [--timeout 30s]";
  check_operands(cmd, 1, 1, usage);
  auto count = count_flag(cmd, "count", 4, 1);
  auto timeout = timeout_flag(cmd, std::chrono::seconds{30});
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  print_progress(cmd, "PING " + protocol::to_string(target));
  auto deadline = clock_type::now() + timeout;
  boost::json::array results;
  bool timed_out = false;
  std::uint64_t echoed = 0;
  for (std::uint64_t seq = 0; seq < count && !timed_out; ++seq) {
    if (clock_type::now() >= deadline) {
      timed_out = true;
      break;
    }
    auto result = ping_once(daemon, cmd, target, seq, deadline, timed_out);
    echoed += result.contains("bytes") ? 1 : 0;
    results.emplace_back(std::move(result));
    if (seq + 1 < count && !timed_out)
      daemon.pause_until(std::min(deadline, clock_type::now() + ping_interval));
  }
  std::string summary = std::to_string(results.size()) + " sent, "
                        + std::to_string(echoed) + " echoed";
  if (timed_out)
    summary += ", timeout";
  return {boost::json::object{{"target", protocol::to_string(target)},
                              {"results", nil_if_empty(std::move(results))},
                              {"timeout", timed_out}},
          summary};
}

success run_traceroute(const command_line& cmd) {
  constexpr std::string_view usage
      = "traceroute <address|hostname> [--timeout 30s]";
  check_operands(cmd, 1, 1, usage);
  auto timeout = timeout_flag(cmd, std::chrono::seconds{30});
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  auto address = protocol::to_string(target);
  print_progress(cmd, "TRACEROUTE " + address);
  auto start = clock_type::now();
  auto deadline = start + timeout;
  std::uint32_t conn_id = 0;
  try {
    conn_id = daemon.dial(target, echo_port, timeout);
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    auto setup = clock_type::now() - start;
    return {boost::json::object{{"target", address},
                                {"setup_ms", milliseconds(setup)},
                                {"error", e.what()}},
            "  1  " + address + "  connection failed: " + e.what()};
  }
  auto setup = clock_type::now() - start;
  print_progress(cmd, "  1  " + address + "  setup=" + duration_text(setup));
  boost::json::array samples;
  for (int i = 0; i < 3; ++i)
    samples.emplace_back(trace_sample(daemon, cmd, conn_id, i, deadline));
  daemon.close(conn_id);
  return {boost::json::object{{"target", address},
                              {"setup_ms", milliseconds(setup)},
                              {"rtt_samples", std::move(samples)}},
          "\nsetup includes the tunnel negotiation and the SYN/ACK "
          "handshake\nrtt is a data round trip over the established "
          "connection"};
}

success run_bench(const command_line& cmd) {
  constexpr std::string_view usage
      = "bench <address|hostname> [size_mb] [--timeout 120s]";
  check_operands(cmd, 1, 2, usage);
  bench_run run;
  run.total = bench_size(cmd);
  auto timeout = timeout_flag(cmd, std::chrono::seconds{120});
  daemon_client daemon{configured_socket(cmd)};
  auto target = resolve_target(daemon, cmd, cmd.positional(1));
  auto address = protocol::to_string(target);
  print_progress(cmd, "BENCH " + address + ": sending " + bytes_text(run.total)
                          + " through the echo port");
  auto conn_id = dial_target(daemon, target, echo_port, timeout);
  run_bench_transfer(daemon, conn_id, timeout, run);
  daemon.close(conn_id);
  return bench_result(address, run);
}

success run_peers(const command_line& cmd) {
  check_operands(cmd, 0, 0, "peers [--search q]");
  auto search = cmd.value("search").value_or("");
  daemon_client daemon{configured_socket(cmd)};
  boost::json::array peers;
  for (auto& peer : info_list(daemon, "peer_list"))
    if (peer_matches(peer, search))
      peers.emplace_back(std::move(peer));
  auto total = peers.size();
  std::vector<std::vector<std::string>> rows;
  for (const auto& peer : peers)
    rows.push_back({member_text(peer, "node_id"), member_text(peer, "endpoint"),
                    yes_no(peer, "encrypted"), yes_no(peer, "authenticated")});
  std::string text;
  if (rows.empty())
    text = search.empty() ? "no peers connected\n  peers appear when you "
                            "communicate with other nodes"
                          : "no peers matching \"" + search + "\"";
  else
    text = table_text({"NODE ID", "ENDPOINT", "ENCRYPTED", "AUTHENTICATED"},
                      rows);
  return {boost::json::object{{"peers", nil_if_empty(std::move(peers))},
                              {"total", total}},
          text};
}

success run_connections(const command_line& cmd) {
  check_operands(cmd, 0, 0, "connections");
  daemon_client daemon{configured_socket(cmd)};
  auto connections = info_list(daemon, "conn_list");
  auto total = connections.size();
  std::vector<std::vector<std::string>> rows;
  for (const auto& conn : connections)
    rows.push_back({member_text(conn, "id"), member_text(conn, "local_port"),
                    member_text(conn, "remote_addr"),
                    member_text(conn, "remote_port"),
                    member_text(conn, "state"), member_text(conn, "srtt_ms")});
  std::string text = rows.empty()
                         ? "no connections\n  open one with: pilotctl connect "
                           "<address|hostname> --message hello"
                         : table_text({"ID", "LOCAL", "REMOTE ADDR", "RPORT",
                                       "STATE", "SRTT MS"},
                                      rows);
  return {boost::json::object{{"connections", std::move(connections)},
                              {"total", total}},
          text};
}

success run_disconnect(const command_line& cmd) {
  check_operands(cmd, 1, 1, "disconnect <conn_id>");
  auto conn_id = parse_conn_id(cmd.positional(1));
  daemon_client daemon{configured_socket(cmd)};
  daemon.disconnect(conn_id);
  // The daemon replies CloseOK whether or not it closed the connection.
  for (const auto& conn : info_list(daemon, "conn_list"))
    if (member_text(conn, "id") == std::to_string(conn_id)
        && is_open_state(member_text(conn, "state")))
      throw error{code::connection_failed,
                  "connection " + std::to_string(conn_id)
                      + " is still open: the daemon closes a connection only "
                        "for the IPC client that opened or accepted it",
                  "close it from the program that opened it"};
  return {boost::json::object{{"conn_id", conn_id}},
          "connection " + std::to_string(conn_id) + " closed"};
}

} // namespace pilot::control::cli
