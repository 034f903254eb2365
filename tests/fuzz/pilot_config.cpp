// pilotctl's config.json: whatever loads must save to text that loads to
// the same values and saves to the same text.
#include "control/pilot_config.hpp"

#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/scratch_file.hpp"

using namespace pilot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  static const fuzz::scratch_file file{"config.json"};
  file.write(fuzz::text_of(data, size));
  std::optional<control::pilot_config> config;
  try {
    config.emplace(control::pilot_config::load(file.path()));
  } catch (const control::config_error&) {
    return 0;
  }
  auto text = config->to_text();
  file.write(text);
  auto again = control::pilot_config::load(file.path());
  fuzz::check(again.values() == config->values(),
              "saved text loads to the same values");
  fuzz::check(again.to_text() == text, "saving again is stable");
  return 0;
}
