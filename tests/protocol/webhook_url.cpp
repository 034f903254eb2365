#include "protocol/webhook_url.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace pilot::protocol;
namespace ip = boost::asio::ip;

namespace {

struct accepted_case {
  std::string url;
  std::string host;
  std::uint16_t port;
  std::string target;
  std::string host_header;
  std::string redacted;
};

struct refused_case {
  std::string url;
  std::string message;
};

std::string error_of(std::string_view url) {
  auto result = parse_webhook_url(url);
  return result.has_value() ? std::string{"accepted"} : result.error().message;
}

} // namespace

TEST_CASE("valid webhook URLs are accepted and split") {
  accepted_case cases[] = {
      {"http://localhost:8080/events", "localhost", 8080, "/events",
       "localhost:8080", "http://localhost:8080/events"},
      {"http://example.com", "example.com", 80, "/", "example.com",
       "http://example.com/"},
      {"HTTP://Example.COM./a?b=c", "example.com", 80, "/a?b=c", "example.com",
       "http://example.com/a"},
      {"http://example.com:80/", "example.com", 80, "/", "example.com",
       "http://example.com/"},
      {"http://example.com:/x", "example.com", 80, "/x", "example.com",
       "http://example.com/x"},
      {"http://127.0.0.1:9000/h", "127.0.0.1", 9000, "/h", "127.0.0.1:9000",
       "http://127.0.0.1:9000/h"},
      {"http://[::1]:8080/h", "::1", 8080, "/h", "[::1]:8080",
       "http://[::1]:8080/h"},
      {"http://[2001:DB8:0:0:0:0:0:1]/", "2001:db8::1", 80, "/",
       "[2001:db8::1]", "http://[2001:db8::1]/"},
      {"http://10.1.2.3/", "10.1.2.3", 80, "/", "10.1.2.3", "http://10.1.2.3/"},
      {"http://192.168.0.10:65535/", "192.168.0.10", 65535, "/",
       "192.168.0.10:65535", "http://192.168.0.10:65535/"},
      {"http://172.16.0.1:1/", "172.16.0.1", 1, "/", "172.16.0.1:1",
       "http://172.16.0.1:1/"},
      {"http://[fd00::1]/", "fd00::1", 80, "/", "[fd00::1]",
       "http://[fd00::1]/"},
      {"http://0x7f.1:8080/", "127.0.0.1", 8080, "/", "127.0.0.1:8080",
       "http://127.0.0.1:8080/"},
      {"http://2130706433/", "127.0.0.1", 80, "/", "127.0.0.1",
       "http://127.0.0.1/"},
      {"http://my_service:8080/", "my_service", 8080, "/", "my_service:8080",
       "http://my_service:8080/"},
      {"http://example.com/a%20b?x=%2F", "example.com", 80, "/a%20b?x=%2F",
       "example.com", "http://example.com/a%20b"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    auto result = parse_webhook_url(c.url);
    REQUIRE(result.has_value());
    CHECK(result->host == c.host);
    CHECK(result->port == c.port);
    CHECK(result->target == c.target);
    CHECK(result->host_header == c.host_header);
    CHECK(result->redacted == c.redacted);
    CHECK(result->authorization.empty());
  }
}

TEST_CASE("the scheme is http") {
  CHECK(parse_webhook_url("http://h/")->scheme == "http");
  CHECK_FALSE(parse_webhook_url("http://h/")->is_https());
}

TEST_CASE("https URLs are accepted with port 443 by default") {
  auto result = parse_webhook_url("HTTPS://user:pw@Example.COM/hook?k=v");
  REQUIRE(result.has_value());
  CHECK(result->scheme == "https");
  CHECK(result->is_https());
  CHECK(result->host == "example.com");
  CHECK(result->port == 443);
  CHECK(result->host_header == "example.com");
  CHECK(result->target == "/hook?k=v");
  CHECK(result->redacted == "https://example.com/hook");
  CHECK(result->authorization == "Basic dXNlcjpwdw==");
  auto explicit_port = parse_webhook_url("https://127.0.0.1:8443/");
  REQUIRE(explicit_port.has_value());
  CHECK(explicit_port->port == 8443);
  CHECK(explicit_port->host_header == "127.0.0.1:8443");
  CHECK(explicit_port->redacted == "https://127.0.0.1:8443/");
  auto http_port = parse_webhook_url("https://[::1]:80/");
  REQUIRE(http_port.has_value());
  CHECK(http_port->host_header == "[::1]:80");
}

TEST_CASE("https URLs are checked like http URLs") {
  CHECK(error_of("https://169.254.169.254/")
        == "webhook URL host 169.254.169.254 is a link-local or cloud "
           "metadata address");
  CHECK(error_of("https://example.com/#x")
        == "webhook URL must not have a fragment (#...)");
  CHECK(error_of("https://metadata.google.internal/")
        == "webhook URL host metadata.google.internal is a cloud metadata "
           "endpoint");
}

TEST_CASE("user info becomes a Basic Authorization value") {
  auto result = parse_webhook_url("http://alice:s3cret@example.com/h?token=x");
  REQUIRE(result.has_value());
  // base64("alice:s3cret")
  CHECK(result->authorization == "Basic YWxpY2U6czNjcmV0");
  CHECK(result->redacted == "http://example.com/h");
  CHECK(result->redacted.find("s3cret") == std::string::npos);
  CHECK(result->target == "/h?token=x");
}

TEST_CASE("percent-encoded user info is decoded") {
  auto result = parse_webhook_url("http://a%40b:p%3Aw@h/");
  REQUIRE(result.has_value());
  // base64("a@b:p:w")
  CHECK(result->authorization == "Basic YUBiOnA6dw==");
  CHECK(parse_webhook_url("http://user@h/")->authorization
        == "Basic dXNlcjo="); // base64("user:")
  CHECK(parse_webhook_url("http://@h/")->authorization.empty());
}

TEST_CASE("invalid webhook URLs are refused with a reason") {
  refused_case cases[] = {
      {"", "webhook URL is empty"},
      {"localhost:8080/events",
       "webhook URL must start with http:// or https://"},
      {"ftp://example.com/", "webhook URL must start with http:// or https://"},
      {"file:///etc/passwd", "webhook URL must start with http:// or https://"},
      {"http:/path", "webhook URL has no host"},
      {"http:///path", "webhook URL has no host"},
      {"http://./path", "webhook URL has no host"},
      {"http://example.com/#frag",
       "webhook URL must not have a fragment (#...)"},
      {"http://example.com/#", "webhook URL must not have a fragment (#...)"},
      {"http://example.com:0/",
       "webhook URL port must be a number from 1 to 65535"},
      {"http://example.com:65536/",
       "webhook URL port must be a number from 1 to 65535"},
      {"http://example.com:99999999999999999999/",
       "webhook URL port must be a number from 1 to 65535"},
      {"http://exa mple.com/",
       "webhook URL is not a valid URL; expected http[s]://host[:port]/path"},
      {"http://example.com/\r\nX-Injected: 1",
       "webhook URL is not a valid URL; expected http[s]://host[:port]/path"},
      {"not a url",
       "webhook URL is not a valid URL; expected http[s]://host[:port]/path"},
      {"http://[v1.fe]/", "webhook URL host must be a name or an IP address"},
      {"http://ex%2Fample.com/",
       "webhook URL host contains characters other than letters, digits, '-', "
       "'.' and '_'"},
      {"http://a%3Ab:pw@h/", "webhook URL user name must not contain ':'"},
      {"http://1%38.254.1.26h/",
       "webhook URL host 18.254.1.26h is not a valid host name"},
      {"http://18.254.1.26h/",
       "webhook URL is not a valid URL; expected http[s]://host[:port]/path"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    CHECK(error_of(c.url) == c.message);
  }
}

TEST_CASE("a URL longer than 2048 bytes is refused") {
  std::string base = "http://example.com/";
  auto at_limit = base + std::string(max_webhook_url_size - base.size(), 'a');
  CHECK(parse_webhook_url(at_limit).has_value());
  CHECK(error_of(at_limit + "a") == "webhook URL is longer than 2048 bytes");
}

TEST_CASE("link-local and metadata hosts are refused in any spelling") {
  const char* cases[] = {
      "http://169.254.169.254/latest/meta-data",
      "http://169.254.0.1/",
      "http://169.254.255.255:8080/",
      "http://169.254.169.254./",
      "http://2852039166/",
      "http://0xa9fea9fe/",
      "http://0xA9.0xFE.0xA9.0xFE/",
      "http://0251.0376.0251.0376/",
      "http://169.254.43518/",
      "http://0251.254.169.254/",
      "http://[::ffff:169.254.169.254]/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://[::169.254.169.254]/",
      "http://[64:ff9b::169.254.169.254]/",
      "http://[fe80::1]/",
      "http://[FE80::abcd]:8080/",
      "http://[febf:ffff::1]/",
      "http://[fd00:ec2::254]/",
      "http://[FD00:EC2:0:0:0:0:0:254]/",
      "http://[fd00:0ec2::0254]/",
  };
  for (auto url : cases) {
    CAPTURE(url);
    auto message = error_of(url);
    CHECK(message.find("is a link-local or cloud metadata address")
          != std::string::npos);
  }
}

TEST_CASE("metadata host names are refused in any case") {
  for (auto url : {"http://metadata.google.internal/computeMetadata/v1/",
                   "http://METADATA.Google.Internal./",
                   "http://metadata.google.internal:8080/",
                   "http://metadata%2egoogle%2einternal/"}) {
    CAPTURE(url);
    CHECK(error_of(url)
          == "webhook URL host metadata.google.internal is a cloud metadata "
             "endpoint");
  }
}

TEST_CASE("error messages name the refused address") {
  CHECK(error_of("http://2852039166/")
        == "webhook URL host 169.254.169.254 is a link-local or cloud "
           "metadata address");
}

TEST_CASE("error messages never show user info or the query") {
  auto message = error_of("http://user:s3cret@169.254.169.254/?key=hidden");
  CHECK(message.find("s3cret") == std::string::npos);
  CHECK(message.find("hidden") == std::string::npos);
}

TEST_CASE("loopback and private addresses are allowed") {
  for (auto url :
       {"http://127.0.0.1/", "http://[::1]/", "http://10.0.0.1/",
        "http://192.168.1.1/", "http://172.31.255.255/", "http://[fc00::1]/",
        "http://169.253.255.255/", "http://169.255.0.0/", "http://[fec0::1]/",
        "http://localhost/", "http://metadata/"}) {
    CAPTURE(url);
    CHECK(parse_webhook_url(url).has_value());
  }
}

TEST_CASE("is_refused_address covers link-local and metadata addresses") {
  auto refused = [](const char* text) {
    return is_refused_address(ip::make_address(text));
  };
  CHECK(refused("169.254.169.254"));
  CHECK(refused("169.254.0.0"));
  CHECK(refused("fe80::1"));
  CHECK(refused("fd00:ec2::254"));
  CHECK(refused("::ffff:169.254.1.1"));
  CHECK(refused("64:ff9b::a9fe:a9fe"));
  CHECK_FALSE(refused("127.0.0.1"));
  CHECK_FALSE(refused("0.0.0.0"));
  CHECK_FALSE(refused("::"));
  CHECK_FALSE(refused("::1"));
  CHECK_FALSE(refused("::ffff:127.0.0.1"));
  CHECK_FALSE(refused("fd00:ec2::253"));
  CHECK_FALSE(refused("fec0::1"));
  CHECK_FALSE(refused("8.8.8.8"));
}

TEST_CASE("value() throws the message for start-up callers") {
  auto result = parse_webhook_url("ftp://x/");
  CHECK_THROWS_WITH_AS(result.value(),
                       "webhook URL must start with http:// or https://",
                       std::invalid_argument);
}

TEST_CASE("a path that does not start with a slash is refused") {
  // Boost.URL 1.81 splits these into a host and a path without its `/`.
  for (auto url : {"http://user:creht", "http://10.0.0.1./events",
                   "http://uttp://user:secret@host:9090/x"}) {
    CAPTURE(url);
    CHECK(error_of(url)
          == "webhook URL is not a valid URL; expected "
             "http[s]://host[:port]/path");
  }
}

TEST_CASE("an at sign in the path is encoded in the redacted URL") {
  auto target = parse_webhook_url("http://127.0.0.1:8080/hooks/@team");
  REQUIRE(target.has_value());
  CHECK(target->redacted == "http://127.0.0.1:8080/hooks/%40team");
  CHECK(target->target == "/hooks/@team");
}

TEST_CASE("a host name with an empty label is refused") {
  for (auto url : {"http://a..b/", "http://a.b../", "http://.a.b/"}) {
    CAPTURE(url);
    CHECK(error_of(url).ends_with("has an empty label"));
  }
}
