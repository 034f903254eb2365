#pragma once

#include "control/cli_args.hpp"
#include "control/cli_commands.hpp"
#include "tests/control/control_fixture.hpp"
#include "tests/control/stand_in_transport.hpp"

#include <boost/json/object.hpp>
#include <doctest/doctest.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

/// Fixture parts that the tests of pilotctl's transport commands share.
namespace pilot::test {

/// The control actor with the stand-in connection and tunnel actors, and
/// pilotctl's HOME and socket pointed at it.
struct cli_stand_in_fixture : cli_fixture {
  cli_stand_in_fixture() {
    connections = sys.spawn(stand_in_connections, stats);
    tunnel = sys.spawn(stand_in_tunnel);
    start();
  }

  std::shared_ptr<stand_in_stats> stats = std::make_shared<stand_in_stats>();
};

/// Parses `args` as pilotctl's command line, without global options.
inline control::cli::command_line command(std::vector<std::string> args) {
  return control::cli::parse_command_line(args, {});
}

/// Returns the JSON object of a command's result and fails the test when
/// the result carries another JSON value.
inline const boost::json::object& data_of(const control::cli::success& result) {
  REQUIRE(result.data.is_object());
  return result.data.as_object();
}

/// Redirects `std::cout` into `text` while it lives.
struct captured_stdout {
  captured_stdout() : old(std::cout.rdbuf(text.rdbuf())) {}
  ~captured_stdout() { std::cout.rdbuf(old); }

  captured_stdout(const captured_stdout&) = delete;
  captured_stdout& operator=(const captured_stdout&) = delete;

  std::ostringstream text;
  std::streambuf* old;
};

} // namespace pilot::test
