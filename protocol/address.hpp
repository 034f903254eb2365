#pragma once

#include "protocol/error.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pilot::protocol {

/// A 48-bit overlay address: a 16-bit network ID and a 32-bit node ID.
/// Network 0 is the backbone that every node belongs to.
struct address {
  std::uint16_t network = 0;
  std::uint32_t node = 0;

  friend auto operator<=>(const address&, const address&) = default;
};

/// Size of an address in its binary form.
inline constexpr std::size_t address_size = 6;

/// The node ID that addresses every node of a network.
inline constexpr std::uint32_t broadcast_node = 0xFFFFFFFF;

/// An address plus a virtual port, written `N:NNNN.HHHH.LLLL:port`.
struct socket_address {
  protocol::address address;
  std::uint16_t port = 0;

  friend auto operator<=>(const socket_address&, const socket_address&)
      = default;
};

/// Encodes `addr` as 6 bytes: network then node, both big-endian.
std::array<std::uint8_t, address_size> encode_address(address addr) noexcept;

/// Decodes the first 6 bytes of `bytes`; `errc::truncated` when shorter.
result<address> decode_address(std::span<const std::uint8_t> bytes) noexcept;

/// Formats `addr` as `N:NNNN.HHHH.LLLL`: the network in decimal, the same
/// network in 4 hex digits, then the node's high and low 16 bits. Hex digits
/// are upper-case.
std::string to_string(address addr);

/// Parses `N:NNNN.HHHH.LLLL`. The text is split at the first ':'; the
/// decimal part must fit in 16 bits; exactly 3 dot-separated groups of exactly
/// 4 hex digits (either case) must follow, and the first group must equal the
/// decimal network. Returns `errc::invalid_address` otherwise.
result<address> parse_address(std::string_view text) noexcept;

/// Formats `addr` as `N:NNNN.HHHH.LLLL:port`.
std::string to_string(const socket_address& addr);

/// Parses `<address>:<port>`, split at the last ':', with a decimal 16-bit
/// port. Returns `errc::invalid_address` when either part is invalid.
result<socket_address> parse_socket_address(std::string_view text) noexcept;

} // namespace pilot::protocol
