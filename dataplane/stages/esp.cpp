// The dataplane side of ESP: mbufs in and out of the engine, the tunnel's traffic selectors, MTU
// handling before encryption, MSS clamping, and the tunnel's next hop after it.

#include <cstring>

#include "common/bytes.h"
#include "dataplane/lanes/lane_hash.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {
namespace {

esp::PacketView view_of(rte_mbuf* m) noexcept {
  return esp::PacketView{static_cast<uint8_t*>(m->buf_addr), m->buf_len, m->data_off, m->data_len,
                         m};
}

void apply_view(rte_mbuf* m, const esp::PacketView& v) noexcept {
  m->data_off = static_cast<uint16_t>(v.data_off);
  m->data_len = static_cast<uint16_t>(v.data_len);
  m->pkt_len = v.data_len;
}

// Inner source in `from`, destination in `to`.
bool selectors_match(const TunnelEntry& t, const uint8_t* ip, bool inbound) noexcept {
  if ((ip[0] >> 4) == 4) {
    const uint32_t src = load_be32(ip + 12);
    const uint32_t dst = load_be32(ip + 16);
    const uint32_t ours = inbound ? dst : src;
    const uint32_t theirs = inbound ? src : dst;
    if (t.one4) {
      return (ours & t.one_local4.second) == t.one_local4.first &&
             (theirs & t.one_remote4.second) == t.one_remote4.first;
    }
    return TunnelEntry::in4(t.local4(), ours) && TunnelEntry::in4(t.remote4(), theirs);
  }
  return inbound
             ? TunnelEntry::in6(t.remote_cidrs, ip + 8) && TunnelEntry::in6(t.local_cidrs, ip + 24)
             : TunnelEntry::in6(t.local_cidrs, ip + 8) && TunnelEntry::in6(t.remote_cidrs, ip + 24);
}

void clamp(Worker& w, const TunnelEntry& t, rte_mbuf* m) noexcept {
  uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
  if (clamp_mss(ip, m->data_len, (ip[0] >> 4) == 4 ? t.mss4 : t.mss6)) w.counters.mss_clamped.add();
}

// A decrypted packet of tunnel `t` under `sa`: into `out` if its addresses are the tunnel's.
void inbound_to(Worker& w, const TunnelEntry& t, esp::Sa& sa, rte_mbuf* m, Batch& out) noexcept {
  if (!selectors_match(t, rte_pktmbuf_mtod(m, uint8_t*), true)) {
    sa.count_selector_mismatch();
    w.drop(m, DropReason::kSelectorMismatch);
    return;
  }
  clamp(w, t, m);
  out.push(m, Batch::kFromTunnel);
}

// Whether two IPv4 tunnels send their outer packets to the same next hop out of the same port.
bool same_way_out(const TunnelEntry& a, const TunnelEntry& b) noexcept {
  return a.out_v4 && b.out_v4 && a.next4 == b.next4 && a.egress_port == b.egress_port;
}

}  // namespace

// Encrypted packets of tunnel `t`: every one to the tunnel's one next hop.
void tunnel_output(Worker& w, const TunnelEntry& t, rte_mbuf** m, uint16_t n) noexcept {
  if (t.out_v4) {
    l2_output4_burst(w, t.egress_port, t.next4, m, n);
    return;
  }
  const IpAddress& next = t.egress_via_gateway ? t.egress_gateway : t.remote;
  uint8_t next6[16];
  std::memcpy(next6, next.bytes.data(), 16);
  for (uint16_t i = 0; i < n; ++i)
    l2_output6(w, t.egress_port, next6, m[i]);
}

void esp_inbound(Worker& w, Batch& in, Batch& out) noexcept {
  auto& views = w.esp_scratch.views;
  auto& meta = w.esp_scratch.meta;
  auto& reasons = w.esp_scratch.reasons;
  auto& sas = w.esp_scratch.sas;
  auto& tunnels = w.esp_scratch.tunnels;
  const uint16_t n = in.n;
  for (uint16_t i = 0; i < n; ++i)
    views[i] = view_of(in.m[i]);
  std::span<esp::PacketView> v(views.data(), n);
  w.engine.parse_inbound(v, std::span(meta.data(), n), std::span(reasons.data(), n));
  for (uint16_t i = 0; i < n; ++i) {
    sas[i] = nullptr;
    if (reasons[i] != DropReason::kNone) continue;
    if (const InboundEntry* e = w.snap->inbound.find(meta[i].spi)) {
      sas[i] = e->sa;
      tunnels[i] = e->tunnel;
    }
  }
  w.engine.decrypt_deferred(v, std::span(meta.data(), n), std::span(sas.data(), n),
                            std::span(tunnels.data(), n), std::span(reasons.data(), n));
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = in.m[i];
    if (reasons[i] == kDeferred) continue;  // esp_reap() has it
    if (reasons[i] != DropReason::kNone) {
      rte_pktmbuf_free(m);  // counted by the engine
      continue;
    }
    apply_view(m, views[i]);
    inbound_to(w, w.snap->tunnels[tunnels[i]], *sas[i], m, out);
  }
}

void esp_reap(Worker& w) noexcept {
  Batch decrypted;
  rte_mbuf* encrypted[kRxBurst];
  uint16_t nenc = 0;
  uint32_t enc_tunnel = 0;
  auto send_encrypted = [&]() noexcept {
    if (nenc != 0) tunnel_output(w, w.snap->tunnels[enc_tunnel], encrypted, nenc);
    nenc = 0;
  };
  esp::Reaped r;
  while (w.engine.reap(r)) {
    rte_mbuf* m = static_cast<rte_mbuf*>(r.view.owner);
    if (r.reason != DropReason::kNone) {
      rte_pktmbuf_free(m);  // counted by the engine
      continue;
    }
    apply_view(m, r.view);
    if (r.outbound) {
      if (nenc == kRxBurst || (nenc != 0 && r.tag != enc_tunnel)) send_encrypted();
      enc_tunnel = r.tag;
      encrypted[nenc++] = m;
      continue;
    }
    inbound_to(w, w.snap->tunnels[r.tag], *r.sa, m, decrypted);
    if (decrypted.full()) {
      route(w, decrypted);
      decrypted.n = 0;
    }
  }
  send_encrypted();
  if (decrypted.n != 0) route(w, decrypted);
}

void esp_outbound(Worker& w, const uint32_t* tunnels, rte_mbuf** pkts, uint16_t n) noexcept {
  const Snapshot& s = *w.snap;
  auto& views = w.esp_scratch.views;
  auto& sas = w.esp_scratch.sas;
  auto& reasons = w.esp_scratch.reasons;
  auto& mbufs = w.esp_scratch.mbufs;
  auto& tags = w.esp_scratch.tunnels;  // each gathered packet's tunnel
  Batch errors;
  uint16_t k = 0;
  // Encrypts and sends what is gathered, all tunnels in one call into the engine (a burst spread
  // over many tunnels is one call, not one per packet), then each tunnel's run to its next hop.
  // Called whenever the arrays would overflow, so a burst of large packets is fragmented whole
  // however many fragments it makes (jumbo frames into a 1400-byte tunnel make 7 each).
  auto send_gathered = [&]() noexcept {
    w.engine.encrypt_deferred(std::span(views.data(), k), std::span(sas.data(), k),
                              std::span(tags.data(), k), std::span(reasons.data(), k));
    uint16_t ok = 0;
    for (uint16_t i = 0; i < k; ++i) {
      if (reasons[i] == kDeferred) continue;  // esp_reap() sends it
      if (reasons[i] != DropReason::kNone) {
        rte_pktmbuf_free(mbufs[i]);  // counted by the engine
        continue;
      }
      apply_view(mbufs[i], views[i]);
      mbufs[ok] = mbufs[i];
      tags[ok++] = tags[i];
    }
    // Tunnels that share a way out (port and next hop, as many tunnels to one peer do) share one
    // call, whose neighbour lookup is then one per burst instead of one per tunnel.
    for (uint16_t i = 0; i < ok;) {
      const TunnelEntry& t = s.tunnels[tags[i]];
      uint16_t j = i + 1;
      while (j < ok && (tags[j] == tags[i] || same_way_out(t, s.tunnels[tags[j]])))
        ++j;
      tunnel_output(w, t, mbufs.data() + i, static_cast<uint16_t>(j - i));
      i = j;
    }
    k = 0;
  };
  for (uint16_t start = 0; start < n;) {
    const uint32_t tunnel = tunnels[start];
    uint16_t end = static_cast<uint16_t>(start + 1);
    while (end < n && tunnels[end] == tunnel)
      ++end;
    const TunnelEntry& t = s.tunnels[tunnel];
    esp::Sa* sa = t.outbound;
    if (sa == nullptr) {
      // One packet of the burst is enough for charon to start IKE (its selectors are narrowed to
      // that packet's addresses); the control thread rate-limits per tunnel.
      if (t.acquire_if_id != 0) {
        w.acquire.post(t.acquire_if_id, rte_pktmbuf_mtod(pkts[start], const uint8_t*));
      }
      for (uint16_t i = start; i < end; ++i)
        w.drop(pkts[i], DropReason::kTunnelDown);
      start = end;
      continue;
    }
    // What the engine reads behind the SA's own lines (route() loaded those): in the cache by the
    // time this call's packets are encrypted.
    sa->prefetch_outbound_keys(w.index);
    // A tunnel of several lanes: each inner flow's lane by its hash (dataplane/lanes/lane_hash.h);
    // every fragment of a packet takes the packet's lane.
    auto lane_sa = [&](const uint8_t* ip, bool v4) noexcept {
      if (!t.lanes) return sa;
      const uint32_t h = v4 ? lane_hash4(reinterpret_cast<const rte_ipv4_hdr*>(ip))
                            : lane_hash6(reinterpret_cast<const rte_ipv6_hdr*>(ip));
      esp::Sa* lane = t.lane_out[(*t.buckets)[h & (kLaneBuckets - 1)]];
      return lane != nullptr ? lane : sa;
    };
    // At most this many bytes of payload per fragment (a header of up to 60 bytes each).
    const uint32_t per_fragment = t.inner_mtu > 68 ? (t.inner_mtu - 60u) & ~7u : 8u;
    for (uint16_t i = start; i < end; ++i) {
      rte_mbuf* m = pkts[i];
      uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
      const bool v4 = (ip[0] >> 4) == 4;
      if (!selectors_match(t, ip, false)) {
        w.drop(m, DropReason::kSelectorMismatch);
        continue;
      }
      if (m->data_len > t.inner_mtu) {
        if (v4 && !(load_be16(ip + 6) & 0x4000)) {
          const uint32_t most = (m->data_len + per_fragment - 1) / per_fragment;
          if (uint32_t{kBatchMax} - k < most) send_gathered();
          esp::Sa* frag_sa = lane_sa(ip, true);
          rte_mbuf* frags[kBatchMax];
          const uint16_t f =
              fragment4(w, m, t.inner_mtu, frags, static_cast<uint16_t>(kBatchMax - k));
          for (uint16_t j = 0; j < f; ++j) {
            mbufs[k] = frags[j];
            views[k] = view_of(frags[j]);
            tags[k] = tunnel;
            sas[k++] = frag_sa;
          }
        } else {
          w.drops.add(DropReason::kFragNeeded);
          const bool sent =
              v4 ? icmp4_error(w, m, 3, 4, t.inner_mtu) : icmp6_error(w, m, 2, 0, t.inner_mtu);
          if (sent) {
            errors.push(m, Batch::kLocalOrigin);
          } else {
            rte_pktmbuf_free(m);
          }
        }
        continue;
      }
      if (k == kBatchMax) send_gathered();
      clamp(w, t, m);
      mbufs[k] = m;
      views[k] = view_of(m);
      tags[k] = tunnel;
      sas[k++] = lane_sa(ip, v4);
    }
    start = end;
  }
  send_gathered();
  if (errors.n != 0) route(w, errors);
}

}  // namespace espgw::dp::stages
