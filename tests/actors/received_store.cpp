#include "actors/detail/received_store.hpp"

#include "protocol/base64.hpp"
#include "tests/actors/file_test_support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>

using namespace pilot::actors::detail;
using namespace pilot::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// 2026-02-27T13:03:44.123Z.
const auto fixed_time = std::chrono::system_clock::time_point{1772197424123ms};

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

received_store store_at(const fs::path& dir) {
  return received_store{dir, [] {
                          return fixed_time;
                        }};
}

} // namespace

TEST_CASE("safe names keep only the final path element") {
  CHECK(safe_file_name("report.pdf") == "report.pdf");
  CHECK(safe_file_name("../../etc/passwd") == "passwd");
  CHECK(safe_file_name("/abs/path/x.txt") == "x.txt");
  CHECK(safe_file_name("dir/") == "dir");
}

TEST_CASE("safe names replace dot names and empty names") {
  CHECK(safe_file_name("") == "file");
  CHECK(safe_file_name(".") == "file");
  CHECK(safe_file_name("..") == "file");
  CHECK(safe_file_name("/") == "file");
  CHECK(safe_file_name("a/..") == "file");
}

TEST_CASE("safe names replace control characters") {
  CHECK(safe_file_name(std::string{"a\0b.txt", 7}) == "a_b.txt");
  CHECK(safe_file_name("line\nbreak\x7f") == "line_break_");
}

TEST_CASE("safe names replace bytes that are not UTF-8") {
  CHECK(safe_file_name("a\xff.txt") == "a\xef\xbf\xbd.txt");
  CHECK(safe_file_name("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("a long safe name keeps its extension") {
  auto name = std::string(300, 'n') + ".tar";
  auto safe = safe_file_name(name);
  CHECK(safe.size() == max_safe_name_size);
  CHECK(safe.ends_with(".tar"));
  CHECK(safe.starts_with("nnnn"));
}

TEST_CASE("a long safe name is cut between characters") {
  // 150 two-byte characters, 300 bytes.
  std::string name;
  for (int i = 0; i < 150; ++i)
    name += "\xc3\xa9";
  auto safe = safe_file_name(name);
  CHECK(safe.size() == max_safe_name_size);
  CHECK(safe == name.substr(0, max_safe_name_size));
  auto odd = "x" + name;
  auto cut = safe_file_name(odd);
  CHECK(cut.size() == max_safe_name_size - 1);
}

TEST_CASE("a long extension is cut with the name") {
  auto name = "a." + std::string(300, 'e');
  auto safe = safe_file_name(name);
  CHECK(safe.size() == max_safe_name_size);
  CHECK(safe.starts_with("a.eee"));
}

TEST_CASE("timestamps use local time with milliseconds") {
  time_zone_scope zone{"EET-2"};
  CHECK(file_timestamp(fixed_time) == "20260227-150344.123");
  CHECK(rfc3339_seconds(fixed_time) == "2026-02-27T15:03:44+02:00");
}

TEST_CASE("timestamps in UTC end in Z") {
  time_zone_scope zone{"UTC0"};
  CHECK(rfc3339_seconds(fixed_time) == "2026-02-27T13:03:44Z");
}

TEST_CASE("timestamps west of UTC have a negative offset") {
  time_zone_scope zone{"XST+5:30"};
  CHECK(rfc3339_seconds(fixed_time) == "2026-02-27T07:33:44-05:30");
}

TEST_CASE("a TEXT message is saved as the reference's inbox JSON") {
  time_zone_scope zone{"EET-2"};
  temp_dir tmp;
  auto store = store_at(tmp.path);
  auto path = store.save_message("TEXT", "0:0000.0000.0007", "hello");
  REQUIRE(path.has_value());
  CHECK(*path == tmp.path / "inbox" / "TEXT-20260227-150344.123.json");
  CHECK(read_file(*path)
        == R"({"bytes":5,"data":"hello","from":"0:0000.0000.0007",)"
           R"("received_at":"2026-02-27T15:03:44+02:00","type":"TEXT"})");
  CHECK(mode_of(*path) == 0600);
  CHECK(mode_of(tmp.path / "inbox") == 0700);
}

TEST_CASE("a BINARY message keeps its bytes in base64") {
  temp_dir tmp;
  auto store = store_at(tmp.path);
  std::string payload{"\x00\xff<\x80", 4};
  auto path = store.save_message("BINARY", "0:0000.0000.0007", payload);
  REQUIRE(path.has_value());
  auto text = read_file(*path);
  CHECK(text.find(R"("data":"\u0000\ufffd\u003c\ufffd")") != std::string::npos);
  CHECK(text.find(R"("data_base64":")" + pilot::protocol::base64_encode(payload)
                  + "\"")
        != std::string::npos);
  CHECK(text.find(R"("bytes":4)") != std::string::npos);
}

TEST_CASE("a JSON message is stored as a string") {
  temp_dir tmp;
  auto store = store_at(tmp.path);
  auto path = store.save_message("JSON", "0:0000.0000.0007", R"({"a":1})");
  REQUIRE(path.has_value());
  auto text = read_file(*path);
  CHECK(text.find(R"("data":"{\"a\":1}")") != std::string::npos);
  CHECK(text.find("data_base64") == std::string::npos);
}

TEST_CASE("messages in the same millisecond are all kept") {
  time_zone_scope zone{"UTC0"};
  temp_dir tmp;
  auto store = store_at(tmp.path);
  auto first = store.save_message("TEXT", "0:0000.0000.0007", "one");
  auto second = store.save_message("TEXT", "0:0000.0000.0007", "two");
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(first->filename() == "TEXT-20260227-130344.123.json");
  CHECK(second->filename() == "TEXT-20260227-130344.123-1.json");
  CHECK(read_file(*first).find("\"one\"") != std::string::npos);
  CHECK(read_file(*second).find("\"two\"") != std::string::npos);
}

TEST_CASE("a file is saved under its safe name and a timestamp") {
  time_zone_scope zone{"EET-2"};
  temp_dir tmp;
  auto store = store_at(tmp.path);
  auto saved = store.save_file("../report.pdf", "%PDF");
  REQUIRE(saved.has_value());
  CHECK(saved->name == "report.pdf");
  CHECK(saved->path
        == tmp.path / "received" / "report-20260227-150344.123.pdf");
  CHECK(saved->path.is_absolute());
  CHECK(read_file(saved->path) == "%PDF");
  CHECK(mode_of(saved->path) == 0600);
  CHECK(mode_of(tmp.path / "received") == 0700);
}

TEST_CASE("a dot file keeps its name as the extension") {
  time_zone_scope zone{"UTC0"};
  temp_dir tmp;
  auto saved = store_at(tmp.path).save_file(".bashrc", "x");
  REQUIRE(saved.has_value());
  CHECK(saved->path.filename() == "-20260227-130344.123.bashrc");
}

TEST_CASE("files with the same name never overwrite each other") {
  time_zone_scope zone{"UTC0"};
  temp_dir tmp;
  auto store = store_at(tmp.path);
  auto first = store.save_file("a.txt", "first");
  auto second = store.save_file("a.txt", "second");
  auto third = store.save_file("dir/a.txt", "third");
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  REQUIRE(third.has_value());
  CHECK(first->path.filename() == "a-20260227-130344.123.txt");
  CHECK(second->path.filename() == "a-20260227-130344.123-1.txt");
  CHECK(third->path.filename() == "a-20260227-130344.123-2.txt");
  CHECK(read_file(first->path) == "first");
  CHECK(read_file(second->path) == "second");
  CHECK(read_file(third->path) == "third");
}

TEST_CASE("a symlink in the folder is not followed or replaced") {
  time_zone_scope zone{"UTC0"};
  temp_dir tmp;
  auto outside = tmp.path / "outside.txt";
  { std::ofstream{outside} << "keep"; }
  fs::create_directories(tmp.path / "received");
  fs::create_symlink(outside,
                     tmp.path / "received" / "a-20260227-130344.123.txt");
  auto saved = store_at(tmp.path).save_file("a.txt", "new");
  REQUIRE(saved.has_value());
  CHECK(saved->path.filename() == "a-20260227-130344.123-1.txt");
  CHECK(read_file(outside) == "keep");
  CHECK(read_file(saved->path) == "new");
}

TEST_CASE("a 300-character name is saved inside the folder") {
  temp_dir tmp;
  auto saved
      = store_at(tmp.path).save_file(std::string(300, 'q') + ".bin", "data");
  REQUIRE(saved.has_value());
  CHECK(saved->path.parent_path() == tmp.path / "received");
  CHECK(saved->path.filename().string().size() <= 255);
  CHECK(saved->path.extension() == ".bin");
  CHECK(read_file(saved->path) == "data");
}

TEST_CASE("saving fails with a reason when the folder cannot exist") {
  temp_dir tmp;
  { std::ofstream{tmp.path / "received"} << "a file, not a folder"; }
  auto saved = store_at(tmp.path).save_file("a.txt", "x");
  REQUIRE_FALSE(saved.has_value());
  CHECK_FALSE(saved.error().message().empty());
  CHECK(read_file(tmp.path / "received") == "a file, not a folder");
}

TEST_CASE("a missing data folder is created with mode 0700") {
  temp_dir tmp;
  auto dir = tmp.path / "nested" / "data";
  auto saved = store_at(dir).save_file("a.txt", "x");
  REQUIRE(saved.has_value());
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir / "received") == 0700);
}
