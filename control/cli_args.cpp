#include "control/cli_args.hpp"

#include <algorithm>

namespace pilot::control::cli {

std::optional<std::string> command_line::value(std::string_view name) const {
  for (auto i = flags.rbegin(); i != flags.rend(); ++i)
    if (i->name == name)
      return i->value;
  return std::nullopt;
}

bool command_line::has(std::string_view name) const {
  return value(name).has_value();
}

bool command_line::enabled(std::string_view name) const {
  auto text = value(name);
  return text && (*text == "true" || *text == "1" || text->empty());
}

std::string command_line::positional(std::size_t index) const {
  return index < positionals.size() ? positionals[index] : std::string{};
}

command_line
parse_command_line(const std::vector<std::string>& args,
                   const std::vector<std::string_view>& boolean_flags) {
  command_line result;
  auto is_boolean = [&](std::string_view name) {
    return std::find(boolean_flags.begin(), boolean_flags.end(), name)
           != boolean_flags.end();
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    bool before_command = result.positionals.empty();
    if (arg == "--json") {
      result.json = true;
    } else if (arg == "--help" || arg == "-h") {
      result.help = true;
    } else if (arg.size() > 2 && arg.starts_with("--")) {
      flag parsed;
      arg.remove_prefix(2);
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        parsed.name = arg.substr(0, eq);
        parsed.value = arg.substr(eq + 1);
        parsed.has_value = true;
      } else {
        parsed.name = arg;
        bool takes_next = !before_command && !is_boolean(parsed.name)
                          && i + 1 < args.size()
                          && !args[i + 1].starts_with("--");
        if (takes_next) {
          parsed.value = args[++i];
          parsed.has_value = true;
        } else {
          parsed.value = "true";
        }
      }
      if (before_command)
        result.global_flags.push_back(std::move(parsed));
      else
        result.flags.push_back(std::move(parsed));
    } else {
      result.positionals.emplace_back(arg);
    }
  }
  return result;
}

} // namespace pilot::control::cli
