#include "protocol/webhook_signature.hpp"

#include "protocol/base64.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509err.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace pilot::protocol {

namespace {

using secret_result = boost::system::result<std::string, webhook_secret_error>;

struct mac_deleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

struct store_deleter {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};

webhook_secret_error rejected(std::string message) {
  return webhook_secret_error{std::move(message)};
}

// Fetched once: fetching looks the algorithm up in the provider tables.
EVP_MAC* hmac_algorithm() {
  static const std::unique_ptr<EVP_MAC, mac_deleter> mac{
      EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
  if (!mac)
    throw std::runtime_error("OpenSSL provides no HMAC");
  return mac.get();
}

std::array<unsigned char, 32>
hmac_sha256(const std::string& key,
            std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MAC_CTX, mac_deleter> ctx{
      EVP_MAC_CTX_new(hmac_algorithm())};
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  auto ok = ctx != nullptr
            && EVP_MAC_init(ctx.get(),
                            reinterpret_cast<const unsigned char*>(key.data()),
                            key.size(), params)
                   == 1;
  for (auto part : parts)
    ok = ok
         && EVP_MAC_update(ctx.get(),
                           reinterpret_cast<const unsigned char*>(part.data()),
                           part.size())
                == 1;
  std::array<unsigned char, 32> mac{};
  std::size_t size = 0;
  ok = ok && EVP_MAC_final(ctx.get(), mac.data(), &size, mac.size()) == 1;
  if (!ok || size != mac.size())
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  return mac;
}

std::string openssl_error_text() {
  auto code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown error";
}

} // namespace

void throw_exception_from_error(const webhook_secret_error& e,
                                const boost::source_location&) {
  throw std::invalid_argument(e.message);
}

secret_result parse_webhook_secret(std::string_view secret) {
  if (!secret.starts_with(webhook_secret_prefix))
    return rejected("webhook secret must start with whsec_ followed by the "
                    "key in base64");
  auto decoded = base64_decode(secret.substr(webhook_secret_prefix.size()));
  if (!decoded)
    return rejected("webhook secret is not valid base64 after whsec_");
  auto size = decoded->size();
  if (size < min_webhook_key_size || size > max_webhook_key_size)
    return rejected("webhook secret key must be 24 to 64 bytes, but it is "
                    + std::to_string(size) + " bytes");
  // In place, because the error type is constructible from a string too.
  return secret_result{boost::system::in_place_value, decoded->begin(),
                       decoded->end()};
}

std::string webhook_signature(const std::vector<std::string>& keys,
                              std::string_view webhook_id,
                              std::string_view timestamp,
                              std::string_view body) {
  std::string header;
  for (const auto& key : keys) {
    auto mac = hmac_sha256(key, {webhook_id, ".", timestamp, ".", body});
    if (!header.empty())
      header += ' ';
    header += "v1,";
    header += base64_encode(mac);
  }
  return header;
}

std::optional<std::string> ca_file_problem(const std::string& path) {
  if (path.empty())
    return "webhook CA file path is empty";
  auto subject = "webhook CA file " + path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return subject + " is a directory, not a file";
  // Opened first so that the message carries the system's reason.
  if (auto* file = std::fopen(path.c_str(), "r"))
    std::fclose(file);
  else
    return subject + " cannot be read: " + std::strerror(errno);
  // Loaded exactly as the HTTP client loads it, so that a file accepted here
  // also loads there.
  std::unique_ptr<X509_STORE, store_deleter> store{X509_STORE_new()};
  if (!store)
    return subject + " cannot be loaded: out of memory";
  ERR_clear_error();
  if (X509_STORE_load_file(store.get(), path.c_str()) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error())
        == X509_R_NO_CERTIFICATE_OR_CRL_FOUND) {
      ERR_clear_error();
      return subject + " contains no PEM certificate";
    }
    return subject + " is not a valid PEM file: " + openssl_error_text();
  }
  auto* objects = X509_STORE_get0_objects(store.get());
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509)
      return std::nullopt;
  return subject + " contains no PEM certificate";
}

} // namespace pilot::protocol
