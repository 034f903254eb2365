#pragma once

#include <boost/system/error_code.hpp>

#include <filesystem>
#include <string_view>

namespace pilot::actors {

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

} // namespace pilot::actors
