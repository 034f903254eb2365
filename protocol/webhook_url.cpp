#include "protocol/webhook_url.hpp"

#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace pilot::protocol {

namespace {

namespace ip = boost::asio::ip;

using url_result = boost::system::result<webhook_target, webhook_url_error>;

webhook_url_error rejected(std::string message) {
  return webhook_url_error{std::move(message)};
}

bool is_refused_v4(const ip::address_v4& address) {
  // 169.254.0.0/16 contains the link-local range and 169.254.169.254, the
  // metadata endpoint of AWS, GCP, Azure and others.
  return (address.to_uint() >> 16) == 0xA9FE;
}

ip::address_v4 embedded_v4(const ip::address_v6::bytes_type& bytes) {
  return ip::address_v4{
      ip::address_v4::bytes_type{bytes[12], bytes[13], bytes[14], bytes[15]}};
}

bool has_prefix(const ip::address_v6::bytes_type& bytes,
                std::initializer_list<unsigned char> prefix) {
  return std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

// Host names of cloud metadata services that must not be used even when a
// local resolver maps them somewhere harmless.
bool is_metadata_name(std::string_view name) {
  return name == "metadata.google.internal";
}

// Letters, digits, '-', '.' and '_' (found in container service names).
bool is_host_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
         || c == '.' || c == '_';
}

std::string to_lower_ascii(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return text;
}

std::string base64(std::string_view data) {
  std::string result(4 * ((data.size() + 2) / 3), '\0');
  auto written
      = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(result.data()),
                        reinterpret_cast<const unsigned char*>(data.data()),
                        static_cast<int>(data.size()));
  result.resize(static_cast<std::size_t>(written));
  return result;
}

// Reads a host name the way the system resolver would: a name that
// inet_aton accepts ("2852039166", "0xa9.0xfe.0xa9.0xfe", "127.1") is an
// IPv4 address and gets its dotted form. Fills `out.host`.
std::optional<webhook_url_error> read_host_name(std::string decoded,
                                                webhook_target& out) {
  auto name = to_lower_ascii(std::move(decoded));
  if (!name.empty() && name.back() == '.')
    name.pop_back();
  if (name.empty())
    return rejected("webhook URL has no host");
  if (!std::all_of(name.begin(), name.end(), is_host_name_char))
    return rejected("webhook URL host contains characters other than "
                    "letters, digits, '-', '.' and '_'");
  if (name.front() == '.' || name.back() == '.'
      || name.find("..") != std::string::npos)
    return rejected("webhook URL host " + name + " has an empty label");
  if (is_metadata_name(name))
    return rejected("webhook URL host " + name
                    + " is a cloud metadata endpoint");
  in_addr numeric{};
  if (inet_aton(name.c_str(), &numeric) != 0) {
    ip::address_v4 address{ntohl(numeric.s_addr)};
    name = address.to_string();
  }
  // Boost.URL 1.81 reads the start of a name such as `18.254.1.26h` as an
  // IPv4 address, so such a name, reached through percent-encoding, would
  // make a URL that is accepted but cannot be written back.
  if (!boost::urls::parse_authority(name))
    return rejected("webhook URL host " + name + " is not a valid host name");
  out.host = std::move(name);
  return std::nullopt;
}

std::optional<webhook_url_error> read_host(const boost::urls::url_view& url,
                                           webhook_target& out) {
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
      out.host = ip::address_v4{url.host_ipv4_address().to_uint()}.to_string();
      return std::nullopt;
    case boost::urls::host_type::ipv6:
      out.host = ip::address_v6{url.host_ipv6_address().to_bytes()}.to_string();
      return std::nullopt;
    case boost::urls::host_type::name:
      return read_host_name(url.host(), out);
    case boost::urls::host_type::none:
      return rejected("webhook URL has no host");
    default:
      return rejected("webhook URL host must be a name or an IP address");
  }
}

std::optional<webhook_url_error> read_port(const boost::urls::url_view& url,
                                           webhook_target& out) {
  std::uint16_t default_port = out.scheme == "https" ? 443 : 80;
  out.port = default_port;
  if (!url.has_port() || url.port().empty())
    return std::nullopt;
  auto text = url.port();
  unsigned value = 0;
  auto [end, ec]
      = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0
      || value > 65535)
    return rejected("webhook URL port must be a number from 1 to 65535");
  out.port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

std::optional<webhook_url_error>
read_user_info(const boost::urls::url_view& url, webhook_target& out) {
  if (!url.has_userinfo())
    return std::nullopt;
  auto user = url.user();
  auto password = url.password();
  if (user.empty() && password.empty())
    return std::nullopt;
  // Basic authentication separates the user name from the password with
  // the first colon, so the name itself cannot contain one.
  if (user.find(':') != std::string::npos)
    return rejected("webhook URL user name must not contain ':'");
  out.authorization = "Basic " + base64(user + ':' + password);
  return std::nullopt;
}

std::optional<webhook_url_error> check_host(const webhook_target& target) {
  boost::system::error_code ec;
  auto address = ip::make_address(target.host, ec);
  if (ec || !is_refused_address(address))
    return std::nullopt;
  return rejected("webhook URL host " + target.host
                  + " is a link-local or cloud metadata address");
}

void fill_derived_fields(const boost::urls::url_view& url,
                         webhook_target& out) {
  out.target = url.encoded_path().empty() ? "/" : url.encoded_path();
  if (url.has_query()) {
    out.target += '?';
    out.target += url.encoded_query();
  }
  auto is_v6 = url.host_type() == boost::urls::host_type::ipv6;
  out.host_header = is_v6 ? "[" + out.host + "]" : out.host;
  if (out.port != (out.is_https() ? 443 : 80))
    out.host_header += ":" + std::to_string(out.port);
  out.redacted = out.scheme + "://" + out.host_header;
  // `@` in the path is shown encoded, so that no redacted URL looks as if
  // it carried user info.
  std::string path = url.encoded_path().empty()
                         ? std::string{"/"}
                         : std::string{url.encoded_path()};
  for (char c : path)
    out.redacted += c == '@' ? std::string{"%40"} : std::string(1, c);
}

} // namespace

void throw_exception_from_error(const webhook_url_error& e,
                                const boost::source_location&) {
  throw std::invalid_argument(e.message);
}

url_result parse_webhook_url(std::string_view text) {
  if (text.empty())
    return rejected("webhook URL is empty");
  if (text.size() > max_webhook_url_size)
    return rejected("webhook URL is longer than 2048 bytes");
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed)
    return rejected("webhook URL is not a valid URL; expected "
                    "http[s]://host[:port]/path");
  const auto& url = *parsed;
  webhook_target out;
  switch (url.scheme_id()) {
    case boost::urls::scheme::http:
      out.scheme = "http";
      break;
    case boost::urls::scheme::https:
      out.scheme = "https";
      break;
    default:
      return rejected("webhook URL must start with http:// or https://");
  }
  if (url.has_fragment())
    return rejected("webhook URL must not have a fragment (#...)");
  if (!url.has_authority())
    return rejected("webhook URL has no host");
  for (auto step : {read_host, read_port, read_user_info})
    if (auto error = step(url, out))
      return *error;
  if (auto error = check_host(out))
    return *error;
  // Boost.URL 1.81 takes some malformed authorities, such as
  // `http://user:x` and `http://10.0.0.1./`, as a host followed by a path
  // without its `/`. A path that starts with `//` comes from a typo such as
  // a doubled `http://` and would show what looks like user info in logs.
  auto path = url.encoded_path();
  if ((!path.empty() && !path.starts_with('/')) || path.starts_with("//"))
    return rejected("webhook URL is not a valid URL; expected "
                    "http[s]://host[:port]/path");
  fill_derived_fields(url, out);
  return out;
}

bool is_refused_address(const ip::address& address) noexcept {
  if (address.is_v4())
    return is_refused_v4(address.to_v4());
  auto bytes = address.to_v6().to_bytes();
  // fe80::/10, link-local.
  if (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80)
    return true;
  // fd00:ec2::254, the IPv6 metadata endpoint of AWS.
  static constexpr ip::address_v6::bytes_type aws_metadata{
      0xFD, 0x00, 0x0E, 0xC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (bytes == aws_metadata)
    return true;
  // IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64
  // (64:ff9b::/96) addresses reach the embedded IPv4 address.
  constexpr unsigned char z = 0;
  if (has_prefix(bytes, {z, z, z, z, z, z, z, z, z, z, 0xFF, 0xFF})
      || has_prefix(bytes, {z, z, z, z, z, z, z, z, z, z, z, z})
      || has_prefix(bytes, {z, 0x64, 0xFF, 0x9B, z, z, z, z, z, z, z, z}))
    return is_refused_v4(embedded_v4(bytes));
  return false;
}

} // namespace pilot::protocol
