#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

/// The one validator of webhook URLs, shared by the `--webhook` flag, the
/// config file, `pilotctl set-webhook` and the daemon's IPC command.
namespace pilot::protocol {

/// Maximum length of a webhook URL in bytes.
inline constexpr std::size_t max_webhook_url_size = 2048;

/// A webhook URL that passed validation, split into what a request needs.
struct webhook_target {
  /// `http` or `https`.
  std::string scheme;
  /// The host to resolve or connect to: a name in lower case without a
  /// trailing dot, or an IP address in its canonical text form (IPv6 without
  /// brackets). Numeric IPv4 spellings such as `0x7f.1` are canonicalized.
  std::string host;
  /// The explicit port, or 80 / 443 by scheme.
  std::uint16_t port = 0;
  /// The request target: the path (at least `/`) and the query, if any.
  std::string target;
  /// The `Host` header: IPv6 in brackets, `:port` unless the default.
  std::string host_header;
  /// `Basic …` from the URL's user info, or empty. A secret: never log it.
  std::string authorization;
  /// The URL for logs and messages: scheme, host, port and path, without
  /// user info, query or fragment.
  std::string redacted;

  /// Returns whether the scheme is `https`.
  bool is_https() const noexcept { return scheme == "https"; }

  friend bool operator==(const webhook_target&, const webhook_target&)
      = default;
};

/// The reason a webhook URL was rejected.
struct webhook_url_error {
  /// A sentence for the user that names the problem, such as `webhook URL
  /// must start with http:// or https://`. Never contains user info or a
  /// query.
  std::string message;
};

/// Throws `std::invalid_argument` with the message; called by
/// `boost::system::result::value()` on a rejected URL.
[[noreturn]] void throw_exception_from_error(const webhook_url_error& e,
                                             const boost::source_location&);

/// Validates `url` as a webhook URL and splits it into a `webhook_target`.
///
/// Accepts `http` and `https` URLs with a host, a port from 1 to 65535 (or
/// none), user info (turned into a Basic `Authorization` value) and IPv6
/// literals, of at most `max_webhook_url_size` bytes. Rejects fragments and
/// hosts that `is_refused_address` rejects, in any spelling: upper case, a
/// trailing dot, decimal, hex or octal IPv4 forms, and IPv4-mapped IPv6.
/// Also rejects the cloud metadata name `metadata.google.internal`. Loopback
/// and private addresses are accepted.
boost::system::result<webhook_target, webhook_url_error>
parse_webhook_url(std::string_view url);

/// Returns whether the daemon must never send a webhook to `address`: a
/// link-local address (169.254.0.0/16, fe80::/10) or a cloud metadata
/// endpoint (169.254.169.254, fd00:ec2::254), also when embedded in an
/// IPv4-mapped, IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address.
/// Applied to the URL's host and to every address it resolves to.
bool is_refused_address(const boost::asio::ip::address& address) noexcept;

} // namespace pilot::protocol
