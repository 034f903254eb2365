#include "protocol/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace pilot::protocol {

namespace {

struct unit {
  std::string_view name;
  std::uint64_t nanoseconds;
};

// Longer names first, so that "ms" is not read as "m".
constexpr std::array units{
    unit{"ns", 1},
    unit{"us", 1'000},
    unit{"\xC2\xB5s", 1'000}, // U+00B5 micro sign
    unit{"\xCE\xBCs", 1'000}, // U+03BC Greek small letter mu
    unit{"ms", 1'000'000},
    unit{"s", 1'000'000'000},
    unit{"m", 60'000'000'000},
    unit{"h", 3'600'000'000'000},
};

constexpr std::uint64_t max_magnitude
    = std::uint64_t{std::numeric_limits<std::int64_t>::max()} + 1;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads a run of digits into `value`; false when it overflows 64 bits.
bool read_digits(std::string_view& text, std::uint64_t& value,
                 std::size_t& count) {
  value = 0;
  count = 0;
  while (!text.empty() && is_digit(text.front())) {
    auto digit = static_cast<std::uint64_t>(text.front() - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
      return false;
    value = value * 10 + digit;
    ++count;
    text.remove_prefix(1);
  }
  return true;
}

// Reads a unit name at the start of `text`.
const unit* read_unit(std::string_view& text) {
  for (const auto& candidate : units) {
    if (text.starts_with(candidate.name)) {
      // As in Go, the unit runs up to the next digit or '.', so a longer
      // name such as "mx" is no unit at all.
      auto rest = text.substr(candidate.name.size());
      if (!rest.empty() && !is_digit(rest.front()) && rest.front() != '.')
        continue;
      text = rest;
      return &candidate;
    }
  }
  return nullptr;
}

// Adds the value of one `<number><unit>` term to `total`.
bool read_term(std::string_view& text, std::uint64_t& total) {
  std::uint64_t whole = 0;
  std::size_t whole_digits = 0;
  if (!read_digits(text, whole, whole_digits))
    return false;
  // Keep at most 18 fraction digits, which is more than nanoseconds need.
  std::uint64_t fraction = 0;
  std::uint64_t scale = 1;
  std::size_t fraction_digits = 0;
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    while (!text.empty() && is_digit(text.front())) {
      if (scale < 1'000'000'000'000'000'000) {
        fraction
            = fraction * 10 + static_cast<std::uint64_t>(text.front() - '0');
        scale *= 10;
      }
      ++fraction_digits;
      text.remove_prefix(1);
    }
  }
  if (whole_digits == 0 && fraction_digits == 0)
    return false;
  auto* u = read_unit(text);
  if (u == nullptr)
    return false;
  if (whole > max_magnitude / u->nanoseconds)
    return false;
  auto value = whole * u->nanoseconds;
  // The fraction contributes fraction / scale units, rounded down.
  auto fraction_ns = static_cast<std::uint64_t>(
      static_cast<long double>(fraction) * u->nanoseconds / scale);
  value += fraction_ns;
  if (value > max_magnitude || total > max_magnitude - value)
    return false;
  total += value;
  return true;
}

void append_fixed(std::string& out, std::uint64_t value, std::uint64_t unit,
                  std::string_view suffix) {
  out += std::to_string(value / unit);
  auto rest = value % unit;
  if (rest != 0) {
    auto digits = std::to_string(rest + unit).substr(1);
    while (!digits.empty() && digits.back() == '0')
      digits.pop_back();
    out += '.';
    out += digits;
  }
  out += suffix;
}

} // namespace

result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text == "0")
    return std::chrono::nanoseconds{0};
  if (text.empty())
    return errc::invalid_field;
  std::uint64_t total = 0;
  while (!text.empty())
    if (!read_term(text, total))
      return errc::invalid_field;
  if (total == max_magnitude) {
    if (!negative)
      return errc::invalid_field;
    return std::chrono::nanoseconds{std::numeric_limits<std::int64_t>::min()};
  }
  auto magnitude = static_cast<std::int64_t>(total);
  return std::chrono::nanoseconds{negative ? -magnitude : magnitude};
}

std::string format_duration(std::chrono::nanoseconds value) {
  auto count = value.count();
  std::string out;
  if (count < 0)
    out += '-';
  // Negate in unsigned arithmetic, where the minimum value has a magnitude.
  auto magnitude = count < 0 ? 0 - static_cast<std::uint64_t>(count)
                             : static_cast<std::uint64_t>(count);
  constexpr std::uint64_t second = 1'000'000'000;
  if (magnitude == 0)
    return "0s";
  if (magnitude < 1'000) {
    out += std::to_string(magnitude) + "ns";
  } else if (magnitude < 1'000'000) {
    append_fixed(out, magnitude, 1'000, "\xC2\xB5s");
  } else if (magnitude < second) {
    append_fixed(out, magnitude, 1'000'000, "ms");
  } else {
    auto hours = magnitude / (3600 * second);
    auto minutes = magnitude / (60 * second) % 60;
    if (hours > 0)
      out += std::to_string(hours) + "h";
    if (hours > 0 || minutes > 0)
      out += std::to_string(minutes) + "m";
    append_fixed(out, magnitude % (60 * second), second, "s");
  }
  return out;
}

} // namespace pilot::protocol
