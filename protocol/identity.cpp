#include "protocol/identity.hpp"

#include "protocol/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace pilot::protocol {

namespace {

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

pkey_ptr make_private_key(std::span<const std::uint8_t> seed) {
  return pkey_ptr{EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                               seed.data(), seed.size())};
}

pkey_ptr make_public_key(const public_key& key) {
  return pkey_ptr{EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              key.data(), key.size())};
}

std::string challenge(std::string_view prefix, std::uint32_t id) {
  std::string text{prefix};
  text += ':';
  text += std::to_string(id);
  return text;
}

std::string challenge(std::string_view prefix, std::uint32_t first,
                      std::uint32_t second) {
  auto text = challenge(prefix, first);
  text += ':';
  text += std::to_string(second);
  return text;
}

// Reads one string field of the identity file.
result<std::string_view> string_field(simdjson::dom::object obj,
                                      std::string_view key) {
  std::string_view value;
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD)
    return errc::missing_field;
  if (field.get(value) != simdjson::SUCCESS)
    return errc::invalid_field;
  return value;
}

} // namespace

result<identity> identity::generate() {
  std::array<std::uint8_t, ed25519_seed_size> seed{};
  if (RAND_priv_bytes(seed.data(), static_cast<int>(seed.size())) != 1)
    return errc::crypto_failure;
  auto id = from_seed(seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return id;
}

result<identity> identity::from_seed(std::span<const std::uint8_t> seed) {
  if (seed.size() != ed25519_seed_size)
    return errc::invalid_key;
  auto key = make_private_key(seed);
  if (!key)
    return errc::crypto_failure;
  identity id;
  std::copy(seed.begin(), seed.end(), id.seed_.begin());
  auto len = id.public_key_.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), id.public_key_.data(), &len) != 1
      || len != id.public_key_.size())
    return errc::crypto_failure;
  return id;
}

identity::~identity() {
  OPENSSL_cleanse(seed_.data(), seed_.size());
}

std::string identity::public_key_base64() const {
  return base64_encode(public_key_);
}

result<signature> identity::sign(std::string_view message) const {
  auto key = make_private_key(seed_);
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!key || !ctx)
    return errc::crypto_failure;
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    return errc::crypto_failure;
  signature sig{};
  auto len = sig.size();
  auto data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, message.size()) != 1
      || len != sig.size())
    return errc::crypto_failure;
  return sig;
}

result<std::string> identity::sign_base64(std::string_view message) const {
  auto sig = sign(message);
  if (!sig)
    return sig.error();
  return base64_encode(*sig);
}

bool operator==(const identity& lhs, const identity& rhs) noexcept {
  return CRYPTO_memcmp(lhs.seed_.data(), rhs.seed_.data(), lhs.seed_.size())
             == 0
         && lhs.public_key_ == rhs.public_key_;
}

bool verify(const public_key& key, std::string_view message,
            std::span<const std::uint8_t> sig) noexcept {
  if (sig.size() != ed25519_signature_size)
    return false;
  auto pkey = make_public_key(key);
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  if (!pkey || !ctx)
    return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get())
      != 1)
    return false;
  auto data = reinterpret_cast<const unsigned char*>(message.data());
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data,
                          message.size())
         == 1;
}

bool verify_base64(std::string_view key_base64, std::string_view message,
                   std::string_view signature_base64) noexcept {
  try {
    auto key = parse_public_key(key_base64);
    auto sig = base64_decode_exact(signature_base64, ed25519_signature_size);
    return key && sig && verify(*key, message, *sig);
  } catch (const std::bad_alloc&) {
    return false;
  }
}

result<public_key> parse_public_key(std::string_view text) {
  auto bytes = base64_decode_exact(text, ed25519_public_key_size);
  if (!bytes)
    return errc::invalid_key;
  public_key key{};
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

std::string to_identity_file_json(const identity& id) {
  // Go's 64-byte private key is the seed followed by the public key.
  std::vector<std::uint8_t> go_private_key(id.seed().begin(), id.seed().end());
  go_private_key.insert(go_private_key.end(), id.public_key().begin(),
                        id.public_key().end());
  std::string text = "{\n  \"private_key\": \"";
  text += base64_encode(go_private_key);
  text += "\",\n  \"public_key\": \"";
  text += id.public_key_base64();
  text += "\"\n}";
  OPENSSL_cleanse(go_private_key.data(), go_private_key.size());
  return text;
}

result<identity> parse_identity_file_json(std::string_view text) {
  // Step 1: read both fields.
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(text.data(), text.size()).get(obj) != simdjson::SUCCESS)
    return errc::malformed_json;
  auto private_text = string_field(obj, "private_key");
  if (!private_text)
    return private_text.error();
  auto public_text = string_field(obj, "public_key");
  if (!public_text)
    return public_text.error();
  // Step 2: decode both keys with their exact sizes.
  auto go_private_key = base64_decode_exact(
      *private_text, ed25519_seed_size + ed25519_public_key_size);
  if (!go_private_key)
    return errc::invalid_key;
  auto stored_public = parse_public_key(*public_text);
  if (!stored_public)
    return stored_public.error();
  // Step 3: the key derived from the seed must match both public copies.
  auto seed = std::span{*go_private_key}.first(ed25519_seed_size);
  auto id = identity::from_seed(seed);
  OPENSSL_cleanse(go_private_key->data(), ed25519_seed_size);
  if (!id)
    return id.error();
  auto embedded_public
      = std::span{*go_private_key}.last(ed25519_public_key_size);
  if (!std::equal(embedded_public.begin(), embedded_public.end(),
                  id->public_key().begin())
      || *stored_public != id->public_key())
    return errc::invalid_key;
  return id;
}

std::string heartbeat_challenge(std::uint32_t node_id) {
  return challenge("heartbeat", node_id);
}

std::string deregister_challenge(std::uint32_t node_id) {
  return challenge("deregister", node_id);
}

std::string resolve_challenge(std::uint32_t requester_id,
                              std::uint32_t node_id) {
  return challenge("resolve", requester_id, node_id);
}

std::string punch_challenge(std::uint32_t node_a, std::uint32_t node_b) {
  return challenge("punch", node_a, node_b);
}

std::string report_trust_challenge(std::uint32_t node_id,
                                   std::uint32_t peer_id) {
  return challenge("report_trust", node_id, peer_id);
}

std::string revoke_trust_challenge(std::uint32_t node_id,
                                   std::uint32_t peer_id) {
  return challenge("revoke_trust", node_id, peer_id);
}

std::string set_visibility_challenge(std::uint32_t node_id) {
  return challenge("set_visibility", node_id);
}

std::string set_hostname_challenge(std::uint32_t node_id) {
  return challenge("set_hostname", node_id);
}

std::string set_tags_challenge(std::uint32_t node_id) {
  return challenge("set_tags", node_id);
}

std::string set_task_exec_challenge(std::uint32_t node_id) {
  return challenge("set_task_exec", node_id);
}

std::string poll_handshakes_challenge(std::uint32_t node_id) {
  return challenge("poll_handshakes", node_id);
}

std::string handshake_challenge(std::uint32_t from_node_id,
                                std::uint32_t to_node_id) {
  return challenge("handshake", from_node_id, to_node_id);
}

std::string respond_challenge(std::uint32_t node_id, std::uint32_t peer_id) {
  return challenge("respond", node_id, peer_id);
}

std::string rotate_challenge(std::uint32_t node_id) {
  return challenge("rotate", node_id);
}

} // namespace pilot::protocol
