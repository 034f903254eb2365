// pilot-daemon's --config file: any text either fails with options_error or
// yields options within the documented ranges.
#include "actors/daemon_options.hpp"

#include "protocol/webhook_url.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/scratch_file.hpp"

#include <chrono>
#include <cstdlib>

using namespace pilot;
using namespace std::chrono_literals;

namespace {

const fuzz::scratch_file& config_file() {
  static const fuzz::scratch_file file{"config.json"};
  return file;
}

void check_ranges(const actors::daemon_options& opts) {
  const auto& webhook = opts.webhook;
  fuzz::check(webhook.url.empty()
                  || protocol::parse_webhook_url(webhook.url).has_value(),
              "a webhook URL is valid");
  fuzz::check(webhook.timeout >= 1s && webhook.timeout <= 30s,
              "webhook timeout from 1 s to 30 s");
  fuzz::check(webhook.buffer >= 1 && webhook.buffer <= 65536,
              "webhook buffer from 1 to 65536");
  fuzz::check(webhook.concurrency >= 1 && webhook.concurrency <= 64,
              "webhook concurrency from 1 to 64");
  const auto& transport = opts.transport;
  fuzz::check(transport.syn_rate_limit >= 1
                  && transport.syn_rate_limit <= 100'000,
              "SYN rate limit in range");
  fuzz::check(transport.max_conns_per_port >= 1
                  && transport.max_conns_per_port <= 65'536,
              "connections per port in range");
  fuzz::check(transport.max_conns_total >= 1
                  && transport.max_conns_total <= 65'536,
              "connections in total in range");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // `~` in a path value expands inside the scratch directory.
  setenv("HOME", config_file().directory().c_str(), 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const auto& file = config_file();
  file.write(fuzz::text_of(data, size));
  auto path = file.path().string();
  const char* argv[] = {"pilot-daemon", "--config", path.c_str()};
  try {
    check_ranges(actors::parse_daemon_options(3, argv));
  } catch (const actors::options_error&) {
    return 0;
  }
  return 0;
}
