#include "actors/detail/registry_rules.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace pilot::actors::detail {

namespace {

constexpr std::array<std::string_view, 3> reserved_hostnames{
    "localhost", "backbone", "broadcast"};

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Matches ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ with a length of 1 to `max_size`.
bool is_label(std::string_view text, std::size_t max_size) {
  if (text.empty() || text.size() > max_size)
    return false;
  if (!is_lower_alnum(text.front()) || !is_lower_alnum(text.back()))
    return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// Returns the port of `host:port` or `[host]:port`, as Go's
// net.SplitHostPort splits it, when it is decimal and fits in 16 bits.
std::optional<std::uint16_t> listen_port(std::string_view listen_addr) {
  auto colon = listen_addr.rfind(':');
  if (colon == std::string_view::npos)
    return std::nullopt;
  auto host = listen_addr.substr(0, colon);
  // An unbracketed host with another colon is a bare IPv6 address.
  bool bracketed = host.starts_with('[') && host.ends_with(']');
  if (!bracketed && host.find_first_of(":[]") != std::string_view::npos)
    return std::nullopt;
  auto text = listen_addr.substr(colon + 1);
  std::uint16_t port = 0;
  auto [end, ec]
      = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return port;
}

} // namespace

std::optional<std::string> hostname_error(std::string_view hostname) {
  if (hostname.size() > max_hostname_size)
    return "hostname longer than 63 characters";
  if (!is_label(hostname, max_hostname_size))
    return "hostname must be lowercase letters, digits and hyphens, "
           "starting and ending with a letter or digit";
  if (std::find(reserved_hostnames.begin(), reserved_hostnames.end(), hostname)
      != reserved_hostnames.end())
    return "hostname is reserved";
  return std::nullopt;
}

std::optional<std::string> normalize_tags(std::vector<std::string>& tags) {
  if (tags.size() > max_tags)
    return "more than 10 tags";
  for (auto& tag : tags) {
    if (tag.starts_with('#'))
      tag.erase(0, 1);
    if (!is_label(tag, max_tag_size))
      return "tag must be 1 to 32 lowercase letters, digits and hyphens, "
             "starting and ending with a letter or digit";
  }
  return std::nullopt;
}

std::string endpoint_from(std::string_view listen_addr,
                          const boost::asio::ip::address& source_ip,
                          std::uint16_t source_port) {
  auto ip = source_ip;
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped,
                                          ip.to_v6());
  auto port = listen_port(listen_addr).value_or(source_port);
  auto host = ip.to_string();
  if (ip.is_v6())
    host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

std::string rate_limit_key(const boost::asio::ip::address& ip) {
  if (ip.is_v4())
    return ip.to_string();
  auto v6 = ip.to_v6();
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6)
        .to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

token_bucket::token_bucket(double capacity, std::chrono::seconds refill_period,
                           time_point now)
    : capacity_(capacity),
      refill_per_second_(capacity / static_cast<double>(refill_period.count())),
      tokens_(capacity), last_update_(now) {
  // nop
}

bool token_bucket::try_take(time_point now) {
  // Refill for the time since the last use; a clock that went backwards
  // adds nothing.
  if (now > last_update_) {
    std::chrono::duration<double> elapsed = now - last_update_;
    tokens_
        = std::min(capacity_, tokens_ + elapsed.count() * refill_per_second_);
    last_update_ = now;
  }
  if (tokens_ < 1.0)
    return false;
  tokens_ -= 1.0;
  return true;
}

} // namespace pilot::actors::detail
