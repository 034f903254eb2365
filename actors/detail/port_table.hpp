#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

/// The node's bound ports and its ephemeral port allocator.
namespace pilot::actors::detail {

/// Owner ID of the ports that built-in services bind. IPC client IDs start
/// at 1, so no client owns a port under this ID.
inline constexpr std::uint64_t builtin_owner = 0;

/// First port of the ephemeral range.
inline constexpr std::uint16_t first_ephemeral_port = 49152;

/// Last port of the ephemeral range.
inline constexpr std::uint16_t last_ephemeral_port = 65535;

/// Bound ports with the ID of the owner that bound each one, and a
/// round-robin allocator of ephemeral ports.
class port_table {
public:
  /// Creates an empty table whose ephemeral allocator starts at `first`,
  /// or at 49152 when `first` lies below the range.
  explicit port_table(std::uint16_t first = first_ephemeral_port) noexcept
      : next_ephemeral_(first < first_ephemeral_port ? first_ephemeral_port
                                                     : first) {}

  /// Binds `port` for `owner`. Returns false when the port is bound already.
  /// Port 0 is bound literally, not allocated.
  bool bind(std::uint16_t port, std::uint64_t owner);

  /// Releases `port`. Releasing a free port does nothing.
  void unbind(std::uint16_t port);

  /// Releases every port that `owner` bound and returns them.
  std::vector<std::uint16_t> unbind_owner(std::uint64_t owner);

  /// Returns the owner of `port`, or nothing when it is free.
  std::optional<std::uint64_t> owner(std::uint16_t port) const;

  /// Returns whether `port` is bound.
  bool is_bound(std::uint16_t port) const { return bound_.contains(port); }

  /// Returns the number of bound ports.
  std::size_t size() const noexcept { return bound_.size(); }

  /// Returns the next port of 49152-65535 after the previous one that is
  /// neither bound nor `in_use`, wrapping from 65535 back to 49152. Returns
  /// nothing when every port of the range is taken. Never returns a port
  /// outside the range.
  std::optional<std::uint16_t>
  allocate_ephemeral(const std::function<bool(std::uint16_t)>& in_use);

private:
  std::unordered_map<std::uint16_t, std::uint64_t> bound_;
  std::uint16_t next_ephemeral_;
};

} // namespace pilot::actors::detail
