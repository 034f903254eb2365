// Webhook URLs from flags, config files and IPC: an accepted URL has a
// usable target, and its redacted form keeps no user info or query and is
// accepted again.
#include "protocol/webhook_url.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <boost/asio/ip/address.hpp>

using namespace pilot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto url = fuzz::text_of(data, size);
  auto target = protocol::parse_webhook_url(url);
  if (!target) {
    fuzz::check(!target.error().message.empty(), "a rejection has a message");
    return 0;
  }
  fuzz::check(url.size() <= protocol::max_webhook_url_size, "URL size limit");
  fuzz::check(target->scheme == "http" || target->scheme == "https",
              "scheme is http or https");
  fuzz::check(target->port != 0, "port is set");
  fuzz::check(!target->host.empty(), "host is set");
  fuzz::check(!target->target.empty() && target->target.front() == '/',
              "request target starts with /");
  fuzz::check(target->redacted.find('@') == std::string::npos
                  && target->redacted.find('?') == std::string::npos,
              "redacted URL has no user info or query");
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(target->host, ec);
  if (!ec)
    fuzz::check(!protocol::is_refused_address(address),
                "a refused address is rejected");
  // Encoding `@` as `%40` can take the redacted form past the size limit.
  if (target->redacted.size() > protocol::max_webhook_url_size)
    return 0;
  auto again = protocol::parse_webhook_url(target->redacted);
  fuzz::check(again.has_value(), "the redacted URL is accepted");
  fuzz::check(again->host == target->host && again->port == target->port,
              "the redacted URL names the same endpoint");
  return 0;
}
