#include "protocol/webhook_filter.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace pilot::protocol {

namespace {

using filter_result = boost::system::result<event_filter, event_filter_error>;

template <std::size_t... Is>
std::vector<std::string_view> names_of(std::index_sequence<Is...>) {
  return {event_name(event{std::in_place_index<Is>})...};
}

std::string_view category_of(std::string_view name) {
  return name.substr(0, name.find('.'));
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n\f\v";
  auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

// Returns the event types that `item` selects; none for an unknown item.
template <class Selection>
Selection select(std::string_view item) {
  Selection result;
  const auto& names = all_event_names();
  if (item == "*") {
    result.set();
    return result;
  }
  auto is_glob = item.size() > 2 && item.ends_with(".*");
  auto category = item.substr(0, item.size() - 2);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (is_glob ? category_of(names[i]) == category : names[i] == item)
      result.set(i);
  return result;
}

std::string quoted_list(const std::vector<std::string_view>& items) {
  std::string result;
  for (auto item : items) {
    if (!result.empty())
      result += ", ";
    result += '"';
    result += item;
    result += '"';
  }
  return result;
}

// Returns the selection of `webhook.test` alone.
template <class Selection>
Selection only_test_event_of() {
  return select<Selection>("webhook.test");
}

// Returns whether the comma-joined `list` contains `item`.
bool has_item(std::string_view list, std::string_view item) {
  for (std::size_t begin = 0; begin <= list.size();) {
    auto end = std::min(list.find(',', begin), list.size());
    if (list.substr(begin, end - begin) == item)
      return true;
    begin = end + 1;
  }
  return false;
}

filter_result rejected(std::string message) {
  return event_filter_error{std::move(message)};
}

} // namespace

event_filter::event_filter() : text_("*") {
  selected_.set();
}

event_filter::event_filter(selection selected, std::string text)
    : selected_(selected), text_(std::move(text)) {
  // nop
}

bool event_filter::matches(std::string_view name) const noexcept {
  const auto& names = all_event_names();
  auto i = std::find(names.begin(), names.end(), name);
  return i != names.end()
         && selected_.test(static_cast<std::size_t>(i - names.begin()));
}

bool event_filter::matches(const event& e) const noexcept {
  return !e.valueless_by_exception() && selected_.test(e.index());
}

void throw_exception_from_error(const event_filter_error& e,
                                const boost::source_location&) {
  throw std::invalid_argument(e.message);
}

filter_result parse_event_filter(std::string_view comma_list) {
  if (comma_list.size() > max_event_filter_size)
    return rejected("webhook_events is longer than "
                    + std::to_string(max_event_filter_size) + " bytes");
  if (trim(comma_list).empty())
    return event_filter{};
  event_filter::selection selected;
  std::string text;
  std::vector<std::string_view> unknown;
  auto has_star = false;
  for (std::size_t begin = 0; begin <= comma_list.size();) {
    auto end = std::min(comma_list.find(',', begin), comma_list.size());
    auto item = trim(comma_list.substr(begin, end - begin));
    begin = end + 1;
    if (item.empty())
      return rejected("webhook_events has an empty item; separate event "
                      "names with single commas");
    auto items_selected = select<event_filter::selection>(item);
    if (items_selected.none())
      unknown.push_back(item);
    if (items_selected == only_test_event_of<event_filter::selection>())
      return rejected("webhook_events cannot select " + std::string{item}
                      + ": pilotctl webhook test sends webhook.test past "
                        "the filter, and no other event has that name");
    selected |= items_selected;
    has_star = has_star || item == "*";
    if (!has_item(text, item)) {
      text += text.empty() ? "" : ",";
      text += item;
    }
  }
  if (unknown.size() == 1)
    return rejected("unknown webhook event " + quoted_list(unknown)
                    + " in webhook_events; use *, an event name such as "
                      "conn.fin, or a category such as conn.*");
  if (!unknown.empty())
    return rejected("unknown webhook events " + quoted_list(unknown)
                    + " in webhook_events; use *, an event name such as "
                      "conn.fin, or a category such as conn.*");
  return event_filter{selected, has_star ? std::string{"*"} : text};
}

filter_result parse_event_filter(const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) {
    if (&item != &items.front())
      joined += ',';
    joined += item;
  }
  return parse_event_filter(joined);
}

const std::vector<std::string_view>& all_event_names() {
  static const auto names
      = names_of(std::make_index_sequence<std::variant_size_v<event>>{});
  return names;
}

} // namespace pilot::protocol
