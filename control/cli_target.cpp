#include "control/cli_target.hpp"

#include "control/cli_output.hpp"
#include "control/json_text.hpp"
#include "protocol/duration.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>

namespace pilot::control::cli {

std::uint16_t parse_port(const std::string& text, std::string_view usage) {
  unsigned port = 0;
  auto [end, ec]
      = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || end != text.data() + text.size() || port > 65535)
    throw error{code::invalid_argument,
                "invalid port \"" + escape_control(text)
                    + "\": expected a number from 0 to 65535",
                "usage: pilotctl " + std::string{usage}};
  return static_cast<std::uint16_t>(port);
}

std::uint64_t count_flag(const command_line& cmd, std::string_view name,
                         std::uint64_t fallback, std::uint64_t min) {
  auto text = cmd.value(name);
  if (!text)
    return fallback;
  std::uint64_t count = 0;
  auto [end, ec]
      = std::from_chars(text->data(), text->data() + text->size(), count);
  if (ec != std::errc{} || end != text->data() + text->size() || count < min)
    throw error{code::invalid_argument,
                "invalid --" + std::string{name} + " \"" + escape_control(*text)
                    + "\": expected a whole number of at least "
                    + std::to_string(min)};
  return count;
}

std::chrono::milliseconds timeout_flag(const command_line& cmd,
                                       std::chrono::milliseconds fallback) {
  auto text = cmd.value("timeout");
  if (!text)
    return fallback;
  if (auto duration = protocol::parse_duration(*text); duration)
    if (duration->count() >= 0)
      return std::chrono::ceil<std::chrono::milliseconds>(*duration);
  char* end = nullptr;
  double seconds = std::strtod(text->c_str(), &end);
  bool whole = !text->empty() && end == text->c_str() + text->size();
  if (!whole || !std::isfinite(seconds) || seconds < 0 || seconds > 1e9)
    throw error{code::invalid_argument,
                "invalid --timeout \"" + escape_control(*text)
                    + "\": expected a duration such as 30s, 1m30s or 500ms"};
  return std::chrono::milliseconds{
      static_cast<std::int64_t>(std::ceil(seconds * 1000))};
}

protocol::address resolve_target(daemon_client& daemon, const command_line& cmd,
                                 const std::string& target) {
  if (auto address = protocol::parse_address(target))
    return *address;
  std::uint32_t node = 0;
  auto [end, ec]
      = std::from_chars(target.data(), target.data() + target.size(), node);
  if (ec == std::errc{} && end == target.data() + target.size()
      && !target.empty())
    return protocol::address{0, node};
  std::string reason;
  try {
    auto reply
        = daemon.call_json(protocol::ipc_command::resolve_hostname, target);
    if (auto* object = reply.if_object())
      if (auto address
          = protocol::parse_address(string_member(*object, "address"))) {
        if (!cmd.json)
          std::cerr << "resolved \"" << escape_control(target) << "\" -> "
                    << protocol::to_string(*address) << '\n';
        return *address;
      }
    reason = "the registry's reply has no valid address";
  } catch (const error& e) {
    if (e.code() != code::connection_failed)
      throw;
    reason = e.what();
  }
  throw error{code::not_found,
              "cannot resolve \"" + escape_control(target) + "\" (" + reason
                  + "): is the hostname correct and is there mutual trust?",
              "pass a full address such as 0:0000.0000.0009 or a node ID"};
}

void print_notice(const command_line& cmd, const std::string& line) {
  if (cmd.json)
    return;
  std::cerr << escape_control(line, true) << '\n';
  std::cerr.flush();
}

} // namespace pilot::control::cli
