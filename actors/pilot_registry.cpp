// pilot-registry: the registry server of the Pilot overlay network.

#include "actors/atomic_file.hpp"
#include "actors/command_line.hpp"
#include "actors/log.hpp"
#include "actors/registry_listener.hpp"
#include "actors/registry_service.hpp"
#include "actors/sd_notify.hpp"
#include "protocol/duration.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace po = boost::program_options;
namespace log = pilot::actors::log;
using pilot::actors::registry_config;
using pilot::actors::registry_listener_config;

constexpr std::string_view component = "registry";

/// A command line that cannot be used; `main` exits with status 2.
class usage_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct registry_options {
  std::string listen = ":9000";
  registry_config service;
  registry_listener_config listener;
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
       "TCP address to listen on, HOST:PORT; an empty host means every "
       "interface (default :9000)") //
      ("addr", po::value<std::string>()->value_name("ADDR"),
       "same as --listen, the name the Go registry uses") //
      ("store", po::value<std::string>()->value_name("PATH"),
       "file that keeps the registry across restarts (mode 0600, written "
       "atomically); none by default") //
      ("stale-after", po::value<std::string>()->value_name("DURATION"),
       "remove a node this long after its last heartbeat (default 3m)") //
      ("reap-interval", po::value<std::string>()->value_name("DURATION"),
       "how often to look for stale nodes (default 60s)") //
      ("idle-timeout", po::value<std::string>()->value_name("DURATION"),
       "close a connection without requests for this long (default 5m)") //
      ("max-connections", po::value<std::size_t>()->value_name("N"),
       "most open connections (default 4096)") //
      ("max-connections-per-ip", po::value<std::size_t>()->value_name("N"),
       "most open connections from one address (default 64)") //
      ("max-nodes", po::value<std::size_t>()->value_name("N"),
       "most registered nodes (default 100000)") //
      ("log-level", po::value<std::string>()->value_name("LEVEL"),
       "debug, info, warn or error (default info)") //
      ("log-format", po::value<std::string>()->value_name("FORMAT"),
       "text or json (default text)") //
      ("beacon", po::value<std::string>()->value_name("ADDR"),
       "accepted for compatibility with the Go registry, which stores it "
       "without using it; ignored") //
      ("admin-token", po::value<std::string>()->value_name("TOKEN"),
       "accepted for compatibility; network management is disabled, so it "
       "is ignored")                         //
      ("help,h", "print this help and exit") //
      ("version", "print the version and exit");
  return options;
}

std::string usage() {
  std::ostringstream out;
  out << "Usage: pilot-registry [options]\n\n"
      << "Runs the Pilot registry: node IDs, public keys, endpoints, "
         "hostnames, trust pairs,\nthe trust handshake mailbox and the "
         "beacon directory, over TCP port 9000.\n"
      << "Long options take one or two dashes (-listen :9000 works as in "
         "Go).\nDurations are Go durations such as 30s, 1m30s or 500ms.\n\n"
      << option_descriptions();
  return out.str();
}

std::chrono::seconds parse_seconds(const po::variables_map& values,
                                   const char* name,
                                   std::chrono::seconds fallback) {
  if (!values.count(name))
    return fallback;
  auto text = values[name].as<std::string>();
  auto parsed = pilot::protocol::parse_duration(text);
  if (!parsed)
    throw usage_error("--" + std::string{name} + " \"" + text
                      + "\" is not a duration; use e.g. 30s or 3m");
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  if (seconds < std::chrono::seconds{1})
    throw usage_error("--" + std::string{name} + " must be at least 1s");
  return seconds;
}

std::size_t parse_count(const po::variables_map& values, const char* name,
                        std::size_t fallback) {
  if (!values.count(name))
    return fallback;
  auto count = values[name].as<std::size_t>();
  if (count == 0)
    throw usage_error("--" + std::string{name} + " must be at least 1");
  return count;
}

registry_options parse_options(int argc, char** argv) {
  po::variables_map values;
  try {
    values = pilot::actors::parse_go_style_command_line(argc, argv,
                                                        option_descriptions());
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  registry_options opts;
  opts.show_help = values.count("help") > 0;
  opts.show_version = values.count("version") > 0;
  // Step 1: the listen address and its Go alias.
  if (values.count("listen") && values.count("addr")
      && values["listen"].as<std::string>() != values["addr"].as<std::string>())
    throw usage_error("--listen and --addr name different addresses");
  if (values.count("listen"))
    opts.listen = values["listen"].as<std::string>();
  else if (values.count("addr"))
    opts.listen = values["addr"].as<std::string>();
  // Step 2: timers and limits.
  opts.service.stale_after
      = parse_seconds(values, "stale-after", opts.service.stale_after);
  opts.listener.reap_interval
      = parse_seconds(values, "reap-interval", opts.listener.reap_interval);
  opts.listener.idle_timeout
      = parse_seconds(values, "idle-timeout", opts.listener.idle_timeout);
  opts.listener.max_connections
      = parse_count(values, "max-connections", opts.listener.max_connections);
  opts.listener.max_connections_per_ip = parse_count(
      values, "max-connections-per-ip", opts.listener.max_connections_per_ip);
  opts.service.max_nodes
      = parse_count(values, "max-nodes", opts.service.max_nodes);
  opts.service.max_known_keys
      = std::max(opts.service.max_known_keys, opts.service.max_nodes);
  if (values.count("store"))
    opts.listener.store_path = values["store"].as<std::string>();
  // Step 3: logging and the flags kept only for compatibility.
  if (values.count("log-level")
      && !log::parse_level(values["log-level"].as<std::string>(),
                           opts.log_level))
    throw usage_error("--log-level must be debug, info, warn or error");
  if (values.count("log-format")
      && !log::parse_format(values["log-format"].as<std::string>(),
                            opts.log_format))
    throw usage_error("--log-format must be text or json");
  for (const char* ignored : {"beacon", "admin-token"})
    if (values.count(ignored))
      opts.warnings.push_back(std::string{"--"} + ignored
                              + " has no effect in this registry");
  return opts;
}

// Loads the store file into `service`. A missing file starts an empty
// registry; an unreadable or invalid one stops the start, because the next
// save would overwrite it.
void load_store(const std::filesystem::path& path,
                pilot::actors::registry_service& service) {
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error)) {
    if (exists_error)
      throw std::runtime_error("cannot access the store " + path.string() + ": "
                               + exists_error.message());
    log::info(component, "store-missing", "starting with an empty registry",
              {{"path", path.string()}});
    return;
  }
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  if (!in)
    throw std::runtime_error("cannot read the store " + path.string());
  try {
    service.load(text.str(), pilot::actors::registry_service::clock::now());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
  log::info(component, "store-loaded", "loaded the registry store",
            {{"path", path.string()},
             {"nodes", std::to_string(service.node_count())}});
}

int run(const registry_options& opts) {
  // Step 1: the tables, from the store when there is one. Writing the store
  // once now proves that it can be written (and creates its directory).
  pilot::actors::registry_service service{opts.service};
  const auto& store = opts.listener.store_path;
  if (!store.empty()) {
    load_store(store, service);
    if (auto ec
        = pilot::actors::write_file_atomically(store, service.snapshot()))
      throw std::runtime_error("cannot write the store " + store.string() + ": "
                               + ec.message());
  }
  // Step 2: the listener.
  boost::asio::io_context io{1};
  auto endpoint = pilot::actors::parse_listen_address(opts.listen);
  auto listener = std::make_shared<pilot::actors::registry_listener>(
      io, service, opts.listener);
  if (auto ec = listener->listen(endpoint))
    throw std::runtime_error("cannot listen on " + opts.listen + ": "
                             + ec.message());
  // Step 3: run until SIGINT or SIGTERM, then save and stop.
  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec)
      return;
    log::info(component, "registry-stopping", "stopping on a signal",
              {{"signal", std::to_string(signal)}});
    pilot::actors::sd::notify_stopping("stopping");
    listener->stop();
  });
  listener->start();
  pilot::actors::sd::notify_ready("listening on " + opts.listen);
  io.run();
  return listener->save_if_dirty() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  registry_options opts;
  try {
    opts = parse_options(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "pilot-registry: " << e.what()
              << "\nRun pilot-registry --help for the options.\n";
    return 2;
  }
  if (opts.show_help) {
    std::cout << usage();
    return 0;
  }
  if (opts.show_version) {
    std::cout << "pilot-registry " << PILOT_VERSION << "\n";
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
