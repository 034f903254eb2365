#include "protocol/beacon_message.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace pilot::protocol {

namespace {

using bytes = std::vector<std::uint8_t>;
using input = std::span<const std::uint8_t>;

void put_u16(bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_u32(bytes& out, std::uint32_t value) {
  put_u16(out, static_cast<std::uint16_t>(value >> 16));
  put_u16(out, static_cast<std::uint16_t>(value));
}

// Writes ip_len, ip and port. IPv4 and IPv4-mapped IPv6 addresses take 4
// bytes, as Go's `To4` gives them.
void put_endpoint(bytes& out, const beacon_endpoint& endpoint) {
  auto ip = endpoint.ip;
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped,
                                          ip.to_v6());
  if (ip.is_v4()) {
    auto raw = ip.to_v4().to_bytes();
    out.push_back(static_cast<std::uint8_t>(raw.size()));
    out.insert(out.end(), raw.begin(), raw.end());
  } else {
    auto raw = ip.to_v6().to_bytes();
    out.push_back(static_cast<std::uint8_t>(raw.size()));
    out.insert(out.end(), raw.begin(), raw.end());
  }
  put_u16(out, endpoint.port);
}

bytes start(beacon_type type, std::size_t reserve) {
  bytes out;
  out.reserve(reserve);
  out.push_back(static_cast<std::uint8_t>(type));
  return out;
}

bytes endpoint_datagram(beacon_type type, const beacon_endpoint& endpoint) {
  auto out = start(type, 20);
  put_endpoint(out, endpoint);
  return out;
}

std::uint16_t read_u16(input in) noexcept {
  return static_cast<std::uint16_t>((in[0] << 8) | in[1]);
}

std::uint32_t read_u32(input in) noexcept {
  return (std::uint32_t{read_u16(in)} << 16) | read_u16(in.subspan(2));
}

// Reads ip_len, ip and port from the bytes after the type byte.
result<beacon_endpoint> read_endpoint(input body) {
  if (body.empty())
    return errc::truncated;
  auto ip_len = body[0];
  if (ip_len != 4 && ip_len != 16)
    return errc::invalid_field;
  if (body.size() < 1u + ip_len + 2u)
    return errc::truncated;
  auto ip = body.subspan(1, ip_len);
  beacon_endpoint endpoint;
  if (ip_len == 4) {
    boost::asio::ip::address_v4::bytes_type raw;
    std::copy(ip.begin(), ip.end(), raw.begin());
    endpoint.ip = boost::asio::ip::address_v4{raw};
  } else {
    boost::asio::ip::address_v6::bytes_type raw;
    std::copy(ip.begin(), ip.end(), raw.begin());
    endpoint.ip = boost::asio::ip::address_v6{raw};
  }
  endpoint.port = read_u16(body.subspan(1 + ip_len));
  return endpoint;
}

result<beacon_message> decode_body(beacon_type type, input body) {
  switch (type) {
    case beacon_type::discover:
      if (body.size() < 4)
        return errc::truncated;
      return beacon_discover{read_u32(body)};
    case beacon_type::discover_reply:
    case beacon_type::punch_command: {
      auto endpoint = read_endpoint(body);
      if (!endpoint)
        return endpoint.error();
      if (type == beacon_type::discover_reply)
        return beacon_discover_reply{*endpoint};
      return beacon_punch_command{*endpoint};
    }
    case beacon_type::punch_request:
      if (body.size() < 8)
        return errc::truncated;
      return beacon_punch_request{read_u32(body), read_u32(body.subspan(4))};
    case beacon_type::relay:
      if (body.size() < 8)
        return errc::truncated;
      return beacon_relay{read_u32(body), read_u32(body.subspan(4)),
                          bytes(body.begin() + 8, body.end())};
    case beacon_type::relay_deliver:
      if (body.size() < 5)
        return errc::truncated;
      return beacon_relay_deliver{read_u32(body),
                                  bytes(body.begin() + 4, body.end())};
    case beacon_type::sync: {
      if (body.size() < 6)
        return errc::truncated;
      auto count = std::size_t{read_u16(body.subspan(4))};
      if (body.size() < 6 + 4 * count)
        return errc::truncated;
      beacon_sync sync{read_u32(body), {}};
      sync.node_ids.reserve(count);
      for (std::size_t i = 0; i < count; ++i)
        sync.node_ids.push_back(read_u32(body.subspan(6 + 4 * i)));
      return sync;
    }
  }
  return errc::unknown_type;
}

} // namespace

bytes encode_beacon_message(const beacon_discover& m) {
  auto out = start(beacon_type::discover, 5);
  put_u32(out, m.node_id);
  return out;
}

bytes encode_beacon_message(const beacon_discover_reply& m) {
  return endpoint_datagram(beacon_type::discover_reply, m.observed);
}

bytes encode_beacon_message(const beacon_punch_request& m) {
  auto out = start(beacon_type::punch_request, 9);
  put_u32(out, m.requester_id);
  put_u32(out, m.target_id);
  return out;
}

bytes encode_beacon_message(const beacon_punch_command& m) {
  return endpoint_datagram(beacon_type::punch_command, m.target);
}

bytes encode_beacon_message(const beacon_relay& m) {
  auto out = start(beacon_type::relay, relay_header_size + m.payload.size());
  put_u32(out, m.sender_id);
  put_u32(out, m.dest_id);
  out.insert(out.end(), m.payload.begin(), m.payload.end());
  return out;
}

bytes encode_beacon_message(const beacon_relay_deliver& m) {
  auto out = start(beacon_type::relay_deliver,
                   relay_deliver_header_size + m.payload.size());
  put_u32(out, m.sender_id);
  out.insert(out.end(), m.payload.begin(), m.payload.end());
  return out;
}

bytes encode_beacon_message(const beacon_sync& m) {
  if (m.node_ids.size() > std::numeric_limits<std::uint16_t>::max())
    throw std::length_error("a beacon Sync lists at most 65535 node IDs");
  auto out = start(beacon_type::sync, 7 + 4 * m.node_ids.size());
  put_u32(out, m.beacon_id);
  put_u16(out, static_cast<std::uint16_t>(m.node_ids.size()));
  for (auto id : m.node_ids)
    put_u32(out, id);
  return out;
}

bytes encode_beacon_message(const beacon_message& m) {
  return std::visit([](const auto& x) { return encode_beacon_message(x); }, m);
}

result<beacon_message> decode_beacon_message(input datagram) {
  if (datagram.empty())
    return errc::truncated;
  auto first = datagram[0];
  if (first < static_cast<std::uint8_t>(beacon_type::discover)
      || first > static_cast<std::uint8_t>(beacon_type::sync))
    return errc::unknown_type;
  return decode_body(static_cast<beacon_type>(first), datagram.subspan(1));
}

bool is_punch_packet(input datagram) noexcept {
  return datagram.size() >= punch_packet.size()
         && std::equal(punch_packet.begin(), punch_packet.end(),
                       datagram.begin());
}

} // namespace pilot::protocol
