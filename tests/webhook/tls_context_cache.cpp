#include "webhook/detail/tls_context_cache.hpp"

#include "tests/actors/file_test_support.hpp"
#include "tests/webhook/test_certificates.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace pilot;
using webhook::detail::tls_context_cache;

TEST_CASE("a CA file is loaded once while unchanged") {
  test::temp_dir dir;
  test::test_ca ca;
  auto path = test::write_file(dir.path, "ca.pem", ca.certificate_pem());
  tls_context_cache cache{4};
  auto first = cache.get(path);
  REQUIRE(first.has_value());
  auto second = cache.get(path);
  REQUIRE(second.has_value());
  CHECK(*first == *second);
  CHECK(cache.size() == 1);
}

TEST_CASE("a changed CA file replaces its context") {
  test::temp_dir dir;
  test::test_ca ca;
  auto path = test::write_file(dir.path, "ca.pem", ca.certificate_pem());
  tls_context_cache cache{4};
  auto before = cache.get(path);
  REQUIRE(before.has_value());
  test::touch_later(path);
  auto after = cache.get(path);
  REQUIRE(after.has_value());
  CHECK(*before != *after);
  CHECK(cache.size() == 1);
}

TEST_CASE("CA file renamed over is reloaded") {
  test::temp_dir dir;
  test::test_ca ca;
  test::test_ca other_ca{"Another test CA"};
  auto path = test::write_file(dir.path, "ca.pem", ca.certificate_pem());
  tls_context_cache cache{4};
  auto before = cache.get(path);
  REQUIRE(before.has_value());
  auto next
      = test::write_file(dir.path, "next.pem", other_ca.certificate_pem());
  std::filesystem::last_write_time(next,
                                   std::filesystem::last_write_time(path));
  std::filesystem::rename(next, path);
  auto after = cache.get(path);
  REQUIRE(after.has_value());
  CHECK(*before != *after);
  CHECK(cache.size() == 1);
}

TEST_CASE("the context cache drops the least recently used") {
  test::temp_dir dir;
  test::test_ca ca;
  auto pem = ca.certificate_pem();
  auto a = test::write_file(dir.path, "a.pem", pem);
  auto b = test::write_file(dir.path, "b.pem", pem);
  auto c = test::write_file(dir.path, "c.pem", pem);
  tls_context_cache cache{2};
  auto first_a = cache.get(a);
  REQUIRE(first_a.has_value());
  auto first_b = cache.get(b);
  REQUIRE(first_b.has_value());
  // Using `a` again makes `b` the least recently used.
  REQUIRE(cache.get(a).has_value());
  REQUIRE(cache.get(c).has_value());
  CHECK(cache.size() == 2);
  auto again_a = cache.get(a);
  REQUIRE(again_a.has_value());
  CHECK(*again_a == *first_a);
  auto again_b = cache.get(b);
  REQUIRE(again_b.has_value());
  CHECK(*again_b != *first_b);
  CHECK(cache.size() == 2);
}

TEST_CASE("the system trust store has a context of its own") {
  tls_context_cache cache{2};
  auto system = cache.get("");
  REQUIRE(system.has_value());
  CHECK(*system != nullptr);
  CHECK(cache.size() == 1);
}

TEST_CASE("an unusable CA file is not cached") {
  test::temp_dir dir;
  auto path = test::write_file(dir.path, "empty.pem", "");
  tls_context_cache cache{2};
  auto result = cache.get(path);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error()
        == "webhook CA file " + path + " contains no PEM certificate");
  CHECK(cache.size() == 0);
}
