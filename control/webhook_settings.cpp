#include "control/webhook_settings.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

namespace pilot::control {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items)
    text += (text.empty() ? "" : ",") + item;
  return text;
}

// The flag name and value of each setting that `change` gives, in the order
// of the daemon's --help.
std::vector<std::pair<std::string_view, std::string>>
given_settings(const protocol::webhook_config_change& change) {
  std::vector<std::pair<std::string_view, std::string>> result;
  if (change.url)
    result.emplace_back("webhook", *change.url);
  if (change.timeout)
    result.emplace_back("webhook-timeout", *change.timeout);
  if (change.buffer)
    result.emplace_back("webhook-buffer", std::to_string(*change.buffer));
  if (change.concurrency)
    result.emplace_back("webhook-concurrency",
                        std::to_string(*change.concurrency));
  if (change.events)
    result.emplace_back("webhook-events", *change.events);
  if (change.retries)
    result.emplace_back("webhook-retries", std::to_string(*change.retries));
  if (change.secrets)
    result.emplace_back("webhook-secret", join(*change.secrets));
  if (change.ca_file)
    result.emplace_back("webhook-ca-file", *change.ca_file);
  return result;
}

} // namespace

webhook::webhook_config
to_webhook_config(const actors::webhook_settings& settings) {
  webhook::webhook_config config;
  config.url = settings.url;
  config.events = settings.events;
  config.secrets = settings.secrets;
  config.ca_file = settings.ca_file;
  config.retries = static_cast<std::uint32_t>(settings.retries);
  config.concurrency = static_cast<std::uint32_t>(settings.concurrency);
  config.buffer_size = static_cast<std::uint32_t>(settings.buffer);
  config.timeout_ms = settings.timeout.count();
  return config;
}

actors::webhook_settings
to_webhook_settings(const webhook::webhook_config& config) {
  actors::webhook_settings settings;
  settings.url = config.url;
  settings.events = config.events;
  settings.secrets = config.secrets;
  settings.ca_file = config.ca_file;
  settings.retries = config.retries;
  settings.concurrency = config.concurrency;
  settings.buffer = config.buffer_size;
  settings.timeout = std::chrono::milliseconds{config.timeout_ms};
  return settings;
}

std::optional<std::string>
apply_webhook_change(webhook::webhook_config& config,
                     const protocol::webhook_config_change& change) {
  // The flag takes a comma-separated list and trims its items, so a blank
  // item would remove every secret. Base64 has no comma and no white space.
  if (change.secrets
      && std::any_of(change.secrets->begin(), change.secrets->end(),
                     [](const auto& secret) {
                       return secret.empty()
                              || secret.find_first_of(", \t\r\n")
                                     != std::string::npos;
                     }))
    return "webhook-secret: a secret is empty or contains a comma or white "
           "space; give each secret as an item of its own, or no items to "
           "remove them";
  auto settings = to_webhook_settings(config);
  for (const auto& [name, value] : given_settings(change))
    if (auto problem = actors::apply_webhook_setting(settings, name, value))
      return std::string{name} + ": " + *problem;
  config = to_webhook_config(settings);
  return std::nullopt;
}

std::string changed_webhook_settings(const webhook::webhook_config& before,
                                     const webhook::webhook_config& after) {
  std::string names;
  auto add = [&names](bool changed, std::string_view name) {
    if (changed)
      names += (names.empty() ? "" : ", ") + std::string{name};
  };
  add(before.url != after.url, "url");
  add(before.timeout_ms != after.timeout_ms, "timeout");
  add(before.buffer_size != after.buffer_size, "buffer");
  add(before.concurrency != after.concurrency, "concurrency");
  add(before.events != after.events, "events");
  add(before.retries != after.retries, "retries");
  add(before.secrets != after.secrets, "secrets");
  add(before.ca_file != after.ca_file, "ca_file");
  return names;
}

} // namespace pilot::control
