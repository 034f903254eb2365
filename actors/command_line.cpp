#include "actors/command_line.hpp"

#include "protocol/duration.hpp"

#include <boost/program_options/parsers.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace pilot::actors {

namespace po = boost::program_options;

namespace {

// Splits `-name=` and `--name=` into the flag and an empty value, which Go
// accepts (`--beacon=` turns the beacon off) and program_options does not.
std::vector<std::string> split_empty_values(int argc,
                                            const char* const argv[]) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string arg{argv[i]};
    if (arg.size() > 2 && arg.front() == '-' && arg.back() == '='
        && arg.find('=') == arg.size() - 1) {
      args.push_back(arg.substr(0, arg.size() - 1));
      args.emplace_back();
      continue;
    }
    args.push_back(std::move(arg));
  }
  return args;
}

} // namespace

po::variables_map
parse_go_style_command_line(int argc, const char* const argv[],
                            const po::options_description& options) {
  namespace style = po::command_line_style;
  auto styles = (style::unix_style & ~style::allow_guessing)
                | style::allow_long_disguise;
  po::variables_map values;
  try {
    auto parsed = po::command_line_parser(split_empty_values(argc, argv))
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

std::chrono::seconds seconds_option(const po::variables_map& values,
                                    const char* name,
                                    std::chrono::seconds fallback) {
  if (!values.count(name))
    return fallback;
  auto text = values[name].as<std::string>();
  auto parsed = protocol::parse_duration(text);
  if (!parsed)
    throw std::invalid_argument("--" + std::string{name} + " \"" + text
                                + "\" is not a duration; use e.g. 30s or 2m");
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  if (seconds < std::chrono::seconds{1})
    throw std::invalid_argument("--" + std::string{name}
                                + " must be at least 1s");
  return seconds;
}

std::size_t count_option(const po::variables_map& values, const char* name,
                         std::size_t fallback, std::size_t maximum) {
  if (!values.count(name))
    return fallback;
  auto count = values[name].as<std::size_t>();
  if (count == 0)
    throw std::invalid_argument("--" + std::string{name}
                                + " must be at least 1");
  if (count > maximum)
    throw std::invalid_argument("--" + std::string{name} + " must be at most "
                                + std::to_string(maximum));
  return count;
}

} // namespace pilot::actors
