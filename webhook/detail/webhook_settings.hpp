#pragma once

#include "protocol/webhook_filter.hpp"
#include "protocol/webhook_url.hpp"
#include "webhook/fwd.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <vector>

namespace pilot::webhook::detail {

/// A `webhook_config` that passed every check, together with the parsed
/// forms that requests use.
struct webhook_settings {
  /// The settings as given, secrets included.
  webhook_config config;
  /// The parsed URL; null while webhooks are off.
  std::shared_ptr<const protocol::webhook_target> target;
  /// The parsed `config.events`.
  protocol::event_filter filter;
  /// The raw keys decoded from `config.secrets`; null when there are none.
  std::shared_ptr<const std::vector<std::string>> signing_keys;
};

/// Checks every setting of `config`: the URL with
/// `protocol::parse_webhook_url`, the event filter, up to
/// `max_webhook_secrets` secrets with `protocol::parse_webhook_secret`, the
/// CA file with `protocol::ca_file_problem` and the ranges of the numbers.
/// Returns an `actors::errc::invalid_argument` error whose context is the
/// message for the user when one of them is invalid.
caf::expected<webhook_settings> check_settings(webhook_config config);

/// Returns `settings` with its URL changed to `url` and the other settings
/// kept, or an error when `url` is invalid.
caf::expected<webhook_settings> with_url(webhook_settings settings,
                                         std::string url);

} // namespace pilot::webhook::detail
