#include "protocol/ipc.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace pilot::protocol {

namespace {

void put_u16(std::string& out, std::uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value);
}

void put_u32(std::string& out, std::uint32_t value) {
  out += static_cast<char>(value >> 24);
  out += static_cast<char>(value >> 16);
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value);
}

void put_address(std::string& out, const ipc_address& address) {
  put_u16(out, address.network);
  put_u32(out, address.node);
}

std::uint16_t get_u16(std::string_view in, std::size_t at) {
  auto byte = [&](std::size_t i) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(in[at + i]));
  };
  return static_cast<std::uint16_t>(byte(0) << 8 | byte(1));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  auto byte = [&](std::size_t i) {
    return std::uint32_t{static_cast<unsigned char>(in[at + i])};
  };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

ipc_address get_address(std::string_view in, std::size_t at) {
  return {get_u16(in, at), get_u32(in, at + 2)};
}

} // namespace

std::string_view to_string(ipc_command cmd) noexcept {
  switch (cmd) {
    case ipc_command::bind:
      return "bind";
    case ipc_command::bind_ok:
      return "bind_ok";
    case ipc_command::dial:
      return "dial";
    case ipc_command::dial_ok:
      return "dial_ok";
    case ipc_command::accept:
      return "accept";
    case ipc_command::send:
      return "send";
    case ipc_command::recv:
      return "recv";
    case ipc_command::close:
      return "close";
    case ipc_command::close_ok:
      return "close_ok";
    case ipc_command::error:
      return "error";
    case ipc_command::send_to:
      return "send_to";
    case ipc_command::recv_from:
      return "recv_from";
    case ipc_command::info:
      return "info";
    case ipc_command::info_ok:
      return "info_ok";
    case ipc_command::handshake:
      return "handshake";
    case ipc_command::handshake_ok:
      return "handshake_ok";
    case ipc_command::resolve_hostname:
      return "resolve_hostname";
    case ipc_command::resolve_hostname_ok:
      return "resolve_hostname_ok";
    case ipc_command::set_hostname:
      return "set_hostname";
    case ipc_command::set_hostname_ok:
      return "set_hostname_ok";
    case ipc_command::set_visibility:
      return "set_visibility";
    case ipc_command::set_visibility_ok:
      return "set_visibility_ok";
    case ipc_command::deregister:
      return "deregister";
    case ipc_command::deregister_ok:
      return "deregister_ok";
    case ipc_command::set_tags:
      return "set_tags";
    case ipc_command::set_tags_ok:
      return "set_tags_ok";
    case ipc_command::set_webhook:
      return "set_webhook";
    case ipc_command::set_webhook_ok:
      return "set_webhook_ok";
    case ipc_command::set_task_exec:
      return "set_task_exec";
    case ipc_command::set_task_exec_ok:
      return "set_task_exec_ok";
    case ipc_command::webhook_stats:
      return "webhook_stats";
    case ipc_command::webhook_stats_ok:
      return "webhook_stats_ok";
    case ipc_command::set_webhook_config:
      return "set_webhook_config";
    case ipc_command::set_webhook_config_ok:
      return "set_webhook_config_ok";
    case ipc_command::webhook_test:
      return "webhook_test";
    case ipc_command::webhook_test_ok:
      return "webhook_test_ok";
  }
  return {};
}

bool is_known(ipc_command cmd) noexcept {
  return !to_string(cmd).empty();
}

std::string format_command_byte(std::uint8_t cmd) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02X", static_cast<unsigned>(cmd));
  return text;
}

result<std::string> encode_ipc_frame(ipc_command cmd,
                                     std::string_view payload) {
  if (payload.size() > max_ipc_payload_size)
    return errc::oversized;
  std::string frame;
  frame.reserve(ipc_frame_header_size + 1 + payload.size());
  put_u32(frame, static_cast<std::uint32_t>(1 + payload.size()));
  frame += static_cast<char>(cmd);
  frame += payload;
  return frame;
}

void ipc_frame_decoder::feed(std::string_view bytes) {
  // Drop the consumed prefix before it grows beyond what is still unread.
  if (start_ > 0 && start_ >= buffer_.size() - start_) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

result<std::optional<ipc_frame>> ipc_frame_decoder::next() {
  if (failed_)
    return errc::oversized;
  for (;;) {
    std::string_view rest{buffer_};
    rest.remove_prefix(start_);
    if (rest.size() < ipc_frame_header_size)
      return std::optional<ipc_frame>{};
    std::size_t size = get_u32(rest, 0);
    if (size > max_ipc_frame_size) {
      failed_ = true;
      return errc::oversized;
    }
    if (rest.size() < ipc_frame_header_size + size)
      return std::optional<ipc_frame>{};
    start_ += ipc_frame_header_size + size;
    if (size == 0)
      continue;
    ipc_frame frame;
    frame.command = static_cast<ipc_command>(rest[ipc_frame_header_size]);
    frame.payload.assign(rest.substr(ipc_frame_header_size + 1, size - 1));
    if (start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    }
    return std::optional<ipc_frame>{std::move(frame)};
  }
}

std::string truncate_text(std::string_view text, std::size_t max_size) {
  if (text.size() <= max_size)
    return std::string{text};
  auto cut = max_size - std::min(max_size, ipc_truncation_marker.size());
  // Step back over continuation bytes (10xxxxxx) to a character start.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  std::string out;
  out.reserve(cut + ipc_truncation_marker.size());
  out += text.substr(0, cut);
  out += ipc_truncation_marker;
  return out;
}

std::string encode_ipc_error(std::string_view message) {
  std::string payload;
  put_u16(payload, ipc_error_code);
  payload += truncate_text(message, max_ipc_payload_size - payload.size());
  return encode_ipc_frame(ipc_command::error, payload).value();
}

result<std::string> decode_ipc_error(std::string_view payload) {
  if (payload.size() < 2)
    return errc::truncated;
  return std::string{payload.substr(2)};
}

std::string encode_set_visibility(bool is_public) {
  return std::string(1, is_public ? '\x01' : '\x00');
}

result<bool> decode_set_visibility(std::string_view payload) {
  if (payload.empty())
    return errc::truncated;
  return payload[0] == '\x01';
}

std::string encode_set_tags(const std::vector<std::string>& tags) {
  boost::json::array array;
  array.reserve(tags.size());
  for (const auto& tag : tags)
    array.emplace_back(tag);
  return boost::json::serialize(array);
}

result<std::vector<std::string>> decode_set_tags(std::string_view payload) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(payload.data(), payload.size()).get(root)
      != simdjson::SUCCESS)
    return errc::malformed_json;
  std::vector<std::string> tags;
  if (root.is_null())
    return tags;
  simdjson::dom::array array;
  if (root.get(array) != simdjson::SUCCESS)
    return errc::malformed_json;
  for (auto element : array) {
    std::string_view tag;
    if (element.get(tag) != simdjson::SUCCESS)
      return errc::malformed_json;
    tags.emplace_back(tag);
  }
  return tags;
}

std::string encode_bind(std::uint16_t port) {
  std::string payload;
  put_u16(payload, port);
  return payload;
}

result<std::uint16_t> decode_bind(std::string_view payload) {
  if (payload.size() < 2)
    return errc::truncated;
  return get_u16(payload, 0);
}

std::string encode_dial(const dial_request& request) {
  std::string payload;
  put_address(payload, request.address);
  put_u16(payload, request.port);
  return payload;
}

result<dial_request> decode_dial(std::string_view payload) {
  if (payload.size() < ipc_address_size + 2)
    return errc::truncated;
  return dial_request{get_address(payload, 0),
                      get_u16(payload, ipc_address_size)};
}

std::string encode_conn_id(std::uint32_t conn_id) {
  std::string payload;
  put_u32(payload, conn_id);
  return payload;
}

result<std::uint32_t> decode_conn_id(std::string_view payload) {
  if (payload.size() < 4)
    return errc::truncated;
  return get_u32(payload, 0);
}

std::string encode_conn_data(const conn_data& message) {
  std::string payload;
  payload.reserve(4 + message.data.size());
  put_u32(payload, message.conn_id);
  payload += message.data;
  return payload;
}

result<conn_data> decode_conn_data(std::string_view payload) {
  if (payload.size() < 4)
    return errc::truncated;
  return conn_data{get_u32(payload, 0), std::string{payload.substr(4)}};
}

std::string encode_accept(const accept_push& push) {
  std::string payload;
  payload.reserve(ipc_accept_size);
  put_u16(payload, push.local_port);
  put_u32(payload, push.conn_id);
  put_address(payload, push.remote_address);
  put_u16(payload, push.remote_port);
  return payload;
}

result<accept_push> decode_accept(std::string_view payload) {
  if (payload.size() < ipc_accept_size)
    return errc::truncated;
  return accept_push{get_u16(payload, 0), get_u32(payload, 2),
                     get_address(payload, 6), get_u16(payload, 12)};
}

std::string encode_send_to(const send_to_request& request) {
  std::string payload;
  payload.reserve(ipc_address_size + 2 + request.data.size());
  put_address(payload, request.address);
  put_u16(payload, request.port);
  payload += request.data;
  return payload;
}

result<send_to_request> decode_send_to(std::string_view payload) {
  constexpr auto header_size = ipc_address_size + 2;
  if (payload.size() < header_size)
    return errc::truncated;
  return send_to_request{get_address(payload, 0),
                         get_u16(payload, ipc_address_size),
                         std::string{payload.substr(header_size)}};
}

std::string encode_recv_from(const recv_from_push& push) {
  std::string payload;
  payload.reserve(ipc_recv_from_header_size + push.data.size());
  put_address(payload, push.src_address);
  put_u16(payload, push.src_port);
  put_u16(payload, push.dst_port);
  payload += push.data;
  return payload;
}

result<recv_from_push> decode_recv_from(std::string_view payload) {
  if (payload.size() < ipc_recv_from_header_size)
    return errc::truncated;
  return recv_from_push{get_address(payload, 0),
                        get_u16(payload, ipc_address_size),
                        get_u16(payload, ipc_address_size + 2),
                        std::string{payload.substr(ipc_recv_from_header_size)}};
}

// -- webhook settings (0x42) --------------------------------------------------

namespace {

using payload_result
    = boost::system::result<webhook_config_change, ipc_payload_error>;

ipc_payload_error wrong_type(std::string_view key, std::string_view expected) {
  return {"\"" + std::string{key} + "\" must be " + std::string{expected}};
}

// Reads the value of `key` into `out`, or returns the error.
std::optional<ipc_payload_error> read_string(simdjson::dom::element value,
                                             std::string_view key,
                                             std::optional<std::string>& out) {
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS)
    return wrong_type(key, "a string");
  out.emplace(text);
  return std::nullopt;
}

std::optional<ipc_payload_error> read_count(simdjson::dom::element value,
                                            std::string_view key,
                                            std::optional<std::uint64_t>& out) {
  std::uint64_t count = 0;
  if (value.get(count) != simdjson::SUCCESS)
    return wrong_type(key, "a whole number");
  out = count;
  return std::nullopt;
}

std::optional<ipc_payload_error>
read_strings(simdjson::dom::element value, std::string_view key,
             std::optional<std::vector<std::string>>& out) {
  simdjson::dom::array array;
  if (value.get(array) != simdjson::SUCCESS)
    return wrong_type(key, "an array of strings");
  std::vector<std::string> items;
  for (auto element : array) {
    std::string_view text;
    if (element.get(text) != simdjson::SUCCESS)
      return wrong_type(key, "an array of strings");
    items.emplace_back(text);
  }
  out = std::move(items);
  return std::nullopt;
}

std::optional<ipc_payload_error> read_setting(webhook_config_change& change,
                                              std::string_view key,
                                              simdjson::dom::element value) {
  if (key == "url")
    return read_string(value, key, change.url);
  if (key == "events")
    return read_string(value, key, change.events);
  if (key == "secrets")
    return read_strings(value, key, change.secrets);
  if (key == "ca_file")
    return read_string(value, key, change.ca_file);
  if (key == "retries")
    return read_count(value, key, change.retries);
  if (key == "concurrency")
    return read_count(value, key, change.concurrency);
  if (key == "buffer")
    return read_count(value, key, change.buffer);
  if (key == "timeout")
    return read_string(value, key, change.timeout);
  return ipc_payload_error{
      "unknown key \"" + std::string{key}
      + "\"; the keys are url, events, secrets, ca_file, retries, "
        "concurrency, buffer and timeout"};
}

} // namespace

bool webhook_config_change::empty() const noexcept {
  return !url && !events && !secrets && !ca_file && !retries && !concurrency
         && !buffer && !timeout;
}

void throw_exception_from_error(const ipc_payload_error& e,
                                const boost::source_location&) {
  throw std::invalid_argument(e.message);
}

std::string encode_set_webhook_config(const webhook_config_change& change) {
  boost::json::object object;
  if (change.url)
    object["url"] = *change.url;
  if (change.events)
    object["events"] = *change.events;
  if (change.secrets) {
    boost::json::array secrets;
    for (const auto& secret : *change.secrets)
      secrets.emplace_back(secret);
    object["secrets"] = std::move(secrets);
  }
  if (change.ca_file)
    object["ca_file"] = *change.ca_file;
  if (change.retries)
    object["retries"] = *change.retries;
  if (change.concurrency)
    object["concurrency"] = *change.concurrency;
  if (change.buffer)
    object["buffer"] = *change.buffer;
  if (change.timeout)
    object["timeout"] = *change.timeout;
  return boost::json::serialize(object);
}

payload_result decode_set_webhook_config(std::string_view payload) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(payload.data(), payload.size()).get(root))
    return ipc_payload_error{"invalid JSON: "
                             + std::string{simdjson::error_message(err)}};
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS)
    return ipc_payload_error{"expected a JSON object"};
  webhook_config_change change;
  for (auto field : object)
    if (auto problem = read_setting(change, field.key, field.value))
      return *problem;
  return change;
}

// -- trust handshake (0x0F) ---------------------------------------------------

namespace {

bool takes_node(handshake_operation operation) {
  return operation != handshake_operation::pending
         && operation != handshake_operation::trusted;
}

bool takes_text(handshake_operation operation) {
  return operation == handshake_operation::send
         || operation == handshake_operation::reject;
}

} // namespace

std::string encode_handshake_command(const handshake_command& command) {
  std::string payload(1, static_cast<char>(command.operation));
  if (takes_node(command.operation))
    put_u32(payload, command.node);
  if (takes_text(command.operation))
    payload += command.text;
  return payload;
}

result<handshake_command> decode_handshake_command(std::string_view payload) {
  if (payload.empty())
    return errc::truncated;
  auto byte = static_cast<std::uint8_t>(payload[0]);
  if (byte < 0x01 || byte > 0x06)
    return errc::unknown_type;
  handshake_command command;
  command.operation = static_cast<handshake_operation>(byte);
  if (!takes_node(command.operation))
    return command;
  if (payload.size() < 5)
    return errc::truncated;
  command.node = get_u32(payload, 1);
  if (takes_text(command.operation))
    command.text = std::string{payload.substr(5)};
  return command;
}

} // namespace pilot::protocol
