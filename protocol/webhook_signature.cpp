#include "protocol/webhook_signature.hpp"

#include "protocol/base64.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/pemerr.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace pilot::protocol {

namespace {

using secret_result = boost::system::result<std::string, webhook_secret_error>;

struct mac_deleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
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
                    + std::to_string(size) + (size == 1 ? " byte" : " bytes"));
  // In place, because the error type is constructible from a string too.
  return secret_result{boost::system::in_place_value, decoded->begin(),
                       decoded->end()};
}

std::string hide_webhook_secrets(std::string_view text) {
  auto is_key_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+'
           || c == '/' || c == '=';
  };
  std::string hidden;
  hidden.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto start = text.find(webhook_secret_prefix, pos);
    if (start == std::string_view::npos)
      break;
    auto key_end = start + webhook_secret_prefix.size();
    while (key_end < text.size() && is_key_char(text[key_end]))
      ++key_end;
    // The prefix alone, as in a message naming the format, is no secret.
    if (key_end == start + webhook_secret_prefix.size()) {
      hidden.append(text.substr(pos, key_end - pos));
      pos = key_end;
      continue;
    }
    hidden.append(text.substr(pos, start - pos));
    hidden.append(webhook_secret_prefix);
    hidden.append("<hidden>");
    pos = key_end;
  }
  hidden.append(text.substr(pos));
  return hidden;
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

namespace {

using ca_result = boost::system::result<std::string, std::string>;

struct fd_closer {
  int fd;
  ~fd_closer() { ::close(fd); }
};

struct bio_deleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

struct x509_deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};

ca_result problem(std::string message) {
  return ca_result{boost::system::in_place_error, std::move(message)};
}

// Reads at most `max_ca_file_size` bytes of `path` without ever waiting:
// opening a FIFO for reading waits for a writer unless O_NONBLOCK is set,
// and only regular files are read. Returns the text or the problem.
ca_result read_regular_file(const std::string& path,
                            const std::string& subject) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return problem(subject + " cannot be read: " + std::strerror(errno));
  fd_closer closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0)
    return problem(subject + " cannot be read: " + std::strerror(errno));
  if (S_ISDIR(info.st_mode))
    return problem(subject + " is a directory, not a file");
  if (!S_ISREG(info.st_mode))
    return problem(subject + " is not a regular file");
  if (static_cast<std::uint64_t>(info.st_size) > max_ca_file_size)
    return problem(subject + " is larger than "
                   + std::to_string(max_ca_file_size / 1024) + " KiB");
  std::string text;
  std::array<char, 16 * 1024> chunk{};
  for (;;) {
    auto n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return problem(subject + " cannot be read: " + std::strerror(errno));
    if (n == 0)
      return ca_result{boost::system::in_place_value, std::move(text)};
    // The file may grow after fstat.
    if (text.size() + static_cast<std::size_t>(n) > max_ca_file_size)
      return problem(subject + " is larger than "
                     + std::to_string(max_ca_file_size / 1024) + " KiB");
    text.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

// Parses the certificates of `pem` the way Asio's
// `ssl::context::add_certificate_authority` does, so that text accepted
// here also loads there: certificates until the end, at least one.
std::optional<std::string> pem_problem(const std::string& pem,
                                       const std::string& subject) {
  std::unique_ptr<BIO, bio_deleter> bio{
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  if (!bio)
    return subject + " cannot be loaded: out of memory";
  ERR_clear_error();
  for (bool added = false;; added = true) {
    std::unique_ptr<X509, x509_deleter> cert{
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
    if (cert)
      continue;
    auto error = ERR_peek_last_error();
    auto no_start_line = ERR_GET_LIB(error) == ERR_LIB_PEM
                         && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
    if (no_start_line) {
      ERR_clear_error();
      if (added)
        return std::nullopt;
      return subject + " contains no PEM certificate";
    }
    return subject + " is not a valid PEM file: " + openssl_error_text();
  }
}

} // namespace

ca_result read_ca_file(const std::string& path) {
  if (path.empty())
    return problem("webhook CA file path is empty");
  auto subject = "webhook CA file " + path;
  auto text = read_regular_file(path, subject);
  if (!text)
    return text;
  if (auto pem_error = pem_problem(*text, subject))
    return problem(std::move(*pem_error));
  return text;
}

std::optional<std::string> ca_file_problem(const std::string& path) {
  auto text = read_ca_file(path);
  if (!text)
    return std::move(text.error());
  return std::nullopt;
}

} // namespace pilot::protocol
