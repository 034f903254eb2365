#include "actors/detail/trust_file.hpp"

#include "actors/atomic_file.hpp"
#include "actors/detail/registry_store.hpp"
#include "protocol/go_json.hpp"

#include <simdjson.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace pilot::actors::detail {

namespace {

/// Maximum size of a trust file that is read. The default limits allow
/// files of a few MiB (an estimate), so anything far larger is not a trust
/// file.
constexpr std::uintmax_t max_trust_file_size = 64 * 1024 * 1024;

// -- writing ------------------------------------------------------------------

// Formats `time` as Go's RFC 3339 of a local time with whole seconds.
std::string format_local_time(trust_time time) {
  if (time == zero_trust_time)
    return "0001-01-01T00:00:00Z";
  auto seconds = static_cast<std::time_t>(time.time_since_epoch().count());
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr)
    return "0001-01-01T00:00:00Z";
  char text[48];
  auto size
      = std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d",
                      local.tm_year + 1900, local.tm_mon + 1, local.tm_mday,
                      local.tm_hour, local.tm_min, local.tm_sec);
  std::string out(text, static_cast<std::size_t>(size));
  auto offset_minutes = local.tm_gmtoff / 60;
  if (offset_minutes == 0) {
    out += 'Z';
    return out;
  }
  auto sign = offset_minutes < 0 ? '-' : '+';
  if (offset_minutes < 0)
    offset_minutes = -offset_minutes;
  size = std::snprintf(text, sizeof(text), "%c%02ld:%02ld", sign,
                       offset_minutes / 60, offset_minutes % 60);
  out.append(text, static_cast<std::size_t>(size));
  return out;
}

// Writes the fields of one entry at the indentation of Go's MarshalIndent.
class entry_writer {
public:
  explicit entry_writer(std::string& out) : out_(out) { out_ += "    {"; }

  ~entry_writer() { out_ += "\n    }"; }

  entry_writer(const entry_writer&) = delete;
  entry_writer& operator=(const entry_writer&) = delete;

  void number(std::string_view key, std::uint64_t value) {
    start(key);
    out_ += std::to_string(value);
  }

  void text(std::string_view key, std::string_view value) {
    start(key);
    protocol::append_go_json_string(out_, value);
  }

  void boolean(std::string_view key, bool value) {
    start(key);
    out_ += value ? "true" : "false";
  }

private:
  void start(std::string_view key) {
    if (!first_)
      out_ += ',';
    first_ = false;
    out_ += "\n      \"";
    out_ += key;
    out_ += "\": ";
  }

  std::string& out_;
  bool first_ = true;
};

// Writes `"key": [entries]` with one `write_entry` call per element.
template <class Map, class Write>
void write_list(std::string& out, std::string_view key, const Map& entries,
                Write write_entry) {
  out += "  \"";
  out += key;
  out += "\": [";
  auto first = true;
  for (const auto& [node, entry] : entries) {
    out += first ? "\n" : ",\n";
    first = false;
    entry_writer writer{out};
    write_entry(writer, node, entry);
  }
  out += "\n  ]";
}

// -- reading ------------------------------------------------------------------

[[noreturn]] void fail(const std::string& where, std::string_view problem) {
  throw std::invalid_argument(where + ": " + std::string{problem});
}

template <class Integer>
Integer read_unsigned(simdjson::dom::element value, const std::string& where) {
  if (value.is_null())
    return 0;
  std::uint64_t number = 0;
  if (value.get_uint64().get(number) != simdjson::SUCCESS
      || number > std::numeric_limits<Integer>::max())
    fail(where, "expected an integer from 0 to "
                    + std::to_string(std::numeric_limits<Integer>::max()));
  return static_cast<Integer>(number);
}

std::string read_string(simdjson::dom::element value,
                        const std::string& where) {
  if (value.is_null())
    return {};
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS)
    fail(where, "expected a string");
  return std::string{text};
}

bool read_bool(simdjson::dom::element value, const std::string& where) {
  if (value.is_null())
    return false;
  bool flag = false;
  if (value.get_bool().get(flag) != simdjson::SUCCESS)
    fail(where, "expected true or false");
  return flag;
}

// A time that does not parse becomes the zero time, as in the reference.
trust_time read_time(simdjson::dom::element value, const std::string& where) {
  auto text = read_string(value, where);
  auto time = parse_rfc3339(text);
  if (!time)
    return zero_trust_time;
  return std::chrono::floor<std::chrono::seconds>(*time);
}

// Calls `read_entry(where, object)` for each object of the list at `key`.
template <class ReadEntry>
void read_list(simdjson::dom::object root, std::string_view key,
               ReadEntry read_entry) {
  auto value = root[key];
  if (value.error() == simdjson::NO_SUCH_FIELD || value.is_null())
    return;
  simdjson::dom::array list;
  if (value.get_array().get(list) != simdjson::SUCCESS)
    fail(std::string{key}, "expected a list or null");
  std::size_t index = 0;
  for (auto item : list) {
    auto where = std::string{key} + "[" + std::to_string(index++) + "]";
    simdjson::dom::object entry;
    if (item.get_object().get(entry) != simdjson::SUCCESS)
      fail(where, "expected an object");
    read_entry(where, entry);
  }
}

trusted_peer read_trusted(const std::string& where, simdjson::dom::object entry,
                          std::uint32_t& node) {
  trusted_peer peer;
  for (auto field : entry) {
    auto at = where + "." + std::string{field.key};
    if (field.key == "node_id")
      node = read_unsigned<std::uint32_t>(field.value, at);
    else if (field.key == "public_key")
      peer.public_key = read_string(field.value, at);
    else if (field.key == "approved_at")
      peer.approved_at = read_time(field.value, at);
    else if (field.key == "mutual")
      peer.mutual = read_bool(field.value, at);
    else if (field.key == "network")
      peer.network = read_unsigned<std::uint16_t>(field.value, at);
  }
  return peer;
}

pending_request read_pending(const std::string& where,
                             simdjson::dom::object entry, std::uint32_t& node) {
  pending_request request;
  for (auto field : entry) {
    auto at = where + "." + std::string{field.key};
    if (field.key == "node_id")
      node = read_unsigned<std::uint32_t>(field.value, at);
    else if (field.key == "public_key")
      request.public_key = read_string(field.value, at);
    else if (field.key == "justification")
      request.justification = read_string(field.value, at);
    else if (field.key == "received_at")
      request.received_at = read_time(field.value, at);
  }
  return request;
}

trust_time read_outgoing(const std::string& where, simdjson::dom::object entry,
                         std::uint32_t& node) {
  auto sent_at = zero_trust_time;
  for (auto field : entry) {
    auto at = where + "." + std::string{field.key};
    if (field.key == "node_id")
      node = read_unsigned<std::uint32_t>(field.value, at);
    else if (field.key == "sent_at")
      sent_at = read_time(field.value, at);
  }
  return sent_at;
}

} // namespace

std::string to_trust_file_json(const trust_records& records) {
  std::string out = "{\n";
  if (records.trusted.empty())
    out += "  \"trusted\": null";
  else
    write_list(out, "trusted", records.trusted,
               [](entry_writer& w, std::uint32_t node, const auto& peer) {
                 w.number("node_id", node);
                 w.text("public_key", peer.public_key);
                 w.text("approved_at", format_local_time(peer.approved_at));
                 w.boolean("mutual", peer.mutual);
                 if (peer.network != 0)
                   w.number("network", peer.network);
               });
  if (!records.pending.empty()) {
    out += ",\n";
    write_list(out, "pending", records.pending,
               [](entry_writer& w, std::uint32_t node, const auto& request) {
                 w.number("node_id", node);
                 if (!request.public_key.empty())
                   w.text("public_key", request.public_key);
                 if (!request.justification.empty())
                   w.text("justification", request.justification);
                 w.text("received_at", format_local_time(request.received_at));
               });
  }
  if (!records.outgoing.empty()) {
    out += ",\n";
    write_list(out, "outgoing", records.outgoing,
               [](entry_writer& w, std::uint32_t node, trust_time sent_at) {
                 w.number("node_id", node);
                 w.text("sent_at", format_local_time(sent_at));
               });
  }
  out += "\n}";
  return out;
}

trust_records parse_trust_file(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text.data(), text.size()).get(root);
      error != simdjson::SUCCESS)
    fail("trust file",
         std::string{"invalid JSON: "} + simdjson::error_message(error));
  trust_records records;
  if (root.is_null())
    return records;
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS)
    fail("trust file", "expected a JSON object");
  read_list(object, "trusted",
            [&records](const std::string& where, simdjson::dom::object entry) {
              std::uint32_t node = 0;
              auto peer = read_trusted(where, entry, node);
              records.trusted[node] = std::move(peer);
            });
  read_list(object, "pending",
            [&records](const std::string& where, simdjson::dom::object entry) {
              std::uint32_t node = 0;
              auto request = read_pending(where, entry, node);
              records.pending[node] = std::move(request);
            });
  read_list(object, "outgoing",
            [&records](const std::string& where, simdjson::dom::object entry) {
              std::uint32_t node = 0;
              auto sent_at = read_outgoing(where, entry, node);
              records.outgoing[node] = sent_at;
            });
  return records;
}

trust_file_load load_trust_file(const std::filesystem::path& path) {
  trust_file_load result;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec == std::errc::no_such_file_or_directory)
    return result;
  result.found = true;
  if (ec) {
    result.error = "cannot read " + path.string() + ": " + ec.message();
    return result;
  }
  if (size > max_trust_file_size) {
    result.error = path.string() + " is " + std::to_string(size)
                   + " bytes, larger than any trust file (maximum "
                   + std::to_string(max_trust_file_size) + ")";
    return result;
  }
  std::ifstream in{path, std::ios::binary};
  if (!in.is_open()) {
    result.error = "cannot open " + path.string();
    return result;
  }
  std::string text{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  if (in.bad()) {
    result.error = "cannot read " + path.string();
    return result;
  }
  try {
    result.records = parse_trust_file(text);
  } catch (const std::invalid_argument& err) {
    result.error = path.string() + ": " + err.what();
  }
  return result;
}

boost::system::error_code save_trust_file(const std::filesystem::path& path,
                                          const trust_records& records) {
  return write_file_atomically(path, to_trust_file_json(records));
}

} // namespace pilot::actors::detail
