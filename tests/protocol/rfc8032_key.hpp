#pragma once

#include "protocol/identity.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string_view>

/// The Ed25519 key of RFC 8032, section 7.1, test 1. Tests sign with it so
/// that signatures and golden frames stay the same from run to run.
namespace pilot::test {

/// The private key seed.
inline constexpr std::array<std::uint8_t, 32> rfc8032_seed{
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
    0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
    0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};

/// The public key in standard base64.
inline constexpr std::string_view rfc8032_public_key
    = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// Returns the identity made from `rfc8032_seed`.
inline protocol::identity rfc8032_identity() {
  auto id = protocol::identity::from_seed(rfc8032_seed);
  REQUIRE(id.has_value());
  return *id;
}

} // namespace pilot::test
