#pragma once

#include <boost/json/value.hpp>

#include <span>
#include <string>
#include <string_view>

/// The keys of the config file that `pilotctl config --set` may write, and
/// their checks.
namespace pilot::control::cli {

/// The JSON type of a config key's value, as pilot-daemon reads it.
enum class config_value_kind {
  text,     ///< A string.
  boolean,  ///< `true` or `false`.
  count,    ///< A whole number.
  duration, ///< A string such as "30s".
};

/// A key of the config file, named like the pilot-daemon flag it sets.
struct config_key {
  std::string_view name;
  config_value_kind kind;
};

/// Returns every key that pilot-daemon reads from its config file, which
/// are its flags other than `--config`, `--help` and `--version`.
std::span<const config_key> config_keys();

/// Returns the key names separated by ", ", for messages.
std::string config_key_list();

/// A key and value as `pilotctl config --set` stores them.
struct config_entry {
  std::string key;
  boost::json::value value;
};

/// Checks `value` for `key` as pilot-daemon checks its flag of that name.
/// Returns the key under its flag name (`_` read as `-`) and the value in
/// the JSON type that the daemon's config reader expects: a boolean, a
/// number for a count, and a string otherwise. Throws `cli::error` with
/// `invalid_argument` for an unknown key, naming the valid ones, and for an
/// invalid value, with the daemon's reason. A relative `webhook-ca-file` is
/// made absolute, and a `webhook-events` list canonical.
config_entry make_config_entry(std::string_view key, const std::string& value);

} // namespace pilot::control::cli
