#include "actors/log.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

using namespace pilot::actors;

TEST_CASE("a text line carries level, component, event id and fields") {
  auto line = log::format_line(log::format::text, "2026-01-01T00:00:00.000Z",
                               log::level::warn, "webhook", "endpoint-down",
                               "webhook endpoint is down",
                               {{"url", "http://127.0.0.1:8080/events"}});
  CHECK(line
        == "2026-01-01T00:00:00.000Z warn webhook endpoint-down: webhook "
           "endpoint is down url=http://127.0.0.1:8080/events\n");
}

TEST_CASE("a text value with spaces or quotes is quoted") {
  auto line = log::format_line(log::format::text, "t", log::level::info, "c",
                               "e", "m", {{"error", "connection \"refused\""}});
  CHECK(line == "t info c e: m error=\"connection \\\"refused\\\"\"\n");
}

TEST_CASE("an empty text value is shown as empty quotes") {
  auto line = log::format_line(log::format::text, "t", log::level::info, "c",
                               "e", "m", {{"hostname", ""}});
  CHECK(line == "t info c e: m hostname=\"\"\n");
}

TEST_CASE("a json line is one valid object with every field") {
  auto line = log::format_line(log::format::json, "t", log::level::error,
                               "registry", "store-save-failed", "save failed",
                               {{"path", "/tmp/a\nb"}});
  REQUIRE(line.back() == '\n');
  auto value = boost::json::parse(line);
  auto& obj = value.as_object();
  CHECK(obj.at("level").as_string() == "error");
  CHECK(obj.at("component").as_string() == "registry");
  CHECK(obj.at("event").as_string() == "store-save-failed");
  CHECK(obj.at("msg").as_string() == "save failed");
  CHECK(obj.at("path").as_string() == "/tmp/a\nb");
}

TEST_CASE("levels parse with the warning alias and reject others") {
  log::level lvl = log::level::info;
  CHECK(log::parse_level("warning", lvl));
  CHECK(lvl == log::level::warn);
  CHECK(log::parse_level("debug", lvl));
  CHECK(lvl == log::level::debug);
  CHECK_FALSE(log::parse_level("verbose", lvl));
}

TEST_CASE("lines below the configured level are disabled") {
  log::configure(log::level::warn, log::format::text);
  CHECK_FALSE(log::enabled(log::level::info));
  CHECK(log::enabled(log::level::error));
  log::configure(log::level::info, log::format::text);
  CHECK(log::enabled(log::level::info));
}
