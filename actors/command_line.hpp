#pragma once

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <chrono>
#include <cstddef>
#include <limits>

namespace pilot::actors {

/// Parses a command line with the conventions of Go's flag package, which
/// the reference binaries use: long options after one or two dashes
/// (`-listen :9000` or `--listen=:9000`), never abbreviated, and no
/// positional arguments. Throws `std::invalid_argument` with a message that
/// names the offending argument.
boost::program_options::variables_map parse_go_style_command_line(
    int argc, const char* const argv[],
    const boost::program_options::options_description& options);

/// Returns the option `name` read as a Go duration (`30s`, `2m`, `1m30s`)
/// in whole seconds, or `fallback` when it is absent. Throws
/// `std::invalid_argument` for text that is no duration or under 1s.
std::chrono::seconds
seconds_option(const boost::program_options::variables_map& values,
               const char* name, std::chrono::seconds fallback);

/// Returns the `std::size_t` option `name`, or `fallback` when it is
/// absent. Throws `std::invalid_argument` for 0 or a value above
/// `maximum`.
std::size_t count_option(const boost::program_options::variables_map& values,
                         const char* name, std::size_t fallback,
                         std::size_t maximum
                         = std::numeric_limits<std::size_t>::max());

} // namespace pilot::actors
