#include "protocol/address.hpp"

#include <charconv>
#include <cstdio>

namespace pilot::protocol {

namespace {

// Parses a non-empty run of decimal digits that fits in 16 bits. Go's
// strconv.ParseUint rejects signs and spaces, and so does this.
bool parse_u16_decimal(std::string_view text, std::uint16_t& out) noexcept {
  if (text.empty())
    return false;
  auto first = text.data();
  auto last = first + text.size();
  auto [end, ec] = std::from_chars(first, last, out, 10);
  return ec == std::errc{} && end == last;
}

// Parses exactly 4 hex digits of either case.
bool parse_hex_group(std::string_view text, std::uint16_t& out) noexcept {
  if (text.size() != 4)
    return false;
  std::uint16_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return false;
    value = static_cast<std::uint16_t>(value * 16 + digit);
  }
  out = value;
  return true;
}

} // namespace

std::array<std::uint8_t, address_size> encode_address(address addr) noexcept {
  return {
      static_cast<std::uint8_t>(addr.network >> 8),
      static_cast<std::uint8_t>(addr.network),
      static_cast<std::uint8_t>(addr.node >> 24),
      static_cast<std::uint8_t>(addr.node >> 16),
      static_cast<std::uint8_t>(addr.node >> 8),
      static_cast<std::uint8_t>(addr.node),
  };
}

result<address> decode_address(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.size() < address_size)
    return errc::truncated;
  address addr;
  addr.network = static_cast<std::uint16_t>(bytes[0] << 8 | bytes[1]);
  addr.node = std::uint32_t{bytes[2]} << 24 | std::uint32_t{bytes[3]} << 16
              | std::uint32_t{bytes[4]} << 8 | std::uint32_t{bytes[5]};
  return addr;
}

std::string to_string(address addr) {
  char buf[32];
  auto n = std::snprintf(buf, sizeof(buf), "%u:%04X.%04X.%04X",
                         static_cast<unsigned>(addr.network),
                         static_cast<unsigned>(addr.network),
                         static_cast<unsigned>(addr.node >> 16),
                         static_cast<unsigned>(addr.node & 0xFFFF));
  return std::string(buf, static_cast<std::size_t>(n));
}

result<address> parse_address(std::string_view text) noexcept {
  // Split the decimal network from the three hex groups.
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return errc::invalid_address;
  std::uint16_t network = 0;
  if (!parse_u16_decimal(text.substr(0, colon), network))
    return errc::invalid_address;
  auto groups = text.substr(colon + 1);
  // Exactly "XXXX.XXXX.XXXX": 14 characters with dots at 4 and 9.
  if (groups.size() != 14 || groups[4] != '.' || groups[9] != '.')
    return errc::invalid_address;
  std::uint16_t net_hex = 0;
  std::uint16_t high = 0;
  std::uint16_t low = 0;
  if (!parse_hex_group(groups.substr(0, 4), net_hex)
      || !parse_hex_group(groups.substr(5, 4), high)
      || !parse_hex_group(groups.substr(10, 4), low))
    return errc::invalid_address;
  if (net_hex != network)
    return errc::invalid_address;
  return address{network, std::uint32_t{high} << 16 | low};
}

std::string to_string(const socket_address& addr) {
  auto text = to_string(addr.address);
  text += ':';
  text += std::to_string(addr.port);
  return text;
}

result<socket_address> parse_socket_address(std::string_view text) noexcept {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return errc::invalid_address;
  auto addr = parse_address(text.substr(0, colon));
  if (!addr)
    return addr.error();
  std::uint16_t port = 0;
  if (!parse_u16_decimal(text.substr(colon + 1), port))
    return errc::invalid_address;
  return socket_address{*addr, port};
}

} // namespace pilot::protocol
