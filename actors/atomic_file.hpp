#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace pilot::actors {

/// Creates `dir` and its missing parents with mode 0700.
boost::system::error_code
create_private_directories(const std::filesystem::path& dir);

/// Replaces `path` with `content` atomically: writes a temporary file in the
/// same directory, flushes it to disk, renames it over `path` and flushes the
/// directory. Readers see the old or the new file, never a mix. A new file
/// gets `mode`. A replaced file keeps its owner and group (where this
/// process may set them) and its mode minus any access for others, so a
/// `root:pilot 0640` file stays readable by its service. Creates missing
/// parent directories with mode 0700. On error the old file is left as it
/// was and the temporary file is removed.
boost::system::error_code write_file_atomically(
    const std::filesystem::path& path, std::string_view content,
    std::filesystem::perms mode
    = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

/// Creates a new file in `dir` with `content` and returns its name. It never
/// replaces a file that exists. It writes a temporary file in `dir`,
/// flushes it to disk and renames it to `name_for(0)`, `name_for(1)`, ...
/// with a rename that fails when the target exists, until one name is free
/// or `max_attempts` names were taken. Readers never see a partial file. Names
/// must be one path element; any other name fails with `invalid_argument`.
/// The file gets `mode`; missing directories are created with mode 0700.
boost::system::result<std::string> write_new_file(
    const std::filesystem::path& dir,
    const std::function<std::string(unsigned attempt)>& name_for,
    std::string_view content, unsigned max_attempts = 1000,
    std::filesystem::perms mode
    = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

} // namespace pilot::actors
