#include "protocol/identity.hpp"

#include "protocol/base64.hpp"
#include "tests/protocol/rfc8032_key.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

using namespace pilot::protocol;
using namespace pilot::test;

namespace {

constexpr std::string_view rfc8032_identity_file
    = "{\n"
      "  \"private_key\": "
      "\"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9"
      "VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==\",\n"
      "  \"public_key\": \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n"
      "}";

} // namespace

TEST_CASE("identity from the RFC 8032 seed has the RFC public key") {
  CHECK_EQ(rfc8032_identity().public_key_base64(), rfc8032_public_key);
}

TEST_CASE("identity signs the empty message like RFC 8032") {
  auto sig = rfc8032_identity().sign("");
  REQUIRE(sig.has_value());
  CHECK_EQ(base64_encode(*sig),
           "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0l"
           "v18FlbviRlUUFDjnoQCw==");
}

TEST_CASE("identity signs every registry challenge like the reference") {
  struct row {
    std::string challenge;
    std::string_view signature;
  };
  const std::array rows{
      row{heartbeat_challenge(1),
          "VnlNDnMgPNrEstsrIUUV4v6d2E7QkVIddCAIpv1x28Ut"
          "cY15dnl85d0ldVgesmCWwT8vPsUTgZrs82oJtGTtAQ=="},
      row{deregister_challenge(1),
          "Cv3ye2Y0G91zxsEQYlimQpK2nWdQyc0nyfJNsVsH+9iw"
          "17cANMvgPra2O5ZygO35zLJcHGeEjmLb0T5iAyTvDg=="},
      row{resolve_challenge(1, 2),
          "a782c6+50CLxw5CdBgYqTOdXCgBvP0bH1Pc1vA1BZE/z"
          "b4XhaloIU6GMcNtJVitQIMY57SgoK21CUKmjSAItAw=="},
      row{punch_challenge(1, 2), "c6kLokd5DHyAw5zyivXG6Mv0RTgYyqZYV0WmcvsbrwedA"
                                 "6tA7AXerrA2XDWwvOOH89FRhjdq2BodCxZ/SHazBg=="},
      row{report_trust_challenge(1, 2),
          "suyxylsOLhA8QtW5asqmG+Xl+IbllzPaK2XqCMA7Zu2mt+"
          "ZdBePC1ABHLQvy1m4LwIHG2"
          "0TnShT8xainjSdjCw=="},
      row{revoke_trust_challenge(1, 2), "w8WaitjhI3H9EoeJ8+PeoN77RzMSXI2N/"
                                        "BxTjjtflXsK1p5GYQIwh/15MKbifpgnseZa/"
                                        "Xz6nr88SW/wbpIjCg=="},
      row{set_visibility_challenge(1), "MS9GAEBwbPEHOrQXcrLT2C6mS34eIQz/"
                                       "3b5IGM2skWK+//MPF6y8LIumWWjBaCZjcDAJJ"
                                       "zjuTvjczQbDXOCCDg=="},
      row{set_hostname_challenge(1), "da3tGwCz0tpv92em9XToGwi562aKfnjApZevUfCUZ"
                                     "x9jC5zgBNhqwk4M1on1Mh86H++6b"
                                     "y8hVKyJVmykkXE5CQ=="},
      row{set_tags_challenge(1), "8IvBJLo/yk2W2w0LRtkf+ohNDPySxif+g31zQaja3JUo+"
                                 "X2gU4+4VuK96vOjzSUuFlT0couhoGTMGvjVmu1ACg=="},
      row{set_task_exec_challenge(1),
          "9AY81659/"
          "pozcnWZ3hvFMPHqrrdfUogG1gtoUTuF0ebIVck5ohwHWFFS4jVq1Tv40bm9t"
          "BxnPpRgFXQxygEGAw=="},
      row{poll_handshakes_challenge(1), "pBvJlFsJ43hdwXeQ3gFua5dkLDgh3xeoBwh/"
                                        "iZsNBiO9IXmdrQZLp9tWZO3aTJwJMPxWS"
                                        "53uEcl/Z7CMz7B9Dw=="},
      row{handshake_challenge(1, 2),
          "9S+I5TI03acn8tKkIroprBmv6NzljsX4+ZcP04hlEt"
          "UrmPJEww0O11uGhVSGh4Xs/so1V4HlVcLx5g/"
          "kulFZCw=="},
      row{respond_challenge(2, 1),
          "Mti4n9prc3wG6s7MWkqkryYHRRjiU0kEzIbDDL1yI1yp"
          "FOA9iSTGCR5IYCgxuJ1ULXfmRVTY2n/smpl2RtmVAw=="},
      row{rotate_challenge(1),
          "StuIfMuiH9S/IuHI3+SOZ8DeJo2Z/knpHJFSu/ni3SuhlSGIA"
          "d8+Da6g0tzmsntNa37OZwqvlhrZ2VSyBEkfAQ=="},
  };
  auto id = rfc8032_identity();
  for (const auto& r : rows) {
    CAPTURE(r.challenge);
    auto sig = id.sign_base64(r.challenge);
    REQUIRE(sig.has_value());
    CHECK_EQ(*sig, r.signature);
    CHECK(verify_base64(rfc8032_public_key, r.challenge, r.signature));
  }
}

TEST_CASE("challenge strings use decimal IDs without padding") {
  CHECK_EQ(heartbeat_challenge(4294967295u), "heartbeat:4294967295");
  CHECK_EQ(handshake_challenge(10, 200), "handshake:10:200");
  CHECK_EQ(respond_challenge(2, 1), "respond:2:1");
  CHECK_EQ(rotate_challenge(0), "rotate:0");
}

TEST_CASE("verification fails for another message, key or signature") {
  auto id = rfc8032_identity();
  auto sig = id.sign("heartbeat:1");
  REQUIRE(sig.has_value());
  CHECK(verify(id.public_key(), "heartbeat:1", *sig));
  CHECK_FALSE(verify(id.public_key(), "heartbeat:2", *sig));
  auto other = identity::generate();
  REQUIRE(other.has_value());
  CHECK_FALSE(verify(other->public_key(), "heartbeat:1", *sig));
  auto tampered = *sig;
  tampered[10] ^= 0x01;
  CHECK_FALSE(verify(id.public_key(), "heartbeat:1", tampered));
  CHECK_FALSE(
      verify(id.public_key(), "heartbeat:1", std::span{*sig}.first(63)));
  CHECK_FALSE(verify_base64(rfc8032_public_key, "heartbeat:1", "not base64"));
  CHECK_FALSE(verify_base64("AAAA", "heartbeat:1", base64_encode(*sig)));
}

TEST_CASE("generated identities differ and sign verifiably") {
  auto first = identity::generate();
  auto second = identity::generate();
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK_FALSE(*first == *second);
  auto sig = first->sign("message");
  REQUIRE(sig.has_value());
  CHECK(verify(first->public_key(), "message", *sig));
}

TEST_CASE("identity rejects seeds of the wrong size") {
  std::array<std::uint8_t, 31> short_seed{};
  auto id = identity::from_seed(short_seed);
  REQUIRE_FALSE(id.has_value());
  CHECK_EQ(id.error(), errc::invalid_key);
}

TEST_CASE("public key parser requires 32 bytes") {
  CHECK(parse_public_key(rfc8032_public_key).has_value());
  auto short_key = parse_public_key("AAAA");
  REQUIRE_FALSE(short_key.has_value());
  CHECK_EQ(short_key.error(), errc::invalid_key);
  CHECK_FALSE(parse_public_key("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo")
                  .has_value());
}

TEST_CASE("identity file has the reference bytes") {
  CHECK_EQ(to_identity_file_json(rfc8032_identity()), rfc8032_identity_file);
}

TEST_CASE("identity file round-trips") {
  auto parsed = parse_identity_file_json(rfc8032_identity_file);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == rfc8032_identity());
  auto generated = identity::generate();
  REQUIRE(generated.has_value());
  auto again = parse_identity_file_json(to_identity_file_json(*generated));
  REQUIRE(again.has_value());
  CHECK(*again == *generated);
}

TEST_CASE("identity file parser accepts other whitespace and key order") {
  auto parsed = parse_identity_file_json(
      R"({"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",)"
      R"("private_key":"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9)"
      R"(VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg=="})");
  REQUIRE(parsed.has_value());
  CHECK(*parsed == rfc8032_identity());
}

TEST_CASE("identity file parser rejects bad files") {
  constexpr std::string_view good_private
      = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/"
        "tPJZAc6DuFy89qm"
        "IyWvAhpo9wdRGg==";
  auto file = [](std::string_view private_key, std::string_view public_key) {
    return std::string{R"({"private_key":")"} + std::string{private_key}
           + R"(","public_key":")" + std::string{public_key} + R"("})";
  };
  struct row {
    std::string text;
    errc expected;
  };
  // The 64-byte key of another seed, whose public half does not match.
  auto other = identity::generate();
  REQUIRE(other.has_value());
  auto other_file = to_identity_file_json(*other);
  auto other_private
      = other_file.substr(other_file.find("\"private_key\": \"") + 16, 88);
  const std::array rows{
      row{"", errc::malformed_json},
      row{"not json", errc::malformed_json},
      row{"[]", errc::malformed_json},
      row{R"({"public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="})",
          errc::missing_field},
      row{R"({"private_key":")" + std::string{good_private} + "\"}",
          errc::missing_field},
      row{R"({"private_key":5,"public_key":"x"})", errc::invalid_field},
      // Private key of 32 bytes (the seed alone).
      row{file("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
               rfc8032_public_key),
          errc::invalid_key},
      // Public key of 31 bytes.
      row{file(good_private, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUQ=="),
          errc::invalid_key},
      // Public key that belongs to another identity.
      row{file(good_private, other->public_key_base64()), errc::invalid_key},
      // Private key whose embedded public half belongs to another seed.
      row{file(other_private, rfc8032_public_key), errc::invalid_key},
      row{file("!!!!", rfc8032_public_key), errc::invalid_key},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto parsed = parse_identity_file_json(r.text);
    REQUIRE_FALSE(parsed.has_value());
    CHECK_EQ(parsed.error(), r.expected);
  }
}
