#include "actors/detail/trust_file.hpp"

#include "tests/actors/file_test_support.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

using namespace std::chrono_literals;
using namespace pilot::actors::detail;
using namespace pilot::test;
namespace fs = std::filesystem;

namespace {

// 2026-02-27T13:03:44Z.
constexpr trust_time sample_time{1'772'197'424s};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary};
  out << text;
}

trust_records sample_records() {
  trust_records records;
  records.trusted[7] = {"a2V5Nw==", sample_time, true, 0};
  records.trusted[9] = {"", sample_time + 1s, false, 3};
  records.pending[11] = {"a2V5MTE=", "why <now>", sample_time};
  records.pending[12] = {"", "", sample_time};
  records.outgoing[20] = sample_time + 2s;
  return records;
}

std::string parse_error(std::string_view text) {
  try {
    parse_trust_file(text);
  } catch (const std::invalid_argument& err) {
    return err.what();
  }
  FAIL("the text parsed: " << text);
  return {};
}

} // namespace

TEST_CASE("the trust file has the reference's layout") {
  time_zone_scope zone{"UTC-2"};
  CHECK(to_trust_file_json(sample_records())
        == "{\n"
           "  \"trusted\": [\n"
           "    {\n"
           "      \"node_id\": 7,\n"
           "      \"public_key\": \"a2V5Nw==\",\n"
           "      \"approved_at\": \"2026-02-27T15:03:44+02:00\",\n"
           "      \"mutual\": true\n"
           "    },\n"
           "    {\n"
           "      \"node_id\": 9,\n"
           "      \"public_key\": \"\",\n"
           "      \"approved_at\": \"2026-02-27T15:03:45+02:00\",\n"
           "      \"mutual\": false,\n"
           "      \"network\": 3\n"
           "    }\n"
           "  ],\n"
           "  \"pending\": [\n"
           "    {\n"
           "      \"node_id\": 11,\n"
           "      \"public_key\": \"a2V5MTE=\",\n"
           "      \"justification\": \"why \\u003cnow\\u003e\",\n"
           "      \"received_at\": \"2026-02-27T15:03:44+02:00\"\n"
           "    },\n"
           "    {\n"
           "      \"node_id\": 12,\n"
           "      \"received_at\": \"2026-02-27T15:03:44+02:00\"\n"
           "    }\n"
           "  ],\n"
           "  \"outgoing\": [\n"
           "    {\n"
           "      \"node_id\": 20,\n"
           "      \"sent_at\": \"2026-02-27T15:03:46+02:00\"\n"
           "    }\n"
           "  ]\n"
           "}");
}

TEST_CASE("an empty trust file writes trusted as null") {
  CHECK(to_trust_file_json({}) == "{\n  \"trusted\": null\n}");
}

TEST_CASE("times in UTC end in Z and zero times are Go's") {
  time_zone_scope zone{"UTC0"};
  trust_records records;
  records.trusted[1] = {"", sample_time, false, 0};
  records.trusted[2] = {"", zero_trust_time, false, 0};
  auto text = to_trust_file_json(records);
  CHECK(text.find("\"2026-02-27T13:03:44Z\"") != std::string::npos);
  CHECK(text.find("\"0001-01-01T00:00:00Z\"") != std::string::npos);
}

TEST_CASE("the trust file round-trips") {
  time_zone_scope zone{"UTC+5"};
  auto records = sample_records();
  CHECK(parse_trust_file(to_trust_file_json(records)) == records);
}

TEST_CASE("a reference file with null trusted parses") {
  auto records = parse_trust_file(R"({"trusted": null})");
  CHECK(records.trusted.empty());
  CHECK(records.pending.empty());
  CHECK(records.outgoing.empty());
  CHECK(parse_trust_file("{}") == trust_records{});
  CHECK(parse_trust_file("null") == trust_records{});
}

TEST_CASE("fractions, zones and unknown keys are read") {
  auto records = parse_trust_file(
      R"({"extra":1,"trusted":[{"node_id":7,"public_key":"k",)"
      R"("approved_at":"2026-02-27T15:03:44.123456789+02:00","mutual":true,)"
      R"("future":[1]}]})");
  REQUIRE(records.trusted.contains(7));
  CHECK(records.trusted.at(7).approved_at == sample_time);
  CHECK(records.trusted.at(7).mutual);
  CHECK(records.trusted.at(7).public_key == "k");
}

TEST_CASE("an unparsable time becomes the zero time") {
  auto records = parse_trust_file(
      R"({"pending":[{"node_id":3,"received_at":"yesterday"}]})");
  REQUIRE(records.pending.contains(3));
  CHECK(records.pending.at(3).received_at == zero_trust_time);
}

TEST_CASE("a written zero time reads back as the zero time") {
  auto records = parse_trust_file(
      R"({"trusted":[{"node_id":4,"approved_at":"0001-01-01T00:00:00Z"}],)"
      R"("pending":[{"node_id":5,"received_at":"9999-12-31T23:59:59Z"}]})");
  REQUIRE(records.trusted.contains(4));
  CHECK(records.trusted.at(4).approved_at == zero_trust_time);
  REQUIRE(records.pending.contains(5));
  CHECK(records.pending.at(5).received_at == zero_trust_time);
}

TEST_CASE("malformed trust files name the key and the problem") {
  CHECK(parse_error("{").find("trust file: invalid JSON") == 0);
  CHECK(parse_error("[]") == "trust file: expected a JSON object");
  CHECK(parse_error(R"({"trusted":{}})") == "trusted: expected a list or null");
  CHECK(parse_error(R"({"pending":[1]})") == "pending[0]: expected an object");
  CHECK(parse_error(R"({"trusted":[{"node_id":1},{"node_id":-1}]})")
        == "trusted[1].node_id: expected an integer from 0 to 4294967295");
  CHECK(parse_error(R"({"trusted":[{"network":70000}]})")
        == "trusted[0].network: expected an integer from 0 to 65535");
  CHECK(parse_error(R"({"trusted":[{"mutual":"yes"}]})")
        == "trusted[0].mutual: expected true or false");
  CHECK(parse_error(R"({"pending":[{"justification":5}]})")
        == "pending[0].justification: expected a string");
  CHECK(parse_error(R"({"outgoing":[{"sent_at":5}]})")
        == "outgoing[0].sent_at: expected a string");
}

TEST_CASE("a saved trust file is private and loads back") {
  auto dir = make_temp_dir();
  auto path = dir / "trust.json";
  REQUIRE_FALSE(save_trust_file(path, sample_records()));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = load_trust_file(path);
  CHECK(loaded.found);
  CHECK(loaded.error.empty());
  CHECK(loaded.records == sample_records());
  fs::remove_all(dir);
}

TEST_CASE("a missing trust file loads as empty") {
  auto dir = make_temp_dir();
  auto loaded = load_trust_file(dir / "trust.json");
  CHECK_FALSE(loaded.found);
  CHECK(loaded.error.empty());
  CHECK(loaded.records == trust_records{});
  fs::remove_all(dir);
}

TEST_CASE("a broken trust file reports its path and problem") {
  auto dir = make_temp_dir();
  auto path = dir / "trust.json";
  write_text(path, R"({"trusted":[{"node_id":"seven"}]})");
  auto loaded = load_trust_file(path);
  CHECK(loaded.found);
  CHECK(loaded.error
        == path.string()
               + ": trusted[0].node_id: expected an integer from 0 to "
                 "4294967295");
  CHECK(loaded.records == trust_records{});
  CHECK(read_file(path) == R"({"trusted":[{"node_id":"seven"}]})");
  fs::remove_all(dir);
}
