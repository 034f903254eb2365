#pragma once

#include "protocol/packet.hpp"

#include <string_view>

/// Golden vectors of the packet and tunnel layers, computed independently
/// with Python's `zlib` and `cryptography` from the reference's rules.
namespace pilot::test::vectors {

/// The two endpoints of every packet vector: node 1 and node 2 of network 0.
inline constexpr protocol::address node1{0, 1};
inline constexpr protocol::address node2{0, 2};

/// Returns the header of the reference specification's SYN: node 1 port 49152
/// to node 2 port 1000, seq 0, ack 0, window 512, no payload.
inline protocol::packet_header syn_header() {
  protocol::packet_header h;
  h.flags = protocol::flag_syn;
  h.protocol = protocol::packet_protocol::stream;
  h.src = node1;
  h.dst = node2;
  h.src_port = 49152;
  h.dst_port = 1000;
  h.window = 512;
  return h;
}

inline constexpr std::string_view syn
    = "11 01 0000 0000 00000001 0000 00000002 C000 03E8 00000000 00000000 "
      "0200 145ED874";

/// RFC 7748 section 6.1: Alice's and Bob's X25519 keys and their secret.
inline constexpr std::string_view alice_private
    = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
inline constexpr std::string_view alice_public
    = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
inline constexpr std::string_view bob_private
    = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
inline constexpr std::string_view bob_public
    = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
inline constexpr std::string_view shared_secret
    = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/// SHA-256("pilot-tunnel-v1:" | shared_secret).
inline constexpr std::string_view tunnel_key
    = "7fba3471bc8efe5a218c59651ad860926646b44c842bb2747ad11d976d60c50e";

/// RFC 8032 section 7.1 test 1: the Ed25519 identity of node 1.
inline constexpr std::string_view ed25519_seed
    = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
inline constexpr std::string_view ed25519_public
    = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Node 1's signature of "auth" | 00000001 | alice_public.
inline constexpr std::string_view pila_signature
    = "880af5e2ce0d44fc98432c2ff8c867567f42f442cd9e00c298199823844f1e7d"
      "54c5560c7c7480b2f90855b73178c665295538bd30e521f794c494e793e7610d";

/// PILK from node 1 announcing alice_public.
inline constexpr std::string_view pilk
    = "50494c4b 00000001 "
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

/// PILA from node 1: alice_public, ed25519_public and pila_signature.
inline constexpr std::string_view pila
    = "50494c41 00000001 "
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a "
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a "
      "880af5e2ce0d44fc98432c2ff8c867567f42f442cd9e00c298199823844f1e7d"
      "54c5560c7c7480b2f90855b73178c665295538bd30e521f794c494e793e7610d";

/// PILS from node 1: the SYN sealed under tunnel_key with nonce prefix
/// a1b2c3d4 and counter 1. The last 16 bytes are the tag.
inline constexpr std::string_view pils
    = "50494c53 00000001 a1b2c3d4 0000000000000001 "
      "56dfe3f8d3d878e2a8d87fc3412afca4dfc38b354ce7f0e1ecd34717b908c5461fcc "
      "585a0951448836deeed10cb8a3de519c";

} // namespace pilot::test::vectors
