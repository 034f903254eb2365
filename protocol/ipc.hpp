#pragma once

#include "protocol/error.hpp"

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Frames and payloads of the local IPC socket between the daemon and its
/// clients (`pilotctl`, the SDK drivers).
///
/// A frame is `len u32 BE | cmd u8 | payload`, where `len` counts the command
/// byte and the payload and is at most `max_ipc_frame_size`. A frame with
/// `len` 0 carries nothing and is skipped. Integers are big-endian; an
/// address is 6 bytes: network u16, then node u32. Byte buffers are
/// `std::string`s holding raw bytes.
namespace pilot::protocol {

/// Largest value of a frame's length prefix (1 MiB), enforced on read by
/// both sides.
inline constexpr std::size_t max_ipc_frame_size = std::size_t{1} << 20;

/// Size of the big-endian length prefix of an IPC frame.
inline constexpr std::size_t ipc_frame_header_size = 4;

/// Largest payload of one frame: the frame size less the command byte.
inline constexpr std::size_t max_ipc_payload_size = max_ipc_frame_size - 1;

/// Size of an address on the IPC wire.
inline constexpr std::size_t ipc_address_size = 6;

/// The command byte of an IPC frame. The bytes 0x01-0x1E are those of the
/// reference daemon v0.5; a value outside the enumerators is an unknown
/// command, which a daemon answers with `unknown command: 0xNN`.
///
/// The bytes from 0x40 are this daemon's additions. The reference v0.5 stops
/// at 0x1E and its later versions use 0x1F-0x2B, so they clash with neither:
/// - `webhook_stats` (0x40, empty payload) and its reply `webhook_stats_ok`
///   (0x41, JSON object of the webhook counters and settings);
/// - `set_webhook_config` (0x42, a `webhook_config_change` as JSON) and its
///   reply `set_webhook_config_ok` (0x43, `{"webhook": redacted URL}`);
/// - `webhook_test` (0x44, empty payload) and its reply `webhook_test_ok`
///   (0x45, JSON object with the outcome of one test delivery).
enum class ipc_command : std::uint8_t {
  bind = 0x01,
  bind_ok = 0x02,
  dial = 0x03,
  dial_ok = 0x04,
  accept = 0x05,
  send = 0x06,
  recv = 0x07,
  close = 0x08,
  close_ok = 0x09,
  error = 0x0A,
  send_to = 0x0B,
  recv_from = 0x0C,
  info = 0x0D,
  info_ok = 0x0E,
  handshake = 0x0F,
  handshake_ok = 0x10,
  resolve_hostname = 0x11,
  resolve_hostname_ok = 0x12,
  set_hostname = 0x13,
  set_hostname_ok = 0x14,
  set_visibility = 0x15,
  set_visibility_ok = 0x16,
  deregister = 0x17,
  deregister_ok = 0x18,
  set_tags = 0x19,
  set_tags_ok = 0x1A,
  set_webhook = 0x1B,
  set_webhook_ok = 0x1C,
  set_task_exec = 0x1D,
  set_task_exec_ok = 0x1E,
  webhook_stats = 0x40,
  webhook_stats_ok = 0x41,
  set_webhook_config = 0x42,
  set_webhook_config_ok = 0x43,
  webhook_test = 0x44,
  webhook_test_ok = 0x45,
};

/// Returns the snake_case name of `cmd`, such as "set_hostname", or "" for a
/// byte that is no known command.
std::string_view to_string(ipc_command cmd) noexcept;

/// Returns whether `cmd` is a known command byte.
bool is_known(ipc_command cmd) noexcept;

/// Formats a command byte the way error messages show it: `0x0D`.
std::string format_command_byte(std::uint8_t cmd);

/// One decoded frame.
struct ipc_frame {
  ipc_command command{};
  std::string payload;

  friend bool operator==(const ipc_frame&, const ipc_frame&) = default;
};

/// Encodes one frame. Fails with `errc::oversized` when `payload` is longer
/// than `max_ipc_payload_size`, since the peer would drop the frame and the
/// connection with it.
result<std::string> encode_ipc_frame(ipc_command cmd, std::string_view payload);

/// Splits the byte stream of one IPC connection into frames. It buffers the
/// bytes fed to it until `next` pops them, and checks each length prefix as
/// soon as the four bytes arrive, so an oversize frame fails before its body
/// is buffered. After an error every `next` returns the same error.
///
/// Typical use:
///   decoder.feed(bytes);
///   for (;;) {
///     auto frame = decoder.next();
///     if (!frame) { close(); break; }
///     if (!*frame) break; // needs more bytes
///     handle(**frame);
///   }
class ipc_frame_decoder {
public:
  /// Appends received bytes.
  void feed(std::string_view bytes);

  /// Pops the next complete frame, skipping empty ones. Returns an empty
  /// optional when the buffered bytes end inside a frame, and
  /// `errc::oversized` for a length prefix above `max_ipc_frame_size`.
  result<std::optional<ipc_frame>> next();

  /// Returns how many received bytes wait in the decoder.
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }

private:
  std::string buffer_;
  std::size_t start_ = 0;
  bool failed_ = false;
};

// -- error frames (0x0A) ------------------------------------------------------

/// Error code on the wire; the reference always sends 1.
inline constexpr std::uint16_t ipc_error_code = 1;

/// Marks the end of an error message that was cut to fit one frame: U+2026
/// HORIZONTAL ELLIPSIS in UTF-8.
inline constexpr std::string_view ipc_truncation_marker = "\xE2\x80\xA6";

/// Returns `text` when it has at most `max_size` bytes. Otherwise returns
/// its start, cut at a UTF-8 character boundary, followed by
/// `ipc_truncation_marker`, in at most `max_size` bytes; `max_size` must be
/// at least the marker's size.
std::string truncate_text(std::string_view text, std::size_t max_size);

/// Encodes an error frame: `0x0A`, code `00 01`, then `message` as UTF-8.
/// A message too long for one frame is cut by `truncate_text`, so this never
/// fails.
std::string encode_ipc_error(std::string_view message);

/// Decodes the payload of an error frame into its message. Fails with
/// `errc::truncated` when the 2-byte code is missing. Any code is accepted.
result<std::string> decode_ipc_error(std::string_view payload);

// -- payloads -----------------------------------------------------------------
//
// Info (0x0D), Deregister (0x17), WebhookStats (0x40) and WebhookTest (0x44)
// have empty payloads; their replies are JSON objects. ResolveHostname (0x11),
// SetHostname (0x13) and SetWebhook (0x1B) carry raw UTF-8 text (empty clears
// the hostname or the webhook); their replies are JSON objects.

/// Encodes a SetVisibility payload: one byte, 1 for public, 0 for private.
std::string encode_set_visibility(bool is_public);

/// Decodes a SetVisibility payload: 1 is public, any other byte private.
/// Fails with `errc::truncated` for an empty payload.
result<bool> decode_set_visibility(std::string_view payload);

/// Encodes a SetTags payload: a JSON array of strings.
std::string encode_set_tags(const std::vector<std::string>& tags);

/// Decodes a SetTags payload. Fails with `errc::malformed_json` unless the
/// payload is a JSON array of strings; `null` reads as no tags.
result<std::vector<std::string>> decode_set_tags(std::string_view payload);

/// A node address as the IPC wire carries it.
struct ipc_address {
  std::uint16_t network = 0;
  std::uint32_t node = 0;

  friend bool operator==(const ipc_address&, const ipc_address&) = default;
};

/// Encodes a Bind request or BindOK reply: the port.
std::string encode_bind(std::uint16_t port);

/// Decodes a Bind or BindOK payload. Fails with `errc::truncated` under 2
/// bytes; bytes after the port are ignored, as the reference does.
result<std::uint16_t> decode_bind(std::string_view payload);

/// A Dial request: the remote address and port.
struct dial_request {
  ipc_address address;
  std::uint16_t port = 0;

  friend bool operator==(const dial_request&, const dial_request&) = default;
};

/// Encodes a Dial payload: address(6) then port u16.
std::string encode_dial(const dial_request& request);

/// Decodes a Dial payload. Fails with `errc::truncated` under 8 bytes.
result<dial_request> decode_dial(std::string_view payload);

/// Encodes a payload that is only a connection ID: DialOK, Close, CloseOK.
std::string encode_conn_id(std::uint32_t conn_id);

/// Decodes a payload that starts with a connection ID. Fails with
/// `errc::truncated` under 4 bytes.
result<std::uint32_t> decode_conn_id(std::string_view payload);

/// The data of a Send request or a Recv push on one connection.
struct conn_data {
  std::uint32_t conn_id = 0;
  std::string data;

  friend bool operator==(const conn_data&, const conn_data&) = default;
};

/// Encodes a Send or Recv payload: conn_id u32, then the data.
std::string encode_conn_data(const conn_data& message);

/// Decodes a Send or Recv payload. Fails with `errc::truncated` under 4
/// bytes.
result<conn_data> decode_conn_data(std::string_view payload);

/// An Accept push: a connection arrived on a port this client bound.
struct accept_push {
  std::uint16_t local_port = 0;
  std::uint32_t conn_id = 0;
  ipc_address remote_address;
  std::uint16_t remote_port = 0;

  friend bool operator==(const accept_push&, const accept_push&) = default;
};

/// Size of an Accept payload.
inline constexpr std::size_t ipc_accept_size = 14;

/// Encodes an Accept payload: local_port u16, conn_id u32, remote
/// address(6), remote_port u16.
std::string encode_accept(const accept_push& push);

/// Decodes an Accept payload. Fails with `errc::truncated` under 14 bytes.
result<accept_push> decode_accept(std::string_view payload);

/// A SendTo request: one datagram to a remote address and port.
struct send_to_request {
  ipc_address address;
  std::uint16_t port = 0;
  std::string data;

  friend bool operator==(const send_to_request&, const send_to_request&)
      = default;
};

/// Encodes a SendTo payload: address(6), port u16, then the data.
std::string encode_send_to(const send_to_request& request);

/// Decodes a SendTo payload. Fails with `errc::truncated` under 8 bytes; the
/// data may be empty.
result<send_to_request> decode_send_to(std::string_view payload);

/// A RecvFrom push: one datagram that arrived for any port.
struct recv_from_push {
  ipc_address src_address;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::string data;

  friend bool operator==(const recv_from_push&, const recv_from_push&)
      = default;
};

/// Size of a RecvFrom payload without its data.
inline constexpr std::size_t ipc_recv_from_header_size = 10;

/// Encodes a RecvFrom payload: source address(6), src_port u16, dst_port
/// u16, then the data.
std::string encode_recv_from(const recv_from_push& push);

/// Decodes a RecvFrom payload. Fails with `errc::truncated` under 10 bytes.
result<recv_from_push> decode_recv_from(std::string_view payload);

// -- webhook settings (0x42) --------------------------------------------------

/// A SetWebhookConfig request: the webhook settings to change. A setting
/// left empty keeps its value in the daemon. The payload is a JSON object
/// with only the keys given: `url`, `events`, `ca_file` and `timeout` are
/// strings, `secrets` is an array of strings, and `retries`, `concurrency`
/// and `buffer` are whole numbers. Holds secrets: never log it.
struct webhook_config_change {
  std::optional<std::string> url; ///< "" turns webhooks off.
  /// Comma-separated event names and globs; "" selects every event.
  std::optional<std::string> events;
  /// `whsec_` secrets; an empty list removes every secret.
  std::optional<std::vector<std::string>> secrets;
  std::optional<std::string> ca_file; ///< "" for the system trust store.
  std::optional<std::uint64_t> retries;
  std::optional<std::uint64_t> concurrency;
  std::optional<std::uint64_t> buffer;
  std::optional<std::string> timeout; ///< A Go duration such as "5s".

  /// Returns whether no setting is given.
  bool empty() const noexcept;

  friend bool operator==(const webhook_config_change&,
                         const webhook_config_change&)
      = default;
};

/// A payload that does not decode. The message names the key and the
/// expected type, and never contains a value.
struct ipc_payload_error {
  std::string message;
};

/// Throws `std::invalid_argument` with the message; called by
/// `boost::system::result::value()` on a payload that does not decode.
[[noreturn]] void throw_exception_from_error(const ipc_payload_error& e,
                                             const boost::source_location&);

/// Encodes a SetWebhookConfig payload with the keys of the given settings.
std::string encode_set_webhook_config(const webhook_config_change& change);

/// Decodes a SetWebhookConfig payload. Fails for text that is not one JSON
/// object, an unknown key and a value of the wrong JSON type. Checks no
/// ranges: the daemon checks the merged settings.
boost::system::result<webhook_config_change, ipc_payload_error>
decode_set_webhook_config(std::string_view payload);

// -- trust handshake (0x0F) ---------------------------------------------------

/// The sub-command byte that starts a Handshake payload.
enum class handshake_operation : std::uint8_t {
  send = 0x01,    ///< node u32, then the justification
  approve = 0x02, ///< node u32
  reject = 0x03,  ///< node u32, then the reason
  pending = 0x04, ///< nothing
  trusted = 0x05, ///< nothing
  revoke = 0x06,  ///< node u32
};

/// One Handshake request. `node` and `text` are unused by the operations
/// that take no such argument.
struct handshake_command {
  handshake_operation operation = handshake_operation::pending;
  std::uint32_t node = 0;
  std::string text;

  friend bool operator==(const handshake_command&, const handshake_command&)
      = default;
};

/// Encodes a Handshake payload: the sub-command, the node for the
/// operations on one peer, then the text for send and reject.
std::string encode_handshake_command(const handshake_command& command);

/// Decodes a Handshake payload. Fails with `errc::truncated` for an empty
/// payload or a missing node ID, and `errc::unknown_type` for an unknown
/// sub-command. Bytes after the node ID are the text of send and reject and
/// are ignored by the others.
result<handshake_command> decode_handshake_command(std::string_view payload);

} // namespace pilot::protocol
