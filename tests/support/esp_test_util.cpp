#include "tests/support/esp_test_util.h"

#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"

namespace espgw::test {

PacketBuffer::PacketBuffer(const std::vector<uint8_t>& ip_packet, uint32_t tailroom)
    : storage_(kHeadroom + ip_packet.size() + tailroom, 0xEE) {
  std::memcpy(storage_.data() + kHeadroom, ip_packet.data(), ip_packet.size());
  view_.buf = storage_.data();
  view_.buf_len = static_cast<uint32_t>(storage_.size());
  view_.data_off = kHeadroom;
  view_.data_len = static_cast<uint32_t>(ip_packet.size());
}

std::vector<uint8_t> PacketBuffer::bytes() const {
  return {view_.data(), view_.data() + view_.data_len};
}

std::vector<uint8_t> ipv4_udp_packet(uint32_t payload_len, uint8_t tos, uint8_t seed, bool df) {
  std::vector<uint8_t> p(28 + payload_len);
  p[0] = 0x45;
  p[1] = tos;
  store_be16(&p[2], static_cast<uint16_t>(p.size()));
  store_be16(&p[4], 0x1234);
  p[6] = df ? 0x40 : 0;
  p[8] = 64;
  p[9] = 17;
  const uint8_t src[4] = {172, 50, 1, 10};
  const uint8_t dst[4] = {172, 60, 1, 20};
  std::memcpy(&p[12], src, 4);
  std::memcpy(&p[16], dst, 4);
  store_be16(&p[10], ipv4_header_checksum(p.data(), 20));
  store_be16(&p[20], 40000);
  store_be16(&p[22], 5201);
  store_be16(&p[24], static_cast<uint16_t>(8 + payload_len));
  for (uint32_t i = 0; i < payload_len; ++i)
    p[28 + i] = static_cast<uint8_t>(seed + i);
  return p;
}

std::vector<uint8_t> ipv6_udp_packet(uint32_t payload_len, uint8_t traffic_class, uint8_t seed) {
  std::vector<uint8_t> p(48 + payload_len);
  p[0] = static_cast<uint8_t>(0x60 | traffic_class >> 4);
  p[1] = static_cast<uint8_t>(traffic_class << 4);
  store_be16(&p[4], static_cast<uint16_t>(8 + payload_len));
  p[6] = 17;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 1;
  p[24] = 0xfd;
  p[25] = 0x60;
  p[39] = 2;
  store_be16(&p[40], 40000);
  store_be16(&p[42], 5201);
  store_be16(&p[44], static_cast<uint16_t>(8 + payload_len));
  for (uint32_t i = 0; i < payload_len; ++i)
    p[48 + i] = static_cast<uint8_t>(seed + i);
  return p;
}

SaPair make_sa_pair(const SaPairOptions& o, std::mt19937_64& rng) {
  auto random_bytes = [&](size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v)
      b = static_cast<uint8_t>(rng());
    return v;
  };
  esp::SaParams p;
  p.spi = o.spi;
  p.algorithm = o.algorithm;
  p.enc_key = random_bytes(o.algorithm.key_bytes);
  p.salt = random_bytes(o.algorithm.salt_bytes());
  p.auth_key = random_bytes(o.algorithm.auth_key_bytes());
  if (o.outer_v6) {
    p.local = *IpAddress::parse("2001:db8::1");
    p.remote = *IpAddress::parse("2001:db8::2");
  } else {
    p.local = *IpAddress::parse("198.51.100.1");
    p.remote = *IpAddress::parse("203.0.113.2");
  }
  p.udp_encap = o.udp_encap;
  p.esn = o.esn;
  p.replay_window = o.replay_window;
  p.first_seq = o.first_seq;

  SaPair pair;
  pair.params = p;
  esp::SaParams out = p;
  out.direction = esp::Direction::kOutbound;
  pair.out = esp::Sa::make(out, 1, rng());
  esp::SaParams in = p;
  in.direction = esp::Direction::kInbound;
  std::swap(in.local, in.remote);
  std::swap(in.local_port, in.remote_port);
  pair.in = esp::Sa::make(in, 1, rng());
  return pair;
}

}  // namespace espgw::test
