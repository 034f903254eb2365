#pragma once

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

namespace pilot::actors {

/// Parses a command line with the conventions of Go's flag package, which
/// the reference binaries use: long options after one or two dashes
/// (`-listen :9000` or `--listen=:9000`), never abbreviated, and no
/// positional arguments. Throws `std::invalid_argument` with a message that
/// names the offending argument.
boost::program_options::variables_map parse_go_style_command_line(
    int argc, const char* const argv[],
    const boost::program_options::options_description& options);

} // namespace pilot::actors
