// Neighbours: ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861) for our addresses and our
// next hops. Workers answer requests for our addresses at once, pass what they learn to the
// control thread (which owns the table, retries and ageing), and hold packets for unresolved next
// hops there. ARP replies also reach the kernel, whose own neighbour cache the exception path
// needs.

#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {
namespace {

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;

bool port_owns4(const Snapshot& s, uint16_t port, uint32_t a) noexcept {
  return s.local_port4(a) == port;
}

bool port_owns6(const Snapshot& s, uint16_t port, const uint8_t* a) noexcept {
  return s.local_port6(a) == port;
}

void ether_header(uint8_t* eth, const uint8_t* dst, const rte_ether_addr& src, uint16_t type) {
  std::memcpy(eth, dst, 6);
  std::memcpy(eth + 6, src.addr_bytes, 6);
  store_be16(eth + 12, type);
}

uint16_t icmp6_checksum(const uint8_t* ip6, const uint8_t* icmp, uint32_t len) noexcept {
  uint32_t sum = csum_partial(ip6 + 8, 32);
  sum += len;
  sum += 58;
  return csum_fold(csum_partial(icmp, len, sum));
}

}  // namespace

void arp_input(Worker& w, const Port& port, rte_mbuf* m) noexcept {
  uint8_t* eth = rte_pktmbuf_mtod(m, uint8_t*);
  if (m->data_len < 14 + 28) return w.drop(m, DropReason::kTruncated);
  uint8_t* arp = eth + 14;
  // Ethernet / IPv4, 6-byte and 4-byte addresses only.
  if (load_be16(arp) != 1 || load_be16(arp + 2) != kEtherIpv4 || arp[4] != 6 || arp[5] != 4) {
    return w.drop(m, DropReason::kArpIgnored);
  }
  const uint16_t op = load_be16(arp + 6);
  const uint8_t* sha = arp + 8;
  const uint32_t spa = load_be32(arp + 14);
  const uint32_t tpa = load_be32(arp + 24);
  const Snapshot& s = *w.snap;
  const bool for_us = port_owns4(s, port.index, tpa);

  // RFC 826 merge: update what we know; add the sender if the packet is for us. A reply to us
  // goes to the control thread even when it changes nothing here: it may answer a probe of an
  // aged or remembered entry, which the control thread forgets (and resolves again, holding
  // packets meanwhile) unless it hears the answer.
  if (spa != 0 && !(sha[0] & 1)) {
    const Neighbour* known = w.neigh->v4.find(spa);
    const bool changed = known == nullptr || known->port != port.index ||
                         std::memcmp(known->mac.data(), sha, 6) != 0;
    if ((for_us || known != nullptr) && (changed || (op == 2 && for_us))) {
      w.learn(port.index, arp + 14, 4, sha);
    }
  }

  if (op == 1 && for_us) {
    // Answer in place: the request becomes the reply.
    uint8_t requester_mac[6];
    std::memcpy(requester_mac, sha, 6);
    uint8_t requester_ip[4];
    std::memcpy(requester_ip, arp + 14, 4);
    store_be16(arp + 6, 2);
    std::memcpy(arp + 18, requester_mac, 6);
    std::memcpy(arp + 24, requester_ip, 4);
    std::memcpy(arp + 8, port.mac.addr_bytes, 6);
    store_be32(arp + 14, tpa);
    ether_header(eth, requester_mac, port.mac, kEtherArp);
    w.counters.arp_replies.add();
    return w.send(port.index, m);
  }
  if (op == 2 || (op == 1 && spa == tpa)) {
    // Replies and gratuitous announcements: the kernel keeps its own cache for its own traffic.
    return w.to_kernel(port.index, m);
  }
  w.drop(m, DropReason::kArpIgnored);
}

bool nd_input(Worker& w, const Port& port, rte_mbuf* m) noexcept {
  uint8_t* eth = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = eth + 14;
  const uint32_t len = m->data_len - 14u;
  if (len < 40 + 24 || ip[6] != 58 || ip[7] != 255) return false;  // RFC 4861 7.1.1: hop limit 255
  uint8_t* icmp = ip + 40;
  const uint8_t type = icmp[0];
  if (type != 135 && type != 136) return false;
  const uint32_t icmp_len = load_be16(ip + 4);
  if (40 + icmp_len > len || icmp_len < 24) return false;
  const uint8_t* target = icmp + 8;
  const Snapshot& s = *w.snap;

  // Link-layer address options: source (1) in a solicitation, target (2) in an advertisement.
  const uint8_t* lladdr = nullptr;
  for (uint32_t off = 24; off + 8 <= icmp_len;) {
    const uint32_t olen = icmp[off + 1] * 8u;
    if (olen == 0 || off + olen > icmp_len) break;
    if ((type == 135 && icmp[off] == 1) || (type == 136 && icmp[off] == 2)) lladdr = icmp + off + 2;
    off += olen;
  }

  if (type == 136) {
    const Neighbour* known = w.neigh->v6.find(Ip6Key{[&] {
      std::array<uint8_t, 16> a;
      std::memcpy(a.data(), target, 16);
      return a;
    }()});
    // A solicited advertisement answers our solicitation, a probe of a known entry included
    // (which may leave the target's address out, RFC 4861 7.2.4): the control thread hears it
    // even when it changes nothing here, as for ARP replies above.
    const bool solicited = (icmp[4] & 0x40) != 0;
    const uint8_t* mac = lladdr != nullptr               ? lladdr
                         : solicited && known != nullptr ? known->mac.data()
                                                         : nullptr;
    if (mac != nullptr &&
        (known == nullptr || std::memcmp(known->mac.data(), mac, 6) != 0 || solicited)) {
      w.learn(port.index, target, 6, mac);
    }
    return false;  // the kernel gets advertisements too
  }

  if (!port_owns6(s, port.index, target)) return false;
  if (rte_pktmbuf_tailroom(m) + m->data_len < 14u + 40 + 32) return false;
  static constexpr uint8_t kZero[16] = {};
  const bool dad = std::memcmp(ip + 8, kZero, 16) == 0;
  if (lladdr != nullptr && !dad) w.learn(port.index, ip + 8, 6, lladdr);

  // Advertise in place: solicited (unless DAD), override, with our link-layer address.
  uint8_t dst_ip[16];
  uint8_t dst_mac[6];
  if (dad) {
    static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(dst_ip, kAllNodes, 16);
    static constexpr uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 1};
    std::memcpy(dst_mac, kAllNodesMac, 6);
  } else {
    std::memcpy(dst_ip, ip + 8, 16);
    std::memcpy(dst_mac, eth + 6, 6);
  }
  uint8_t our[16];
  std::memcpy(our, target, 16);
  const uint32_t na_len = 24 + 8;
  m->data_len = static_cast<uint16_t>(14 + 40 + na_len);
  m->pkt_len = m->data_len;
  ether_header(eth, dst_mac, port.mac, kEtherIpv6);
  ip[0] = 0x60;
  ip[1] = ip[2] = ip[3] = 0;
  store_be16(ip + 4, static_cast<uint16_t>(na_len));
  ip[6] = 58;
  ip[7] = 255;
  std::memcpy(ip + 8, our, 16);
  std::memcpy(ip + 24, dst_ip, 16);
  std::memset(icmp, 0, na_len);
  icmp[0] = 136;
  icmp[4] = dad ? 0x20 : 0x60;  // (router 0x80 not set) solicited 0x40, override 0x20
  std::memcpy(icmp + 8, our, 16);
  icmp[24] = 2;
  icmp[25] = 1;
  std::memcpy(icmp + 26, port.mac.addr_bytes, 6);
  store_be16(icmp + 2, icmp6_checksum(ip, icmp, na_len));
  w.counters.arp_replies.add();
  w.send(port.index, m);
  return true;
}

void l2_output4(Worker& w, uint16_t port, uint32_t nexthop, rte_mbuf* m) noexcept {
  const Neighbour* n = w.neigh->v4.find(nexthop);
  if (n == nullptr || n->port != port) {
    uint8_t ip[4];
    store_be32(ip, nexthop);
    return w.hold(port, ip, 4, m);
  }
  auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 14));
  if (eth == nullptr) return w.drop(m, DropReason::kNoBufferRoom);
  ether_header(eth, n->mac.data(), w.rt.ports[port].mac, kEtherIpv4);
  w.send(port, m);
}

void l2_output4_burst(Worker& w, uint16_t port, uint32_t nexthop, rte_mbuf** m,
                      uint16_t n) noexcept {
  const Neighbour* nb = w.neigh->v4.find(nexthop);
  if (nb == nullptr || nb->port != port) {
    uint8_t ip[4];
    store_be32(ip, nexthop);
    for (uint16_t i = 0; i < n; ++i)
      w.hold(port, ip, 4, m[i]);
    return;
  }
  uint8_t header[14];
  ether_header(header, nb->mac.data(), w.rt.ports[port].mac, kEtherIpv4);
  for (uint16_t i = 0; i < n; ++i) {
    auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m[i], 14));
    if (eth == nullptr) {
      w.drop(m[i], DropReason::kNoBufferRoom);
      continue;
    }
    std::memcpy(eth, header, 14);
    w.send(port, m[i]);
  }
}

void l2_output6(Worker& w, uint16_t port, const uint8_t* nexthop, rte_mbuf* m) noexcept {
  Ip6Key key;
  std::memcpy(key.bytes.data(), nexthop, 16);
  const Neighbour* n = w.neigh->v6.find(key);
  if (n == nullptr || n->port != port) return w.hold(port, nexthop, 6, m);
  auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 14));
  if (eth == nullptr) return w.drop(m, DropReason::kNoBufferRoom);
  ether_header(eth, n->mac.data(), w.rt.ports[port].mac, kEtherIpv6);
  w.send(port, m);
}

}  // namespace espgw::dp::stages
