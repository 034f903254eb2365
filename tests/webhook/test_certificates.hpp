#pragma once

#include <doctest/doctest.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

/// A private CA for TLS tests, generated with OpenSSL in memory, the
/// server certificates it issues, and writing them to files.
namespace pilot::test {

/// A certificate and its private key, both in PEM.
struct pem_identity {
  std::string certificate;
  std::string private_key;
};

/// What a server certificate from `test_ca::issue` contains.
struct certificate_request {
  /// The subjectAltName entries, such as `DNS:localhost,IP:127.0.0.1`.
  std::string subject_alt_names = "DNS:localhost,IP:127.0.0.1,IP:::1";
  /// The start of validity relative to now.
  std::chrono::seconds valid_from{-3600};
  /// The end of validity relative to now.
  std::chrono::seconds valid_until{24 * 3600};
};

/// A self-signed CA with a P-256 key that issues server certificates.
class test_ca {
public:
  explicit test_ca(const std::string& common_name = "Pilot test CA")
      : key_(make_key()), certificate_(X509_new()) {
    auto* cert = certificate_.get();
    fill_basics(cert, common_name, std::chrono::seconds{-3600},
                std::chrono::seconds{24 * 3600});
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    REQUIRE(X509_set_pubkey(cert, key_.get()) == 1);
    add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert, cert, NID_subject_key_identifier, "hash");
    REQUIRE(X509_sign(cert, key_.get(), EVP_sha256()) > 0);
  }

  /// Returns the CA certificate in PEM.
  std::string certificate_pem() const { return to_pem(certificate_.get()); }

  /// Issues a server certificate with a new P-256 key.
  pem_identity issue(const certificate_request& request = {}) const {
    auto key = make_key();
    std::unique_ptr<X509, x509_deleter> cert{X509_new()};
    fill_basics(cert.get(), "Pilot test server", request.valid_from,
                request.valid_until);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(certificate_.get()));
    REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
    auto* issuer = certificate_.get();
    add_extension(cert.get(), issuer, NID_basic_constraints, "CA:FALSE");
    add_extension(cert.get(), issuer, NID_key_usage,
                  "critical,digitalSignature");
    add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash");
    add_extension(cert.get(), issuer, NID_authority_key_identifier,
                  "keyid:always");
    add_extension(cert.get(), issuer, NID_subject_alt_name,
                  request.subject_alt_names);
    REQUIRE(X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0);
    return pem_identity{to_pem(cert.get()), to_pem(key.get())};
  }

private:
  struct x509_deleter {
    void operator()(X509* x) const { X509_free(x); }
    void operator()(EVP_PKEY* x) const { EVP_PKEY_free(x); }
    void operator()(BIO* x) const { BIO_free(x); }
    void operator()(X509_EXTENSION* x) const { X509_EXTENSION_free(x); }
  };

  using key_ptr = std::unique_ptr<EVP_PKEY, x509_deleter>;

  static key_ptr make_key() {
    key_ptr key{EVP_EC_gen("P-256")};
    REQUIRE(key != nullptr);
    return key;
  }

  static void fill_basics(X509* cert, const std::string& common_name,
                          std::chrono::seconds valid_from,
                          std::chrono::seconds valid_until) {
    static std::uint64_t serial = 1;
    REQUIRE(X509_set_version(cert, X509_VERSION_3) == 1);
    REQUIRE(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), ++serial)
            == 1);
    REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert), valid_from.count())
            != nullptr);
    REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert), valid_until.count())
            != nullptr);
    auto* name = X509_get_subject_name(cert);
    REQUIRE(X509_NAME_add_entry_by_txt(
                name, "CN", MBSTRING_ASC,
                reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                -1, 0)
            == 1);
  }

  static void add_extension(X509* cert, X509* issuer, int nid,
                            const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    std::unique_ptr<X509_EXTENSION, x509_deleter> extension{
        X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str())};
    REQUIRE(extension != nullptr);
    REQUIRE(X509_add_ext(cert, extension.get(), -1) == 1);
  }

  template <class Writer>
  static std::string write_pem(Writer&& writer) {
    std::unique_ptr<BIO, x509_deleter> bio{BIO_new(BIO_s_mem())};
    REQUIRE(writer(bio.get()) == 1);
    char* data = nullptr;
    auto size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  }

  static std::string to_pem(X509* cert) {
    return write_pem(
        [cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
  }

  static std::string to_pem(EVP_PKEY* key) {
    return write_pem([key](BIO* bio) {
      return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr,
                                      nullptr);
    });
  }

  key_ptr key_;
  std::unique_ptr<X509, x509_deleter> certificate_;
};

/// Writes `content` to the file `name` in `dir` and returns its path.
inline std::string write_file(const std::filesystem::path& dir,
                              const std::string& name,
                              std::string_view content) {
  auto path = (dir / name).string();
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << content;
  REQUIRE(out.good());
  return path;
}

/// Moves the modification time of `path` two seconds on, so that it
/// differs from before even on a file system with coarse time stamps.
inline void touch_later(const std::string& path) {
  std::filesystem::last_write_time(path, std::filesystem::last_write_time(path)
                                             + std::chrono::seconds{2});
}

} // namespace pilot::test
