#pragma once

#include "protocol/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace pilot::control {

/// Sends one JSON request body to the registry at `address` (`host:port`)
/// over a new TCP connection and returns the response body. The whole
/// exchange, name resolution included, must finish within `timeout`;
/// otherwise it fails with `boost::asio::error::timed_out`. Fails with the
/// resolver's or socket's error, or a registry frame error, otherwise.
protocol::result<std::string>
registry_request(const std::string& address, std::string_view body,
                 std::chrono::milliseconds timeout);

} // namespace pilot::control
