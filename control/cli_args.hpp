#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pilot::control::cli {

/// One `--name` or `--name=value` argument of a pilotctl command line.
struct flag {
  std::string name;
  std::string value;      ///< "true" for a bare flag.
  bool has_value = false; ///< Whether a value was given.
};

/// A pilotctl command line, split into positionals and flags in order.
struct command_line {
  /// The command, its sub-command and its operands.
  std::vector<std::string> positionals;
  /// The flags after the command name.
  std::vector<flag> flags;
  /// The flags before the command name other than `--json` and `--help`.
  /// pilotctl has no other global flags, so each one is a usage error.
  std::vector<flag> global_flags;
  /// `--json` appeared anywhere.
  bool json = false;
  /// `--help` or `-h` appeared anywhere.
  bool help = false;

  /// Returns the value of the last `--name`, if given.
  std::optional<std::string> value(std::string_view name) const;

  /// Returns whether `--name` was given.
  bool has(std::string_view name) const;

  /// Returns whether `--name` was given with no value or a true one (`true`,
  /// `1`, or empty).
  bool enabled(std::string_view name) const;

  /// Returns the positional at `index`, or "" when there is none.
  std::string positional(std::size_t index) const;
};

/// Splits `args` (without the program name). `--json`, `--help` and `-h`
/// are removed wherever they stand. A flag takes its value after `=`, or
/// from the next argument when that does not start with `--` and the flag
/// is not in `boolean_flags`, which take a value only after `=`. A bare
/// flag means "true". A flag before the command name goes to
/// `global_flags` and takes a value only after `=`, so that in
/// `--jsno info` the command stays `info`. Any other argument, including a
/// single-dash one, is a positional.
command_line
parse_command_line(const std::vector<std::string>& args,
                   const std::vector<std::string_view>& boolean_flags);

} // namespace pilot::control::cli
