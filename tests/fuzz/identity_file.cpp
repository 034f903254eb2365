// Identity files: whatever parses must be written back to a file that
// parses to the same key pair.
#include "protocol/identity.hpp"

#include "tests/fuzz/fuzz_check.hpp"

using namespace pilot;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  auto parsed = protocol::parse_identity_file_json(fuzz::text_of(data, size));
  if (!parsed)
    return 0;
  auto again = protocol::parse_identity_file_json(
      protocol::to_identity_file_json(*parsed));
  fuzz::check(again.has_value(), "a written identity file parses");
  fuzz::check(*again == *parsed, "the file keeps the key pair");
  auto derived = protocol::identity::from_seed(parsed->seed());
  fuzz::check(derived.has_value() && *derived == *parsed,
              "the public key is the one the seed derives");
  return 0;
}
