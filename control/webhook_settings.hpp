#pragma once

#include "actors/daemon_options.hpp"
#include "protocol/ipc.hpp"
#include "webhook/fwd.hpp"

#include <optional>
#include <string>

/// Conversions between the daemon's webhook options and the webhook actor's
/// settings, and the checked change of those settings that the IPC command
/// SetWebhookConfig requests.
namespace pilot::control {

/// Returns the webhook actor's settings for the daemon's `settings`.
webhook::webhook_config
to_webhook_config(const actors::webhook_settings& settings);

/// Returns the daemon's webhook options for the actor's `config`.
actors::webhook_settings
to_webhook_settings(const webhook::webhook_config& config);

/// Applies `change` to `config` with the checks of the daemon's flags.
/// Returns the reason for the first invalid setting, prefixed with the flag
/// name (`webhook-retries: must be from 0 to 3`), and then leaves `config`
/// unchanged. The reason never contains a secret.
std::optional<std::string>
apply_webhook_change(webhook::webhook_config& config,
                     const protocol::webhook_config_change& change);

/// Returns the names of the settings that differ between `before` and
/// `after`, such as `url, secrets`, or "" when none does. Logs name the
/// changed settings this way, because the values may be secrets.
std::string changed_webhook_settings(const webhook::webhook_config& before,
                                     const webhook::webhook_config& after);

} // namespace pilot::control
