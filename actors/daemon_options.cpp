#include "actors/daemon_options.hpp"

#include "actors/atomic_file.hpp"
#include "actors/command_line.hpp"
#include "actors/detail/registry_rules.hpp"
#include "actors/error.hpp"
#include "actors/registry_connection.hpp"
#include "protocol/duration.hpp"
#include "protocol/utf8.hpp"
#include "protocol/webhook_filter.hpp"
#include "protocol/webhook_signature.hpp"
#include "protocol/webhook_url.hpp"

#include <boost/program_options.hpp>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/un.h>

namespace pilot::actors {

namespace {

namespace po = boost::program_options;
using std::chrono::milliseconds;

constexpr std::string_view log_component = "daemon";

/// The largest config or identity file read.
constexpr std::uintmax_t max_file_size = 1 << 20;

// -- values -------------------------------------------------------------------

enum class value_kind { text, boolean, duration, count };

/// A value that cannot be used; the caller adds where it came from.
struct invalid_value : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

bool parse_bool(const std::string& text) {
  // The spellings of Go's strconv.ParseBool, which `flag` uses.
  static constexpr std::array<std::string_view, 6> yes{"1",    "t",    "T",
                                                       "true", "TRUE", "True"};
  static constexpr std::array<std::string_view, 6> no{
      "0", "f", "F", "false", "FALSE", "False"};
  if (std::find(yes.begin(), yes.end(), text) != yes.end())
    return true;
  if (std::find(no.begin(), no.end(), text) != no.end())
    return false;
  throw invalid_value(quote_value(text)
                      + " is not a boolean; use true or false");
}

milliseconds parse_milliseconds(const std::string& text) {
  auto value = protocol::parse_duration(text);
  if (!value)
    throw invalid_value(quote_value(text)
                        + " is not a duration; use a number with a unit, "
                          "such as 30s, 500ms or 1m");
  if (value->count() < 0)
    throw invalid_value(quote_value(text) + " is negative");
  return std::chrono::duration_cast<milliseconds>(*value);
}

void check_range(milliseconds value, milliseconds low, milliseconds high) {
  if (value < low || value > high)
    throw invalid_value("must be from " + protocol::format_duration(low)
                        + " to " + protocol::format_duration(high) + ", got "
                        + protocol::format_duration(value));
}

std::size_t parse_count(const std::string& text, std::size_t low,
                        std::size_t high) {
  std::size_t value = 0;
  auto [end, ec]
      = std::from_chars(text.data(), text.data() + text.size(), value);
  auto range
      = "must be from " + std::to_string(low) + " to " + std::to_string(high);
  if (text.starts_with('-'))
    throw invalid_value(range + ", got " + quote_value(text));
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    throw invalid_value(quote_value(text) + " is not a whole number");
  if (value < low || value > high)
    throw invalid_value(range + ", got " + text);
  return value;
}

void check_host_port(const std::string& text) {
  std::string host;
  std::string port;
  if (!split_host_port(text, host, port))
    throw invalid_value(quote_value(text)
                        + " is not host:port with a port from 1 to 65535");
}

// Checks a listen address: `[host]:port` where the host may be empty and
// the port may be 0 (any free port).
void check_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon != std::string::npos) {
    auto port = text.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec]
        = std::from_chars(port.data(), port.data() + port.size(), value);
    if (!port.empty() && ec == std::errc{} && end == port.data() + port.size()
        && value <= 65535)
      return;
  }
  throw invalid_value(quote_value(text)
                      + " is not [host]:port with a port from 0 to 65535");
}

// Splits a comma-separated list into its items, without the whitespace
// around each. Empty text gives no items.
std::vector<std::string> split_list(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  std::vector<std::string> items;
  if (text.find_first_not_of(space) == std::string_view::npos)
    return items;
  for (;;) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    auto first = item.find_first_not_of(space);
    auto last = item.find_last_not_of(space);
    items.emplace_back(first == std::string_view::npos
                           ? std::string_view{}
                           : item.substr(first, last - first + 1));
    if (comma == std::string_view::npos)
      return items;
    text.remove_prefix(comma + 1);
  }
}

/// Signing secrets active at once: the new and the old during a rotation.
constexpr std::size_t max_webhook_secrets = 2;

// Checks each `whsec_` secret of a comma-separated list. The messages count
// the secrets but never show one.
std::vector<std::string> parse_secrets(const std::string& text) {
  auto secrets = split_list(text);
  if (secrets.size() > max_webhook_secrets)
    throw invalid_value("takes at most 2 secrets, comma separated (the new "
                        "and the old one during a rotation), got "
                        + std::to_string(secrets.size()));
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    auto which = secrets.size() == 1
                     ? std::string{"the secret"}
                     : "secret " + std::to_string(i + 1) + " of "
                           + std::to_string(secrets.size());
    if (secrets[i].empty())
      throw invalid_value(which + " is empty");
    auto key = protocol::parse_webhook_secret(secrets[i]);
    if (!key && secrets.size() == 1)
      throw invalid_value(key.error().message);
    if (!key)
      throw invalid_value(which + ": " + key.error().message);
  }
  return secrets;
}

// Checks a `webhook-events` list and returns its items in canonical form.
std::vector<std::string> parse_events(const std::string& text) {
  auto filter = protocol::parse_event_filter(std::string_view{text});
  if (!filter)
    throw invalid_value(filter.error().message);
  if (filter->text() == "*")
    return {};
  return split_list(filter->text());
}

// -- flags --------------------------------------------------------------------

/// One flag of `pilot-daemon`, also usable as a config file key.
struct flag_spec {
  std::string_view name;
  value_kind kind;
  std::string_view value_name;
  std::string_view help;
  /// Stores the value, or throws `invalid_value`.
  void (*apply)(daemon_options&, const std::string&);
};

constexpr flag_spec flag_specs[] = {
    {"registry", value_kind::text, "HOST:PORT",
     "registry address (default 34.71.57.205:9000, the public network)",
     [](daemon_options& opts, const std::string& value) {
       check_host_port(value);
       opts.registry = value;
     }},
    {"beacon", value_kind::text, "HOST:PORT",
     "beacon for endpoint discovery, hole punching and relay; \"\" for none "
     "(default 34.71.57.205:9001)",
     [](daemon_options& opts, const std::string& value) {
       if (!value.empty())
         check_host_port(value);
       opts.beacon = value;
     }},
    {"listen", value_kind::text, "[HOST]:PORT",
     "tunnel UDP listen address (default :0, any free port)",
     [](daemon_options& opts, const std::string& value) {
       check_listen_address(value);
       opts.listen = value;
     }},
    {"socket", value_kind::text, "PATH",
     "IPC socket (default $PILOT_SOCKET, else /tmp/pilot.sock)",
     [](daemon_options& opts, const std::string& value) {
       if (value.empty())
         throw invalid_value("must not be empty");
       if (value.size() >= sizeof(sockaddr_un::sun_path))
         throw invalid_value("longer than "
                             + std::to_string(sizeof(sockaddr_un::sun_path) - 1)
                             + " bytes, the limit of a Unix socket path");
       opts.socket = value;
     }},
    {"endpoint", value_kind::text, "HOST:PORT",
     "endpoint to register instead of the listen address",
     [](daemon_options& opts, const std::string& value) {
       if (!value.empty())
         check_host_port(value);
       opts.endpoint = value;
     }},
    {"identity", value_kind::text, "PATH",
     "identity file, created when missing; \"\" for a new key at every start "
     "(default ~/.pilot/identity.json)",
     [](daemon_options& opts, const std::string& value) {
       opts.identity = value;
     }},
    {"data-dir", value_kind::text, "DIR",
     "where received messages (inbox/) and files (received/) are saved "
     "(default ~/.pilot)",
     [](daemon_options& opts, const std::string& value) {
       if (value.empty())
         throw invalid_value("expected a directory");
       opts.data_dir = value;
     }},
    {"owner", value_kind::text, "EMAIL",
     "owner sent with register; lets a new key reclaim the node ID",
     [](daemon_options& opts, const std::string& value) {
       opts.owner = value;
     }},
    {"public", value_kind::boolean, "",
     "make the node public after registering",
     [](daemon_options& opts, const std::string& value) {
       opts.is_public = parse_bool(value);
     }},
    {"hostname", value_kind::text, "NAME", "hostname set after registering",
     [](daemon_options& opts, const std::string& value) {
       if (!value.empty())
         if (auto problem = detail::hostname_error(value))
           throw invalid_value(*problem);
       opts.hostname = value;
     }},
    {"keepalive", value_kind::duration, "DURATION",
     "heartbeat interval, from 1s to 2m (default 30s)",
     [](daemon_options& opts, const std::string& value) {
       auto interval = parse_milliseconds(value);
       // The registry drops a node after 3 minutes without a heartbeat.
       check_range(interval, std::chrono::seconds{1}, std::chrono::minutes{2});
       opts.keepalive = interval;
     }},
    {"webhook", value_kind::text, "URL",
     "URL that receives a POST for every event; \"\" turns webhooks off",
     [](daemon_options& opts, const std::string& value) {
       if (!value.empty())
         if (auto target = protocol::parse_webhook_url(value); !target)
           throw invalid_value(target.error().message);
       opts.webhook.url = value;
     }},
    {"webhook-timeout", value_kind::duration, "DURATION",
     "deadline of one webhook POST, from 1s to 30s (default 5s)",
     [](daemon_options& opts, const std::string& value) {
       auto timeout = parse_milliseconds(value);
       check_range(timeout, std::chrono::seconds{1}, std::chrono::seconds{30});
       opts.webhook.timeout = timeout;
     }},
    {"webhook-buffer", value_kind::count, "N",
     "events that may wait for delivery, from 1 to 65536 (default 1024)",
     [](daemon_options& opts, const std::string& value) {
       opts.webhook.buffer = parse_count(value, 1, 65536);
     }},
    {"webhook-concurrency", value_kind::count, "N",
     "webhook POSTs in flight at once, from 1 to 64; 1 keeps events in order "
     "(default 1)",
     [](daemon_options& opts, const std::string& value) {
       opts.webhook.concurrency = parse_count(value, 1, 64);
     }},
    {"webhook-events", value_kind::text, "LIST",
     "event types the webhook sends, comma separated: names such as "
     "conn.established, categories such as conn.*, or * (default *, all)",
     [](daemon_options& opts, const std::string& value) {
       opts.webhook.events = parse_events(value);
     }},
    {"webhook-retries", value_kind::count, "N",
     "retries of a webhook POST after a connection error, 429 or 5xx, "
     "from 0 to 3 (default 0)",
     [](daemon_options& opts, const std::string& value) {
       opts.webhook.retries = parse_count(value, 0, 3);
     }},
    {"webhook-secret", value_kind::text, "SECRETS",
     "whsec_ secret that signs every webhook POST (webhook-signature), or "
     "two, comma separated, during a rotation; \"\" for none. Other users "
     "see flags in ps: set it in the config file instead",
     [](daemon_options& opts, const std::string& value) {
       opts.webhook.secrets = parse_secrets(value);
     }},
    {"webhook-ca-file", value_kind::text, "FILE",
     "PEM file of the CA certificates trusted for https webhook URLs "
     "instead of the system store; \"\" for the system store",
     [](daemon_options& opts, const std::string& value) {
       if (!value.empty())
         if (auto problem = protocol::ca_file_problem(value))
           throw invalid_value(*problem);
       opts.webhook.ca_file = value;
     }},
    {"shutdown-grace", value_kind::duration, "DURATION",
     "time the webhook gets to deliver buffered events when stopping, "
     "from 0s to 1m (default 3s)",
     [](daemon_options& opts, const std::string& value) {
       auto grace = parse_milliseconds(value);
       check_range(grace, milliseconds{0}, std::chrono::minutes{1});
       opts.shutdown_grace = grace;
     }},
    {"log-level", value_kind::text, "LEVEL",
     "debug, info, warn or error (default info)",
     [](daemon_options& opts, const std::string& value) {
       if (!log::parse_level(value, opts.log_level))
         throw invalid_value(quote_value(value)
                             + " is not debug, info, warn or error");
     }},
    {"log-format", value_kind::text, "FORMAT",
     "text or json, written to stderr (default text)",
     [](daemon_options& opts, const std::string& value) {
       if (!log::parse_format(value, opts.log_format))
         throw invalid_value(quote_value(value) + " is not text or json");
     }},
    {"encrypt", value_kind::boolean, "",
     "encrypt and authenticate tunnels (default true)",
     [](daemon_options& opts, const std::string& value) {
       opts.encrypt = parse_bool(value);
     }},
    {"no-encrypt", value_kind::boolean, "", "same as --encrypt=false",
     [](daemon_options& opts, const std::string& value) {
       opts.encrypt = !parse_bool(value);
     }},
    {"idle-timeout", value_kind::duration, "DURATION",
     "close stream connections idle longer than this, from 1s to 24h "
     "(default 2m)",
     [](daemon_options& opts, const std::string& value) {
       auto timeout = parse_milliseconds(value);
       check_range(timeout, std::chrono::seconds{1}, std::chrono::hours{24});
       opts.transport.idle_timeout = timeout;
     }},
    {"time-wait", value_kind::duration, "DURATION",
     "how long a closed connection stays in TIME_WAIT, from 0s to 5m "
     "(default 10s)",
     [](daemon_options& opts, const std::string& value) {
       auto wait = parse_milliseconds(value);
       check_range(wait, milliseconds{0}, std::chrono::minutes{5});
       opts.transport.time_wait = wait;
     }},
    {"syn-rate-limit", value_kind::count, "N",
     "new incoming connections accepted per second from all peers, from 1 "
     "to 100000 (default 100)",
     [](daemon_options& opts, const std::string& value) {
       opts.transport.syn_rate_limit = parse_count(value, 1, 100'000);
     }},
    {"max-conns-per-port", value_kind::count, "N",
     "incoming connections per local port, from 1 to 65536 (default 1024)",
     [](daemon_options& opts, const std::string& value) {
       opts.transport.max_conns_per_port = parse_count(value, 1, 65'536);
     }},
    {"max-conns-total", value_kind::count, "N",
     "incoming connections in all, from 1 to 65536 (default 4096)",
     [](daemon_options& opts, const std::string& value) {
       opts.transport.max_conns_total = parse_count(value, 1, 65'536);
     }},
    {"no-echo", value_kind::boolean, "",
     "turn off the built-in echo service on port 7",
     [](daemon_options& opts, const std::string& value) {
       opts.transport.echo = !parse_bool(value);
     }},
    {"no-dataexchange", value_kind::boolean, "",
     "turn off the built-in data exchange service on port 1001 (messages "
     "and files)",
     [](daemon_options& opts, const std::string& value) {
       opts.transport.data_exchange = !parse_bool(value);
     }},
    {"no-eventstream", value_kind::boolean, "",
     "turn off the built-in event stream broker on port 1002 (publish and "
     "subscribe)",
     [](daemon_options& opts, const std::string& value) {
       opts.transport.event_stream = !parse_bool(value);
     }},
};

const flag_spec* find_flag(std::string_view name) {
  for (const auto& spec : flag_specs)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

// -- files --------------------------------------------------------------------

std::string read_small_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec)
    throw options_error("cannot read " + std::string{what} + " " + path + ": "
                        + ec.message());
  if (size > max_file_size)
    throw options_error(std::string{what} + " " + path
                        + " is larger than 1 MiB");
  std::ifstream in{path, std::ios::binary};
  std::ostringstream content;
  content << in.rdbuf();
  if (!in)
    throw options_error("cannot read " + std::string{what} + " " + path);
  return content.str();
}

// -- config file --------------------------------------------------------------

/// Reads the JSON config file with simdjson's on-demand parser, which stops
/// at the first error and reports where it is.
class config_reader {
public:
  config_reader(std::string path, std::string text)
      : path_(std::move(path)), text_(std::move(text)), padded_(text_) {}

  /// Applies every known key to `opts`, collecting unknown keys in
  /// `opts.warnings`. Throws `options_error` on the first problem.
  void apply(daemon_options& opts) {
    auto doc = parser_.iterate(padded_);
    if (doc.error())
      fail(locate_scan_error(),
           "invalid JSON: "
               + std::string{simdjson::error_message(doc.error())});
    simdjson::ondemand::object object;
    if (auto err = doc.get_object().get(object))
      fail(location(doc.value_unsafe()),
           err == simdjson::INCORRECT_TYPE
               ? "the file must contain one JSON object"
               : "invalid JSON: " + std::string{simdjson::error_message(err)});
    std::vector<std::string> unknown;
    // The settings read so far, by flag name, with the key as written.
    std::map<std::string, std::string> seen;
    for (auto field : object) {
      std::string_view raw_key;
      if (auto err = field.unescaped_key().get(raw_key))
        fail(location(doc.value_unsafe()),
             syntax_error(err, "after", last_key_));
      std::string key{raw_key};
      simdjson::ondemand::value value;
      if (auto err = field.value().get(value))
        fail(location(doc.value_unsafe()), syntax_error(err, "in", key));
      auto offset = static_cast<std::size_t>(value.raw_json_token().data()
                                             - padded_.data());
      std::string name = key;
      std::replace(name.begin(), name.end(), '_', '-');
      const auto* spec = find_flag(name);
      if (!spec) {
        if (std::find(unknown.begin(), unknown.end(), key) == unknown.end())
          unknown.push_back(key);
        if (auto err = skip(value))
          fail(location(doc.value_unsafe()), syntax_error(err, "in", key));
        last_key_ = key;
        continue;
      }
      if (auto previous = seen.find(name); previous != seen.end())
        fail(offset, quote_value(key) + ": the same setting as "
                         + quote_value(previous->second)
                         + " before it; keep one of them");
      auto opposite = name == "encrypt"      ? "no-encrypt"
                      : name == "no-encrypt" ? "encrypt"
                                             : "";
      if (auto other = seen.find(opposite); other != seen.end())
        fail(offset, quote_value(key) + ": contradicts "
                         + quote_value(other->second)
                         + " before it; keep one of them");
      seen.emplace(name, key);
      auto text = read_value(*spec, value, key, offset);
      try {
        spec->apply(opts, text);
      } catch (const invalid_value& e) {
        fail(offset, quote_value(key) + ": " + e.what());
      }
      last_key_ = key;
    }
    // A location after the object means content follows it.
    if (auto rest = doc.value_unsafe().current_location(); !rest.error())
      fail(static_cast<std::size_t>(rest.value_unsafe() - padded_.data()),
           "unexpected content after the JSON object");
    if (!unknown.empty())
      opts.warnings.push_back(
          "config file " + path_ + ": ignoring unknown keys: "
          + protocol::hide_webhook_secrets(key_list(unknown)));
  }

private:
  // Converts a JSON value to the flag's text form, or fails when its JSON
  // type does not fit the flag.
  std::string read_value(const flag_spec& spec,
                         simdjson::ondemand::value& value,
                         const std::string& key, std::size_t offset) {
    switch (spec.kind) {
      case value_kind::boolean: {
        bool flag = false;
        if (value.get_bool().get(flag))
          fail(offset, quote_value(key) + ": expected true or false");
        return flag ? "true" : "false";
      }
      case value_kind::count: {
        std::uint64_t count = 0;
        if (value.get_uint64().get(count))
          fail(offset, quote_value(key) + ": expected a whole number");
        return std::to_string(count);
      }
      case value_kind::duration: {
        std::string_view text;
        if (value.get_string().get(text))
          fail(offset, quote_value(key)
                           + ": expected a duration string such as \"30s\"");
        return std::string{text};
      }
      case value_kind::text:
        break;
    }
    std::string_view text;
    if (value.get_string().get(text))
      fail(offset, quote_value(key) + ": expected a string");
    return std::string{text};
  }

  // Reads a value of an unknown key to its end, so that errors inside it
  // are found too.
  static simdjson::error_code skip(simdjson::ondemand::value value) {
    simdjson::ondemand::json_type type;
    if (auto err = value.type().get(type))
      return err;
    switch (type) {
      case simdjson::ondemand::json_type::array: {
        simdjson::ondemand::array array;
        if (auto err = value.get_array().get(array))
          return err;
        for (auto element : array) {
          simdjson::ondemand::value item;
          if (auto err = element.get(item))
            return err;
          if (auto err = skip(item))
            return err;
        }
        return simdjson::SUCCESS;
      }
      case simdjson::ondemand::json_type::object: {
        simdjson::ondemand::object object;
        if (auto err = value.get_object().get(object))
          return err;
        for (auto field : object) {
          simdjson::ondemand::value item;
          if (auto err = field.value().get(item))
            return err;
          if (auto err = skip(item))
            return err;
        }
        return simdjson::SUCCESS;
      }
      case simdjson::ondemand::json_type::number: {
        double number = 0;
        return value.get_double().get(number);
      }
      case simdjson::ondemand::json_type::string: {
        std::string_view text;
        return value.get_string().get(text);
      }
      case simdjson::ondemand::json_type::boolean: {
        bool flag = false;
        return value.get_bool().get(flag);
      }
      case simdjson::ondemand::json_type::null:
        break;
    }
    bool is_null = false;
    return value.is_null().get(is_null);
  }

  // Lists the first few of `keys`, each quoted, and how many more follow.
  static std::string key_list(const std::vector<std::string>& keys) {
    constexpr std::size_t max_listed = 10;
    std::string list;
    for (std::size_t i = 0; i < keys.size() && i < max_listed; ++i)
      list += (i == 0 ? "" : ", ") + quote_value(keys[i]);
    if (keys.size() > max_listed)
      list += " and " + std::to_string(keys.size() - max_listed) + " more";
    return list;
  }

  // Describes a syntax error `where` ("in" or "after") the value of `key`.
  static std::string syntax_error(simdjson::error_code err,
                                  std::string_view where,
                                  const std::string& key) {
    std::string text = "invalid JSON";
    if (!key.empty())
      text += " " + std::string{where} + " " + quote_value(key);
    return text + ": " + simdjson::error_message(err);
  }

  std::size_t location(simdjson::ondemand::document& doc) const {
    auto where = doc.current_location();
    if (where.error())
      return text_.size();
    return static_cast<std::size_t>(where.value_unsafe() - padded_.data());
  }

  // Finds the spot of an error that simdjson reports before parsing starts:
  // invalid UTF-8, a control character inside a string or a string that is
  // never closed.
  std::size_t locate_scan_error() const {
    std::size_t line_start = 0;
    for (std::size_t i = 0; i <= text_.size(); ++i) {
      if (i == text_.size() || text_[i] == '\n') {
        auto line = std::string_view{text_}.substr(line_start, i - line_start);
        if (!protocol::is_valid_utf8(line))
          return line_start;
        line_start = i + 1;
      }
    }
    bool in_string = false;
    std::size_t string_start = 0;
    for (std::size_t i = 0; i < text_.size(); ++i) {
      auto c = static_cast<unsigned char>(text_[i]);
      if (!in_string) {
        if (c == '"') {
          in_string = true;
          string_start = i;
        }
      } else if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      } else if (c < 0x20) {
        return i;
      }
    }
    return in_string ? string_start : 0;
  }

  [[noreturn]] void fail(std::size_t offset, const std::string& what) const {
    offset = std::min(offset, text_.size());
    auto line = 1 + std::count(text_.begin(), text_.begin() + offset, '\n');
    throw options_error("config file " + path_ + ", line "
                        + std::to_string(line) + ": "
                        + protocol::hide_webhook_secrets(what));
  }

  std::string path_;
  std::string text_;
  simdjson::padded_string padded_;
  simdjson::ondemand::parser parser_;
  std::string last_key_;
};

// -- command line -------------------------------------------------------------

po::options_description command_line_options() {
  po::options_description options;
  options.add_options()("config", po::value<std::string>())("help",
                                                            "")("version", "");
  for (const auto& spec : flag_specs) {
    std::string name{spec.name};
    if (spec.kind == value_kind::boolean)
      options.add_options()(name.c_str(),
                            po::value<std::string>()->implicit_value("true"));
    else
      options.add_options()(name.c_str(), po::value<std::string>());
  }
  return options;
}

po::variables_map parse_command_line(int argc, const char* const argv[]) {
  try {
    return parse_go_style_command_line(argc, argv, command_line_options());
  } catch (const std::invalid_argument& e) {
    // An unknown flag is quoted with its value, which may be a secret
    // under a mistyped name.
    throw options_error(protocol::hide_webhook_secrets(e.what())
                        + "; run pilot-daemon --help for the flags");
  }
}

std::string default_socket_path() {
  if (const char* env = std::getenv("PILOT_SOCKET"); env && *env)
    return env;
  return "/tmp/pilot.sock";
}

} // namespace

std::string expand_home(const std::string& path) {
  if (path != "~" && !path.starts_with("~/"))
    return path;
  const char* home = std::getenv("HOME");
  if (!home || !*home)
    throw options_error("cannot expand \"" + path
                        + "\": HOME is not set; give an absolute path");
  return std::string{home} + path.substr(1);
}

daemon_options parse_daemon_options(int argc, const char* const argv[]) {
  auto values = parse_command_line(argc, argv);
  daemon_options opts;
  opts.show_help = values.count("help") > 0;
  opts.show_version = values.count("version") > 0;
  if (opts.show_help || opts.show_version)
    return opts;
  opts.socket = default_socket_path();
  opts.identity = "~/.pilot/identity.json";
  if (values.count("encrypt") && values.count("no-encrypt"))
    throw options_error("--encrypt and --no-encrypt contradict each other");
  // The config file first, so that flags on the command line win.
  if (values.count("config")) {
    opts.config_file = values["config"].as<std::string>();
    auto path = expand_home(opts.config_file);
    config_reader{path, read_small_file(path, "config file")}.apply(opts);
  }
  for (const auto& spec : flag_specs) {
    std::string name{spec.name};
    if (!values.count(name))
      continue;
    opts.command_line_flags.push_back(name);
    try {
      spec.apply(opts, values[name].as<std::string>());
    } catch (const invalid_value& e) {
      throw options_error("--" + name + ": " + e.what());
    }
  }
  if (!opts.identity.empty())
    opts.identity = expand_home(opts.identity);
  opts.data_dir = expand_home(opts.data_dir);
  return opts;
}

std::string daemon_usage() {
  std::string text = "Usage: pilot-daemon [flags]\n\n"
                     "Runs a Pilot Protocol node: registers with the "
                     "registry, serves the IPC socket\nfor pilotctl and "
                     "POSTs every event to the webhook URL.\n\n"
                     "Flags take one or two dashes; values follow after = or "
                     "as the next argument.\nDurations are written like 30s, "
                     "500ms or 1m.\n\n";
  auto add = [&text](std::string_view name, std::string_view value_name,
                     std::string_view help) {
    std::string left = "  --" + std::string{name};
    if (!value_name.empty())
      left += " " + std::string{value_name};
    left.resize(std::max<std::size_t>(left.size() + 2, 32), ' ');
    text += left + std::string{help} + "\n";
  };
  add("config", "FILE",
      "JSON config file; keys are flag names, flags on the command line win");
  for (const auto& spec : flag_specs)
    add(spec.name, spec.value_name, spec.help);
  add("help", "", "print this help and exit");
  add("version", "", "print the version and exit");
  return text;
}

std::optional<std::string> apply_webhook_setting(webhook_settings& settings,
                                                 std::string_view name,
                                                 const std::string& value) {
  const auto* spec = find_flag(name);
  if (spec == nullptr || !name.starts_with("webhook"))
    return quote_value(std::string{name}) + " is not a webhook setting";
  daemon_options opts;
  opts.webhook = settings;
  try {
    spec->apply(opts, value);
  } catch (const invalid_value& e) {
    return e.what();
  }
  settings = std::move(opts.webhook);
  return std::nullopt;
}

protocol::identity load_identity(const std::string& path) {
  if (path.empty()) {
    auto id = protocol::identity::generate();
    if (!id)
      throw options_error("cannot generate a key: " + id.error().message());
    log::info(log_component, "identity-ephemeral",
              "using a new key that is not saved; the node ID changes at "
              "every start unless --owner reclaims it",
              {{"public_key", id->public_key_base64()}});
    return *id;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) {
    auto id = protocol::identity::generate();
    if (!id)
      throw options_error("cannot generate a key: " + id.error().message());
    if (auto err
        = write_file_atomically(path, protocol::to_identity_file_json(*id)))
      throw options_error("cannot create identity file " + path + ": "
                          + err.message());
    log::info(log_component, "identity-created", "created a new identity",
              {{"path", path}, {"public_key", id->public_key_base64()}});
    return *id;
  }
  auto id = protocol::parse_identity_file_json(
      read_small_file(path, "identity file"));
  if (!id)
    throw options_error("identity file " + path + " is invalid ("
                        + id.error().message()
                        + "); it was left as it is: repair it, or move it "
                          "away to create a new identity");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    log::warn(log_component, "identity-readable",
              "the identity file is readable by other users; run chmod 600 "
              "on it",
              {{"path", path}});
  log::info(log_component, "identity-loaded", "loaded the identity",
            {{"path", path}, {"public_key", id->public_key_base64()}});
  return *id;
}

} // namespace pilot::actors
