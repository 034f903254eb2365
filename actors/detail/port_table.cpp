#include "actors/detail/port_table.hpp"

namespace pilot::actors::detail {

namespace {

constexpr std::size_t ephemeral_range_size
    = std::size_t{last_ephemeral_port} - first_ephemeral_port + 1;

} // namespace

bool port_table::bind(std::uint16_t port, std::uint64_t owner) {
  return bound_.emplace(port, owner).second;
}

void port_table::unbind(std::uint16_t port) {
  bound_.erase(port);
}

std::vector<std::uint16_t> port_table::unbind_owner(std::uint64_t owner) {
  std::vector<std::uint16_t> released;
  for (auto i = bound_.begin(); i != bound_.end();) {
    if (i->second == owner) {
      released.push_back(i->first);
      i = bound_.erase(i);
    } else {
      ++i;
    }
  }
  return released;
}

std::optional<std::uint64_t> port_table::owner(std::uint16_t port) const {
  if (auto i = bound_.find(port); i != bound_.end())
    return i->second;
  return std::nullopt;
}

std::optional<std::uint16_t> port_table::allocate_ephemeral(
    const std::function<bool(std::uint16_t)>& in_use) {
  for (std::size_t tries = 0; tries < ephemeral_range_size; ++tries) {
    auto port = next_ephemeral_;
    // Wrap before the 16-bit counter can overflow into the well-known ports.
    next_ephemeral_ = port == last_ephemeral_port
                          ? first_ephemeral_port
                          : static_cast<std::uint16_t>(port + 1);
    if (!is_bound(port) && !in_use(port))
      return port;
  }
  return std::nullopt;
}

} // namespace pilot::actors::detail
