#pragma once

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The registry's validation rules for values that clients choose.
namespace pilot::actors::detail {

/// Maximum size of a hostname (a DNS label).
inline constexpr std::size_t max_hostname_size = 63;

/// Maximum number of tags per node, and maximum size of a tag.
inline constexpr std::size_t max_tags = 10;
inline constexpr std::size_t max_tag_size = 32;

/// Checks a hostname: 1 to 63 characters of `a-z`, `0-9` and `-`, starting
/// and ending with a letter or digit, and not `localhost`, `backbone` or
/// `broadcast`. Returns why it is invalid, or nothing when it is valid.
std::optional<std::string> hostname_error(std::string_view hostname);

/// Normalizes tags for `set_tags`: strips one leading `#` from each, then
/// requires at most 10 tags of 1 to 32 characters of `a-z`, `0-9` and `-`
/// that start and end with a letter or digit. Returns why the list is
/// invalid, or nothing when `tags` now contains the normalized list.
std::optional<std::string> normalize_tags(std::vector<std::string>& tags);

/// Formats the endpoint recorded for a node: the host is always the TCP
/// source address, the port comes from `listen_addr` (`host:port` or
/// `[host]:port` with a decimal port). When `listen_addr` is empty or has no
/// valid port, the source port is used. IPv6 hosts are bracketed and
/// IPv4-mapped IPv6 addresses are written as IPv4.
std::string endpoint_from(std::string_view listen_addr,
                          const boost::asio::ip::address& source_ip,
                          std::uint16_t source_port);

/// Returns the address to rate-limit `ip` under: the IPv4 address itself,
/// or the /64 prefix of an IPv6 address, because one IPv6 host usually
/// controls a whole /64.
std::string rate_limit_key(const boost::asio::ip::address& ip);

/// A token bucket that refills continuously: `capacity` tokens, refilled at
/// `capacity` per `refill_period`.
class token_bucket {
public:
  using time_point = std::chrono::system_clock::time_point;

  token_bucket(double capacity, std::chrono::seconds refill_period,
               time_point now);

  /// Takes one token if one is available at `now`.
  bool try_take(time_point now);

  /// Returns when the bucket was last used.
  time_point last_used() const noexcept { return last_update_; }

private:
  double capacity_;
  double refill_per_second_;
  double tokens_;
  time_point last_update_;
};

} // namespace pilot::actors::detail
