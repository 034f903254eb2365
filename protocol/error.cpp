#include "protocol/error.hpp"

#include <string>

namespace pilot::protocol {

namespace {

class category final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "pilot.protocol"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::truncated:
        return "input truncated";
      case errc::oversized:
        return "input exceeds the size limit";
      case errc::malformed_json:
        return "malformed JSON";
      case errc::missing_field:
        return "required field missing";
      case errc::invalid_field:
        return "invalid field value";
      case errc::invalid_address:
        return "invalid address";
      case errc::invalid_base64:
        return "invalid base64";
      case errc::invalid_key:
        return "invalid key";
      case errc::bad_signature:
        return "signature verification failed";
      case errc::unknown_type:
        return "unknown message type";
      case errc::invalid_url:
        return "invalid URL";
      case errc::crypto_failure:
        return "crypto library failure";
      case errc::bad_checksum:
        return "packet checksum mismatch";
      case errc::unsupported_version:
        return "unsupported protocol version";
      case errc::decryption_failed:
        return "decryption failed";
      case errc::replayed_nonce:
        return "nonce replayed or below the replay window";
      case errc::nonce_exhausted:
        return "nonce counter exhausted";
    }
    return "unknown protocol error";
  }
};

} // namespace

const boost::system::error_category& protocol_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), protocol_category()};
}

} // namespace pilot::protocol
