#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>

/// Temporary folders, file reading and time zone switching for the tests of
/// the parts that write files.
namespace pilot::test {

/// Sets the process's time zone (the `TZ` variable) for one test and
/// restores it after.
class time_zone_scope {
public:
  explicit time_zone_scope(const char* zone) {
    if (const char* old = std::getenv("TZ"))
      old_ = old;
    ::setenv("TZ", zone, 1);
    ::tzset();
  }

  ~time_zone_scope() {
    if (old_)
      ::setenv("TZ", old_->c_str(), 1);
    else
      ::unsetenv("TZ");
    ::tzset();
  }

  time_zone_scope(const time_zone_scope&) = delete;
  time_zone_scope& operator=(const time_zone_scope&) = delete;

private:
  std::optional<std::string> old_;
};

/// Creates a new, empty folder below the system's temporary directory and
/// returns its path. The caller removes it.
inline std::filesystem::path make_temp_dir() {
  std::string pattern
      = std::filesystem::temp_directory_path() / "pilot-test-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

/// A new, empty folder below the system's temporary directory, removed with
/// its contents when the object goes.
struct temp_dir {
  temp_dir() : path(make_temp_dir()) {}

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::filesystem::path path;
};

/// Returns the bytes of the file at `path`, or an empty string if it cannot
/// be read.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace pilot::test
