#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/// Output of pilotctl: the JSON envelope, text mode and exit codes.
namespace pilot::control::cli {

/// Error codes of the JSON error envelope.
namespace code {
inline constexpr const char* invalid_argument = "invalid_argument";
inline constexpr const char* not_found = "not_found";
inline constexpr const char* already_exists = "already_exists";
inline constexpr const char* not_running = "not_running";
inline constexpr const char* connection_failed = "connection_failed";
inline constexpr const char* timeout = "timeout";
inline constexpr const char* internal = "internal";
} // namespace code

/// Exit code of a successful command.
inline constexpr int exit_ok = 0;
/// Exit code of every failed command.
inline constexpr int exit_error = 1;
/// Exit code of a command line without a command or with an unknown one.
inline constexpr int exit_usage = 2;

/// A failed command: the code, the message and an optional hint that says
/// what to do next.
class error : public std::runtime_error {
public:
  error(std::string code, const std::string& message, std::string hint = {})
      : std::runtime_error(message), code_(std::move(code)),
        hint_(std::move(hint)) {
    // nop
  }

  const std::string& code() const noexcept { return code_; }

  const std::string& hint() const noexcept { return hint_; }

private:
  std::string code_;
  std::string hint_;
};

/// A command line that names an unknown flag. Printed like any error with
/// the code `invalid_argument`, but pilotctl exits with `exit_usage`.
class usage_error : public error {
public:
  explicit usage_error(const std::string& message, std::string hint = {})
      : error(code::invalid_argument, message, std::move(hint)) {
    // nop
  }
};

/// A finished command: the `data` object, and the text to print without
/// `--json` (empty for the data as indented JSON). A silent result prints
/// nothing and only sets the exit code, as `daemon status --check` does.
struct success {
  boost::json::value data;
  std::string text;
  bool silent = false;
  int exit_code = exit_ok;
};

/// Returns `text` safe to print on a terminal, so that text from a daemon
/// or registry cannot send escape sequences. C0 control characters and DEL
/// become `\n`, `\r`, `\t` or `\xNN`. C1 control characters (U+0080 to
/// U+009F) become `\u00NN`, and bytes that are not UTF-8 become `\xNN`.
/// With `keep_newlines`, `\n` and `\t` stay as they are.
std::string escape_control(std::string_view text, bool keep_newlines = false);

/// Returns a JSON string's text without quotes, and any other value as JSON,
/// for text-mode output. Control characters are escaped.
std::string plain_text(const boost::json::value& value);

/// Formats `object` for text mode as one `key: value` line per member, in
/// key order and with the values aligned. Strings are escaped, and "" and
/// null show as `(none)`. An array of scalars stays on one line, a nested
/// object is indented below its key, and each object in an array gets a
/// `- ` line. Members named in `skip` are left out.
std::string key_value_text(const boost::json::object& object,
                           std::initializer_list<std::string_view> skip = {});

/// Prints `result` on stdout: `{"data":…,"status":"ok"}` with `json`, else
/// its text or its data as indented JSON.
void print_success(const success& result, bool json);

/// Prints `err` on stderr: `{"code":…,"hint":…,"message":…,"status":
/// "error"}` with `json` (no `hint` when empty), else `error: <message>` and
/// `hint:  <hint>`.
void print_error(const error& err, bool json);

/// Formats rows as columns padded to their widest cell, under `header`.
std::string table_text(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows);

/// Returns `entry[key]` as text for a table cell, or "-" when missing.
std::string member_text(const boost::json::value& entry, std::string_view key);

/// Returns "yes" when `entry[key]` is true, else "no".
std::string yes_no(const boost::json::value& entry, std::string_view key);

} // namespace pilot::control::cli
