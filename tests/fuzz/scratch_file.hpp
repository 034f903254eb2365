#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

/// A file in a private temporary directory that a fuzz target rewrites
/// with each input, for parsers that read from a path. The directory is
/// removed when the process exits normally.
namespace pilot::fuzz {

class scratch_file {
public:
  /// Creates the directory; `name` is the file's name inside it.
  explicit scratch_file(std::string_view name) {
    std::string pattern
        = (std::filesystem::temp_directory_path() / "pilot-fuzz-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr)
      std::abort();
    directory_ = pattern;
    path_ = directory_ / name;
  }

  ~scratch_file() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  scratch_file(const scratch_file&) = delete;
  scratch_file& operator=(const scratch_file&) = delete;

  /// Replaces the file's contents with `text`.
  void write(std::string_view text) const {
    std::ofstream out{path_, std::ios::binary | std::ios::trunc};
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out)
      std::abort();
  }

  const std::filesystem::path& directory() const noexcept { return directory_; }

  const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path directory_;
  std::filesystem::path path_;
};

} // namespace pilot::fuzz
