// TCP MSS clamping (the "adjust-mss" of every VPN gateway): SYNs into and out of a tunnel carry
// an MSS that fits the tunnel, so TCP never needs PMTUD across it (AWS VPN has none).

#include "common/bytes.h"
#include "dataplane/common/checksum.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp::stages {

bool clamp_mss(uint8_t* ip, uint32_t len, uint16_t mss) noexcept {
  uint8_t* tcp;
  uint32_t tcp_len;
  if ((ip[0] >> 4) == 4) {
    const uint32_t ihl = (ip[0] & 0x0fu) * 4;
    if (ip[9] != 6 || (load_be16(ip + 6) & 0x1fff) != 0 || len < ihl + 20) return false;
    tcp = ip + ihl;
    tcp_len = len - ihl;
  } else {
    if (ip[6] != 6 || len < 60) return false;  // no extension headers before TCP
    tcp = ip + 40;
    tcp_len = len - 40;
  }
  if ((tcp[13] & 0x02) == 0) return false;  // not a SYN
  const uint32_t doff = (tcp[12] >> 4) * 4u;
  if (doff < 20 || doff > tcp_len) return false;
  for (uint32_t i = 20; i < doff;) {
    const uint8_t kind = tcp[i];
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= doff) break;
    const uint8_t olen = tcp[i + 1];
    if (olen < 2 || i + olen > doff) break;
    if (kind == 2 && olen == 4) {
      const uint16_t cur = load_be16(tcp + i + 2);
      if (cur <= mss) return false;
      store_be16(tcp + i + 2, mss);
      if ((i & 1) == 0) {
        csum_replace16(tcp + 16, cur, mss);
      } else {
        // At an odd offset the value straddles two 16-bit words of the checksum: [len, hi] and
        // [lo, next byte] (i + 4 < doff, as doff is a multiple of 4).
        const uint8_t len_byte = tcp[i + 1];
        const uint8_t next = tcp[i + 4];
        csum_replace16(tcp + 16, static_cast<uint16_t>((len_byte << 8) | (cur >> 8)),
                       static_cast<uint16_t>((len_byte << 8) | (mss >> 8)));
        csum_replace16(tcp + 16, static_cast<uint16_t>(((cur & 0xff) << 8) | next),
                       static_cast<uint16_t>(((mss & 0xff) << 8) | next));
      }
      return true;
    }
    i += olen;
  }
  return false;
}

}  // namespace espgw::dp::stages
