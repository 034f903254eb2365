#include "actors/detail/registry_store.hpp"

#include "protocol/base64.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

namespace pilot::actors::detail {

namespace {

using namespace std::chrono;

// -- writing ------------------------------------------------------------------

template <class Id>
boost::json::array to_json_array(const auto& ids) {
  boost::json::array array;
  for (Id id : ids)
    array.push_back(static_cast<std::uint64_t>(id));
  return array;
}

boost::json::object node_to_json(const node_record& node) {
  boost::json::object out;
  out["id"] = node.id;
  if (!node.owner.empty())
    out["owner"] = node.owner;
  out["public_key"] = node.key_base64;
  if (!node.real_addr.empty())
    out["real_addr"] = node.real_addr;
  out["networks"] = to_json_array<std::uint16_t>(node.networks);
  if (node.is_public)
    out["public"] = true;
  if (node.last_seen != registry_time{})
    out["last_seen"] = format_rfc3339(node.last_seen, false);
  if (!node.hostname.empty())
    out["hostname"] = node.hostname;
  if (!node.tags.empty()) {
    boost::json::array tags;
    for (const auto& tag : node.tags)
      tags.push_back(boost::json::string(tag));
    out["tags"] = std::move(tags);
  }
  if (node.polo_score != 0)
    out["polo_score"] = node.polo_score;
  if (node.task_exec)
    out["task_exec"] = true;
  return out;
}

boost::json::object network_to_json(const network_record& network) {
  boost::json::object out;
  out["id"] = network.id;
  out["name"] = network.name;
  out["join_rule"] = network.join_rule;
  if (!network.token.empty())
    out["token"] = network.token;
  out["members"] = to_json_array<std::uint32_t>(network.members);
  out["created"] = format_rfc3339(network.created, false);
  return out;
}

boost::json::object mailboxes_to_json(const registry_state& state) {
  boost::json::object out;
  for (const auto& [id, queue] : state.inbox) {
    boost::json::array entries;
    for (const auto& request : queue)
      entries.push_back(boost::json::object{
          {"from_node_id", request.from_node_id},
          {"justification", request.justification},
          {"timestamp", format_rfc3339(request.timestamp, true)},
      });
    if (!entries.empty())
      out[std::to_string(id)] = std::move(entries);
  }
  return out;
}

boost::json::object responses_to_json(const registry_state& state) {
  boost::json::object out;
  for (const auto& [id, queue] : state.responses) {
    boost::json::array entries;
    for (const auto& response : queue)
      entries.push_back(boost::json::object{
          {"from_node_id", response.from_node_id},
          {"accept", response.accept},
          {"timestamp", format_rfc3339(response.timestamp, true)},
      });
    if (!entries.empty())
      out[std::to_string(id)] = std::move(entries);
  }
  return out;
}

// -- reading ------------------------------------------------------------------

[[noreturn]] void fail(std::string_view what) {
  throw std::invalid_argument("invalid registry store: " + std::string{what});
}

template <class T>
T read_uint(simdjson::dom::element element, std::string_view what) {
  std::uint64_t value = 0;
  if (element.get_uint64().get(value) != simdjson::SUCCESS
      || value > std::numeric_limits<T>::max())
    fail(what);
  return static_cast<T>(value);
}

template <class T>
T optional_uint(simdjson::dom::object object, std::string_view key,
                std::string_view what) {
  auto field = object[key];
  if (field.error() == simdjson::NO_SUCH_FIELD)
    return 0;
  return read_uint<T>(field.value_unsafe(), what);
}

std::string optional_string(simdjson::dom::object object,
                            std::string_view key) {
  auto field = object[key];
  if (field.error() == simdjson::NO_SUCH_FIELD || field.is_null())
    return {};
  std::string_view text;
  if (field.get(text) != simdjson::SUCCESS)
    fail(key);
  return std::string{text};
}

bool optional_bool(simdjson::dom::object object, std::string_view key) {
  auto field = object[key];
  if (field.error() == simdjson::NO_SUCH_FIELD || field.is_null())
    return false;
  bool value = false;
  if (field.get(value) != simdjson::SUCCESS)
    fail(key);
  return value;
}

// Returns the members of the object at `key`, none when it is absent or
// null.
std::vector<std::pair<std::string_view, simdjson::dom::element>>
optional_object(simdjson::dom::object object, std::string_view key) {
  std::vector<std::pair<std::string_view, simdjson::dom::element>> members;
  auto field = object[key];
  if (field.error() == simdjson::NO_SUCH_FIELD || field.is_null())
    return members;
  simdjson::dom::object value;
  if (field.get(value) != simdjson::SUCCESS)
    fail(key);
  for (auto [name, element] : value)
    members.emplace_back(name, element);
  return members;
}

// Returns the elements of the array at `key`, none when it is absent or
// null.
std::vector<simdjson::dom::element> optional_array(simdjson::dom::object object,
                                                   std::string_view key) {
  std::vector<simdjson::dom::element> elements;
  auto field = object[key];
  if (field.error() == simdjson::NO_SUCH_FIELD || field.is_null())
    return elements;
  simdjson::dom::array value;
  if (field.get(value) != simdjson::SUCCESS)
    fail(key);
  for (auto element : value)
    elements.push_back(element);
  return elements;
}

registry_time optional_time(simdjson::dom::object object,
                            std::string_view key) {
  auto text = optional_string(object, key);
  if (text.empty())
    return {};
  auto time = parse_rfc3339(text);
  if (!time)
    fail(key);
  return *time;
}

std::uint32_t parse_id(std::string_view text, std::string_view what) {
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    fail(what);
  return id;
}

node_record read_node(simdjson::dom::element element) {
  simdjson::dom::object object;
  if (element.get(object) != simdjson::SUCCESS)
    fail("nodes");
  node_record node;
  node.id = optional_uint<std::uint32_t>(object, "id", "node id");
  node.owner = optional_string(object, "owner");
  auto key = protocol::parse_public_key(optional_string(object, "public_key"));
  if (!key)
    fail("public_key of node " + std::to_string(node.id));
  node.key = *key;
  node.key_base64 = protocol::base64_encode(node.key);
  node.real_addr = optional_string(object, "real_addr");
  node.is_public = optional_bool(object, "public");
  node.last_seen = optional_time(object, "last_seen");
  node.hostname = optional_string(object, "hostname");
  for (auto tag : optional_array(object, "tags")) {
    std::string_view text;
    if (tag.get(text) != simdjson::SUCCESS)
      fail("tags");
    node.tags.emplace_back(text);
  }
  auto polo = object["polo_score"];
  if (polo.error() != simdjson::NO_SUCH_FIELD
      && polo.get(node.polo_score) != simdjson::SUCCESS)
    fail("polo_score");
  node.task_exec = optional_bool(object, "task_exec");
  return node;
}

network_record read_network(simdjson::dom::element element) {
  simdjson::dom::object object;
  if (element.get(object) != simdjson::SUCCESS)
    fail("networks");
  network_record network;
  network.id = optional_uint<std::uint16_t>(object, "id", "network id");
  network.name = optional_string(object, "name");
  network.join_rule = optional_string(object, "join_rule");
  network.token = optional_string(object, "token");
  for (auto member : optional_array(object, "members"))
    network.members.insert(read_uint<std::uint32_t>(member, "members"));
  network.created = optional_time(object, "created");
  return network;
}

void add_trust_pair(registry_state& state, std::uint32_t a, std::uint32_t b) {
  if (a == b)
    return;
  if (state.trust[a].insert(b).second) {
    state.trust[b].insert(a);
    ++state.trust_pair_count;
  }
}

void read_trust_pairs(const std::vector<simdjson::dom::element>& pairs,
                      registry_state& state) {
  for (auto pair : pairs) {
    std::string_view text;
    if (pair.get(text) != simdjson::SUCCESS)
      fail("trust_pairs");
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
      fail("trust_pairs");
    add_trust_pair(state, parse_id(text.substr(0, colon), "trust_pairs"),
                   parse_id(text.substr(colon + 1), "trust_pairs"));
  }
}

void read_key_index(simdjson::dom::object root, registry_state& state) {
  for (auto [key, value] : optional_object(root, "pub_key_idx")) {
    auto decoded = protocol::parse_public_key(key);
    if (!decoded)
      fail("pub_key_idx");
    auto id = read_uint<std::uint32_t>(value, "pub_key_idx");
    state.keys.try_emplace(protocol::base64_encode(*decoded), key_entry{id});
  }
  // Keep one key per ID. A live node's own key replaces it later on.
  std::unordered_map<std::uint32_t, std::string> first_key;
  for (const auto& [key, entry] : state.keys)
    first_key.try_emplace(entry.node_id, key);
  std::erase_if(state.keys, [&](const auto& item) {
    return first_key[item.second.node_id] != item.first;
  });
}

mailbox_request read_request(simdjson::dom::element entry) {
  simdjson::dom::object object;
  if (entry.get(object) != simdjson::SUCCESS)
    fail("handshake_inbox");
  return mailbox_request{
      optional_uint<std::uint32_t>(object, "from_node_id", "handshake_inbox"),
      optional_string(object, "justification"),
      optional_time(object, "timestamp")};
}

mailbox_response read_response(simdjson::dom::element entry) {
  simdjson::dom::object object;
  if (entry.get(object) != simdjson::SUCCESS)
    fail("handshake_responses");
  return mailbox_response{optional_uint<std::uint32_t>(object, "from_node_id",
                                                       "handshake_responses"),
                          optional_bool(object, "accept"),
                          optional_time(object, "timestamp")};
}

// Reads `handshake_inbox` or `handshake_responses`: node ID to entries.
template <class Entry, class Read>
void read_mailbox(simdjson::dom::object root, std::string_view key,
                  std::map<std::uint32_t, std::deque<Entry>>& out,
                  Read read_entry) {
  for (auto [id_text, value] : optional_object(root, key)) {
    simdjson::dom::array entries;
    if (value.get(entries) != simdjson::SUCCESS)
      fail(key);
    auto& queue = out[parse_id(id_text, key)];
    for (auto entry : entries)
      queue.push_back(read_entry(entry));
  }
}

// Rebuilds what the file does not hold: the backbone when missing, network
// membership on both sides, the hostname and owner indexes, and the order of
// departed keys.
void rebuild_indexes(registry_state& state) {
  if (!state.networks.contains(0))
    state.networks[0] = network_record{0, "backbone", "open", "", {}, {}};
  for (auto& [net_id, network] : state.networks)
    std::erase_if(network.members,
                  [&](std::uint32_t id) { return !state.nodes.contains(id); });
  for (auto& [id, node] : state.nodes) {
    state.networks[0].members.insert(id);
    node.networks.clear();
    for (const auto& [net_id, network] : state.networks)
      if (network.members.contains(id))
        node.networks.push_back(net_id);
    if (!node.hostname.empty()
        && !state.hostnames.try_emplace(node.hostname, id).second)
      node.hostname.clear();
    if (!node.owner.empty())
      state.owners.try_emplace(node.owner, id);
    // A live node's own key always points at it.
    state.keys[node.key_base64] = key_entry{id};
  }
  // Drop index entries for keys that a live node no longer has (rotated
  // away), so that they cannot steer that node.
  std::erase_if(state.keys, [&](const auto& item) {
    auto node = state.nodes.find(item.second.node_id);
    return node != state.nodes.end() && node->second.key_base64 != item.first;
  });
  for (const auto& [key, entry] : state.keys)
    state.key_by_id[entry.node_id] = key;
  // The file does not record when nodes left, so older IDs count as
  // departed earlier.
  std::vector<std::pair<std::uint32_t, std::string>> departed;
  for (const auto& [key, entry] : state.keys)
    if (!state.nodes.contains(entry.node_id))
      departed.emplace_back(entry.node_id, key);
  std::sort(departed.begin(), departed.end());
  for (const auto& [id, key] : departed) {
    auto sequence = state.next_departure++;
    state.keys[key].departed_sequence = sequence;
    state.departed_keys.emplace(sequence, key);
  }
}

} // namespace

std::string format_rfc3339(registry_time time, bool with_fraction) {
  auto day = floor<days>(time);
  year_month_day date{day};
  hh_mm_ss clock{floor<nanoseconds>(time - day)};
  char buf[64];
  auto n = std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d",
                         static_cast<int>(date.year()),
                         static_cast<unsigned>(date.month()),
                         static_cast<unsigned>(date.day()),
                         static_cast<int>(clock.hours().count()),
                         static_cast<int>(clock.minutes().count()),
                         static_cast<int>(clock.seconds().count()));
  std::string text(buf, static_cast<std::size_t>(n));
  auto nanos = clock.subseconds().count();
  if (with_fraction && nanos != 0) {
    auto fraction = std::to_string(1'000'000'000 + nanos).substr(1);
    while (fraction.back() == '0')
      fraction.pop_back();
    text += '.';
    text += fraction;
  }
  text += 'Z';
  return text;
}

std::optional<registry_time> parse_rfc3339(std::string_view text) {
  // Read the fixed-width fields of "YYYY-MM-DDTHH:MM:SS".
  auto number = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > text.size())
      return false;
    auto first = text.data() + pos;
    auto [end, ec] = std::from_chars(first, first + len, out);
    return ec == std::errc{} && end == first + len;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() < 20 || text[4] != '-' || text[7] != '-'
      || (text[10] != 'T' && text[10] != 't') || text[13] != ':'
      || text[16] != ':' || !number(0, 4, y) || !number(5, 2, mo)
      || !number(8, 2, d) || !number(11, 2, h) || !number(14, 2, mi)
      || !number(17, 2, s))
    return std::nullopt;
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                      day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 59)
    return std::nullopt;
  // Read the optional fraction, then the zone.
  std::size_t pos = 19;
  nanoseconds fraction{0};
  if (text[pos] == '.') {
    std::int64_t scale = 100'000'000;
    ++pos;
    auto start = pos;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      fraction += nanoseconds{(text[pos] - '0') * scale};
      scale /= 10;
    }
    if (pos == start)
      return std::nullopt;
  }
  auto zone = text.substr(pos);
  minutes offset{0};
  if (zone != "Z" && zone != "z") {
    int zh = 0, zm = 0;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':'
        || !number(pos + 1, 2, zh) || !number(pos + 4, 2, zm) || zh > 23
        || zm > 59)
      return std::nullopt;
    offset = hours{zh} + minutes{zm};
    if (zone[0] == '-')
      offset = -offset;
  }
  auto whole = sys_days{date} + hours{h} + minutes{mi} + seconds{s} - offset;
  // The clock counts nanoseconds in 64 bits, about the years 1678 to 2262,
  // so an earlier or later time (such as Go's zero time) is out of range.
  constexpr auto earliest
      = time_point_cast<seconds>(registry_time::min()) + seconds{1};
  constexpr auto latest
      = time_point_cast<seconds>(registry_time::max()) - seconds{1};
  if (whole < earliest || whole > latest)
    return std::nullopt;
  return time_point_cast<registry_clock::duration>(whole) + fraction;
}

std::string to_store_json(const registry_state& state) {
  boost::json::object out;
  out["next_node"] = state.next_node;
  out["next_net"] = state.next_net;
  boost::json::object nodes;
  for (const auto& [id, node] : state.nodes)
    nodes[std::to_string(id)] = node_to_json(node);
  out["nodes"] = std::move(nodes);
  boost::json::object networks;
  for (const auto& [id, network] : state.networks)
    networks[std::to_string(id)] = network_to_json(network);
  out["networks"] = std::move(networks);
  boost::json::array pairs;
  for (const auto& [a, peers] : state.trust)
    for (auto b : peers)
      if (a < b)
        pairs.push_back(
            boost::json::string(std::to_string(a) + ":" + std::to_string(b)));
  if (!pairs.empty())
    out["trust_pairs"] = std::move(pairs);
  boost::json::object keys;
  for (const auto& [key, entry] : state.keys)
    keys[key] = entry.node_id;
  if (!keys.empty())
    out["pub_key_idx"] = std::move(keys);
  if (auto inbox = mailboxes_to_json(state); !inbox.empty())
    out["handshake_inbox"] = std::move(inbox);
  if (auto responses = responses_to_json(state); !responses.empty())
    out["handshake_responses"] = std::move(responses);
  return boost::json::serialize(out);
}

void load_store_json(std::string_view text, registry_state& state) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS)
    fail("not a JSON object");
  registry_state loaded;
  loaded.next_node = std::max<std::uint32_t>(
      1, optional_uint<std::uint32_t>(root, "next_node", "next_node"));
  loaded.next_net = std::max<std::uint16_t>(
      1, optional_uint<std::uint16_t>(root, "next_net", "next_net"));
  for (auto [name, value] : optional_object(root, "nodes")) {
    auto node = read_node(value);
    if (node.id == 0)
      fail("node id 0");
    if (node.id == std::numeric_limits<std::uint32_t>::max())
      fail("node id 4294967295");
    loaded.next_node = std::max(loaded.next_node, node.id + 1);
    auto id = node.id;
    loaded.nodes[id] = std::move(node);
  }
  for (auto [name, value] : optional_object(root, "networks")) {
    auto network = read_network(value);
    auto id = network.id;
    loaded.networks[id] = std::move(network);
  }
  read_trust_pairs(optional_array(root, "trust_pairs"), loaded);
  read_key_index(root, loaded);
  read_mailbox(root, "handshake_inbox", loaded.inbox, read_request);
  read_mailbox(root, "handshake_responses", loaded.responses, read_response);
  rebuild_indexes(loaded);
  state = std::move(loaded);
}

} // namespace pilot::actors::detail
