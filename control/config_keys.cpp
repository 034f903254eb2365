#include "control/config_keys.hpp"

#include "actors/daemon_options.hpp"
#include "control/cli_output.hpp"
#include "protocol/webhook_filter.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace pilot::control::cli {

namespace {

using kind = config_value_kind;

// The flags of pilot-daemon in the order of its --help. A unit test checks
// this list against that help text.
constexpr std::array keys{
    config_key{"registry", kind::text},
    config_key{"beacon", kind::text},
    config_key{"listen", kind::text},
    config_key{"socket", kind::text},
    config_key{"endpoint", kind::text},
    config_key{"identity", kind::text},
    config_key{"data-dir", kind::text},
    config_key{"owner", kind::text},
    config_key{"public", kind::boolean},
    config_key{"hostname", kind::text},
    config_key{"keepalive", kind::duration},
    config_key{"webhook", kind::text},
    config_key{"webhook-timeout", kind::duration},
    config_key{"webhook-buffer", kind::count},
    config_key{"webhook-concurrency", kind::count},
    config_key{"webhook-events", kind::text},
    config_key{"webhook-retries", kind::count},
    config_key{"webhook-secret", kind::text},
    config_key{"webhook-ca-file", kind::text},
    config_key{"shutdown-grace", kind::duration},
    config_key{"log-level", kind::text},
    config_key{"log-format", kind::text},
    config_key{"encrypt", kind::boolean},
    config_key{"no-encrypt", kind::boolean},
    config_key{"idle-timeout", kind::duration},
    config_key{"time-wait", kind::duration},
    config_key{"syn-rate-limit", kind::count},
    config_key{"max-conns-per-port", kind::count},
    config_key{"max-conns-total", kind::count},
    config_key{"no-echo", kind::boolean},
    config_key{"no-dataexchange", kind::boolean},
    config_key{"no-eventstream", kind::boolean},
};

// The spellings of true that Go's strconv.ParseBool accepts, as
// pilot-daemon does for its boolean flags.
constexpr std::array<std::string_view, 6> true_spellings{
    "1", "t", "T", "true", "TRUE", "True"};

const config_key* find_key(std::string_view name) {
  auto i = std::find_if(keys.begin(), keys.end(),
                        [name](const auto& key) { return key.name == name; });
  return i == keys.end() ? nullptr : &*i;
}

// Runs pilot-daemon's own option parser on `--name=value`, which applies
// the same checks as for the command line and the config file. Throws
// `cli::error` with the parser's reason.
void check_with_daemon_parser(const config_key& key, const std::string& value) {
  std::string name = "--" + std::string{key.name};
  // The parser takes an empty value only as a separate argument, and a
  // boolean's value only after `=`.
  std::vector<std::string> args{"pilot-daemon"};
  if (value.empty() && key.kind != kind::boolean) {
    args.push_back(name);
    args.push_back(value);
  } else {
    args.push_back(name + "=" + value);
  }
  std::vector<const char*> argv;
  for (const auto& arg : args)
    argv.push_back(arg.c_str());
  try {
    actors::parse_daemon_options(static_cast<int>(argv.size()), argv.data());
  } catch (const actors::options_error& e) {
    std::string reason = e.what();
    if (reason.starts_with(name + ": "))
      reason.erase(0, name.size() + 2);
    throw error{code::invalid_argument,
                "invalid value for " + std::string{key.name} + ": " + reason,
                "the config file was not changed"};
  }
}

boost::json::value typed_value(const config_key& key,
                               const std::string& value) {
  switch (key.kind) {
    case kind::boolean:
      return std::find(true_spellings.begin(), true_spellings.end(), value)
             != true_spellings.end();
    case kind::count: {
      std::uint64_t count = 0;
      std::from_chars(value.data(), value.data() + value.size(), count);
      return count;
    }
    case kind::text:
    case kind::duration:
      break;
  }
  return boost::json::string{value};
}

} // namespace

std::span<const config_key> config_keys() {
  return keys;
}

std::string config_key_list() {
  std::string list;
  for (const auto& key : keys)
    list += (list.empty() ? "" : ", ") + std::string{key.name};
  return list;
}

config_entry make_config_entry(std::string_view key, const std::string& value) {
  std::string name{key};
  std::replace(name.begin(), name.end(), '_', '-');
  const auto* spec = find_key(name);
  if (spec == nullptr)
    throw error{code::invalid_argument,
                "unknown config key \"" + std::string{key}
                    + "\" (valid keys: " + config_key_list() + ")",
                "usage: pilotctl config --set key=value"};
  // The daemon runs in another directory, so a relative CA file is saved
  // as an absolute path.
  if (name == "webhook-ca-file" && !value.empty()
      && std::filesystem::path{value}.is_relative())
    return make_config_entry(key, std::filesystem::absolute(value).string());
  if (spec->kind == kind::boolean && value.empty())
    throw error{code::invalid_argument,
                "invalid value for " + name + ": expected true or false",
                "the config file was not changed"};
  check_with_daemon_parser(*spec, value);
  // An event list is saved in its canonical form: trimmed, without
  // repeats, and `*` for every event.
  if (name == "webhook-events")
    return {name, boost::json::string{
                      protocol::parse_event_filter(value).value().text()}};
  return {name, typed_value(*spec, value)};
}

} // namespace pilot::control::cli
