#include "protocol/webhook_signature.hpp"

#include "tests/actors/file_test_support.hpp"
#include "tests/webhook/test_certificates.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using namespace pilot::protocol;

namespace {

// The signing test vector of the Svix and Standard Webhooks libraries,
// checked independently with Python's hmac module.
constexpr std::string_view vector_secret
    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view vector_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::string_view vector_timestamp = "1614265330";
constexpr std::string_view vector_body = R"({"test": 2432232314})";
constexpr std::string_view vector_signature
    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// The bytes 0 to 31 as a secret, and its signature of the vector message,
// computed with Python's hmac module.
constexpr std::string_view counting_secret
    = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr std::string_view counting_signature
    = "v1,O4Gjv1HqPqsMrjmczoggs/sWA8gZD0VyHG+fLh4+ktI=";

// A self-signed P-256 certificate, valid until 2126.
constexpr std::string_view ca_certificate_pem = R"(-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUKjVej7f8KlITDl0AmvkswIQ1n50wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNUGlsb3QgdGVzdCBDQTAgFw0yNjEyMDUwMDEwMzhaGA8yMTI2
MTExMTAwMTAzOFowGDEWMBQGA1UEAwwNUGlsb3QgdGVzdCBDQTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABJDtU9zbz4K/oKYMXIPY1lRX1UeklrvtvCKtll8JLNPv
OSBGG712GnkBd9UfGG8vPJYj5c91G39JX3t/63rgzvOjUzBRMB0GA1UdDgQWBBRU
si/URvay5oPmqqmkWVUjCDKIRDAfBgNVHSMEGDAWgBRUsi/URvay5oPmqqmkWVUj
CDKIRDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQD6GKvEPH/O
M9LP6eaV2QZ0Souc9y9m/TuCTSetNEKmNQIgOgmT0TsrAIpza83N+0IEMuDtKLk5
dApANKvN1ethEIg=
-----END CERTIFICATE-----
)";

std::string key_of(std::string_view secret) {
  auto key = parse_webhook_secret(secret);
  REQUIRE(key.has_value());
  return *key;
}

std::string error_of(std::string_view secret) {
  auto key = parse_webhook_secret(secret);
  return key.has_value() ? std::string{"accepted"} : key.error().message;
}

std::string write_file(const pilot::test::temp_dir& dir,
                       const std::string& name, std::string_view content) {
  return pilot::test::write_file(dir.path, name, content);
}

} // namespace

TEST_CASE("the Standard Webhooks test vector verifies") {
  std::vector<std::string> keys{key_of(vector_secret)};
  CHECK(webhook_signature(keys, vector_id, vector_timestamp, vector_body)
        == vector_signature);
}

TEST_CASE("two keys give two signatures in key order") {
  std::vector<std::string> keys{key_of(vector_secret), key_of(counting_secret)};
  CHECK(webhook_signature(keys, vector_id, vector_timestamp, vector_body)
        == std::string{vector_signature} + " "
               + std::string{counting_signature});
  std::vector<std::string> swapped{keys[1], keys[0]};
  CHECK(webhook_signature(swapped, vector_id, vector_timestamp, vector_body)
        == std::string{counting_signature} + " "
               + std::string{vector_signature});
}

TEST_CASE("no keys give an empty signature") {
  CHECK(webhook_signature({}, vector_id, vector_timestamp, vector_body) == "");
}

TEST_CASE("every part of the signed message changes the signature") {
  std::vector<std::string> keys{key_of(vector_secret)};
  auto reference
      = webhook_signature(keys, vector_id, vector_timestamp, vector_body);
  CHECK(webhook_signature(keys, "msg_other", vector_timestamp, vector_body)
        != reference);
  CHECK(webhook_signature(keys, vector_id, "1614265331", vector_body)
        != reference);
  CHECK(webhook_signature(keys, vector_id, vector_timestamp, "{}")
        != reference);
  // The dots separate the parts, so moving text across them matters.
  CHECK(webhook_signature(keys, "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330", "",
                          vector_body)
        != reference);
}

TEST_CASE("a secret decodes to its raw key") {
  auto key = key_of(counting_secret);
  REQUIRE(key.size() == 32);
  for (std::size_t i = 0; i < key.size(); ++i)
    CHECK(static_cast<unsigned char>(key[i]) == i);
}

TEST_CASE("keys of 24 and 64 bytes are accepted") {
  CHECK(key_of("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").size() == 24);
  CHECK(key_of("whsec_" + std::string(86, 'A') + "==").size() == 64);
}

TEST_CASE("invalid secrets are rejected without echoing them") {
  struct rejected_case {
    std::string secret;
    std::string message;
  };
  rejected_case cases[] = {
      {"", "webhook secret must start with whsec_ followed by the key in "
           "base64"},
      {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
       "webhook secret must start with whsec_ followed by the key in base64"},
      {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
       "webhook secret must start with whsec_ followed by the key in base64"},
      {"whsec_MfKQ9r8GKYqrTwjU*D8ILPZIo2LaLaSw",
       "webhook secret is not valid base64 after whsec_"},
      {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
       "webhook secret is not valid base64 after whsec_"},
      {"whsec_", "webhook secret key must be 24 to 64 bytes, but it is 0 "
                 "bytes"},
      {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
       "webhook secret key must be 24 to 64 bytes, but it is 23 bytes"},
      {"whsec_" + std::string(84, 'A') + "AAA=",
       "webhook secret key must be 24 to 64 bytes, but it is 65 bytes"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.secret);
    auto message = error_of(c.secret);
    CHECK(message == c.message);
    auto key_text = c.secret.substr(std::min<std::size_t>(6, c.secret.size()));
    if (!key_text.empty())
      CHECK(message.find(key_text) == std::string::npos);
  }
}

TEST_CASE("value of a rejected secret throws invalid_argument") {
  auto key = parse_webhook_secret("nope");
  CHECK_THROWS_WITH_AS(
      key.value(),
      "webhook secret must start with whsec_ followed by the key in base64",
      std::invalid_argument);
}

TEST_CASE("secrets quoted in a message are hidden") {
  struct example {
    std::string text;
    std::string hidden;
  };
  const std::vector<example> examples{
      {"unrecognised option '--webhook-secrets=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2"
       "LaLaSw'",
       "unrecognised option '--webhook-secrets=whsec_<hidden>'"},
      {"whsec_a+b/c= and whsec_b, twice",
       "whsec_<hidden> and whsec_<hidden>, twice"},
      {"must start with whsec_ followed by the key",
       "must start with whsec_ followed by the key"},
      {"after whsec_", "after whsec_"},
      {"unknown key \"webhook_secretwhsec_abc\"",
       "unknown key \"webhook_secretwhsec_<hidden>\""},
      {"no secret here", "no secret here"},
      {"", ""},
  };
  for (const auto& e : examples) {
    CAPTURE(e.text);
    CHECK(hide_webhook_secrets(e.text) == e.hidden);
  }
}

TEST_CASE("a PEM file with a certificate is a usable CA file") {
  pilot::test::temp_dir dir;
  auto path = write_file(dir, "ca.pem", ca_certificate_pem);
  CHECK_FALSE(ca_file_problem(path).has_value());
  auto twice = write_file(dir, "two.pem",
                          std::string{ca_certificate_pem}
                              + std::string{ca_certificate_pem});
  CHECK_FALSE(ca_file_problem(twice).has_value());
}

TEST_CASE("an unusable CA file is named with the reason") {
  pilot::test::temp_dir dir;
  auto missing = dir.path.string() + "/missing.pem";
  CHECK(ca_file_problem(missing)
        == "webhook CA file " + missing
               + " cannot be read: No such file or directory");
  CHECK(ca_file_problem(dir.path.string())
        == "webhook CA file " + dir.path.string()
               + " is a directory, not a file");
  auto empty = write_file(dir, "empty.pem", "");
  CHECK(ca_file_problem(empty)
        == "webhook CA file " + empty + " contains no PEM certificate");
  auto text = write_file(dir, "text.pem", "not a certificate\n");
  CHECK(ca_file_problem(text)
        == "webhook CA file " + text + " contains no PEM certificate");
  auto broken = write_file(dir, "broken.pem",
                           "-----BEGIN CERTIFICATE-----\n"
                           "bm90IGEgY2VydGlmaWNhdGU=\n"
                           "-----END CERTIFICATE-----\n");
  auto problem = ca_file_problem(broken);
  REQUIRE(problem.has_value());
  CHECK(problem->starts_with("webhook CA file " + broken
                             + " is not a valid PEM file: "));
  CHECK(ca_file_problem("") == "webhook CA file path is empty");
}

TEST_CASE("a CA file is read without waiting on a FIFO") {
  pilot::test::temp_dir dir;
  auto fifo = (dir.path / "ca.pem").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening a FIFO for reading blocks until a writer comes, so a blocking
  // read would hang this test.
  CHECK(ca_file_problem(fifo)
        == "webhook CA file " + fifo + " is not a regular file");
}

TEST_CASE("a CA file larger than the limit is refused") {
  pilot::test::temp_dir dir;
  std::string bundle;
  while (bundle.size() <= max_ca_file_size)
    bundle += ca_certificate_pem;
  auto path = write_file(dir, "big.pem", bundle);
  CHECK(ca_file_problem(path)
        == "webhook CA file " + path + " is larger than 1024 KiB");
}

TEST_CASE("a CA file is read as its PEM text") {
  pilot::test::temp_dir dir;
  auto path = write_file(dir, "ca.pem", ca_certificate_pem);
  auto text = read_ca_file(path);
  REQUIRE(text.has_value());
  CHECK(*text == ca_certificate_pem);
}
