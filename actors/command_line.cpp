#include "actors/command_line.hpp"

#include <boost/program_options/parsers.hpp>

#include <stdexcept>
#include <string>

namespace pilot::actors {

namespace po = boost::program_options;

po::variables_map
parse_go_style_command_line(int argc, const char* const argv[],
                            const po::options_description& options) {
  namespace style = po::command_line_style;
  auto styles = (style::unix_style & ~style::allow_guessing)
                | style::allow_long_disguise;
  po::variables_map values;
  try {
    auto parsed = po::command_line_parser(argc, argv)
                      .options(options)
                      .style(styles)
                      .run();
    auto extra
        = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!extra.empty())
      throw std::invalid_argument("unexpected argument '" + extra.front()
                                  + "'");
    po::store(parsed, values);
  } catch (const po::error& e) {
    throw std::invalid_argument(e.what());
  }
  return values;
}

} // namespace pilot::actors
