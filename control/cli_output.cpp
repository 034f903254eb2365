#include "control/cli_output.hpp"

#include "control/json_text.hpp"
#include "protocol/go_json.hpp"

#include <boost/json/object.hpp>

#include <iostream>

namespace pilot::control::cli {

std::string plain_text(const boost::json::value& value) {
  if (auto* text = value.if_string())
    return std::string{*text};
  return protocol::to_go_json(value);
}

void print_success(const success& result, bool json) {
  if (json) {
    boost::json::object envelope{{"data", result.data}, {"status", "ok"}};
    std::cout << protocol::to_go_json(envelope) << '\n';
  } else if (!result.text.empty()) {
    std::cout << result.text;
    if (!result.text.ends_with('\n'))
      std::cout << '\n';
  } else {
    std::cout << to_indented_json(result.data) << '\n';
  }
  std::cout.flush();
}

void print_error(const error& err, bool json) {
  if (json) {
    boost::json::object envelope{
        {"code", err.code()}, {"message", err.what()}, {"status", "error"}};
    if (!err.hint().empty())
      envelope["hint"] = err.hint();
    std::cerr << protocol::to_go_json(envelope) << '\n';
  } else {
    std::cerr << "error: " << err.what() << '\n';
    if (!err.hint().empty())
      std::cerr << "hint:  " << err.hint() << '\n';
  }
  std::cerr.flush();
}

} // namespace pilot::control::cli
