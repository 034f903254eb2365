#include "protocol/tunnel_crypto.hpp"

#include "tests/protocol/hex.hpp"
#include "tests/protocol/tunnel_vectors.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <vector>

using namespace pilot::protocol;
using pilot::test::from_hex;
using pilot::test::from_hex_array;
using pilot::test::normalize_hex;
using pilot::test::to_hex;
namespace vectors = pilot::test::vectors;

namespace {

using bytes = std::vector<std::uint8_t>;

constexpr nonce_prefix vector_prefix{0xa1, 0xb2, 0xc3, 0xd4};

x25519_key_pair key_pair(std::string_view private_hex) {
  auto pair = x25519_key_pair::from_private_key(from_hex(private_hex));
  REQUIRE(pair.has_value());
  return *pair;
}

secret_bytes vector_key() {
  return secret_bytes{from_hex_array<secret_bytes::size>(vectors::tunnel_key)};
}

identity node1_identity() {
  auto id = identity::from_seed(from_hex(vectors::ed25519_seed));
  REQUIRE(id.has_value());
  return *id;
}

bytes syn_bytes() {
  return from_hex(vectors::syn);
}

encrypted_frame seal_ok(tunnel_session& session, const bytes& plaintext) {
  auto frame = session.seal(1, plaintext);
  REQUIRE(frame.has_value());
  return *frame;
}

bytes open_ok(tunnel_session& session, const encrypted_frame& frame) {
  auto plaintext = session.open(frame);
  REQUIRE(plaintext.has_value());
  return *plaintext;
}

boost::system::error_code open_error(tunnel_session& session,
                                     const encrypted_frame& frame) {
  auto plaintext = session.open(frame);
  REQUIRE_FALSE(plaintext.has_value());
  return plaintext.error();
}

// An encrypted frame from node 1 sealed under the vector key with
// `counter`, made by a session that skips counters up to it.
encrypted_frame frame_with_counter(std::uint64_t counter) {
  tunnel_session sender{vector_key(), vector_prefix};
  encrypted_frame frame;
  for (std::uint64_t i = 0; i < counter; ++i)
    frame = seal_ok(sender, syn_bytes());
  return frame;
}

} // namespace

TEST_CASE("X25519 key pairs derive the RFC 7748 public keys") {
  CHECK_EQ(to_hex(key_pair(vectors::alice_private).public_key()),
           vectors::alice_public);
  CHECK_EQ(to_hex(key_pair(vectors::bob_private).public_key()),
           vectors::bob_public);
}

TEST_CASE("X25519 shared secret matches RFC 7748 from both sides") {
  auto alice = key_pair(vectors::alice_private);
  auto bob = key_pair(vectors::bob_private);
  auto from_alice = alice.shared_secret(bob.public_key());
  auto from_bob = bob.shared_secret(alice.public_key());
  REQUIRE(from_alice.has_value());
  REQUIRE(from_bob.has_value());
  CHECK_EQ(to_hex(from_alice->bytes()), vectors::shared_secret);
  CHECK(*from_alice == *from_bob);
}

TEST_CASE("X25519 rejects low-order peer keys") {
  auto alice = key_pair(vectors::alice_private);
  x25519_public_key zero{};
  CHECK_EQ(alice.shared_secret(zero).error(), errc::invalid_key);
  x25519_public_key one{1};
  CHECK_EQ(alice.shared_secret(one).error(), errc::invalid_key);
}

TEST_CASE("X25519 rejects a private key of the wrong size") {
  bytes short_key(31, 1);
  CHECK_EQ(x25519_key_pair::from_private_key(short_key).error(),
           errc::invalid_key);
}

TEST_CASE("X25519 generated key pairs agree on a secret") {
  auto a = x25519_key_pair::generate();
  auto b = x25519_key_pair::generate();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->public_key() != b->public_key());
  auto from_a = a->shared_secret(b->public_key());
  auto from_b = b->shared_secret(a->public_key());
  REQUIRE(from_a.has_value());
  REQUIRE(from_b.has_value());
  CHECK(*from_a == *from_b);
}

TEST_CASE("tunnel key is SHA-256 of the label and the shared secret") {
  CHECK_EQ(tunnel_key_label.size(), 16);
  auto shared = secret_bytes{
      from_hex_array<secret_bytes::size>(vectors::shared_secret)};
  auto key = derive_tunnel_key(shared);
  REQUIRE(key.has_value());
  CHECK_EQ(to_hex(key->bytes()), vectors::tunnel_key);
  // The HKDF key of the later draft, which the reference v0.5 does not use.
  CHECK_NE(to_hex(key->bytes()),
           "3e765a2f49fe2a9185dd5d57c08a3525060d2d2c2b2a356fadef25f614d38662");
}

TEST_CASE("nonce is the prefix and the big-endian counter") {
  auto nonce = make_tunnel_nonce(vector_prefix, 1);
  CHECK_EQ(to_hex(nonce), "a1b2c3d40000000000000001");
  CHECK_EQ(nonce_counter(nonce), 1);
  auto large = make_tunnel_nonce(vector_prefix, 0x0102030405060708);
  CHECK_EQ(to_hex(large), "a1b2c3d40102030405060708");
  CHECK_EQ(nonce_counter(large), 0x0102030405060708);
}

TEST_CASE("nonce prefixes are drawn at random") {
  auto a = random_nonce_prefix();
  auto b = random_nonce_prefix();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  // Equal draws happen once in 2^32 runs.
  CHECK(*a != *b);
}

TEST_CASE("tunnel session seals the SYN as the PILS golden vector") {
  tunnel_session session{vector_key(), vector_prefix};
  auto frame = seal_ok(session, syn_bytes());
  CHECK_EQ(session.send_counter(), 1);
  CHECK_EQ(to_hex(encode_tunnel_frame(frame)), normalize_hex(vectors::pils));
}

TEST_CASE("tunnel session opens the PILS golden vector") {
  auto decoded = decode_tunnel_frame(from_hex(vectors::pils));
  REQUIRE(decoded.has_value());
  tunnel_session receiver{vector_key(), {9, 9, 9, 9}};
  auto plaintext = open_ok(receiver, std::get<encrypted_frame>(*decoded));
  CHECK_EQ(to_hex(plaintext), normalize_hex(vectors::syn));
  auto pkt = decode_packet(plaintext);
  REQUIRE(pkt.has_value());
  CHECK(pkt->header == vectors::syn_header());
}

TEST_CASE("tunnel session counts from 1 under one prefix") {
  tunnel_session session{vector_key(), vector_prefix};
  for (std::uint64_t expected = 1; expected <= 3; ++expected) {
    auto frame = seal_ok(session, syn_bytes());
    CHECK_EQ(nonce_counter(frame.nonce), expected);
    CHECK_EQ(to_hex(std::span{frame.nonce}.first(4)), "a1b2c3d4");
  }
  CHECK_EQ(session.send_counter(), 3);
}

TEST_CASE("tunnel session rejects plaintext outside packet sizes") {
  tunnel_session session{vector_key(), vector_prefix};
  bytes too_short(packet_header_size - 1);
  CHECK_EQ(session.seal(1, too_short).error(), errc::truncated);
  bytes too_long(packet_header_size + max_packet_payload_size + 1);
  CHECK_EQ(session.seal(1, too_long).error(), errc::oversized);
  CHECK_EQ(session.send_counter(), 0);
}

TEST_CASE("a flipped bit anywhere in a PILS frame fails to open") {
  auto genuine = frame_with_counter(1);
  auto wire = encode_tunnel_frame(genuine);
  // Bytes 0-7 are the magic and sender ID, which select the key.
  for (std::size_t i = 8; i < wire.size(); ++i) {
    CAPTURE(i);
    auto damaged = wire;
    damaged[i] ^= 0x04;
    auto decoded = decode_tunnel_frame(damaged);
    REQUIRE(decoded.has_value());
    tunnel_session receiver{vector_key(), vector_prefix};
    CHECK_EQ(open_error(receiver, std::get<encrypted_frame>(*decoded)),
             errc::decryption_failed);
    CHECK_EQ(receiver.window().highest(), 0);
  }
}

TEST_CASE("a PILS frame under another key fails to open") {
  auto frame = frame_with_counter(1);
  auto other = vector_key().bytes();
  other[0] ^= 1;
  tunnel_session receiver{secret_bytes{other}, vector_prefix};
  CHECK_EQ(open_error(receiver, frame), errc::decryption_failed);
}

TEST_CASE("a PILS frame without a whole tag fails to open") {
  auto frame = frame_with_counter(1);
  frame.sealed.resize(tunnel_tag_size - 1);
  tunnel_session receiver{vector_key(), vector_prefix};
  CHECK_EQ(open_error(receiver, frame), errc::truncated);
}

TEST_CASE("a replayed PILS frame is rejected") {
  auto frame = frame_with_counter(1);
  tunnel_session receiver{vector_key(), vector_prefix};
  open_ok(receiver, frame);
  CHECK_EQ(open_error(receiver, frame), errc::replayed_nonce);
}

TEST_CASE("a forged frame leaves the window alone") {
  // The reference moved the window before authenticating, so one forged
  // frame made every genuine frame look too old.
  auto forged = frame_with_counter(1);
  forged.nonce = make_tunnel_nonce(vector_prefix, 1'000'000);
  tunnel_session receiver{vector_key(), vector_prefix};
  CHECK_EQ(open_error(receiver, forged), errc::decryption_failed);
  CHECK_EQ(receiver.window().highest(), 0);
  open_ok(receiver, frame_with_counter(1));
  CHECK_EQ(receiver.window().highest(), 1);
}

TEST_CASE("tunnel session opens reordered frames once") {
  tunnel_session sender{vector_key(), vector_prefix};
  std::vector<encrypted_frame> frames;
  for (int i = 0; i < 300; ++i)
    frames.push_back(seal_ok(sender, syn_bytes()));
  tunnel_session receiver{vector_key(), vector_prefix};
  open_ok(receiver, frames[299]);
  CHECK_EQ(receiver.window().highest(), 300);
  // Counter 45 is 255 below 300, counter 44 is 256 below it.
  open_ok(receiver, frames[44]);
  CHECK_EQ(open_error(receiver, frames[43]), errc::replayed_nonce);
  CHECK_EQ(open_error(receiver, frames[44]), errc::replayed_nonce);
  CHECK_EQ(receiver.window().highest(), 300);
}

TEST_CASE("tunnel session keeps its own copy of the key") {
  auto key = std::make_unique<secret_bytes>(vector_key());
  tunnel_session session{*key, vector_prefix};
  *key = secret_bytes{};
  key.reset();
  auto frame = seal_ok(session, syn_bytes());
  CHECK_EQ(to_hex(encode_tunnel_frame(frame)), normalize_hex(vectors::pils));
}

TEST_CASE("replay window accepts a first counter and rejects 0") {
  replay_window window;
  CHECK(window.check(0) == replay_check::too_old);
  CHECK(window.check(1) == replay_check::fresh);
  CHECK(window.check(1'000'000) == replay_check::fresh);
  CHECK_EQ(window.highest(), 0);
}

TEST_CASE("replay window moves only on accept") {
  replay_window window;
  CHECK(window.check(10) == replay_check::fresh);
  CHECK(window.check(10) == replay_check::fresh);
  CHECK_EQ(window.highest(), 0);
  window.accept(10);
  CHECK_EQ(window.highest(), 10);
  CHECK(window.check(10) == replay_check::duplicate);
}

TEST_CASE("replay window rejects counters 256 below") {
  replay_window window;
  window.accept(300);
  CHECK(window.check(45) == replay_check::fresh);
  CHECK(window.check(44) == replay_check::too_old);
  CHECK(window.check(1) == replay_check::too_old);
}

TEST_CASE("replay window accepts each counter inside it once") {
  replay_window window;
  window.accept(100);
  window.accept(50);
  window.accept(99);
  CHECK(window.check(50) == replay_check::duplicate);
  CHECK(window.check(99) == replay_check::duplicate);
  CHECK(window.check(98) == replay_check::fresh);
  CHECK_EQ(window.highest(), 100);
}

TEST_CASE("replay window forgets the positions it slides over") {
  replay_window window;
  window.accept(5);
  window.accept(6);
  window.accept(260);
  // 5 and 6 share bit positions with 261 and 262, which are new.
  CHECK(window.check(5) == replay_check::duplicate);
  CHECK(window.check(4) == replay_check::too_old);
  CHECK(window.check(261) == replay_check::fresh);
  CHECK(window.check(262) == replay_check::fresh);
  window.accept(262);
  CHECK(window.check(261) == replay_check::fresh);
  CHECK(window.check(6) == replay_check::too_old);
}

TEST_CASE("replay window clears everything after a jump of 256") {
  replay_window window;
  window.accept(1);
  window.accept(2);
  window.accept(258);
  CHECK(window.check(2) == replay_check::too_old);
  CHECK(window.check(3) == replay_check::fresh);
  CHECK(window.check(257) == replay_check::fresh);
}

TEST_CASE("replay window ignores an accept that check would reject") {
  replay_window window;
  window.accept(300);
  window.accept(10);
  CHECK_EQ(window.highest(), 300);
  CHECK(window.check(10) == replay_check::too_old);
  window.accept(0);
  CHECK_EQ(window.highest(), 300);
}

TEST_CASE("PILA challenge is auth, the node ID and the X25519 key") {
  auto key = from_hex_array<x25519_key_size>(vectors::alice_public);
  auto challenge = authentication_challenge(1, key);
  CHECK_EQ(to_hex(challenge), normalize_hex("61757468 00000001")
                                  + std::string{vectors::alice_public});
}

TEST_CASE("PILA frame from node 1 matches the golden vector") {
  auto alice = key_pair(vectors::alice_private);
  auto frame = sign_key_exchange(node1_identity(), 1, alice.public_key());
  REQUIRE(frame.has_value());
  CHECK_EQ(to_hex(frame->signature), vectors::pila_signature);
  CHECK_EQ(to_hex(encode_tunnel_frame(*frame)), normalize_hex(vectors::pila));
}

TEST_CASE("PILA frame verifies against the registered key") {
  auto decoded = decode_tunnel_frame(from_hex(vectors::pila));
  REQUIRE(decoded.has_value());
  auto frame = std::get<authenticated_key_exchange_frame>(*decoded);
  CHECK(verify_key_exchange(frame, node1_identity().public_key()).has_value());
}

TEST_CASE("PILA frame with another identity key is rejected") {
  // An attacker signs with their own identity: the signature is valid but
  // the key is not the one the registry holds for node 1.
  auto attacker = identity::generate();
  REQUIRE(attacker.has_value());
  auto alice = key_pair(vectors::alice_private);
  auto forged = sign_key_exchange(*attacker, 1, alice.public_key());
  REQUIRE(forged.has_value());
  CHECK_EQ(verify_key_exchange(*forged, node1_identity().public_key()).error(),
           errc::invalid_key);
}

TEST_CASE("PILA frame with altered fields fails its signature") {
  auto alice = key_pair(vectors::alice_private);
  auto bob = key_pair(vectors::bob_private);
  auto registered = node1_identity().public_key();
  auto signed_frame
      = sign_key_exchange(node1_identity(), 1, alice.public_key());
  REQUIRE(signed_frame.has_value());
  auto other_node = *signed_frame;
  other_node.sender_node = 2;
  CHECK_EQ(verify_key_exchange(other_node, registered).error(),
           errc::bad_signature);
  auto other_key = *signed_frame;
  other_key.key = bob.public_key();
  CHECK_EQ(verify_key_exchange(other_key, registered).error(),
           errc::bad_signature);
  auto damaged = *signed_frame;
  damaged.signature[10] ^= 0x01;
  CHECK_EQ(verify_key_exchange(damaged, registered).error(),
           errc::bad_signature);
}

TEST_CASE("secret bytes compare by value") {
  auto a = vector_key();
  auto b = vector_key();
  CHECK(a == b);
  CHECK_FALSE(a == secret_bytes{});
}
