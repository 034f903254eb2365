#include "actors/atomic_file.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>

namespace fs = std::filesystem;
using pilot::actors::write_file_atomically;

namespace {

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "pilot-test-XXXXXX");
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

std::string read_file(const fs::path& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

} // namespace

TEST_CASE("an atomic write creates the file with mode 0600") {
  auto dir = make_temp_dir();
  auto path = dir / "config.json";
  auto old_mask = ::umask(0);
  auto err = write_file_atomically(path, "{}\n");
  ::umask(old_mask);
  REQUIRE_FALSE(err);
  CHECK(read_file(path) == "{}\n");
  CHECK(mode_of(path) == 0600);
  fs::remove_all(dir);
}

TEST_CASE("an atomic write replaces the old content and leaves no temp file") {
  auto dir = make_temp_dir();
  auto path = dir / "identity.json";
  REQUIRE_FALSE(write_file_atomically(path, "old"));
  REQUIRE_FALSE(write_file_atomically(path, "new content"));
  CHECK(read_file(path) == "new content");
  auto entries = 0;
  for ([[maybe_unused]] auto& entry : fs::directory_iterator{dir})
    ++entries;
  CHECK(entries == 1);
  fs::remove_all(dir);
}

TEST_CASE("an atomic write creates missing parent directories as 0700") {
  auto dir = make_temp_dir();
  auto path = dir / "a" / "b" / "store.json";
  REQUIRE_FALSE(write_file_atomically(path, "x"));
  CHECK(read_file(path) == "x");
  CHECK(mode_of(dir / "a") == 0700);
  CHECK(mode_of(dir / "a" / "b") == 0700);
  fs::remove_all(dir);
}

TEST_CASE("an atomic write into an unwritable place fails and keeps the file") {
  auto dir = make_temp_dir();
  auto path = dir / "keep.json";
  REQUIRE_FALSE(write_file_atomically(path, "keep"));
  // A path whose parent is a regular file cannot be created.
  auto err = write_file_atomically(path / "child", "lost");
  CHECK(err);
  CHECK(read_file(path) == "keep");
  fs::remove_all(dir);
}

TEST_CASE("an atomic write keeps a replaced file's group-read mode") {
  auto dir = make_temp_dir();
  auto path = dir / "config.json";
  REQUIRE_FALSE(write_file_atomically(path, "old"));
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  REQUIRE_FALSE(write_file_atomically(path, "new"));
  CHECK(read_file(path) == "new");
  CHECK(mode_of(path) == 0640);
  fs::remove_all(dir);
}

TEST_CASE("an atomic write drops access for others from a replaced file") {
  auto dir = make_temp_dir();
  auto path = dir / "config.json";
  REQUIRE_FALSE(write_file_atomically(path, "old"));
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  REQUIRE_FALSE(write_file_atomically(path, "new"));
  CHECK(mode_of(path) == 0640);
  fs::remove_all(dir);
}
