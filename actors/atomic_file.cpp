#include "actors/atomic_file.hpp"

#include <boost/system/errc.hpp>

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace pilot::actors {

namespace {

boost::system::error_code last_error() {
  return {errno, boost::system::system_category()};
}

boost::system::error_code write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    auto n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return last_error();
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Returns the mode for the file at `fd` that replaces `old`, after giving it
// the owner and group of `old`. Changes this process may not make are
// skipped, so the file then belongs to the writer, as a new file would.
mode_t take_over_ownership(int fd, const struct stat& old) {
  if (::fchown(fd, old.st_uid, old.st_gid) != 0) {
    if (::fchown(fd, static_cast<uid_t>(-1), old.st_gid) != 0) {
      // Not a member of that group: keep the writer's group.
    }
  }
  return (old.st_mode & 0660) | 0600;
}

std::filesystem::path temporary_name(const std::filesystem::path& path) {
  std::random_device rd;
  auto name = path.filename().string() + ".tmp-" + std::to_string(::getpid())
              + "-" + std::to_string(rd());
  return path.parent_path() / name;
}

// Returns whether `name` is exactly one path element inside a directory.
bool is_single_element(const std::string& name) {
  return !name.empty() && name != "." && name != ".."
         && name.find('/') == std::string::npos
         && name.find('\0') == std::string::npos;
}

// Moves `from` to `to` in the directory `dir_fd` unless `to` exists.
// Returns 0 or the errno value, EEXIST when `to` exists.
int move_no_replace(int dir_fd, const char* from, const char* to) {
  if (::renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return errno;
  // The filesystem lacks RENAME_NOREPLACE. A hard link fails as well when
  // the target exists.
  if (::linkat(dir_fd, from, dir_fd, to, 0) != 0)
    return errno;
  ::unlinkat(dir_fd, from, 0);
  return 0;
}

// Writes `content` to the new file `name` in `dir_fd`, flushed to disk.
boost::system::error_code write_temporary(int dir_fd, const std::string& name,
                                          std::string_view content,
                                          mode_t mode) {
  auto fd
      = ::openat(dir_fd, name.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return last_error();
  boost::system::error_code err;
  // The umask may have narrowed the mode; set it exactly.
  if (::fchmod(fd, mode) != 0)
    err = last_error();
  if (!err)
    err = write_all(fd, content);
  if (!err && ::fsync(fd) != 0)
    err = last_error();
  if (::close(fd) != 0 && !err)
    err = last_error();
  if (err)
    ::unlinkat(dir_fd, name.c_str(), 0);
  return err;
}

} // namespace

boost::system::error_code
create_private_directories(const std::filesystem::path& dir) {
  if (dir.empty())
    return {};
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec))
    return {};
  auto parent = dir.parent_path();
  if (parent != dir)
    if (auto err = create_private_directories(parent))
      return err;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return last_error();
  return {};
}

boost::system::result<std::string>
write_new_file(const std::filesystem::path& dir,
               const std::function<std::string(unsigned attempt)>& name_for,
               std::string_view content, unsigned max_attempts,
               std::filesystem::perms mode) {
  if (auto err = create_private_directories(dir))
    return err;
  auto dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return last_error();
  std::random_device rd;
  auto tmp = ".new-" + std::to_string(::getpid()) + "-" + std::to_string(rd())
             + ".tmp";
  boost::system::result<std::string> result
      = make_error_code(boost::system::errc::file_exists);
  if (auto err
      = write_temporary(dir_fd, tmp, content, static_cast<mode_t>(mode))) {
    ::close(dir_fd);
    return err;
  }
  for (unsigned attempt = 0; attempt < max_attempts; ++attempt) {
    auto name = name_for(attempt);
    if (!is_single_element(name)) {
      result = make_error_code(boost::system::errc::invalid_argument);
      break;
    }
    auto rc = move_no_replace(dir_fd, tmp.c_str(), name.c_str());
    if (rc == EEXIST)
      continue;
    if (rc == 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
      return name;
    }
    result = boost::system::error_code{rc, boost::system::system_category()};
    break;
  }
  ::unlinkat(dir_fd, tmp.c_str(), 0);
  ::close(dir_fd);
  return result;
}

boost::system::error_code
write_file_atomically(const std::filesystem::path& path,
                      std::string_view content, std::filesystem::perms mode) {
  auto dir = path.parent_path();
  if (auto err = create_private_directories(dir))
    return err;
  auto tmp = temporary_name(path);
  auto fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                   static_cast<mode_t>(mode));
  if (fd < 0)
    return last_error();
  auto fail = [&](boost::system::error_code err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  };
  auto final_mode = static_cast<mode_t>(mode);
  struct stat old {};
  if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode))
    final_mode = take_over_ownership(fd, old);
  // The umask may have narrowed the mode; set it exactly.
  if (::fchmod(fd, final_mode) != 0)
    return fail(last_error());
  if (auto err = write_all(fd, content))
    return fail(err);
  if (::fsync(fd) != 0)
    return fail(last_error());
  if (::close(fd) != 0) {
    auto err = last_error();
    ::unlink(tmp.c_str());
    return err;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = last_error();
    ::unlink(tmp.c_str());
    return err;
  }
  auto dir_fd = ::open(dir.empty() ? "." : dir.c_str(),
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

} // namespace pilot::actors
