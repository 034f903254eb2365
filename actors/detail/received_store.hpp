#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace pilot::actors::detail {

/// Maximum size of a safe file name in bytes, extension included. With the `-`
/// and timestamp (20 bytes) and a collision suffix of up to 5 bytes, a saved
/// name stays within the 255 bytes that Linux filesystems allow.
inline constexpr std::size_t max_safe_name_size = 200;

/// Maximum size in bytes of an extension that a cut name keeps whole.
inline constexpr std::size_t max_kept_extension_size = 32;

/// Returns a sender's file name made safe to save. Only its final path
/// element is kept. Control characters (NUL included) become `_`, and bytes
/// that are not UTF-8 become U+FFFD. An empty name, `.` and `..` become
/// `file`. A longer name is cut between whole characters to
/// `max_safe_name_size` bytes, keeping an extension of up to
/// `max_kept_extension_size` bytes. The result never contains `/`.
std::string safe_file_name(std::string_view name);

/// Formats `time` in local time as `YYYYMMDD-HHMMSS.mmm`, the timestamp in
/// saved names.
std::string file_timestamp(std::chrono::system_clock::time_point time);

/// Formats `time` in local time as RFC 3339 with seconds, as Go's
/// `time.RFC3339` writes it: `2026-02-27T15:03:44+02:00`, or `Z` for UTC.
std::string rfc3339_seconds(std::chrono::system_clock::time_point time);

/// A file saved to the received folder.
struct saved_file {
  /// The safe name (`safe_file_name`), without the timestamp.
  std::string name;
  /// The absolute path of the saved file.
  std::filesystem::path path;
};

/// Saves what the data exchange service receives under a data directory:
/// messages to `inbox/<TYPE>-<YYYYMMDD-HHMMSS.mmm>.json` and files to
/// `received/<base>-<YYYYMMDD-HHMMSS.mmm><ext>`, in local time. Each file
/// is 0600, written completely before it appears, and never replaces an
/// earlier one. A name that is already taken gets `-1`, `-2`, ... before
/// its extension. Missing folders are created with mode 0700.
///
/// Each save writes and flushes up to 16 MiB to disk, so it blocks the
/// calling thread for that long.
class received_store {
public:
  using clock_type = std::chrono::system_clock;

  /// Creates a store below `data_dir`, which is made absolute. `now` (the
  /// system clock when empty) stamps the names and `received_at`.
  explicit received_store(std::filesystem::path data_dir,
                          std::function<clock_type::time_point()> now = {});

  /// Saves one message as the Go reference's inbox JSON object: `bytes`,
  /// `data` (the payload as a string, with each byte that is not UTF-8 as
  /// U+FFFD), `from`, `received_at` and `type`, keys sorted as Go writes
  /// them. A `BINARY` message also gets `data_base64`, the payload in
  /// standard base64, so that its bytes are kept exactly. Returns the path
  /// of the saved file.
  boost::system::result<std::filesystem::path>
  save_message(std::string_view type_name, std::string_view from,
               std::string_view payload);

  /// Saves one file under the safe form of `name`.
  boost::system::result<saved_file> save_file(std::string_view name,
                                              std::string_view data);

  /// Returns the folder of saved messages.
  const std::filesystem::path& inbox_dir() const noexcept { return inbox_dir_; }

  /// Returns the folder of saved files.
  const std::filesystem::path& received_dir() const noexcept {
    return received_dir_;
  }

private:
  std::filesystem::path inbox_dir_;
  std::filesystem::path received_dir_;
  std::function<clock_type::time_point()> now_;
};

} // namespace pilot::actors::detail
