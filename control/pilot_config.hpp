#pragma once

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pilot::control {

/// A config file that cannot be read, parsed or written. The message names
/// the file and the problem, and for a parse error the line.
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Returns the file that `path` names after following up to 8 symbolic
/// links, so that a linked config file is replaced where it lives and the
/// link stays. A dangling link yields its target.
std::filesystem::path following_links(const std::filesystem::path& path);

/// Returns `$HOME/.pilot`, the directory of pilotctl's files. Throws
/// `config_error` when `HOME` is unset or empty.
std::filesystem::path pilot_home();

/// `~/.pilot/config.json`: one JSON object whose keys pilotctl reads and
/// writes one at a time, keeping every other key and its value. Saved with
/// keys sorted, a 2-space indent and a trailing newline, as the reference
/// pilotctl writes it.
class pilot_config {
public:
  /// Returns `pilot_home() / "config.json"`.
  static std::filesystem::path default_path();

  /// Loads the file at `path`; a missing file is an empty config. Throws
  /// `config_error` naming the path, the line and the problem when the file
  /// is not one JSON object, and leaves the file untouched.
  static pilot_config load(const std::filesystem::path& path);

  /// Creates an empty config that `save` writes to `path`.
  explicit pilot_config(std::filesystem::path path);

  /// Returns the file's path.
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Returns every key and value.
  const boost::json::object& values() const noexcept { return values_; }

  /// Returns the value of `key` if it is a string.
  std::optional<std::string> string_value(std::string_view key) const;

  /// Sets `key` to `value`, replacing any previous value.
  void set(std::string_view key, boost::json::value value);

  /// Sets `key` to the string `value`.
  void set_string(std::string_view key, std::string_view value) {
    set(key, boost::json::value(boost::json::string(value)));
  }

  /// Removes `key`; returns whether it was present.
  bool erase(std::string_view key);

  /// Returns the file's text as `save` writes it.
  std::string to_text() const;

  /// Writes the file atomically, creating its directory with mode 0700. A
  /// new file gets mode 0600; a replaced one keeps its owner, group and mode
  /// without access for others. Throws `config_error` on failure; the old
  /// file is then kept.
  void save() const;

private:
  std::filesystem::path path_;
  boost::json::object values_;
};

/// An exclusive lock held while one pilotctl run loads, changes and saves a
/// config file, so that concurrent pilotctl runs keep each other's changes. It
/// is an advisory `flock` on `<config file>.lock`, created with mode 0600
/// next to the file (a missing directory is created with mode 0700) and
/// left in place. Released when destroyed.
class config_lock {
public:
  /// Waits up to `timeout` for the lock. Throws `config_error` naming the
  /// lock file when it cannot be opened or another process holds it longer.
  explicit config_lock(const std::filesystem::path& config_path,
                       std::chrono::milliseconds timeout
                       = std::chrono::seconds{5});

  config_lock(config_lock&& other) noexcept;
  config_lock& operator=(config_lock&&) = delete;
  config_lock(const config_lock&) = delete;
  config_lock& operator=(const config_lock&) = delete;

  ~config_lock();

private:
  int fd_ = -1;
};

} // namespace pilot::control
