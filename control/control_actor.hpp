#pragma once

#include "actors/fwd.hpp"
#include "actors/service_fwd.hpp"
#include "actors/transport_fwd.hpp"
#include "control/fwd.hpp"
#include "webhook/fwd.hpp"

#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace pilot::control {

/// Settings of the local control socket and the node facts that Info reports.
struct control_options {
  /// The Unix socket path (`--socket`).
  std::filesystem::path socket_path{"/tmp/pilot.sock"};
  /// Clients connected at once; further connections are closed at accept.
  std::size_t max_clients = 64;
  /// Deadline of each request the control actor sends to another actor,
  /// except for the two below.
  std::chrono::milliseconds request_timeout{10'000};
  /// Deadline of a Dial. The connection actor gives up after about 39 s of
  /// SYN retransmissions, plus up to 10 s of resolving the peer through the
  /// registry, and replies with the reason before this passes.
  std::chrono::milliseconds dial_timeout{60'000};
  /// Deadline of a Send. The connection actor replies once the data fits
  /// its send buffer. When the peer stops acknowledging, the connection
  /// fails after its retransmissions and the Send gets an error before this
  /// passes.
  std::chrono::milliseconds send_timeout{60'000};
  /// Info `encrypt`: whether tunnel encryption is on.
  bool encrypt = true;
  /// Info `identity`: whether an identity file is configured.
  bool identity_configured = false;
  /// Info `config_file`: the daemon's `--config` file with `~` expanded, or
  /// empty when it reads none. `start_control` makes a relative path
  /// absolute, because pilotctl runs in another working directory.
  std::string config_file;
  /// Info `webhook_flags`: the webhook settings given as command-line flags
  /// (`webhook`, `webhook-retries`, ...). They win over the config file, also
  /// when a SIGHUP rereads it.
  std::vector<std::string> webhook_flags;
  /// Info `registry`: the registry address the daemon registers with.
  std::string registry;
  /// Info `data_dir`: where the data exchange service saves messages and
  /// files, so that pilotctl lists the running daemon's.
  std::string data_dir;
  /// The daemon's start time, for Info `uptime_secs`.
  std::chrono::steady_clock::time_point started_at
      = std::chrono::steady_clock::now();
};

/// Creates the control socket at `options.socket_path` with mode 0600, starts
/// accepting clients on `io` and spawns the control actor that serves them.
/// A stale socket file is replaced; a socket on which a server accepts
/// connections is left alone and the call fails with "socket in use". Sending
/// the returned actor an exit message closes every client and removes the
/// socket file. `io` must outlive the actor; it may run on any number of
/// threads.
///
/// Bind, Dial, Send, Close and SendTo go to `connections`, which also learns
/// of every client that connects and disconnects. Info requests the peers
/// from `tunnel` and the connections from `connections`. Either handle may be
/// invalid: Info then reports no peers or no connections, and the requests that
/// need the connection actor fail, except that Close replies CloseOK as for a
/// connection that does not exist. Handshake requests go to `trust`; without
/// it they fail with "the trust service is not running".
caf::expected<control_actor>
start_control(caf::actor_system& sys, boost::asio::io_context& io,
              control_options options, actors::registry_actor registry,
              webhook::webhook_actor webhook, actors::tunnel_actor tunnel = {},
              actors::connection_actor connections = {},
              actors::trust_actor trust = {});

} // namespace pilot::control
