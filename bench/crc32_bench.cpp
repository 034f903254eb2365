// Prints the CRC-32 throughput of boost::crc_32_type next to our table and
// carry-less multiplication code, and the throughput of encoding and
// decoding overlay packets, for several buffer sizes. GB is 10^9 bytes.
// Each cell runs for about 0.2 s of wall time on one thread.

#include "protocol/detail/crc32.hpp"
#include "protocol/packet.hpp"

#include <boost/crc.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <vector>

namespace {

using namespace pilot::protocol;
using clock_type = std::chrono::steady_clock;

constexpr auto min_duration = std::chrono::milliseconds{200};

// Keeps the compiler from removing the measured work, whose results are
// otherwise unused.
volatile std::uint32_t sink;

std::vector<std::uint8_t> random_bytes(std::size_t size) {
  std::mt19937 engine{42};
  std::uniform_int_distribution<unsigned> byte{0, 255};
  std::vector<std::uint8_t> out(size);
  for (auto& b : out)
    b = static_cast<std::uint8_t>(byte(engine));
  return out;
}

// Runs `work` over `size` bytes until `min_duration` has passed and returns
// GB/s.
template <class Work>
double measure(std::size_t size, Work work) {
  std::size_t rounds = 0;
  std::uint32_t acc = 0;
  auto start = clock_type::now();
  auto elapsed = clock_type::duration{};
  while (elapsed < min_duration) {
    for (int i = 0; i < 64; ++i)
      acc ^= work();
    rounds += 64;
    elapsed = clock_type::now() - start;
  }
  sink = acc;
  auto seconds = std::chrono::duration<double>(elapsed).count();
  return static_cast<double>(rounds * size) / seconds / 1e9;
}

double boost_rate(std::span<const std::uint8_t> data) {
  return measure(data.size(), [data] {
    boost::crc_32_type crc;
    crc.process_bytes(data.data(), data.size());
    return crc.checksum();
  });
}

double table_rate(std::span<const std::uint8_t> data) {
  return measure(data.size(), [data] {
    return detail::crc32_update_table(0xFFFFFFFF, data);
  });
}

double clmul_rate(std::span<const std::uint8_t> data) {
  return measure(data.size(), [data] {
    return detail::crc32_update_clmul(0xFFFFFFFF, data);
  });
}

// Encodes and decodes one packet per round and counts its payload bytes
// once, as a daemon does for a packet it sends and one it receives.
double packet_rate(std::span<const std::uint8_t> payload) {
  packet_header header;
  header.flags = flag_ack;
  return measure(payload.size(), [&header, payload] {
    auto encoded = encode_packet(header, payload);
    auto decoded = decode_packet(*encoded);
    return static_cast<std::uint32_t>(decoded->payload.size());
  });
}

} // namespace

int main() {
  bool clmul = detail::crc32_clmul_supported();
  std::printf("CRC-32 throughput in GB/s (PCLMULQDQ %s)\n",
              clmul ? "available" : "not available");
  std::printf("%8s %8s %8s %8s %8s\n", "bytes", "boost", "table", "clmul",
              "packet");
  for (std::size_t size : {64u, 256u, 1500u, 4096u, 65535u, 1u << 20}) {
    auto data = random_bytes(size);
    std::printf("%8zu %8.2f %8.2f", size, boost_rate(data), table_rate(data));
    if (clmul)
      std::printf(" %8.2f", clmul_rate(data));
    else
      std::printf(" %8s", "-");
    if (size <= max_packet_payload_size)
      std::printf(" %8.2f\n", packet_rate(data));
    else
      std::printf(" %8s\n", "-");
  }
  std::printf("packet: encode_packet then decode_packet with that payload "
              "size, in payload GB/s\n");
}
