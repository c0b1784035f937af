// Classification of what arrives on a port (docs/architecture.md, "The data path"):
//   ESP (protocol 50) or ESP-in-UDP to one of our addresses  -> ESP inbound
//   UDP 4500 with the non-ESP marker (IKE), NAT-T keepalives, UDP 500, ICMP, ARP replies and
//   anything else for one of our addresses, multicast, other ethertypes -> the kernel
//   ARP requests for us and IPv6 neighbour solicitations for us -> answered here
//   everything else -> route (transit)

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {
namespace {

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;

enum class Verdict : uint8_t { kTransit, kEsp, kKernel, kDone };

bool natt_port(const Snapshot& s, uint16_t port) noexcept {
  return std::find(s.natt_ports.begin(), s.natt_ports.end(), port) != s.natt_ports.end();
}

// UDP to a NAT-T port: ESP unless it is IKE (non-ESP marker) or a keepalive (RFC 3948 2.2, 2.3).
bool udp_carries_esp(const uint8_t* udp, uint32_t udp_len) noexcept {
  const uint32_t payload = udp_len - 8;
  const uint8_t* p = udp + 8;
  if (payload == 1 && p[0] == 0xff) return false;
  if (payload >= 4 && load_be32(p) == 0) return false;
  return payload > 0;
}

Verdict classify4(Worker& w, rte_mbuf* m, DropReason* why) noexcept {
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
  const uint32_t len = m->data_len - 14u;
  if (len < 20 || (ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5) {
    *why = DropReason::kBadIpHeader;
    return Verdict::kDone;
  }
  const uint32_t ihl = (ip[0] & 0x0fu) * 4;
  const uint32_t total = load_be16(ip + 2);
  if (ihl > len || total < ihl || total > len) {
    *why = DropReason::kIpLength;
    return Verdict::kDone;
  }
  if (!ipv4_header_checksum_ok(ip, ihl)) {
    *why = DropReason::kIpChecksum;
    return Verdict::kDone;
  }
  m->data_len = static_cast<uint16_t>(14 + total);  // drop Ethernet padding
  m->pkt_len = m->data_len;
  const uint32_t dst = load_be32(ip + 16);
  const Snapshot& s = *w.snap;
  if (s.local_port4(dst) == kNoPort) {
    if (dst == 0xffffffff || (dst >> 28) == 0xe) return Verdict::kKernel;  // broadcast, multicast
    return Verdict::kTransit;
  }
  const bool first_fragment = (load_be16(ip + 6) & 0x1fff) == 0;
  if (ip[9] == 50) return Verdict::kEsp;
  if (ip[9] == 17 && first_fragment && total >= ihl + 8) {
    const uint8_t* udp = ip + ihl;
    if (natt_port(s, load_be16(udp + 2)) && udp_carries_esp(udp, total - ihl)) return Verdict::kEsp;
  }
  return Verdict::kKernel;
}

Verdict classify6(Worker& w, const Port& port, rte_mbuf* m, DropReason* why) noexcept {
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
  const uint32_t len = m->data_len - 14u;
  if (len < 40 || (ip[0] >> 4) != 6) {
    *why = DropReason::kBadIpHeader;
    return Verdict::kDone;
  }
  const uint32_t total = 40u + load_be16(ip + 4);
  if (total > len) {
    *why = DropReason::kIpLength;
    return Verdict::kDone;
  }
  m->data_len = static_cast<uint16_t>(14 + total);
  m->pkt_len = m->data_len;
  const uint8_t* dst = ip + 24;
  const Snapshot& s = *w.snap;
  const bool local = s.local_port6(dst) != kNoPort;
  if (dst[0] == 0xff || local || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)) {
    if (ip[6] == 58 && nd_input(w, port, m)) return Verdict::kDone;
    if (!local) return Verdict::kKernel;
    if (ip[6] == 50) return Verdict::kEsp;
    if (ip[6] == 17 && total >= 48 && natt_port(s, load_be16(ip + 42)) &&
        udp_carries_esp(ip + 40, total - 40)) {
      return Verdict::kEsp;
    }
    return Verdict::kKernel;
  }
  return Verdict::kTransit;
}

}  // namespace

void classify(Worker& w, const Port& port, rte_mbuf** pkts, uint16_t n) noexcept {
  Batch& transit = w.transit;
  Batch& esp = w.esp_in;
  transit.n = 0;
  esp.n = 0;
  uint64_t rx_bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    rx_bytes += m->pkt_len;
    if (m->nb_segs != 1 || m->data_len < 14) {
      w.drop(m, DropReason::kBadFrame);
      continue;
    }
    m->port = port.index;
    // A port that sees other hosts' unicast (af_packet on a bridge, a promiscuous NIC) must not
    // route their frames a second time; broadcast and multicast (I/G bit) are for everyone.
    const uint8_t* dst_mac = rte_pktmbuf_mtod(m, uint8_t*);
    if (!(dst_mac[0] & 1) && std::memcmp(dst_mac, port.mac.addr_bytes, 6) != 0) {
      w.drop(m, DropReason::kOtherHost);
      continue;
    }
    const uint16_t type = load_be16(rte_pktmbuf_mtod_offset(m, uint8_t*, 12));
    Verdict v;
    DropReason why = DropReason::kNone;
    if (type == kEtherIpv4) {
      v = classify4(w, m, &why);
    } else if (type == kEtherIpv6) {
      v = classify6(w, port, m, &why);
    } else if (type == kEtherArp) {
      arp_input(w, port, m);
      continue;
    } else {
      v = Verdict::kKernel;
    }
    switch (v) {
      case Verdict::kTransit:
        rte_pktmbuf_adj(m, 14);
        transit.push(m, Batch::kTransit);
        break;
      case Verdict::kEsp:
        rte_pktmbuf_adj(m, 14);
        esp.push(m, 0);
        break;
      case Verdict::kKernel: w.to_kernel(port.index, m); break;
      case Verdict::kDone:
        if (why != DropReason::kNone) w.drop(m, why);
        break;
    }
  }
  PortCounters& pc = w.port_counters[port.index];
  pc.rx_packets.add(n);
  pc.rx_bytes.add(rx_bytes);
  if (esp.n != 0) esp_inbound(w, esp, transit);
  if (transit.n != 0) route(w, transit);
}

void from_kernel(Worker& w, const Port& port, rte_mbuf** pkts, uint16_t n) noexcept {
  Batch& transit = w.transit;
  transit.n = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (m->nb_segs != 1 || m->data_len < 14) {
      w.drop(m, DropReason::kBadFrame);
      continue;
    }
    const uint8_t* eth = rte_pktmbuf_mtod(m, uint8_t*);
    const uint16_t type = load_be16(eth + 12);
    const uint8_t* ip = eth + 14;
    const uint32_t len = m->data_len - 14u;
    bool routed = false;
    if (type == kEtherIpv4 && len >= 20 && (ip[0] >> 4) == 4) {
      const uint32_t dst = load_be32(ip + 16);
      routed = dst != 0xffffffff && (dst >> 28) != 0xe && load_be16(ip + 2) <= len;
    } else if (type == kEtherIpv6 && len >= 40 && (ip[0] >> 4) == 6) {
      const bool link_local = ip[24] == 0xfe && (ip[25] & 0xc0) == 0x80;
      routed = ip[24] != 0xff && !link_local && 40u + load_be16(ip + 4) <= len;
    }
    if (!routed) {
      // ARP, neighbour discovery, multicast: the kernel addressed these itself.
      w.send(port.index, m);
      continue;
    }
    m->port = port.index;
    rte_pktmbuf_adj(m, 14);
    transit.push(m, Batch::kLocalOrigin);
  }
  if (transit.n != 0) route(w, transit);
}

}  // namespace espgw::dp::stages
