#include "control/pilot_config.hpp"

#include "actors/atomic_file.hpp"
#include "control/json_text.hpp"

#include <boost/json/stream_parser.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pilot::control {

namespace {

// Returns the 1-based line of the first syntax error in `text`. simdjson
// reports no position, so Boost.JSON's incremental parser, which stops at
// the first invalid byte, finds it. An error that it does not see, such as
// a number out of simdjson's range, is put on the last line.
std::size_t error_line(std::string_view text) {
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  auto position = parser.write_some(text.data(), text.size(), ec);
  if (!ec && parser.done())
    // A complete value followed by more: the error is where the rest starts.
    position
        = std::min(text.find_first_not_of(" \t\r\n", position), text.size());
  else if (!ec)
    position = text.size();
  auto before = text.substr(0, position);
  if (position == text.size() && before.ends_with('\n'))
    before.remove_suffix(1);
  return static_cast<std::size_t>(
             std::count(before.begin(), before.end(), '\n'))
         + 1;
}

[[noreturn]] void throw_parse_error(const std::filesystem::path& path,
                                    std::size_t line,
                                    std::string_view problem) {
  std::ostringstream message;
  message << "invalid config file " << path.string() << ": line " << line
          << ": " << problem << " (fix or remove the file)";
  throw config_error{message.str()};
}

// Reads the config file without ever blocking: a FIFO or device at the
// path, or a file larger than any config, is an error.
std::string read_file(const std::filesystem::path& path) {
  constexpr std::size_t max_config_size = 1024 * 1024;
  auto fail = [&path](const std::string& problem) {
    return config_error{"cannot read config file " + path.string() + ": "
                        + problem};
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw fail(std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw fail("not a regular file");
  }
  if (static_cast<std::size_t>(info.st_size) > max_config_size) {
    ::close(fd);
    throw fail("larger than 1 MiB");
  }
  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    auto n = ::read(fd, text.data() + filled, text.size() - filled);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    filled += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(filled);
  return text;
}

} // namespace

std::filesystem::path following_links(const std::filesystem::path& path) {
  constexpr int max_links = 8;
  auto current = path;
  for (int i = 0; i < max_links; ++i) {
    std::error_code ec;
    if (!std::filesystem::is_symlink(current, ec))
      return current;
    auto target = std::filesystem::read_symlink(current, ec);
    if (ec)
      return current;
    current = target.is_absolute() ? target : current.parent_path() / target;
  }
  return current;
}

std::filesystem::path pilot_home() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0')
    throw config_error{"HOME is not set, so ~/.pilot cannot be found"};
  return std::filesystem::path{home} / ".pilot";
}

std::filesystem::path pilot_config::default_path() {
  return pilot_home() / "config.json";
}

pilot_config pilot_config::load(const std::filesystem::path& path) {
  pilot_config config{path};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return config;
  auto text = read_file(path);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(text.data(), text.size()).get(root))
    throw_parse_error(path, error_line(text), simdjson::error_message(err));
  if (!root.is_object())
    throw_parse_error(path, 1, "the file must contain one JSON object");
  config.values_ = to_json_value(root).as_object();
  return config;
}

pilot_config::pilot_config(std::filesystem::path path)
    : path_(std::move(path)) {
  // nop
}

std::optional<std::string>
pilot_config::string_value(std::string_view key) const {
  auto i = values_.find(key);
  if (i == values_.end() || !i->value().is_string())
    return std::nullopt;
  return std::string{i->value().get_string()};
}

void pilot_config::set(std::string_view key, boost::json::value value) {
  values_[key] = std::move(value);
}

bool pilot_config::erase(std::string_view key) {
  return values_.erase(key) > 0;
}

std::string pilot_config::to_text() const {
  return to_indented_json(values_) + "\n";
}

void pilot_config::save() const {
  if (auto ec
      = actors::write_file_atomically(following_links(path_), to_text()))
    throw config_error{"cannot write config file " + path_.string() + ": "
                       + ec.message()};
}

config_lock::config_lock(const std::filesystem::path& config_path,
                         std::chrono::milliseconds timeout) {
  auto lock_path = following_links(config_path);
  lock_path += ".lock";
  auto fail = [&lock_path](const std::string& problem) {
    return config_error{"cannot lock config file: " + lock_path.string() + ": "
                        + problem};
  };
  if (auto ec = actors::create_private_directories(lock_path.parent_path()))
    throw fail(ec.message());
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
               0600);
  if (fd_ < 0)
    throw fail(std::strerror(errno));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    auto error = errno;
    if ((error != EWOULDBLOCK && error != EINTR)
        || std::chrono::steady_clock::now() >= deadline) {
      ::close(fd_);
      throw fail(error == EWOULDBLOCK
                     ? "another process has held it for "
                           + std::to_string(timeout.count()) + " ms; try again"
                     : std::string{std::strerror(error)});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

config_lock::config_lock(config_lock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {
  // nop
}

config_lock::~config_lock() {
  // Closing the file releases the lock.
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace pilot::control
