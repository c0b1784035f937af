// ICMP errors from the gateway: time exceeded, fragmentation needed / packet too big (PMTUD).
// Built in place over the offending packet (its head becomes the quoted part), so no allocation.

#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {
namespace {

bool unicast4(uint32_t a) noexcept {
  return a != 0 && a != 0xffffffff && (a >> 28) != 0xe && (a >> 24) != 127;
}

// The source for an error back to `dst`: our address on the port that leads there, or, where the
// way back is a tunnel, one of our addresses inside its local selectors (so the error is carried).
bool source4(const Worker& w, uint32_t dst, uint32_t* out) noexcept {
  const Snapshot& s = *w.snap;
  const NextHop* nh = s.lookup4(dst);
  if (nh != nullptr && nh->kind == NextHopKind::kPort) return s.port_address4(nh->port, out);
  if (nh != nullptr && nh->kind == NextHopKind::kTunnel) {
    const TunnelEntry& t = s.tunnels[nh->tunnel];
    for (const auto& port : s.ports) {
      for (const auto& a : port.addresses) {
        if (a.address.is_v4() && TunnelEntry::in4(t.local4(), a.address.v4_host())) {
          *out = a.address.v4_host();
          return true;
        }
      }
    }
  }
  return false;
}

bool source6(const Worker& w, const uint8_t* dst, uint8_t* out) noexcept {
  const Snapshot& s = *w.snap;
  const NextHop* nh = s.lookup6(dst);
  if (nh != nullptr && nh->kind == NextHopKind::kPort) return s.port_address6(nh->port, out);
  if (nh != nullptr && nh->kind == NextHopKind::kTunnel) {
    const TunnelEntry& t = s.tunnels[nh->tunnel];
    for (const auto& port : s.ports) {
      for (const auto& a : port.addresses) {
        if (a.address.is_v6() && TunnelEntry::in6(t.local_cidrs, a.address.bytes.data())) {
          std::memcpy(out, a.address.bytes.data(), 16);
          return true;
        }
      }
    }
  }
  return false;
}

}  // namespace

bool icmp4_error(Worker& w, rte_mbuf* m, uint8_t type, uint8_t code, uint16_t mtu) noexcept {
  const uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t len = m->data_len;
  const uint32_t ihl = (ip[0] & 0x0fu) * 4;
  const uint32_t orig_src = load_be32(ip + 12);
  const uint32_t orig_dst = load_be32(ip + 16);
  // RFC 1812 4.3.2.7: never about a non-first fragment, an ICMP error, or a packet that was not
  // unicast from a unicast source.
  if ((load_be16(ip + 6) & 0x1fff) != 0) return false;
  if (ip[9] == 1 && len > ihl) {
    const uint8_t t = ip[ihl];
    if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) return false;
  }
  if (!unicast4(orig_src) || !unicast4(orig_dst)) return false;
  uint32_t src;
  if (!source4(w, orig_src, &src)) return false;
  if (!w.icmp_tokens.take(w.now_tsc)) {
    w.counters.icmp_suppressed.add();
    return false;
  }
  const uint32_t quote = std::min<uint32_t>(len, 576 - 28);  // RFC 1812 4.3.2.3
  uint8_t* h = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 28));
  if (h == nullptr) return false;
  m->data_len = static_cast<uint16_t>(28 + quote);
  m->pkt_len = m->data_len;
  std::memset(h, 0, 28);
  h[0] = 0x45;
  h[1] = 0xc0;  // internetwork control
  store_be16(h + 2, static_cast<uint16_t>(28 + quote));
  store_be16(h + 4, w.ip_id++);
  h[8] = 64;
  h[9] = 1;
  store_be32(h + 12, src);
  store_be32(h + 16, orig_src);
  store_be16(h + 10, ipv4_header_checksum(h, 20));
  uint8_t* icmp = h + 20;
  icmp[0] = type;
  icmp[1] = code;
  if (type == 3 && code == 4) store_be16(icmp + 6, mtu);  // RFC 1191 next-hop MTU
  store_be16(icmp + 2, csum_fold(csum_partial(icmp, 8 + quote)));
  w.counters.icmp_sent.add();
  return true;
}

bool icmp6_error(Worker& w, rte_mbuf* m, uint8_t type, uint8_t code, uint32_t mtu) noexcept {
  const uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t len = m->data_len;
  // RFC 4443 2.4: not about an ICMPv6 error, a multicast destination (but Packet Too Big), or an
  // unspecified/multicast source.
  if (ip[6] == 58 && len > 40 && ip[40] < 128) return false;
  if (ip[24] == 0xff && type != 2) return false;
  static constexpr uint8_t kZero[16] = {};
  if (ip[8] == 0xff || std::memcmp(ip + 8, kZero, 16) == 0) return false;
  uint8_t src[16];
  if (!source6(w, ip + 8, src)) return false;
  if (!w.icmp_tokens.take(w.now_tsc)) {
    w.counters.icmp_suppressed.add();
    return false;
  }
  uint8_t orig_src[16];
  std::memcpy(orig_src, ip + 8, 16);
  const uint32_t quote = std::min<uint32_t>(len, 1280 - 48);  // RFC 4443 2.4(c)
  uint8_t* h = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 48));
  if (h == nullptr) return false;
  m->data_len = static_cast<uint16_t>(48 + quote);
  m->pkt_len = m->data_len;
  std::memset(h, 0, 48);
  h[0] = 0x60;
  store_be16(h + 4, static_cast<uint16_t>(8 + quote));
  h[6] = 58;
  h[7] = 64;
  std::memcpy(h + 8, src, 16);
  std::memcpy(h + 24, orig_src, 16);
  uint8_t* icmp = h + 40;
  icmp[0] = type;
  icmp[1] = code;
  if (type == 2) store_be32(icmp + 4, mtu);
  uint32_t sum = csum_partial(h + 8, 32);
  sum += 8 + quote;
  sum += 58;
  store_be16(icmp + 2, csum_fold(csum_partial(icmp, 8 + quote, sum)));
  w.counters.icmp_sent.add();
  return true;
}

}  // namespace espgw::dp::stages
