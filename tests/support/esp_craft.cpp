#include "tests/support/esp_craft.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"

namespace espgw::test {

std::vector<uint8_t> esp_plaintext(std::span<const uint8_t> payload, const esp::Algorithm& alg,
                                   uint8_t next_header, uint32_t extra_pad_blocks) {
  const uint32_t align = alg.align_bytes();
  const size_t len = payload.size();
  const size_t ct = (len + 2 + align - 1) / align * align + size_t{extra_pad_blocks} * align;
  const size_t pad = ct - len - 2;
  std::vector<uint8_t> p(payload.begin(), payload.end());
  for (size_t k = 0; k < pad; ++k)
    p.push_back(static_cast<uint8_t>(k + 1));
  p.push_back(static_cast<uint8_t>(pad));
  p.push_back(next_header);
  return p;
}

std::vector<uint8_t> seal_esp(crypto::CryptoBackend& backend, const crypto::SaKeys& keys, bool esn,
                              uint32_t spi, uint64_t seq, std::span<const uint8_t> iv,
                              std::span<const uint8_t> plaintext) {
  const esp::Algorithm& a = keys.alg;
  const uint32_t ivl = a.iv_bytes();
  const uint32_t icv = a.icv_bytes();
  const size_t len = plaintext.size();
  std::vector<uint8_t> e(8 + ivl + len + icv, 0);
  store_be32(&e[0], spi);
  store_be32(&e[4], static_cast<uint32_t>(seq));
  std::memcpy(&e[8], iv.data(), std::min<size_t>(iv.size(), ivl));
  if (len != 0) std::memcpy(&e[8 + ivl], plaintext.data(), len);
  crypto::CryptoOp op{&keys,
                      e.data(),
                      e.data() + 8,
                      e.data() + 8 + ivl,
                      e.data() + 8 + ivl,
                      static_cast<uint32_t>(len),
                      e.data() + 8 + ivl + len,
                      static_cast<uint32_t>(seq >> 32),
                      esn,
                      false};
  backend.encrypt(std::span(&op, 1));
  if (!op.ok) return {};
  return e;
}

std::vector<uint8_t> wrap_outer(const OuterSpec& o, std::span<const uint8_t> esp) {
  const size_t ip_len = o.v6 ? 40 : size_t{o.v4_ihl} * 4;
  const size_t udp_len = o.udp ? 8 + esp.size() : 0;
  const size_t total = ip_len + (o.udp ? 8 : 0) + esp.size();
  std::vector<uint8_t> p(total, 0);
  if (o.v6) {
    p[0] = static_cast<uint8_t>(0x60 | o.tos >> 4);
    p[1] = static_cast<uint8_t>(o.tos << 4);
    store_be16(&p[4], static_cast<uint16_t>(total - 40));
    p[6] = o.udp ? 17 : 50;
    p[7] = 64;
    p[8] = 0x20;
    p[9] = 0x01;
    p[10] = 0x0d;
    p[11] = 0xb8;
    p[23] = 2;
    p[24] = 0x20;
    p[25] = 0x01;
    p[26] = 0x0d;
    p[27] = 0xb8;
    p[39] = 1;
  } else {
    p[0] = static_cast<uint8_t>(0x40 | (o.v4_ihl & 0x0f));
    p[1] = o.tos;
    store_be16(&p[2], static_cast<uint16_t>(total));
    store_be16(&p[4], 0x4242);
    store_be16(&p[6], o.frag);
    p[8] = 64;
    p[9] = o.udp ? 17 : 50;
    const uint8_t src[4] = {203, 0, 113, 2};
    const uint8_t dst[4] = {198, 51, 100, 1};
    std::memcpy(&p[12], src, 4);
    std::memcpy(&p[16], dst, 4);
    store_be16(&p[10], ipv4_header_checksum(p.data(), ip_len));
  }
  if (o.udp) {
    store_be16(&p[ip_len], o.src_port);
    store_be16(&p[ip_len + 2], o.dst_port);
    store_be16(&p[ip_len + 4], static_cast<uint16_t>(udp_len));
  }
  if (!esp.empty()) std::memcpy(&p[total - esp.size()], esp.data(), esp.size());
  return p;
}

}  // namespace espgw::test
