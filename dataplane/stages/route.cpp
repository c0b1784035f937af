// Routing: TTL / hop limit, longest-prefix match (rte_lpm, rte_lpm6), then into a tunnel or out
// of a port. Packets into the same tunnel are gathered so ESP sees them as one burst.

#include <array>
#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/lanes/lane_hash.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {
namespace {

bool martian4(uint32_t src, uint32_t dst) noexcept {
  auto bad = [](uint32_t a) { return a == 0 || a == 0xffffffff || (a >> 28) == 0xe; };
  return bad(src) || bad(dst) || (src >> 24) == 127 || (dst >> 24) == 127;
}

bool martian6(const uint8_t* ip) noexcept {
  static constexpr uint8_t kZero[16] = {};
  const uint8_t* src = ip + 8;
  const uint8_t* dst = ip + 24;
  return src[0] == 0xff || dst[0] == 0xff || std::memcmp(src, kZero, 16) == 0 ||
         std::memcmp(dst, kZero, 16) == 0 || (src[0] == 0xfe && (src[1] & 0xc0) == 0x80) ||
         (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80);
}

// A packet for one of our own addresses that reached routing (decrypted, so classify never saw
// its inner header): the kernel of the port that owns the address gets it, as if it had arrived
// there, instead of espgw resolving its own address as a next hop.
void to_host(Worker& w, uint16_t port, uint16_t ether_type, rte_mbuf* m) noexcept {
  auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 14));
  if (eth == nullptr) return w.drop(m, DropReason::kNoBufferRoom);
  const uint8_t* mac = w.rt.ports[port].mac.addr_bytes;
  std::memcpy(eth, mac, 6);
  std::memcpy(eth + 6, mac, 6);
  store_be16(eth + 12, ether_type);
  w.to_kernel(port, m);
}

// The line of a tunnel that esp_outbound() reads (snapshot.h), before the burst gets there.
void prefetch_tunnel(const Snapshot& s, uint32_t tunnel) noexcept {
  __builtin_prefetch(&s.tunnels[tunnel]);
}

// An ECMP route's member for this packet's inner flow (docs/routing.md "ECMP"): the flow's CRC
// through ecmp_bucket_of(), whose bits are independent of the lanes' bucket bits.
const NextHop* ecmp_member(const Snapshot& s, const NextHop* nh, const uint8_t* ip,
                           bool v4) noexcept {
  const EcmpGroup& g = s.ecmp[nh->tunnel];
  const uint32_t crc = v4 ? flow_crc4(reinterpret_cast<const rte_ipv4_hdr*>(ip))
                          : flow_crc6(reinterpret_cast<const rte_ipv6_hdr*>(ip));
  return &g.members[g.buckets[ecmp_bucket_of(crc)]];
}

// Whether a route's next hop goes into a tunnel (RFC 4301 5.2: what a tunnel protects must not
// arrive in the clear).
bool into_tunnel(const Snapshot& s, const NextHop* nh) noexcept {
  return nh != nullptr && (nh->kind == NextHopKind::kTunnel ||
                           (nh->kind == NextHopKind::kEcmp && s.ecmp[nh->tunnel].any_tunnel));
}

// Tunnel-bound packets into ESP in one call (esp_outbound), each tunnel's together: in the order
// the tunnels first appear, and in arrival order within each. A counting sort over a small
// open-addressed table of the burst's tunnels, O(n); the scan per tunnel it replaces cost ~10
// cycles a packet for a burst spread over 32 tunnels. Where the burst spreads over several
// tunnels, each is a string of cache misses (tunnel entry, SA, keys) that only loading ahead can
// overlap: the SAs' own lines are loaded here, as each tunnel is first seen (their entries were
// loaded in route()'s first pass); esp_outbound() loads what they point to.
void to_tunnels(Worker& w, const Snapshot& s, uint32_t* id, rte_mbuf** m, uint16_t n) noexcept {
  bool one = true;
  for (uint16_t i = 1; i < n; ++i)
    one &= id[i] == id[0];
  if (one) return esp_outbound(w, id, m, n);

  constexpr uint32_t kSlots = 2 * kBatchMax;  // a power of two, at most half full
  static_assert((kSlots & (kSlots - 1)) == 0 && kBatchMax < 256);  // groups fit in uint8_t
  std::array<uint32_t, kSlots> key{};                              // tunnel + 1; 0: free
  std::array<uint8_t, kSlots> group_at;
  std::array<uint8_t, kBatchMax> group_of;
  std::array<uint16_t, kBatchMax + 1> start{};  // packets per group, then where each begins
  uint32_t groups = 0;
  for (uint16_t i = 0; i < n; ++i) {
    uint32_t h = (id[i] * 0x9e3779b1u) >> 24 & (kSlots - 1);
    while (key[h] != 0 && key[h] != id[i] + 1)
      h = (h + 1) & (kSlots - 1);
    if (key[h] == 0) {
      key[h] = id[i] + 1;
      group_at[h] = static_cast<uint8_t>(groups++);
      const TunnelEntry& t = s.tunnels[id[i]];
      if (t.outbound != nullptr) t.outbound->prefetch_outbound();
      if (!t.one4) __builtin_prefetch(t.sel4.data());
    }
    group_of[i] = group_at[h];
    ++start[group_of[i] + 1u];
  }
  for (uint32_t g = 1; g <= groups; ++g)
    start[g] += start[g - 1];
  std::array<rte_mbuf*, kBatchMax> grouped_m;
  std::array<uint32_t, kBatchMax> grouped_id;
  for (uint16_t i = 0; i < n; ++i) {
    const uint16_t at = start[group_of[i]]++;
    grouped_m[at] = m[i];
    grouped_id[at] = id[i];
  }
  esp_outbound(w, grouped_id.data(), grouped_m.data(), n);
}

}  // namespace

void route(Worker& w, Batch& b) noexcept {
  const Snapshot& s = *w.snap;
  Batch errors;  // ICMP errors made here, routed at the end
  std::array<rte_mbuf*, kBatchMax> tun_m;
  std::array<uint32_t, kBatchMax> tun_id;
  uint16_t ntun = 0;

  // Longest-prefix match for the burst's IPv4 packets at once: one call into the FIB instead of
  // one per packet (the martian, local and TTL checks below only ever drop a packet, so a
  // lookup made for a dropped one is the only waste).
  std::array<uint32_t, kBatchMax> dst4;
  std::array<const NextHop*, kBatchMax> nh4;
  std::array<uint8_t, kBatchMax> slot4;
  static_assert(kBatchMax <= 256);
  uint16_t n4 = 0;
  for (uint16_t i = 0; i < b.n; ++i) {
    const uint8_t* ip = rte_pktmbuf_mtod(b.m[i], const uint8_t*);
    if ((ip[0] >> 4) == 4) {
      slot4[i] = static_cast<uint8_t>(n4);
      dst4[n4++] = load_be32(ip + 16);
    }
  }
  s.lookup4_bulk(dst4.data(), nh4.data(), n4);

  for (uint16_t i = 0; i < b.n; ++i) {
    rte_mbuf* m = b.m[i];
    const uint8_t flags = b.flags[i];
    uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
    if ((ip[0] >> 4) == 4) {
      const uint32_t src = load_be32(ip + 12);
      const uint32_t dst = load_be32(ip + 16);
      if (martian4(src, dst)) {
        w.drop(m, DropReason::kMartian);
        continue;
      }
      if (!(flags & Batch::kTransit)) {
        if (const uint16_t local = s.local_port4(dst); local != kNoPort) {
          to_host(w, local, 0x0800, m);
          continue;
        }
        // A route-based tunnel's inside address: its TUN device (bgpd, bfdd behind it).
        if (flags & Batch::kFromTunnel) {
          if (const uint32_t id = s.inside_if_id4(dst); id != 0) {
            w.to_inside(id, m);
            continue;
          }
        }
      }
      if (!(flags & Batch::kLocalOrigin)) {
        if (ip[8] <= 1) {
          w.drops.add(DropReason::kTtlExceeded);
          if (icmp4_error(w, m, 11, 0, 0)) {
            errors.push(m, Batch::kLocalOrigin);
          } else {
            rte_pktmbuf_free(m);
          }
          continue;
        }
        // The new TTL/protocol word is computed, not loaded back: a 2-byte load over the byte
        // just stored cannot be forwarded from that store and waits for it to reach L1 (~10
        // cycles a packet, docs/hot-path-profile.md).
        const uint16_t old_word = load_be16(ip + 8);
        const uint16_t new_word = static_cast<uint16_t>(old_word - 0x0100);
        ip[8] = static_cast<uint8_t>(new_word >> 8);
        csum_replace16(ip + 10, old_word, new_word);
      }
      const NextHop* nh = nh4[slot4[i]];
      if (nh == nullptr) {
        w.drop(m, DropReason::kNoRoute);
        continue;
      }
      if (nh->kind == NextHopKind::kEcmp) [[unlikely]]
        nh = ecmp_member(s, nh, ip, true);
      if (nh->kind == NextHopKind::kTunnel) {
        if (ntun == 0 || tun_id[ntun - 1] != nh->tunnel) prefetch_tunnel(s, nh->tunnel);
        tun_m[ntun] = m;
        tun_id[ntun++] = nh->tunnel;
        continue;
      }
      // RFC 4301 5.2: what a tunnel protects must not arrive in the clear.
      if (s.tunnel_routes4 && !(flags & (Batch::kFromTunnel | Batch::kLocalOrigin))) {
        if (into_tunnel(s, s.lookup4(src))) {
          w.drop(m, DropReason::kUnprotected);
          continue;
        }
      }
      const uint32_t next = nh->via_gateway ? nh->gateway.v4_host() : dst;
      const uint16_t mtu = s.ports[nh->port].mtu;
      if (m->data_len <= mtu) {
        l2_output4(w, nh->port, next, m);
      } else if (load_be16(ip + 6) & 0x4000) {
        w.drops.add(DropReason::kFragNeeded);
        if (icmp4_error(w, m, 3, 4, mtu)) {
          errors.push(m, Batch::kLocalOrigin);
        } else {
          rte_pktmbuf_free(m);
        }
      } else {
        rte_mbuf* frags[kBatchMax];
        const uint16_t k = fragment4(w, m, mtu, frags, kBatchMax);
        for (uint16_t f = 0; f < k; ++f)
          l2_output4(w, nh->port, next, frags[f]);
      }
    } else {
      if (martian6(ip)) {
        w.drop(m, DropReason::kMartian);
        continue;
      }
      if (!(flags & Batch::kTransit)) {
        if (const uint16_t local = s.local_port6(ip + 24); local != kNoPort) {
          to_host(w, local, 0x86dd, m);
          continue;
        }
        if (flags & Batch::kFromTunnel) {
          if (const uint32_t id = s.inside_if_id6(ip + 24); id != 0) {
            w.to_inside(id, m);
            continue;
          }
        }
      }
      if (!(flags & Batch::kLocalOrigin)) {
        if (ip[7] <= 1) {
          w.drops.add(DropReason::kTtlExceeded);
          if (icmp6_error(w, m, 3, 0, 0)) {
            errors.push(m, Batch::kLocalOrigin);
          } else {
            rte_pktmbuf_free(m);
          }
          continue;
        }
        --ip[7];
      }
      const NextHop* nh = s.lookup6(ip + 24);
      if (nh == nullptr) {
        w.drop(m, DropReason::kNoRoute);
        continue;
      }
      if (nh->kind == NextHopKind::kEcmp) [[unlikely]]
        nh = ecmp_member(s, nh, ip, false);
      if (nh->kind == NextHopKind::kTunnel) {
        tun_m[ntun] = m;
        tun_id[ntun++] = nh->tunnel;
        continue;
      }
      if (!(flags & (Batch::kFromTunnel | Batch::kLocalOrigin))) {
        if (into_tunnel(s, s.lookup6(ip + 8))) {
          w.drop(m, DropReason::kUnprotected);
          continue;
        }
      }
      const uint16_t mtu = s.ports[nh->port].mtu;
      if (m->data_len > mtu) {
        // IPv6 routers never fragment (RFC 8200 5).
        w.drops.add(DropReason::kFragNeeded);
        if (icmp6_error(w, m, 2, 0, mtu)) {
          errors.push(m, Batch::kLocalOrigin);
        } else {
          rte_pktmbuf_free(m);
        }
        continue;
      }
      l2_output6(w, nh->port, nh->via_gateway ? nh->gateway.bytes.data() : ip + 24, m);
    }
  }

  if (ntun != 0) to_tunnels(w, s, tun_id.data(), tun_m.data(), ntun);
  if (errors.n != 0) route(w, errors);
}

}  // namespace espgw::dp::stages
