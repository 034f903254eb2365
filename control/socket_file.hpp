#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <filesystem>
#include <sys/types.h>

namespace pilot::control {

/// The kind of file at a control socket path.
enum class socket_state {
  absent, ///< Nothing.
  stale,  ///< A socket file on which nothing listens.
  live,   ///< A socket file on which a server accepts connections.
  other,  ///< Something else, or a path that cannot be inspected.
};

/// Returns the kind of file at `path` without changing it, by connecting to it
/// when it is a socket. Never blocks: a full listen backlog counts as live.
socket_state probe_socket(const std::filesystem::path& path);

/// A socket file this process created, identified by device and inode so
/// that only this file is removed, never one that replaced it.
struct socket_file {
  std::filesystem::path path;
  dev_t device = 0;
  ino_t inode = 0;
};

/// Binds `acceptor` to the Unix socket `path` and listens. The socket file
/// has mode 0600 from its first moment: it is bound inside a fresh 0700
/// directory next to `path`, restricted, and then hard-linked into place,
/// which fails rather than replace a file that appeared meanwhile. A stale
/// socket file is removed first. Fails with `errc::socket_in_use` when a
/// server accepts connections on `path`, and with `errc::socket_failed`
/// otherwise; the error's context names the path and the cause.
caf::expected<socket_file>
bind_private_socket(boost::asio::local::stream_protocol::acceptor& acceptor,
                    const std::filesystem::path& path);

/// Removes `file.path` if it is still the file this process created.
void remove_socket_file(const socket_file& file) noexcept;

} // namespace pilot::control
