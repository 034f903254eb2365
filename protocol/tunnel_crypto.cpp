#include "protocol/tunnel_crypto.hpp"

#include "protocol/detail/big_endian.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <limits>
#include <memory>

namespace pilot::protocol {

namespace {

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};

struct pkey_ctx_deleter {
  void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept {
    EVP_CIPHER_CTX_free(ctx);
  }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_deleter>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

constexpr std::array<std::uint8_t, 4> challenge_label{'a', 'u', 't', 'h'};

// Largest packet a PILS frame may carry.
constexpr std::size_t max_plaintext_size
    = packet_header_size + max_packet_payload_size;

pkey_ptr make_private_key(std::span<const std::uint8_t> key) {
  return pkey_ptr{EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                               key.data(), key.size())};
}

pkey_ptr make_public_key(const x25519_public_key& key) {
  return pkey_ptr{EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                              key.data(), key.size())};
}

bool is_all_zero(std::span<const std::uint8_t> bytes) noexcept {
  std::uint8_t any = 0;
  for (auto b : bytes)
    any |= b;
  return any == 0;
}

std::string_view as_chars(std::span<const std::uint8_t> bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Encrypts `plaintext` into `out`, which has room for it and the tag.
bool aes_gcm_seal(const secret_bytes& key, const tunnel_nonce& nonce,
                  std::span<const std::uint8_t> plaintext,
                  std::span<std::uint8_t> out) {
  cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  if (!ctx
      || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                            key.bytes().data(), nonce.data())
             != 1)
    return false;
  int len = 0;
  if (EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size()))
      != 1)
    return false;
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &final_len) != 1)
    return false;
  auto tag = out.last(tunnel_tag_size);
  return EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG,
                             static_cast<int>(tag.size()), tag.data())
         == 1;
}

// Decrypts `sealed` (ciphertext and tag) into `out`, sized to the
// ciphertext. Returns false when the tag does not verify, and then `out`
// contains unauthenticated bytes that the caller must wipe.
bool aes_gcm_open(const secret_bytes& key, const tunnel_nonce& nonce,
                  std::span<const std::uint8_t> sealed,
                  std::span<std::uint8_t> out) {
  auto ciphertext = sealed.first(sealed.size() - tunnel_tag_size);
  // OpenSSL takes the expected tag through a non-const pointer.
  std::array<std::uint8_t, tunnel_tag_size> tag;
  std::copy_n(sealed.end() - tunnel_tag_size, tag.size(), tag.begin());
  cipher_ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  if (!ctx
      || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                            key.bytes().data(), nonce.data())
             != 1)
    return false;
  int len = 0;
  if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext.data(),
                        static_cast<int>(ciphertext.size()))
      != 1)
    return false;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG,
                          static_cast<int>(tag.size()), tag.data())
      != 1)
    return false;
  int final_len = 0;
  return EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &final_len) == 1;
}

} // namespace

// -- secret_bytes -------------------------------------------------------------

secret_bytes::secret_bytes(std::span<const std::uint8_t, size> bytes) noexcept {
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}

secret_bytes::~secret_bytes() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

bool operator==(const secret_bytes& lhs, const secret_bytes& rhs) noexcept {
  return CRYPTO_memcmp(lhs.bytes_.data(), rhs.bytes_.data(), lhs.bytes_.size())
         == 0;
}

// -- x25519_key_pair ----------------------------------------------------------

result<x25519_key_pair> x25519_key_pair::generate() {
  std::array<std::uint8_t, x25519_key_size> private_key{};
  if (RAND_priv_bytes(private_key.data(), static_cast<int>(private_key.size()))
      != 1)
    return errc::crypto_failure;
  auto pair = from_private_key(private_key);
  OPENSSL_cleanse(private_key.data(), private_key.size());
  return pair;
}

result<x25519_key_pair>
x25519_key_pair::from_private_key(std::span<const std::uint8_t> private_key) {
  if (private_key.size() != x25519_key_size)
    return errc::invalid_key;
  auto key = make_private_key(private_key);
  if (!key)
    return errc::crypto_failure;
  x25519_key_pair pair;
  std::copy(private_key.begin(), private_key.end(), pair.private_key_.begin());
  auto len = pair.public_key_.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pair.public_key_.data(), &len) != 1
      || len != pair.public_key_.size())
    return errc::crypto_failure;
  return pair;
}

x25519_key_pair::~x25519_key_pair() {
  OPENSSL_cleanse(private_key_.data(), private_key_.size());
}

result<secret_bytes>
x25519_key_pair::shared_secret(const x25519_public_key& peer) const {
  auto ours = make_private_key(private_key_);
  auto theirs = make_public_key(peer);
  if (!ours || !theirs)
    return errc::crypto_failure;
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new(ours.get(), nullptr)};
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1)
    return errc::crypto_failure;
  // OpenSSL 3 fails the derivation itself when the result is all zero, as
  // a low-order peer key produces, so a failure is reported as a bad key.
  std::array<std::uint8_t, secret_bytes::size> shared{};
  auto len = shared.size();
  auto ok = EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) == 1
            && EVP_PKEY_derive(ctx.get(), shared.data(), &len) == 1
            && len == shared.size() && !is_all_zero(shared);
  secret_bytes secret{shared};
  OPENSSL_cleanse(shared.data(), shared.size());
  if (!ok)
    return errc::invalid_key;
  return secret;
}

// -- key derivation and nonces ------------------------------------------------

result<secret_bytes> derive_tunnel_key(const secret_bytes& shared) {
  md_ctx_ptr ctx{EVP_MD_CTX_new()};
  std::array<std::uint8_t, secret_bytes::size> digest{};
  unsigned int len = 0;
  auto ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1
            && EVP_DigestUpdate(ctx.get(), tunnel_key_label.data(),
                                tunnel_key_label.size())
                   == 1
            && EVP_DigestUpdate(ctx.get(), shared.bytes().data(),
                                shared.bytes().size())
                   == 1
            && EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) == 1
            && len == digest.size();
  secret_bytes key{digest};
  OPENSSL_cleanse(digest.data(), digest.size());
  if (!ok)
    return errc::crypto_failure;
  return key;
}

result<nonce_prefix> random_nonce_prefix() {
  nonce_prefix prefix{};
  if (RAND_bytes(prefix.data(), static_cast<int>(prefix.size())) != 1)
    return errc::crypto_failure;
  return prefix;
}

tunnel_nonce make_tunnel_nonce(const nonce_prefix& prefix,
                               std::uint64_t counter) noexcept {
  tunnel_nonce nonce{};
  std::copy(prefix.begin(), prefix.end(), nonce.begin());
  detail::store_big_endian(std::span{nonce}.subspan(nonce_prefix_size),
                           counter);
  return nonce;
}

std::uint64_t nonce_counter(const tunnel_nonce& nonce) noexcept {
  return detail::load_big_endian<std::uint64_t>(
      std::span{nonce}.subspan(nonce_prefix_size));
}

// -- replay_window ------------------------------------------------------------

replay_check replay_window::check(std::uint64_t counter) const noexcept {
  // Senders start at 1, so 0 is never a genuine counter.
  if (counter == 0)
    return replay_check::too_old;
  if (counter > highest_)
    return replay_check::fresh;
  if (highest_ - counter >= replay_window_size)
    return replay_check::too_old;
  if (seen_.test(counter % replay_window_size))
    return replay_check::duplicate;
  return replay_check::fresh;
}

void replay_window::accept(std::uint64_t counter) noexcept {
  if (check(counter) != replay_check::fresh)
    return;
  if (counter > highest_) {
    // Forget the counters that the window slides past.
    if (counter - highest_ >= replay_window_size)
      seen_.reset();
    else
      for (auto c = highest_ + 1; c < counter; ++c)
        seen_.reset(c % replay_window_size);
    highest_ = counter;
  }
  seen_.set(counter % replay_window_size);
}

// -- tunnel_session -----------------------------------------------------------

tunnel_session::tunnel_session(const secret_bytes& key,
                               const nonce_prefix& prefix) noexcept
    : key_(key), prefix_(prefix) {}

result<encrypted_frame>
tunnel_session::seal(std::uint32_t sender_node,
                     std::span<const std::uint8_t> plaintext) {
  if (plaintext.size() < packet_header_size)
    return errc::truncated;
  if (plaintext.size() > max_plaintext_size)
    return errc::oversized;
  if (send_counter_ == std::numeric_limits<std::uint64_t>::max())
    return errc::nonce_exhausted;
  // The counter moves even if encryption fails, so no nonce is used twice.
  encrypted_frame frame;
  frame.sender_node = sender_node;
  frame.nonce = make_tunnel_nonce(prefix_, ++send_counter_);
  frame.sealed.resize(plaintext.size() + tunnel_tag_size);
  if (!aes_gcm_seal(key_, frame.nonce, plaintext, frame.sealed))
    return errc::crypto_failure;
  return frame;
}

result<std::vector<std::uint8_t>>
tunnel_session::open(const encrypted_frame& frame) {
  auto counter = nonce_counter(frame.nonce);
  if (window_.check(counter) != replay_check::fresh)
    return errc::replayed_nonce;
  if (frame.sealed.size() < tunnel_tag_size)
    return errc::truncated;
  std::vector<std::uint8_t> plaintext(frame.sealed.size() - tunnel_tag_size);
  if (!aes_gcm_open(key_, frame.nonce, frame.sealed, plaintext)) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return errc::decryption_failed;
  }
  window_.accept(counter);
  return plaintext;
}

// -- PILA authentication ------------------------------------------------------

std::array<std::uint8_t, authentication_challenge_size>
authentication_challenge(std::uint32_t node,
                         const x25519_public_key& key) noexcept {
  std::array<std::uint8_t, authentication_challenge_size> challenge{};
  std::span out{challenge};
  std::copy(challenge_label.begin(), challenge_label.end(), out.begin());
  detail::store_big_endian(out.subspan(challenge_label.size()), node);
  std::copy(key.begin(), key.end(), out.last(key.size()).begin());
  return challenge;
}

result<authenticated_key_exchange_frame>
sign_key_exchange(const identity& id, std::uint32_t node,
                  const x25519_public_key& key) {
  auto challenge = authentication_challenge(node, key);
  auto sig = id.sign(as_chars(challenge));
  if (!sig)
    return sig.error();
  return authenticated_key_exchange_frame{node, key, id.public_key(), *sig};
}

result<void> verify_key_exchange(const authenticated_key_exchange_frame& frame,
                                 const public_key& registered_key) {
  if (frame.identity_key != registered_key)
    return errc::invalid_key;
  auto challenge = authentication_challenge(frame.sender_node, frame.key);
  if (!verify(registered_key, as_chars(challenge), frame.signature))
    return errc::bad_signature;
  return {};
}

} // namespace pilot::protocol
