#include "control/cli_settings.hpp"

#include "control/cli_output.hpp"
#include "protocol/webhook_url.hpp"

#include <cstdlib>

namespace pilot::control::cli {

namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

} // namespace

pilot_paths pilot_paths::resolve() {
  try {
    pilot_paths paths;
    paths.home = pilot_home();
    paths.config = paths.home / "config.json";
    paths.pid_file = paths.home / "pilot.pid";
    paths.log_file = paths.home / "pilot.log";
    paths.identity = paths.home / "identity.json";
    return paths;
  } catch (const config_error& e) {
    throw error{code::internal, e.what(), "set HOME to your home directory"};
  }
}

pilot_config load_config(const pilot_paths& paths) {
  try {
    return pilot_config::load(paths.config);
  } catch (const config_error& e) {
    throw error{code::internal, e.what()};
  }
}

void save_config(const pilot_config& config) {
  try {
    config.save();
  } catch (const config_error& e) {
    throw error{code::internal, e.what()};
  }
}

std::string resolve_socket(const command_line& cmd,
                           const pilot_config& config) {
  if (auto flag = cmd.value("socket"); flag && !flag->empty())
    return *flag;
  if (auto env = environment("PILOT_SOCKET"); !env.empty())
    return env;
  if (auto value = config.string_value("socket"); value && !value->empty())
    return *value;
  return std::string{default_socket};
}

std::string configured_socket(const command_line& cmd) {
  return resolve_socket(cmd, load_config(pilot_paths::resolve()));
}

std::string resolve_registry(const command_line& cmd,
                             const pilot_config& config) {
  if (auto flag = cmd.value("registry"); flag && !flag->empty())
    return *flag;
  if (auto value = config.string_value("registry"); value && !value->empty())
    return *value;
  if (auto env = environment("PILOT_REGISTRY"); !env.empty())
    return env;
  return std::string{default_registry};
}

void check_operands(const command_line& cmd, std::size_t min, std::size_t max,
                    std::string_view usage) {
  auto operands = cmd.positionals.empty() ? 0 : cmd.positionals.size() - 1;
  std::string hint = "usage: pilotctl " + std::string{usage};
  if (operands < min)
    throw error{code::invalid_argument,
                "missing argument for " + cmd.positional(0), hint};
  if (operands > max)
    throw error{code::invalid_argument,
                "unexpected argument: " + cmd.positionals[max + 1], hint};
}

std::string redact_url(std::string_view url) {
  if (auto target = protocol::parse_webhook_url(url))
    return target->redacted;
  auto end = url.find_first_of("?#");
  auto text = url.substr(0, end);
  if (auto at = text.rfind('@'); at != std::string_view::npos) {
    auto scheme_end = text.find("://");
    auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    if (at >= start)
      return std::string{text.substr(0, start)}
             + std::string{text.substr(at + 1)};
  }
  return std::string{text};
}

} // namespace pilot::control::cli
