#include "control/socket_file.hpp"

#include "control/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace pilot::control {

namespace {

using stream_protocol = boost::asio::local::stream_protocol;

std::string errno_text(int err) {
  return std::strerror(err);
}

caf::error socket_failed(const std::filesystem::path& path,
                         std::string_view cause) {
  std::string text = "cannot create control socket ";
  text += path.string();
  text += ": ";
  text += cause;
  return caf::make_error(errc::socket_failed, std::move(text));
}

caf::error socket_in_use(const std::filesystem::path& path) {
  return caf::make_error(errc::socket_in_use,
                         "socket in use: " + path.string()
                             + " (a daemon is listening on it)");
}

// Removes the temporary directory and socket link of a bind attempt.
struct temporary_socket_dir {
  std::string dir;
  std::filesystem::path socket_path;

  ~temporary_socket_dir() {
    if (!socket_path.empty())
      ::unlink(socket_path.c_str());
    if (!dir.empty())
      ::rmdir(dir.c_str());
  }
};

// Refuses a live socket or another file at `path` and removes a stale
// socket, so that the path is free for this daemon.
caf::error clear_socket_path(const std::filesystem::path& path) {
  switch (probe_socket(path)) {
    case socket_state::live:
      return socket_in_use(path);
    case socket_state::other:
      return socket_failed(path, "the path exists and is not a socket");
    case socket_state::stale:
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return socket_failed(path, "cannot remove the stale socket: "
                                       + errno_text(errno));
      return caf::none;
    case socket_state::absent:
      return caf::none;
  }
  return caf::none;
}

// Makes `path` name the bound socket at `socket_path`, never replacing a
// file that is there. Removes one stale socket that got in the way.
caf::error link_into_place(const std::filesystem::path& socket_path,
                           const std::filesystem::path& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::link(socket_path.c_str(), path.c_str()) == 0)
      return caf::none;
    if (errno != EEXIST)
      return socket_failed(path, errno_text(errno));
    if (auto err = clear_socket_path(path))
      return err;
  }
  return socket_failed(path, "another process keeps creating the path");
}

} // namespace

socket_state probe_socket(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? socket_state::absent : socket_state::other;
  if (!S_ISSOCK(st.st_mode))
    return socket_state::other;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const auto& text = path.native();
  if (text.size() >= sizeof(address.sun_path))
    return socket_state::other;
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return socket_state::other;
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address),
                     sizeof(address));
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  switch (err) {
    case ECONNREFUSED:
      return socket_state::stale;
    case ENOENT:
      return socket_state::absent;
    default:
      // Connected, a full backlog (EAGAIN) or a socket of another user
      // (EACCES): someone owns it, so it must not be removed.
      return socket_state::live;
  }
}

caf::expected<socket_file>
bind_private_socket(stream_protocol::acceptor& acceptor,
                    const std::filesystem::path& path) {
  // Step 1: refuse a live socket and clear a stale one.
  if (auto err = clear_socket_path(path))
    return err;
  // Step 2: bind inside a private directory on the same file system.
  auto parent = path.parent_path();
  if (parent.empty())
    parent = ".";
  temporary_socket_dir scratch;
  std::string dir_template = (parent / ".pilot-sock-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr)
    return socket_failed(path, "cannot create a temporary directory in "
                                   + parent.string() + ": "
                                   + errno_text(errno));
  scratch.dir = dir_template;
  auto bound_path = std::filesystem::path{scratch.dir} / "s";
  if (bound_path.native().size() >= sizeof(sockaddr_un::sun_path))
    return socket_failed(path, "the path is too long for a Unix socket");
  boost::system::error_code ec;
  acceptor.open(stream_protocol{}, ec);
  if (!ec)
    acceptor.bind(stream_protocol::endpoint{bound_path.native()}, ec);
  if (ec) {
    acceptor.close();
    return socket_failed(path, ec.message());
  }
  scratch.socket_path = bound_path;
  if (::chmod(bound_path.c_str(), S_IRUSR | S_IWUSR) != 0) {
    acceptor.close();
    return socket_failed(path,
                         "cannot restrict its mode: " + errno_text(errno));
  }
  acceptor.listen(stream_protocol::acceptor::max_listen_connections, ec);
  if (ec) {
    acceptor.close();
    return socket_failed(path, ec.message());
  }
  // Step 3: publish the socket under its real name.
  if (auto err = link_into_place(bound_path, path)) {
    acceptor.close();
    return err;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    acceptor.close();
    return socket_failed(path, errno_text(errno));
  }
  return socket_file{path, st.st_dev, st.st_ino};
}

void remove_socket_file(const socket_file& file) noexcept {
  struct stat st {};
  if (::lstat(file.path.c_str(), &st) != 0)
    return;
  if (st.st_dev == file.device && st.st_ino == file.inode)
    ::unlink(file.path.c_str());
}

} // namespace pilot::control
