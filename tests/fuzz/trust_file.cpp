// trust.json: whatever parses must be written back to a file that parses
// to the same records. A time may lose its fraction on the first write, so
// the records of the first write are compared with those of the second.
#include "actors/detail/trust_file.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <cstdlib>
#include <stdexcept>

using namespace pilot;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Times are written in local time; a fixed zone keeps runs repeatable.
  setenv("TZ", "UTC", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  actors::detail::trust_records records;
  try {
    records = actors::detail::parse_trust_file(fuzz::text_of(data, size));
  } catch (const std::invalid_argument&) {
    return 0;
  }
  auto written = actors::detail::to_trust_file_json(records);
  auto reread = actors::detail::parse_trust_file(written);
  auto rewritten = actors::detail::to_trust_file_json(reread);
  fuzz::check(actors::detail::parse_trust_file(rewritten) == reread,
              "a written trust file parses to the same records");
  fuzz::check(rewritten == written, "writing the file again is stable");
  return 0;
}
