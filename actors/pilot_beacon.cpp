// pilot-beacon: the beacon server of the Pilot overlay network.

#include "actors/beacon_listener.hpp"
#include "actors/beacon_service.hpp"
#include "actors/command_line.hpp"
#include "actors/log.hpp"
#include "actors/registry_listener.hpp"
#include "actors/sd_notify.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace po = boost::program_options;
namespace log = pilot::actors::log;
using boost::asio::ip::udp;
using pilot::actors::beacon_config;
using pilot::actors::beacon_listener_config;

constexpr std::string_view component = "beacon";

struct beacon_options {
  std::string listen = ":9001";
  beacon_config service;
  beacon_listener_config listener;
  log::level log_level = log::level::info;
  log::format log_format = log::format::text;
  bool show_help = false;
  bool show_version = false;
  std::vector<std::string> warnings;
};

po::options_description option_descriptions() {
  po::options_description options{"Options"};
  options.add_options() //
      ("listen", po::value<std::string>()->value_name("ADDR"),
       "UDP address to listen on, HOST:PORT; an empty host means every "
       "interface (default :9001)") //
      ("addr", po::value<std::string>()->value_name("ADDR"),
       "same as --listen, the name the Go beacon uses") //
      ("beacon-id", po::value<std::uint32_t>()->value_name("ID"),
       "ID this beacon sends in its Syncs; 0 means standalone (default 0)") //
      ("peers", po::value<std::string>()->value_name("HOST:PORT,..."),
       "comma-separated peer beacons: they receive a Sync every 10s, and "
       "only their Syncs and forwarded relays are accepted (default none)") //
      ("sync-interval", po::value<std::string>()->value_name("DURATION"),
       "how often to send a Sync to each peer and remove expired entries "
       "(default 10s, as the Go beacon)") //
      ("entry-ttl", po::value<std::string>()->value_name("DURATION"),
       "forget a node this long after its last Discover (default 2m); "
       "daemons send one every 30s") //
      ("max-nodes", po::value<std::size_t>()->value_name("N"),
       "maximum number of nodes in the table (default 100000)") //
      ("max-relay-payload", po::value<std::size_t>()->value_name("BYTES"),
       "drop relays whose payload is larger (default 65498, the most that "
       "fits in UDP over IPv4)") //
      ("log-level", po::value<std::string>()->value_name("LEVEL"),
       "debug, info, warn or error (default info)") //
      ("log-format", po::value<std::string>()->value_name("FORMAT"),
       "text or json (default text)") //
      ("registry", po::value<std::string>()->value_name("ADDR"),
       "accepted for compatibility with the Go beacon; registry discovery "
       "of peers is not supported, so it is ignored") //
      ("health", po::value<std::string>()->value_name("ADDR"),
       "accepted for compatibility with the Go beacon; the health endpoint "
       "is not supported, so it is ignored") //
      ("help,h", "print this help and exit") //
      ("version", "print the version and exit");
  return options;
}

std::string usage() {
  std::ostringstream out;
  out << "Usage: pilot-beacon [options]\n\n"
      << "Runs the Pilot beacon on UDP port 9001: endpoint discovery, "
         "hole-punch\ncoordination and relay for nodes behind NAT.\n"
      << "Long options take one or two dashes (-addr :9001 works as in Go).\n"
      << "Durations are Go durations such as 30s, 1m30s or 500ms.\n\n"
      << option_descriptions();
  return out.str();
}

// Parses `HOST:PORT,...` into endpoints. Host names are resolved once, now.
std::vector<udp::endpoint> parse_peers(const std::string& text) {
  std::vector<udp::endpoint> peers;
  std::istringstream list{text};
  std::string item;
  while (std::getline(list, item, ',')) {
    if (item.empty())
      continue;
    boost::asio::ip::tcp::endpoint parsed;
    try {
      parsed = pilot::actors::parse_listen_address(item);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("invalid --peers entry: "
                                  + std::string{e.what()});
    }
    if (parsed.address().is_unspecified() || parsed.port() == 0)
      throw std::invalid_argument("--peers entry " + item
                                  + " needs a host and a non-zero port");
    peers.emplace_back(parsed.address(), parsed.port());
  }
  return peers;
}

// Reads the beacon ID, the peers, the timers and the table limits.
void read_cluster_options(const po::variables_map& values,
                          beacon_options& opts) {
  if (values.count("beacon-id"))
    opts.service.beacon_id = values["beacon-id"].as<std::uint32_t>();
  if (values.count("peers"))
    opts.service.peers = parse_peers(values["peers"].as<std::string>());
  if (opts.service.peers.size() > opts.service.max_peers)
    throw std::invalid_argument("--peers lists more than "
                                + std::to_string(opts.service.max_peers)
                                + " beacons");
  opts.service.entry_ttl = pilot::actors::seconds_option(
      values, "entry-ttl", opts.service.entry_ttl);
  opts.listener.sync_interval = pilot::actors::seconds_option(
      values, "sync-interval", opts.listener.sync_interval);
  // Keep a peer's Sync for 3.5 sync intervals of this beacon (its peers are
  // likely configured alike), and never less than Go peers need.
  opts.service.peer_ttl
      = std::max(opts.service.peer_ttl, opts.listener.sync_interval * 7 / 2);
  opts.service.max_nodes
      = pilot::actors::count_option(values, "max-nodes", opts.service.max_nodes,
                                    std::numeric_limits<std::uint32_t>::max());
  opts.service.max_relay_payload = pilot::actors::count_option(
      values, "max-relay-payload", opts.service.max_relay_payload,
      opts.service.max_relay_payload);
}

// Throws `std::invalid_argument` for a command line that cannot be used;
// `main` then exits with status 2.
beacon_options parse_options(int argc, char** argv) {
  auto values = pilot::actors::parse_go_style_command_line(
      argc, argv, option_descriptions());
  beacon_options opts;
  opts.show_help = values.count("help") > 0;
  opts.show_version = values.count("version") > 0;
  // Step 1: the listen address and its Go alias.
  if (values.count("listen") && values.count("addr")
      && values["listen"].as<std::string>() != values["addr"].as<std::string>())
    throw std::invalid_argument("--listen and --addr name different addresses");
  if (values.count("listen"))
    opts.listen = values["listen"].as<std::string>();
  else if (values.count("addr"))
    opts.listen = values["addr"].as<std::string>();
  // Step 2: the cluster, the tables and their limits.
  read_cluster_options(values, opts);
  // Step 3: logging and the flags kept only for compatibility.
  if (values.count("log-level")
      && !log::parse_level(values["log-level"].as<std::string>(),
                           opts.log_level))
    throw std::invalid_argument(
        "--log-level must be debug, info, warn or error");
  if (values.count("log-format")
      && !log::parse_format(values["log-format"].as<std::string>(),
                            opts.log_format))
    throw std::invalid_argument("--log-format must be text or json");
  for (const char* ignored : {"registry", "health"})
    if (values.count(ignored))
      opts.warnings.push_back(std::string{"--"} + ignored
                              + " has no effect in this beacon");
  return opts;
}

int run(const beacon_options& opts) {
  // Step 1: the tables and the socket.
  pilot::actors::beacon_service service{opts.service};
  boost::asio::io_context io{1};
  auto bound = pilot::actors::parse_listen_address(opts.listen);
  auto listener = std::make_shared<pilot::actors::beacon_listener>(
      io, service, opts.listener);
  if (auto ec = listener->listen(udp::endpoint{bound.address(), bound.port()}))
    throw std::runtime_error("cannot listen on " + opts.listen + ": "
                             + ec.message());
  // Step 2: run until SIGINT or SIGTERM.
  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec)
      return;
    log::info(component, "beacon-stopping", "stopping on a signal",
              {{"signal", std::to_string(signal)}});
    pilot::actors::sd::notify_stopping("stopping");
    listener->stop();
  });
  listener->start();
  pilot::actors::sd::notify_ready("listening on " + opts.listen);
  io.run();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  beacon_options opts;
  try {
    opts = parse_options(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::cerr << "pilot-beacon: " << e.what()
              << "\nRun pilot-beacon --help for the options.\n";
    return 2;
  }
  if (opts.show_help) {
    std::cout << usage();
    return 0;
  }
  if (opts.show_version) {
    std::cout << "pilot-beacon " << PILOT_VERSION << "\n";
    return 0;
  }
  log::configure(opts.log_level, opts.log_format);
  for (const auto& warning : opts.warnings)
    log::warn(component, "option-ignored", warning);
  try {
    return run(opts);
  } catch (const std::invalid_argument& e) {
    log::error(component, "invalid-configuration", e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error(component, "start-failed", e.what());
    return 1;
  }
}
