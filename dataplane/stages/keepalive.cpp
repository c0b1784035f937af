// Lane keepalives (docs/lanes.md "Lane liveness"): with lanes, each lane's ESP goes from its own
// UDP source port while its IKE_SA stays on the IKE port, so a path that drops one lane's outer
// flow is seen by nothing else. Each lane therefore sends an ESP dummy packet (next header 59,
// RFC 4303 2.6) under its SA when it has sent nothing for a while, through the same encryption and
// outer header as its data; the peer's lane watch hears it (dataplane/control/lane_watch.h).

#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {

uint32_t send_keepalives(Worker& w, uint32_t cursor, uint64_t idle_ns) noexcept {
  const std::vector<uint32_t>& lane_tunnels = w.snap->lane_tunnels;
  const uint64_t now = w.engine.now_ns();
  uint32_t sent = 0;
  for (uint32_t i = cursor; i < lane_tunnels.size(); ++i) {
    if (sent >= kKeepaliveBurst) return i;
    const TunnelEntry& t = w.snap->tunnels[lane_tunnels[i]];
    for (esp::Sa* sa : t.lane_out) {
      if (sa == nullptr || sa->stopped() || now < sa->last_use_ns() + idle_ns) continue;
      rte_mbuf* m = rte_pktmbuf_alloc(w.pool);
      if (m == nullptr) {
        w.drops.add(DropReason::kNoMbuf);
        return i;  // the pool is empty: again next loop
      }
      esp::PacketView v{static_cast<uint8_t*>(m->buf_addr), m->buf_len, m->data_off, 0, m};
      if (w.engine.encrypt_dummy(*sa, v) != DropReason::kNone) {
        rte_pktmbuf_free(m);  // counted by the engine
        continue;
      }
      m->data_off = static_cast<uint16_t>(v.data_off);
      m->data_len = static_cast<uint16_t>(v.data_len);
      m->pkt_len = v.data_len;
      tunnel_output(w, t, &m, 1);
      ++sent;
    }
  }
  return 0;
}

}  // namespace espgw::dp::stages
