// IPv4 fragmentation before encryption (RFC 791 2.3, 3.2), for packets with DF clear that do not
// fit the tunnel: AWS VPN does no PMTUD and recommends fragmenting before encrypting.

#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {

uint16_t fragment4(Worker& w, rte_mbuf* m, uint16_t mtu, rte_mbuf** out, uint16_t room) noexcept {
  const uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t ihl = (ip[0] & 0x0fu) * 4;
  const uint32_t total = m->data_len;
  const uint16_t frag = load_be16(ip + 6);
  const uint32_t base_offset = (frag & 0x1fffu) * 8;
  const bool more_after = (frag & 0x2000) != 0;

  // Later fragments carry only the options whose "copied" bit is set (RFC 791 3.1).
  uint8_t later_hdr[60];
  std::memcpy(later_hdr, ip, 20);
  uint32_t later_ihl = 20;
  for (uint32_t i = 20; i < ihl;) {
    const uint8_t type = ip[i];
    if (type == 0) break;
    if (type == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= ihl || ip[i + 1] < 2 || i + ip[i + 1] > ihl) break;
    if (type & 0x80) {
      std::memcpy(later_hdr + later_ihl, ip + i, ip[i + 1]);
      later_ihl += ip[i + 1];
    }
    i += ip[i + 1];
  }
  while (later_ihl % 4)
    later_hdr[later_ihl++] = 0;  // end-of-options padding
  later_hdr[0] = static_cast<uint8_t>(0x40 | later_ihl / 4);

  const uint32_t payload = total - ihl;
  uint16_t n = 0;
  uint32_t off = 0;
  while (off < payload) {
    const bool first = off == 0;
    const uint32_t hl = first ? ihl : later_ihl;
    if (mtu < hl + 8 || n == room) break;
    uint32_t chunk = std::min<uint32_t>(payload - off, (mtu - hl) & ~7u);
    rte_mbuf* f = rte_pktmbuf_alloc(w.pool);
    uint8_t* d =
        f ? reinterpret_cast<uint8_t*>(rte_pktmbuf_append(f, static_cast<uint16_t>(hl + chunk)))
          : nullptr;
    if (d == nullptr) {
      if (f) rte_pktmbuf_free(f);
      for (uint16_t k = 0; k < n; ++k)
        rte_pktmbuf_free(out[k]);
      w.drop(m, DropReason::kNoMbuf);
      return 0;
    }
    std::memcpy(d, first ? ip : later_hdr, hl);
    std::memcpy(d + hl, ip + ihl + off, chunk);
    const bool last = off + chunk == payload;
    store_be16(d + 2, static_cast<uint16_t>(hl + chunk));
    store_be16(d + 6, static_cast<uint16_t>(((base_offset + off) / 8) |
                                            ((!last || more_after) ? 0x2000 : 0)));
    store_be16(d + 10, 0);
    store_be16(d + 10, ipv4_header_checksum(d, hl));
    f->port = m->port;
    out[n++] = f;
    off += chunk;
  }
  if (off < payload) {
    // Too many fragments for the room left in the burst, or an MTU below the header: drop the
    // whole packet rather than send part of it.
    for (uint16_t k = 0; k < n; ++k)
      rte_pktmbuf_free(out[k]);
    w.drop(m, DropReason::kFragNeeded);
    return 0;
  }
  rte_pktmbuf_free(m);
  w.counters.fragments.add(n);
  return n;
}

}  // namespace espgw::dp::stages
