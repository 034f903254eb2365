#include "control/daemon_process.hpp"

#include "control/cli_output.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace pilot::control::cli {

namespace {

constexpr const char* daemon_name = "pilot-daemon";

// Polling interval while waiting for a process to end.
constexpr auto poll_interval = std::chrono::milliseconds{200};

bool is_executable(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec)
         && ::access(path.c_str(), X_OK) == 0;
}

std::vector<char*> make_argv(const std::filesystem::path& binary,
                             const std::vector<std::string>& args,
                             std::string& program) {
  program = binary.string();
  std::vector<char*> argv;
  argv.reserve(args.size() + 2);
  argv.push_back(program.data());
  for (const auto& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  return argv;
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

} // namespace

std::optional<pid_t> read_pid_file(const std::filesystem::path& pid_file) {
  std::ifstream in{pid_file};
  long long value = 0;
  if (!(in >> value) || value <= 0 || value > INT32_MAX)
    return std::nullopt;
  return static_cast<pid_t>(value);
}

bool is_daemon_running(pid_t pid) {
  if (pid <= 0 || !process_exists(pid))
    return false;
  std::ifstream comm{"/proc/" + std::to_string(pid) + "/comm"};
  std::string name;
  // Without /proc the name cannot be checked; trust the PID file then.
  if (!comm || !std::getline(comm, name))
    return true;
  return name == daemon_name;
}

std::filesystem::path find_daemon_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto candidate = self.parent_path() / daemon_name;
    if (is_executable(candidate))
      return candidate;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs{path != nullptr ? path : ""};
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty())
      continue;
    auto candidate = std::filesystem::path{dir} / daemon_name;
    if (is_executable(candidate))
      return candidate;
  }
  return {};
}

pid_t spawn_daemon(const std::filesystem::path& binary,
                   const std::vector<std::string>& args,
                   const std::filesystem::path& log_file) {
  int log_fd = ::open(log_file.c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log_fd < 0)
    throw error{code::internal, "cannot open log file " + log_file.string()
                                    + ": " + std::strerror(errno)};
  // An older log file may have been created with looser permissions.
  ::fchmod(log_fd, 0600);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::string program;
  auto argv = make_argv(binary, args, program);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    if (null_fd >= 0)
      ::close(null_fd);
    throw error{code::internal,
                std::string{"cannot start the daemon: fork failed: "}
                    + std::strerror(err)};
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    ::setsid();
    if (null_fd >= 0)
      ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(program.c_str(), argv.data());
    constexpr char message[] = "pilotctl: cannot execute pilot-daemon\n";
    [[maybe_unused]] auto written
        = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  if (null_fd >= 0)
    ::close(null_fd);
  return pid;
}

void exec_daemon(const std::filesystem::path& binary,
                 const std::vector<std::string>& args) {
  std::string program;
  auto argv = make_argv(binary, args, program);
  ::execv(program.c_str(), argv.data());
  throw error{code::internal,
              "cannot execute " + program + ": " + std::strerror(errno)};
}

std::optional<int> child_exit_status(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid)
    return std::nullopt;
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return std::nullopt;
}

bool terminate_process(pid_t pid, std::chrono::milliseconds grace) {
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    // Reap the process in case it is our own child.
    child_exit_status(pid);
    if (!process_exists(pid))
      return false;
    std::this_thread::sleep_for(poll_interval);
  }
  ::kill(pid, SIGKILL);
  return true;
}

std::string last_log_line(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return {};
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(in.tellg());
  auto start = size > 4096 ? size - 4096 : 0;
  in.seekg(start);
  std::string tail{std::istreambuf_iterator<char>{in},
                   std::istreambuf_iterator<char>{}};
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r'))
    tail.pop_back();
  auto newline = tail.rfind('\n');
  return newline == std::string::npos ? tail : tail.substr(newline + 1);
}

} // namespace pilot::control::cli
