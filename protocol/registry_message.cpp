#include "protocol/registry_message.hpp"

#include "protocol/go_json.hpp"
#include "protocol/identity.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <simdjson.h>

#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

namespace pilot::protocol {

namespace {

// -- field lists --------------------------------------------------------------

// The rule for writing a field into an encoded body. Decoding reads every
// field the same way, whatever its rule.
enum class presence {
  always,
  omit_empty,    // left out when "", false, 0 or an empty list
  null_if_empty, // an empty list encodes as null (a Go nil slice)
};

// Lists the JSON fields of each message in one place, for both directions.
// `apply` takes `M` const for encoding and mutable for decoding.
template <class T>
struct message_fields;

template <>
struct message_fields<register_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("listen_addr", m.listen_addr);
    v("public_key", m.public_key);
    v("owner", m.owner, presence::omit_empty);
    v("hostname", m.hostname, presence::omit_empty);
  }
};

// Messages that carry only `node_id` and, when signed, `signature`.
template <class T>
struct node_id_fields {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    if constexpr (requires { m.signature; })
      v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<heartbeat_request> : node_id_fields<heartbeat_request> {};

template <>
struct message_fields<deregister_request> : node_id_fields<deregister_request> {
};

template <>
struct message_fields<lookup_request> : node_id_fields<lookup_request> {};

template <>
struct message_fields<poll_handshakes_request>
    : node_id_fields<poll_handshakes_request> {};

template <>
struct message_fields<get_polo_score_request>
    : node_id_fields<get_polo_score_request> {};

template <>
struct message_fields<resolve_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("requester_id", m.requester_id);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<resolve_hostname_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("hostname", m.hostname);
  }
};

template <>
struct message_fields<set_hostname_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("hostname", m.hostname);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<set_visibility_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("public", m.is_public);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<set_tags_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("tags", m.tags);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<set_task_exec_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("enabled", m.enabled);
    v("signature", m.signature, presence::omit_empty);
  }
};

// `report_trust` and `revoke_trust`.
template <class T>
struct trust_fields {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("peer_id", m.peer_id);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<report_trust_request>
    : trust_fields<report_trust_request> {};

template <>
struct message_fields<revoke_trust_request>
    : trust_fields<revoke_trust_request> {};

template <>
struct message_fields<request_handshake_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("from_node_id", m.from_node_id);
    v("to_node_id", m.to_node_id);
    v("justification", m.justification);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<respond_handshake_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("peer_id", m.peer_id);
    v("accept", m.accept);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<punch_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("requester_id", m.requester_id);
    v("node_a", m.node_a);
    v("node_b", m.node_b);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<rotate_key_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("new_public_key", m.new_public_key);
    v("signature", m.signature, presence::omit_empty);
  }
};

template <>
struct message_fields<update_polo_score_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("delta", m.delta);
  }
};

template <>
struct message_fields<set_polo_score_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("polo_score", m.polo_score);
  }
};

// Messages with no fields besides `type`.
struct no_fields {
  template <class M, class V>
  static void apply(M&, V&) {
    // nop
  }
};

template <>
struct message_fields<list_networks_request> : no_fields {};

template <>
struct message_fields<beacon_list_request> : no_fields {};

template <>
struct message_fields<deregister_response> : no_fields {};

template <>
struct message_fields<report_trust_response> : no_fields {};

template <>
struct message_fields<revoke_trust_response> : no_fields {};

template <>
struct message_fields<list_nodes_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("network_id", m.network_id);
  }
};

template <>
struct message_fields<beacon_register_request> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("beacon_id", m.beacon_id);
    v("addr", m.addr);
  }
};

template <>
struct message_fields<register_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("network_id", m.network_id);
    v("address", m.address);
    v("public_key", m.public_key);
    v("hostname", m.hostname, presence::omit_empty);
    v("hostname_error", m.hostname_error, presence::omit_empty);
  }
};

template <>
struct message_fields<heartbeat_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("time", m.time);
  }
};

template <>
struct message_fields<lookup_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("address", m.address);
    v("networks", m.networks);
    v("public_key", m.public_key);
    v("public", m.is_public);
    v("polo_score", m.polo_score);
    v("hostname", m.hostname, presence::omit_empty);
    v("tags", m.tags, presence::omit_empty);
    v("task_exec", m.task_exec, presence::omit_empty);
    v("real_addr", m.real_addr, presence::omit_empty);
  }
};

template <>
struct message_fields<resolve_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("real_addr", m.real_addr);
  }
};

template <>
struct message_fields<resolve_hostname_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("address", m.address);
    v("public", m.is_public);
    v("hostname", m.hostname);
  }
};

template <>
struct message_fields<set_hostname_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("hostname", m.hostname);
  }
};

template <>
struct message_fields<set_visibility_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("visibility", m.visibility);
  }
};

template <>
struct message_fields<set_tags_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("tags", m.tags, presence::null_if_empty);
  }
};

template <>
struct message_fields<set_task_exec_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("task_exec", m.task_exec);
  }
};

template <>
struct message_fields<request_handshake_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("status", m.status);
  }
};

template <>
struct message_fields<handshake_request_entry> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("from_node_id", m.from_node_id);
    v("justification", m.justification);
    v("timestamp", m.timestamp);
  }
};

template <>
struct message_fields<handshake_response_entry> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("from_node_id", m.from_node_id);
    v("accept", m.accept);
    v("timestamp", m.timestamp);
  }
};

template <>
struct message_fields<poll_handshakes_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("requests", m.requests);
    v("responses", m.responses);
  }
};

template <>
struct message_fields<respond_handshake_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("accept", m.accept);
    v("peer_id", m.peer_id);
  }
};

template <>
struct message_fields<punch_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_a", m.node_a);
    v("node_a_addr", m.node_a_addr);
    v("node_b", m.node_b);
    v("node_b_addr", m.node_b_addr);
  }
};

template <>
struct message_fields<rotate_key_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("address", m.address);
    v("public_key", m.public_key);
  }
};

template <class T>
struct polo_fields {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("address", m.address);
    v("polo_score", m.polo_score);
  }
};

template <>
struct message_fields<update_polo_score_response>
    : polo_fields<update_polo_score_response> {};

template <>
struct message_fields<set_polo_score_response>
    : polo_fields<set_polo_score_response> {};

template <>
struct message_fields<get_polo_score_response>
    : polo_fields<get_polo_score_response> {};

template <>
struct message_fields<network_entry> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("id", m.id);
    v("name", m.name);
    v("members", m.members);
    v("join_rule", m.join_rule);
  }
};

template <>
struct message_fields<list_networks_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("networks", m.networks);
  }
};

template <>
struct message_fields<node_entry> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("node_id", m.node_id);
    v("address", m.address);
    v("hostname", m.hostname, presence::omit_empty);
    v("task_exec", m.task_exec, presence::omit_empty);
    v("real_addr", m.real_addr, presence::omit_empty);
  }
};

template <>
struct message_fields<list_nodes_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("nodes", m.nodes);
  }
};

template <>
struct message_fields<beacon_register_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("beacon_id", m.beacon_id);
  }
};

template <>
struct message_fields<beacon_entry> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("id", m.id);
    v("addr", m.addr);
  }
};

template <>
struct message_fields<beacon_list_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("beacons", m.beacons);
  }
};

template <>
struct message_fields<error_response> {
  template <class M, class V>
  static void apply(M& m, V& v) {
    v("error", m.error);
  }
};

// -- encoding -----------------------------------------------------------------

template <class T>
boost::json::object to_json_object(const T& message);

template <class T>
bool is_empty(const T& value) {
  if constexpr (std::is_same_v<T, bool>)
    return !value;
  else if constexpr (std::is_arithmetic_v<T>)
    return value == 0;
  else
    return value.empty();
}

template <class T>
boost::json::value to_json_value(const T& value) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>)
    return boost::json::value(value);
  else if constexpr (std::is_unsigned_v<T>)
    return boost::json::value(static_cast<std::uint64_t>(value));
  else if constexpr (std::is_signed_v<T>)
    return boost::json::value(static_cast<std::int64_t>(value));
  else
    return to_json_object(value);
}

template <class T>
boost::json::value to_json_value(const std::vector<T>& values) {
  boost::json::array array;
  array.reserve(values.size());
  for (const auto& value : values)
    array.push_back(to_json_value(value));
  return array;
}

struct encode_visitor {
  boost::json::object& out;

  template <class T>
  void operator()(std::string_view key, const T& value,
                  presence rule = presence::always) {
    if (rule == presence::omit_empty && is_empty(value))
      return;
    if (rule == presence::null_if_empty && is_empty(value)) {
      out[key] = nullptr;
      return;
    }
    out[key] = to_json_value(value);
  }
};

template <class T>
boost::json::object to_json_object(const T& message) {
  boost::json::object out;
  encode_visitor visitor{out};
  message_fields<T>::apply(message, visitor);
  if constexpr (requires { T::type; })
    out["type"] = T::type;
  return out;
}

// -- decoding -----------------------------------------------------------------

// Converts a JSON number like the reference converts float64: truncated
// toward zero, and 0 when negative, above `max` or not a number at all.
std::uint64_t to_unsigned_id(simdjson::dom::element element,
                             std::uint64_t max) {
  double number = 0;
  if (element.get_double().get(number) != simdjson::SUCCESS)
    return 0;
  if (number < 0 || number > static_cast<double>(max))
    return 0;
  return static_cast<std::uint64_t>(number);
}

// Converts a JSON number like Go's int(float64): truncated toward zero. Go
// leaves out-of-range values undefined, so they saturate here.
std::int64_t to_signed_integer(simdjson::dom::element element) {
  double number = 0;
  if (element.get_double().get(number) != simdjson::SUCCESS)
    return 0;
  constexpr auto low = std::numeric_limits<std::int64_t>::min();
  constexpr auto high = std::numeric_limits<std::int64_t>::max();
  if (number <= static_cast<double>(low))
    return low;
  if (number >= static_cast<double>(high))
    return high;
  return static_cast<std::int64_t>(number);
}

template <class T>
void read_fields(simdjson::dom::object object, T& out);

template <class T>
void read_value(simdjson::dom::element element, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (element.get_bool().get(out) != simdjson::SUCCESS)
      out = false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    std::string_view text;
    if (element.get_string().get(text) == simdjson::SUCCESS)
      out.assign(text);
    else
      out.clear();
  } else if constexpr (std::is_unsigned_v<T>) {
    out = static_cast<T>(
        to_unsigned_id(element, std::numeric_limits<T>::max()));
  } else if constexpr (std::is_signed_v<T>) {
    out = to_signed_integer(element);
  } else {
    simdjson::dom::object object;
    out = T{};
    if (element.get_object().get(object) == simdjson::SUCCESS)
      read_fields(object, out);
  }
}

// Reads a list, keeping only elements of the expected JSON type: strings
// for string lists, numbers for ID lists, objects for entry lists.
template <class T>
void read_value(simdjson::dom::element element, std::vector<T>& out) {
  out.clear();
  simdjson::dom::array array;
  if (element.get_array().get(array) != simdjson::SUCCESS)
    return;
  for (auto item : array) {
    bool expected_type;
    if constexpr (std::is_same_v<T, std::string>)
      expected_type = item.is_string();
    else if constexpr (std::is_arithmetic_v<T>)
      expected_type = item.is_number();
    else
      expected_type = item.is_object();
    if (!expected_type)
      continue;
    T value{};
    read_value(item, value);
    out.push_back(std::move(value));
  }
}

// Assigns one JSON member to the field of the same name, if any.
struct decode_visitor {
  std::string_view key;
  simdjson::dom::element element;

  template <class T>
  void operator()(std::string_view name, T& value,
                  presence = presence::always) {
    if (name == key)
      read_value(element, value);
  }
};

template <class T>
void read_fields(simdjson::dom::object object, T& out) {
  // Walking every member in order lets the last of duplicate keys win.
  for (auto [key, element] : object) {
    decode_visitor visitor{key, element};
    message_fields<T>::apply(out, visitor);
  }
}

// Appends ".0" to every integer literal of 20 or more digits outside
// strings. simdjson rejects integers beyond 64 bits, whereas Go reads every
// number as a float64, so such a literal becomes a (large) double instead.
std::string widen_big_integers(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < body.size();) {
    char c = body[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < body.size())
        out += body[++i];
      else if (c == '"')
        in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      ++i;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) {
      out += c;
      ++i;
      continue;
    }
    auto end = body.find_first_not_of("+-0123456789.eE", i);
    auto token = body.substr(i, end == std::string_view::npos ? end : end - i);
    out += token;
    auto digits = token.front() == '-' ? token.size() - 1 : token.size();
    if (digits >= 20 && token.find_first_of(".eE+", 1) == token.npos)
      out += ".0";
    i += token.size();
  }
  return out;
}

// Parses a body that must be a JSON object or `null`; `null` yields an
// object-less element. Where Go's decoder is more lenient than simdjson,
// the body is repaired the way Go would read it and parsed again: invalid
// UTF-8 inside strings becomes U+FFFD, and integers beyond 64 bits become
// doubles. `storage` receives the repaired text.
result<simdjson::dom::element> parse_body(simdjson::dom::parser& parser,
                                          std::string_view body,
                                          std::string& storage) {
  simdjson::dom::element root;
  auto error = parser.parse(body.data(), body.size()).get(root);
  if (error == simdjson::UTF8_ERROR) {
    storage = go_valid_utf8(body);
    body = storage;
    error = parser.parse(body.data(), body.size()).get(root);
  }
  if (error == simdjson::NUMBER_ERROR) {
    auto widened = widen_big_integers(body);
    storage = std::move(widened);
    error = parser.parse(storage.data(), storage.size()).get(root);
  }
  if (error != simdjson::SUCCESS)
    return errc::malformed_json;
  if (!root.is_object() && !root.is_null())
    return errc::malformed_json;
  return root;
}

simdjson::dom::parser& reused_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Returns the last string `key` member of `object`, or "" when none is a
// string (the reference reads the last duplicate).
std::string_view last_string_member(simdjson::dom::object object,
                                    std::string_view key, bool& found) {
  std::string_view text;
  found = false;
  for (auto [name, element] : object) {
    if (name != key)
      continue;
    found = element.get_string().get(text) == simdjson::SUCCESS;
    if (!found)
      text = {};
  }
  return text;
}

// Builds the request alternative at index `I` when its type name matches.
template <std::size_t I = 1>
bool decode_request_alternative(std::string_view type,
                                simdjson::dom::object object,
                                registry_request& out) {
  if constexpr (I == std::variant_size_v<registry_request>) {
    return false;
  } else {
    using alternative = std::variant_alternative_t<I, registry_request>;
    if (type == alternative::type) {
      alternative request;
      read_fields(object, request);
      out = std::move(request);
      return true;
    }
    return decode_request_alternative<I + 1>(type, object, out);
  }
}

} // namespace

template <class Message>
std::string encode_registry_message(const Message& message) {
  return to_go_json(to_json_object(message));
}

template <class Message>
result<Message> decode_registry_message(std::string_view body) {
  std::string repaired;
  auto root = parse_body(reused_parser(), body, repaired);
  if (!root)
    return root.error();
  Message message;
  simdjson::dom::object object;
  if (root->get_object().get(object) == simdjson::SUCCESS)
    read_fields(object, message);
  return message;
}

result<registry_request> decode_registry_request(std::string_view body) {
  std::string repaired;
  auto root = parse_body(reused_parser(), body, repaired);
  if (!root)
    return root.error();
  simdjson::dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS)
    return registry_request{unknown_request{}};
  bool found = false;
  auto type = last_string_member(object, "type", found);
  registry_request request;
  if (!decode_request_alternative(type, object, request))
    request = unknown_request{std::string{type}};
  return request;
}

bool is_error_response(std::string_view body) {
  std::string repaired;
  auto root = parse_body(reused_parser(), body, repaired);
  if (!root)
    return true;
  simdjson::dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS)
    return false;
  bool found = false;
  last_string_member(object, "error", found);
  return found;
}

std::string error_text(std::string_view body) {
  std::string repaired;
  auto root = parse_body(reused_parser(), body, repaired);
  simdjson::dom::object object;
  if (!root || root->get_object().get(object) != simdjson::SUCCESS)
    return {};
  bool found = false;
  return std::string{last_string_member(object, "error", found)};
}

std::string signing_challenge(const heartbeat_request& request) {
  return heartbeat_challenge(request.node_id);
}

std::string signing_challenge(const deregister_request& request) {
  return deregister_challenge(request.node_id);
}

std::string signing_challenge(const resolve_request& request) {
  return resolve_challenge(request.requester_id, request.node_id);
}

std::string signing_challenge(const set_hostname_request& request) {
  return set_hostname_challenge(request.node_id);
}

std::string signing_challenge(const set_visibility_request& request) {
  return set_visibility_challenge(request.node_id);
}

std::string signing_challenge(const set_tags_request& request) {
  return set_tags_challenge(request.node_id);
}

std::string signing_challenge(const set_task_exec_request& request) {
  return set_task_exec_challenge(request.node_id);
}

std::string signing_challenge(const report_trust_request& request) {
  return report_trust_challenge(request.node_id, request.peer_id);
}

std::string signing_challenge(const revoke_trust_request& request) {
  return revoke_trust_challenge(request.node_id, request.peer_id);
}

std::string signing_challenge(const request_handshake_request& request) {
  return handshake_challenge(request.from_node_id, request.to_node_id);
}

std::string signing_challenge(const poll_handshakes_request& request) {
  return poll_handshakes_challenge(request.node_id);
}

std::string signing_challenge(const respond_handshake_request& request) {
  return respond_challenge(request.node_id, request.peer_id);
}

std::string signing_challenge(const punch_request& request) {
  return punch_challenge(request.node_a, request.node_b);
}

std::string signing_challenge(const rotate_key_request& request) {
  return rotate_challenge(request.node_id);
}

// Every message struct of the header, instantiated once here.
#define PILOT_REGISTRY_MESSAGE(T)                                              \
  template std::string encode_registry_message<T>(const T&);                   \
  template result<T> decode_registry_message<T>(std::string_view);

PILOT_REGISTRY_MESSAGE(register_request)
PILOT_REGISTRY_MESSAGE(heartbeat_request)
PILOT_REGISTRY_MESSAGE(deregister_request)
PILOT_REGISTRY_MESSAGE(lookup_request)
PILOT_REGISTRY_MESSAGE(resolve_request)
PILOT_REGISTRY_MESSAGE(resolve_hostname_request)
PILOT_REGISTRY_MESSAGE(set_hostname_request)
PILOT_REGISTRY_MESSAGE(set_visibility_request)
PILOT_REGISTRY_MESSAGE(set_tags_request)
PILOT_REGISTRY_MESSAGE(set_task_exec_request)
PILOT_REGISTRY_MESSAGE(report_trust_request)
PILOT_REGISTRY_MESSAGE(revoke_trust_request)
PILOT_REGISTRY_MESSAGE(request_handshake_request)
PILOT_REGISTRY_MESSAGE(poll_handshakes_request)
PILOT_REGISTRY_MESSAGE(respond_handshake_request)
PILOT_REGISTRY_MESSAGE(punch_request)
PILOT_REGISTRY_MESSAGE(rotate_key_request)
PILOT_REGISTRY_MESSAGE(update_polo_score_request)
PILOT_REGISTRY_MESSAGE(set_polo_score_request)
PILOT_REGISTRY_MESSAGE(get_polo_score_request)
PILOT_REGISTRY_MESSAGE(list_networks_request)
PILOT_REGISTRY_MESSAGE(list_nodes_request)
PILOT_REGISTRY_MESSAGE(beacon_register_request)
PILOT_REGISTRY_MESSAGE(beacon_list_request)
PILOT_REGISTRY_MESSAGE(register_response)
PILOT_REGISTRY_MESSAGE(heartbeat_response)
PILOT_REGISTRY_MESSAGE(deregister_response)
PILOT_REGISTRY_MESSAGE(lookup_response)
PILOT_REGISTRY_MESSAGE(resolve_response)
PILOT_REGISTRY_MESSAGE(resolve_hostname_response)
PILOT_REGISTRY_MESSAGE(set_hostname_response)
PILOT_REGISTRY_MESSAGE(set_visibility_response)
PILOT_REGISTRY_MESSAGE(set_tags_response)
PILOT_REGISTRY_MESSAGE(set_task_exec_response)
PILOT_REGISTRY_MESSAGE(report_trust_response)
PILOT_REGISTRY_MESSAGE(revoke_trust_response)
PILOT_REGISTRY_MESSAGE(request_handshake_response)
PILOT_REGISTRY_MESSAGE(poll_handshakes_response)
PILOT_REGISTRY_MESSAGE(respond_handshake_response)
PILOT_REGISTRY_MESSAGE(punch_response)
PILOT_REGISTRY_MESSAGE(rotate_key_response)
PILOT_REGISTRY_MESSAGE(update_polo_score_response)
PILOT_REGISTRY_MESSAGE(set_polo_score_response)
PILOT_REGISTRY_MESSAGE(get_polo_score_response)
PILOT_REGISTRY_MESSAGE(list_networks_response)
PILOT_REGISTRY_MESSAGE(list_nodes_response)
PILOT_REGISTRY_MESSAGE(beacon_register_response)
PILOT_REGISTRY_MESSAGE(beacon_list_response)
PILOT_REGISTRY_MESSAGE(error_response)

#undef PILOT_REGISTRY_MESSAGE

} // namespace pilot::protocol
