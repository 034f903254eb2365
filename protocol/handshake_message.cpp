#include "protocol/handshake_message.hpp"

#include "protocol/go_json.hpp"

#include <openssl/evp.h>
#include <simdjson.h>

#include <array>
#include <limits>
#include <type_traits>

namespace pilot::protocol {

namespace {

constexpr std::array<std::string_view, 4> type_texts{
    "handshake_request",
    "handshake_accept",
    "handshake_reject",
    "handshake_revoke",
};

// Reads a string field. A `null` leaves the zero value, as in Go.
bool read_string(simdjson::dom::element value, std::string& out) {
  if (value.is_null()) {
    out.clear();
    return true;
  }
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS)
    return false;
  out.assign(text);
  return true;
}

// Reads an integer field. simdjson types a literal with a fraction or an
// exponent as a double, which Go's decoder rejects for integer fields too.
template <class Integer>
bool read_integer(simdjson::dom::element value, Integer& out) {
  if (value.is_null()) {
    out = 0;
    return true;
  }
  if constexpr (std::is_unsigned_v<Integer>) {
    std::uint64_t number = 0;
    if (value.get_uint64().get(number) != simdjson::SUCCESS
        || number > std::numeric_limits<Integer>::max())
      return false;
    out = static_cast<Integer>(number);
  } else {
    std::int64_t number = 0;
    if (value.get_int64().get(number) != simdjson::SUCCESS)
      return false;
    out = number;
  }
  return true;
}

// Reads one key of the object. Unknown keys are ignored.
bool read_field(std::string_view key, simdjson::dom::element value,
                handshake_message& out) {
  if (key == "type")
    return read_string(value, out.type);
  if (key == "node_id")
    return read_integer(value, out.node_id);
  if (key == "public_key")
    return read_string(value, out.public_key);
  if (key == "justification")
    return read_string(value, out.justification);
  if (key == "signature")
    return read_string(value, out.signature);
  if (key == "reason")
    return read_string(value, out.reason);
  if (key == "timestamp")
    return read_integer(value, out.timestamp);
  return true;
}

void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

} // namespace

std::string_view to_type_text(handshake_kind kind) noexcept {
  return type_texts[static_cast<std::size_t>(kind)];
}

std::optional<handshake_kind> parse_handshake_kind(std::string_view type) {
  for (std::size_t i = 0; i < type_texts.size(); ++i)
    if (type_texts[i] == type)
      return static_cast<handshake_kind>(i);
  return std::nullopt;
}

result<handshake_message>
make_handshake_message(handshake_kind kind, const identity& sender,
                       std::uint32_t from, std::uint32_t to,
                       std::string_view text, std::int64_t timestamp) {
  handshake_message message;
  message.type = to_type_text(kind);
  message.node_id = from;
  message.public_key = sender.public_key_base64();
  message.timestamp = timestamp;
  switch (kind) {
    case handshake_kind::request:
      message.justification = text;
      break;
    case handshake_kind::reject:
      message.reason = text;
      break;
    case handshake_kind::revoke:
      message.reason = revoke_reason;
      break;
    case handshake_kind::accept:
      break;
  }
  auto signature = sender.sign_base64(handshake_challenge(from, to));
  if (!signature)
    return signature.error();
  message.signature = std::move(*signature);
  return message;
}

std::string encode_handshake_message(const handshake_message& message) {
  std::string out;
  out.reserve(256 + message.justification.size() + message.reason.size());
  out += '{';
  append_key(out, "type");
  append_go_json_string(out, message.type);
  out += ',';
  append_key(out, "node_id");
  out += std::to_string(message.node_id);
  out += ',';
  append_key(out, "public_key");
  append_go_json_string(out, message.public_key);
  out += ',';
  append_key(out, "justification");
  append_go_json_string(out, message.justification);
  out += ',';
  append_key(out, "signature");
  append_go_json_string(out, message.signature);
  out += ',';
  append_key(out, "reason");
  append_go_json_string(out, message.reason);
  out += ',';
  append_key(out, "timestamp");
  out += std::to_string(message.timestamp);
  out += '}';
  return out;
}

result<handshake_message> decode_handshake_message(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS)
    return errc::malformed_json;
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS)
    return errc::invalid_field;
  handshake_message message;
  for (auto field : object)
    if (!read_field(field.key, field.value, message))
      return errc::invalid_field;
  return message;
}

bool verify_handshake_signature(const handshake_message& message,
                                std::string_view sender_key,
                                std::uint32_t receiver) {
  if (sender_key.empty() || message.signature.empty())
    return false;
  return verify_base64(sender_key,
                       handshake_challenge(message.node_id, receiver),
                       message.signature);
}

handshake_replay_key replay_key(const handshake_message& message) {
  // Prefix each field with its length so that no two different messages
  // give the same input.
  std::string input;
  auto add = [&input](std::string_view field) {
    input += std::to_string(field.size());
    input += ':';
    input += field;
  };
  add(message.type);
  add(std::to_string(message.node_id));
  add(message.public_key);
  add(message.justification);
  add(message.signature);
  add(message.reason);
  add(std::to_string(message.timestamp));
  handshake_replay_key key{};
  unsigned int size = 0;
  // SHA-256 of a memory buffer fails only when the crypto library is
  // broken. The key then stays all zero, so every message after the first
  // is dropped as a replay and the check fails closed.
  EVP_Digest(input.data(), input.size(), key.data(), &size, EVP_sha256(),
             nullptr);
  return key;
}

} // namespace pilot::protocol
