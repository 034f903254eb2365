#include "control/detail/control_state.hpp"

#include "actors/log.hpp"
#include "control/ipc_replies.hpp"
#include "control/webhook_settings.hpp"
#include "protocol/ipc.hpp"

#include <caf/event_based_actor.hpp>

#include <chrono>
#include <string>
#include <utility>

namespace pilot::control::detail {

namespace {

namespace log = actors::log;
using protocol::ipc_command;

constexpr std::string_view component = "control";
constexpr std::string_view target_name = "webhook actor";
constexpr std::string_view set_config_name = "set_webhook_config";
constexpr std::string_view test_name = "webhook_test";

/// Time for the test delivery beyond its attempts' deadlines: the back-off
/// between retries and the round trips between the actors.
constexpr std::chrono::milliseconds test_margin{10'000};

// Sends the merged settings to the webhook actor, which checks them once
// more and applies all or none of them.
void configure_webhook(control_self self, const reply_function& reply,
                       const webhook::webhook_config& before,
                       webhook::webhook_config after) {
  auto changed = changed_webhook_settings(before, after);
  auto timeout = self->state.options.request_timeout;
  self->request(self->state.webhook, timeout, webhook::configure_atom_v,
                std::move(after))
      .then(
          [reply, changed](std::string& redacted) {
            log::info(component, "webhook-configured",
                      "webhook settings changed over IPC",
                      {{"url", redacted},
                       {"changed", changed.empty() ? "none" : changed}});
            reply_json(reply, ipc_command::set_webhook_config_ok,
                       boost::json::object{{"webhook", redacted}});
          },
          [reply, timeout](caf::error& err) {
            reply_error(
                reply, set_config_name,
                error_message(set_config_name, target_name, err, timeout));
          });
}

std::chrono::milliseconds test_deadline(const webhook::webhook_config& config) {
  auto attempts = static_cast<std::int64_t>(config.retries) + 1;
  return std::chrono::milliseconds{config.timeout_ms * attempts} + test_margin;
}

void log_test_result(const webhook::attempt_result& result) {
  log::info(component, "webhook-tested", "test event sent over IPC",
            {{"status", std::to_string(result.status)},
             {"latency_us", std::to_string(result.latency_us)},
             {"failure", result.responded() ? "none" : result.failure_class}});
}

} // namespace

void handle_set_webhook_config(control_self self, const reply_function& reply,
                               std::string_view payload) {
  auto change = protocol::decode_set_webhook_config(payload);
  if (!change) {
    reply_error(reply, set_config_name,
                std::string{set_config_name}
                    + ": invalid payload: " + change.error().message);
    return;
  }
  auto timeout = self->state.options.request_timeout;
  // `await` holds back the next request until the settings in effect
  // arrive, and the webhook actor reads its mailbox in order, so a second
  // change merges into the settings that the first one made.
  self->request(self->state.webhook, timeout, webhook::config_atom_v)
      .await(
          [self, reply,
           change = std::move(*change)](webhook::webhook_config& current) {
            auto merged = current;
            if (auto problem = apply_webhook_change(merged, change)) {
              reply_error(reply, set_config_name, *problem);
              return;
            }
            configure_webhook(self, reply, current, std::move(merged));
          },
          [reply, timeout](caf::error& err) {
            reply_error(
                reply, set_config_name,
                error_message(set_config_name, target_name, err, timeout));
          });
}

void handle_webhook_test(control_self self, const reply_function& reply) {
  auto timeout = self->state.options.request_timeout;
  auto fail = [reply](std::chrono::milliseconds deadline) {
    return [reply, deadline](caf::error& err) {
      reply_error(reply, test_name,
                  error_message(test_name, target_name, err, deadline));
    };
  };
  self->request(self->state.webhook, timeout, webhook::config_atom_v)
      .then(
          [self, reply, fail](webhook::webhook_config& config) {
            auto deadline = test_deadline(config);
            self->request(self->state.webhook, deadline, webhook::test_atom_v)
                .then(
                    [reply](webhook::attempt_result& result) {
                      log_test_result(result);
                      reply_json(reply, ipc_command::webhook_test_ok,
                                 make_webhook_test_json(result));
                    },
                    fail(deadline));
          },
          fail(timeout));
}

} // namespace pilot::control::detail
