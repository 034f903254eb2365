#include "actors/sd_notify.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace fs = std::filesystem;
namespace sd = pilot::actors::sd;

namespace {

/// A datagram socket standing in for the service manager's notify socket:
/// binds in a fresh temporary directory and points `NOTIFY_SOCKET` at it.
class fake_service_manager {
public:
  fake_service_manager() {
    std::string pattern = fs::temp_directory_path() / "pilot-sd-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    path_ = dir_ / "notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path_.native().size() < sizeof(addr.sun_path));
    path_.native().copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    // A missing message fails the test after one second instead of hanging.
    timeval timeout{1, 0};
    REQUIRE(
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout))
        == 0);
    REQUIRE(::setenv("NOTIFY_SOCKET", path_.c_str(), 1) == 0);
  }

  ~fake_service_manager() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fake_service_manager(const fake_service_manager&) = delete;
  fake_service_manager& operator=(const fake_service_manager&) = delete;

  /// Returns the next datagram, or "" when none arrives within a second.
  std::string receive() {
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
  }

private:
  fs::path dir_;
  fs::path path_;
  int fd_ = -1;
};

} // namespace

TEST_CASE("ready sends READY=1 with the status line") {
  fake_service_manager manager;
  CHECK(sd::notify_ready("registered as 0:0000.0000.0005"));
  CHECK(manager.receive() == "READY=1\nSTATUS=registered as 0:0000.0000.0005");
}

TEST_CASE("status sends one STATUS line") {
  fake_service_manager manager;
  CHECK(sd::notify_status("registering with 127.0.0.1:9000"));
  CHECK(manager.receive() == "STATUS=registering with 127.0.0.1:9000");
}

TEST_CASE("status replaces line breaks with spaces") {
  fake_service_manager manager;
  CHECK(sd::notify_status("registry unreachable,\nretrying\r"));
  CHECK(manager.receive() == "STATUS=registry unreachable, retrying ");
}

TEST_CASE("stopping sends STOPPING=1 with the status line") {
  fake_service_manager manager;
  CHECK(sd::notify_stopping("stopping"));
  CHECK(manager.receive() == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("watchdog sends WATCHDOG=1") {
  fake_service_manager manager;
  CHECK(sd::notify_watchdog());
  CHECK(manager.receive() == "WATCHDOG=1");
}

TEST_CASE("notifications without NOTIFY_SOCKET report false") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(sd::notify_ready("registered"));
  CHECK_FALSE(sd::notify_status("registering"));
  CHECK_FALSE(sd::notify_watchdog());
}

TEST_CASE("watchdog interval is half of WATCHDOG_USEC") {
  auto pid = std::to_string(::getpid());
  REQUIRE(::setenv("WATCHDOG_USEC", "3000000", 1) == 0);
  REQUIRE(::setenv("WATCHDOG_PID", pid.c_str(), 1) == 0);
  auto interval = sd::watchdog_interval();
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  REQUIRE(interval.has_value());
  CHECK(interval->count() == 1500000);
}

TEST_CASE("watchdog interval is absent for another process") {
  auto other_pid = std::to_string(::getpid() + 1);
  REQUIRE(::setenv("WATCHDOG_USEC", "3000000", 1) == 0);
  REQUIRE(::setenv("WATCHDOG_PID", other_pid.c_str(), 1) == 0);
  auto interval = sd::watchdog_interval();
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  CHECK_FALSE(interval.has_value());
}

TEST_CASE("watchdog interval is absent without WATCHDOG_USEC") {
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  CHECK_FALSE(sd::watchdog_interval().has_value());
}
