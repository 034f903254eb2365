#include "webhook/detail/webhook_settings.hpp"

#include "actors/error.hpp"
#include "protocol/webhook_signature.hpp"

#include <utility>

namespace pilot::webhook::detail {

namespace {

caf::error invalid(std::string message) {
  return actors::make_error(actors::errc::invalid_argument, std::move(message));
}

// Returns the parsed URL, null for an empty one.
caf::expected<std::shared_ptr<const protocol::webhook_target>>
parse_url(const std::string& url) {
  if (url.empty())
    return std::shared_ptr<const protocol::webhook_target>{};
  auto target = protocol::parse_webhook_url(url);
  if (!target)
    return invalid(target.error().message);
  return std::make_shared<const protocol::webhook_target>(std::move(*target));
}

caf::expected<std::shared_ptr<const std::vector<std::string>>>
decode_secrets(const std::vector<std::string>& secrets) {
  if (secrets.size() > max_webhook_secrets)
    return invalid("at most " + std::to_string(max_webhook_secrets)
                   + " webhook secrets can be active at once, got "
                   + std::to_string(secrets.size()));
  if (secrets.empty())
    return std::shared_ptr<const std::vector<std::string>>{};
  std::vector<std::string> keys;
  for (const auto& secret : secrets) {
    auto key = protocol::parse_webhook_secret(secret);
    if (!key)
      return invalid(key.error().message);
    keys.push_back(std::move(*key));
  }
  return std::make_shared<const std::vector<std::string>>(std::move(keys));
}

template <class T>
std::optional<std::string> range_problem(std::string_view name, T value, T min,
                                         T max, std::string_view unit = "") {
  if (value >= min && value <= max)
    return std::nullopt;
  return std::string{name} + " must be from " + std::to_string(min)
         + std::string{unit} + " to " + std::to_string(max) + std::string{unit}
         + ", got " + std::to_string(value) + std::string{unit};
}

std::optional<std::string> number_problem(const webhook_config& config) {
  if (auto problem = range_problem<std::uint32_t>(
          "webhook_retries", config.retries, 0, max_webhook_retries))
    return problem;
  if (auto problem
      = range_problem<std::uint32_t>("webhook_concurrency", config.concurrency,
                                     1, max_webhook_concurrency))
    return problem;
  if (auto problem = range_problem<std::uint32_t>(
          "webhook_buffer", config.buffer_size, 1, max_webhook_buffer_size))
    return problem;
  return range_problem<std::int64_t>("webhook_timeout", config.timeout_ms,
                                     min_webhook_timeout_ms,
                                     max_webhook_timeout_ms, " ms");
}

} // namespace

caf::expected<webhook_settings> check_settings(webhook_config config) {
  auto target = parse_url(config.url);
  if (!target)
    return std::move(target.error());
  auto filter = protocol::parse_event_filter(config.events);
  if (!filter)
    return invalid(filter.error().message);
  auto keys = decode_secrets(config.secrets);
  if (!keys)
    return std::move(keys.error());
  if (!config.ca_file.empty())
    if (auto problem = protocol::ca_file_problem(config.ca_file))
      return invalid(std::move(*problem));
  if (auto problem = number_problem(config))
    return invalid(std::move(*problem));
  return webhook_settings{std::move(config), std::move(*target),
                          std::move(*filter), std::move(*keys)};
}

caf::expected<webhook_settings> with_url(webhook_settings settings,
                                         std::string url) {
  auto target = parse_url(url);
  if (!target)
    return std::move(target.error());
  settings.config.url = std::move(url);
  settings.target = std::move(*target);
  return settings;
}

} // namespace pilot::webhook::detail
