#include "control/pilot_config.hpp"

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <sys/stat.h>

using pilot::control::config_error;
using pilot::control::pilot_config;
using pilot::control::pilot_home;

namespace {

// Points HOME at a fresh temporary directory for one test and restores it,
// so that no test touches the real home directory.
struct home_fixture {
  home_fixture() {
    std::string name = "/tmp/pilot-config-test-XXXXXX";
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    home = name;
    if (const char* old = std::getenv("HOME"))
      old_home = old;
    ::setenv("HOME", home.c_str(), 1);
  }

  ~home_fixture() {
    if (old_home)
      ::setenv("HOME", old_home->c_str(), 1);
    else
      ::unsetenv("HOME");
    std::filesystem::remove_all(home);
  }

  std::filesystem::path config_path() const {
    return home / ".pilot" / "config.json";
  }

  void write(const std::string& text) const {
    std::filesystem::create_directories(config_path().parent_path());
    std::ofstream{config_path(), std::ios::binary} << text;
  }

  std::string read() const {
    std::ifstream in{config_path(), std::ios::binary};
    return {std::istreambuf_iterator<char>{in},
            std::istreambuf_iterator<char>{}};
  }

  std::filesystem::path home;
  std::optional<std::string> old_home;
};

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Returns the message of the `config_error` that `load` throws.
std::string load_error(const std::filesystem::path& path) {
  try {
    pilot_config::load(path);
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("load did not throw");
  return {};
}

} // namespace

TEST_CASE_FIXTURE(home_fixture, "config path follows HOME") {
  CHECK(pilot_home() == home / ".pilot");
  CHECK(pilot_config::default_path() == config_path());
}

TEST_CASE_FIXTURE(home_fixture, "config without HOME is an error") {
  ::unsetenv("HOME");
  CHECK_THROWS_AS(pilot_home(), config_error);
  ::setenv("HOME", "", 1);
  CHECK_THROWS_AS(pilot_config::default_path(), config_error);
}

TEST_CASE_FIXTURE(home_fixture, "missing config file loads empty") {
  auto config = pilot_config::load(config_path());
  CHECK(config.values().empty());
  CHECK(config.path() == config_path());
  CHECK_FALSE(std::filesystem::exists(config_path()));
}

TEST_CASE_FIXTURE(home_fixture, "config set keeps every other key") {
  write(R"({"registry":"10.0.0.1:9000","encrypt":true,"identity":null,)"
        R"("nested":{"list":[1,2.5,"s",-3],"empty":{}},)"
        R"("big":18446744073709551615,"webhook":"http://old/"})");
  auto config = pilot_config::load(config_path());
  config.set_string("webhook", "http://127.0.0.1:8080/events");
  config.save();
  auto saved = boost::json::parse(read()).as_object();
  CHECK(saved.size() == 6);
  CHECK(saved.at("webhook") == "http://127.0.0.1:8080/events");
  CHECK(saved.at("registry") == "10.0.0.1:9000");
  CHECK(saved.at("encrypt") == true);
  CHECK(saved.at("identity").is_null());
  CHECK(saved.at("nested")
        == boost::json::parse(R"({"list":[1,2.5,"s",-3],)"
                              R"("empty":{}})"));
  CHECK(saved.at("big").as_uint64() == 18446744073709551615u);
  CHECK(pilot_config::load(config_path()).values() == saved);
}

TEST_CASE_FIXTURE(home_fixture, "config text is sorted and indented") {
  pilot_config config{config_path()};
  config.set_string("socket", "/tmp/pilot.sock");
  config.set_string("registry", "127.0.0.1:9000");
  config.set("tags", boost::json::array{"a", 1});
  config.set("encrypt", false);
  CHECK(config.string_value("socket") == "/tmp/pilot.sock");
  config.save();
  CHECK(read()
        == "{\n"
           "  \"encrypt\": false,\n"
           "  \"registry\": \"127.0.0.1:9000\",\n"
           "  \"socket\": \"/tmp/pilot.sock\",\n"
           "  \"tags\": [\n"
           "    \"a\",\n"
           "    1\n"
           "  ]\n"
           "}\n");
}

TEST_CASE_FIXTURE(home_fixture, "config erase removes only its key") {
  write(R"({"hostname":"alpha","registry":"r"})");
  auto config = pilot_config::load(config_path());
  CHECK(config.erase("hostname"));
  CHECK_FALSE(config.erase("hostname"));
  config.save();
  CHECK(read() == "{\n  \"registry\": \"r\"\n}\n");
  CHECK(config.string_value("registry") == "r");
  CHECK_FALSE(config.string_value("hostname"));
}

TEST_CASE_FIXTURE(home_fixture, "config string value ignores other types") {
  write(R"({"webhook":5,"registry":"r"})");
  auto config = pilot_config::load(config_path());
  CHECK_FALSE(config.string_value("webhook"));
  CHECK(config.string_value("registry") == "r");
}

TEST_CASE_FIXTURE(home_fixture, "config save is private and atomic") {
  pilot_config config{config_path()};
  config.set_string("webhook", "http://127.0.0.1:8080/events");
  config.save();
  CHECK(mode_of(config_path()) == 0600);
  CHECK(mode_of(config_path().parent_path()) == 0700);
  // A replaced file keeps its group's access and loses access for others,
  // so that a config file shared with a service group stays readable.
  ::chmod(config_path().c_str(), 0644);
  config.set_string("registry", "r");
  config.save();
  CHECK(mode_of(config_path()) == 0640);
  // Nothing but the file itself is left in the directory.
  std::size_t entries = 0;
  for (auto& entry :
       std::filesystem::directory_iterator{config_path().parent_path()}) {
    CHECK(entry.path() == config_path());
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE_FIXTURE(home_fixture, "malformed config names line and stays") {
  std::string text = "{\n"
                     "  \"registry\": \"127.0.0.1:9000\",\n"
                     "  \"webhook\": \"http://x/\",\n"
                     "}\n";
  write(text);
  auto message = load_error(config_path());
  CHECK(message.find(config_path().string()) != std::string::npos);
  CHECK(message.find("line 4") != std::string::npos);
  CHECK(read() == text);
}

TEST_CASE_FIXTURE(home_fixture, "malformed config reports each line") {
  struct example {
    std::string text;
    std::string line;
  };
  example examples[] = {
      {"{\n  \"a\": 1\n  \"b\": 2\n}\n", "line 3"},
      {"{\n  \"a\": \"unterminated\n}\n", "line 2"},
      {"{\n  \"a\": tru\n}\n", "line 2"},
      {"{\n  \"a\": 1\n", "line 2"},
      {"{\"a\": 1}\n\n{\"b\": 2}\n", "line 3"},
      {"", "line 1"},
  };
  for (const auto& [text, line] : examples) {
    CAPTURE(text);
    write(text);
    auto message = load_error(config_path());
    CHECK(message.find(line) != std::string::npos);
    CHECK(read() == text);
  }
}

TEST_CASE_FIXTURE(home_fixture, "config that is no object is rejected") {
  write("[\"registry\"]\n");
  auto message = load_error(config_path());
  CHECK(message.find("line 1") != std::string::npos);
  CHECK(message.find("one JSON object") != std::string::npos);
}

TEST_CASE_FIXTURE(home_fixture, "config lock waits for its holder") {
  using namespace std::chrono_literals;
  std::optional<pilot::control::config_lock> holder;
  holder.emplace(config_path());
  auto lock_path = config_path();
  lock_path += ".lock";
  CHECK(mode_of(lock_path) == 0600);
  CHECK(mode_of(config_path().parent_path()) == 0700);
  std::string message;
  try {
    pilot::control::config_lock second{config_path(), 50ms};
  } catch (const config_error& e) {
    message = e.what();
  }
  CHECK(message
        == "cannot lock config file: " + lock_path.string()
               + ": another process has held it for 50 ms; try again");
  holder.reset();
  pilot::control::config_lock third{config_path(), 50ms};
  // The lock file stays; the config file itself is not created.
  CHECK(std::filesystem::exists(lock_path));
  CHECK_FALSE(std::filesystem::exists(config_path()));
}

TEST_CASE_FIXTURE(home_fixture, "non-regular config file is an error") {
  std::filesystem::create_directories(config_path().parent_path());
  REQUIRE(::mkfifo(config_path().c_str(), 0600) == 0);
  // A FIFO without a writer would block a plain read forever.
  CHECK(load_error(config_path())
        == "cannot read config file " + config_path().string()
               + ": not a regular file");
  std::filesystem::remove(config_path());
  std::filesystem::create_directory(config_path());
  CHECK(load_error(config_path())
        == "cannot read config file " + config_path().string()
               + ": not a regular file");
}

TEST_CASE_FIXTURE(home_fixture, "linked config saved at its target") {
  auto target = home / "etc" / "pilot.json";
  std::filesystem::create_directories(target.parent_path());
  std::ofstream{target} << "{}\n";
  std::filesystem::create_directories(config_path().parent_path());
  std::filesystem::create_symlink("../etc/pilot.json", config_path());
  auto config = pilot_config::load(config_path());
  config.set_string("hostname", "linked");
  config.save();
  CHECK(std::filesystem::is_symlink(config_path()));
  CHECK(pilot_config::load(target).string_value("hostname") == "linked");
  pilot::control::config_lock lock{config_path()};
  auto lock_path = target;
  lock_path += ".lock";
  CHECK(std::filesystem::exists(lock_path));
}
