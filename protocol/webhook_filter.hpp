#pragma once

#include "protocol/events.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <bitset>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// The `webhook_events` setting: which event types the webhook sends.
namespace pilot::protocol {

/// Maximum length of a `webhook_events` list in bytes.
inline constexpr std::size_t max_event_filter_size = 4096;

/// The reason a `webhook_events` list was rejected.
struct event_filter_error {
  /// A sentence for the user that names the problem, such as `unknown
  /// webhook event "conn.open" in webhook_events`.
  std::string message;
};

/// The set of event types that a `webhook_events` list selects.
class event_filter {
public:
  /// Selects every event type.
  event_filter();

  /// Returns whether the filter selects events named `name`, such as
  /// `conn.fin`. Unknown names are never selected.
  bool matches(std::string_view name) const noexcept;

  /// Returns whether the filter selects `e`, without comparing names.
  bool matches(const event& e) const noexcept;

  /// Returns whether the filter selects every event type.
  bool selects_all() const noexcept { return selected_.all(); }

  /// Returns the canonical text of the filter: `*` for a list that is empty
  /// or contains `*`, otherwise the items without whitespace or repeats,
  /// joined by commas in the order given, such as `conn.*,trust.revoked`.
  const std::string& text() const noexcept { return text_; }

  friend bool operator==(const event_filter& x, const event_filter& y) {
    return x.selected_ == y.selected_;
  }

private:
  using selection = std::bitset<std::variant_size_v<event>>;

  event_filter(selection selected, std::string text);

  friend boost::system::result<event_filter, event_filter_error>
  parse_event_filter(std::string_view comma_list);

  selection selected_;
  std::string text_;
};

/// Throws `std::invalid_argument` with the message; called by
/// `boost::system::result::value()` on a rejected list.
[[noreturn]] void throw_exception_from_error(const event_filter_error& e,
                                             const boost::source_location&);

/// Parses a comma-separated `webhook_events` list. Each item, with any
/// whitespace around it, is `*` (every event), an event name such as
/// `trust.revoked`, or `<category>.*` for every event of a category such as
/// `conn.*`. The names and categories are those of `protocol::event`. A
/// list that is empty or only whitespace selects every event. Rejects empty
/// items (`conn.fin,,conn.rst`), unknown names and categories (the message
/// names each of them), items that select only `webhook.test` (which
/// bypasses the filter) and lists longer than `max_event_filter_size`. A
/// repeated item appears once in the canonical text.
boost::system::result<event_filter, event_filter_error>
parse_event_filter(std::string_view comma_list);

/// Parses the items of a `webhook_events` list; each item may itself be a
/// comma-separated list. An empty vector selects every event.
boost::system::result<event_filter, event_filter_error>
parse_event_filter(const std::vector<std::string>& items);

/// Returns the name of every event type, in the order of `protocol::event`.
const std::vector<std::string_view>& all_event_names();

} // namespace pilot::protocol
