#pragma once
// Which packets for the kernel go first when the exception path is over its rate
// (docs/routing.md "Inside interfaces"): the routing protocols that keep routes alive, BGP (TCP
// port 179 either side) and BFD (UDP 3784 single hop, 3785 echo, 4784 multihop). A flood of
// anything else to the same address then cannot starve them (Worker::admit_exception). Not IKE:
// anyone on the Internet can send UDP 500, and an IKE_SA_INIT flood in the reserved share would
// starve BGP and BFD; IKE shares the budget with the rest, as before (e2e_soak floods it).

#include <cstdint>

#include "common/bytes.h"

namespace espgw::dp {

// `ip`: an IPv4 or IPv6 header with `len` bytes from it. Only unfragmented packets and first
// fragments' ports count; IPv6 only without extension headers (BGP and BFD send none).
inline bool priority_control(const uint8_t* ip, uint32_t len) noexcept {
  uint8_t proto;
  uint32_t l4;
  if (len >= 20 && (ip[0] >> 4) == 4) {
    if ((load_be16(ip + 6) & 0x1fff) != 0) return false;  // a later fragment: no ports
    proto = ip[9];
    l4 = (ip[0] & 0x0fu) * 4u;
  } else if (len >= 40 && (ip[0] >> 4) == 6) {
    proto = ip[6];
    l4 = 40;
  } else {
    return false;
  }
  if (len < l4 + 4) return false;
  const uint16_t sport = load_be16(ip + l4);
  const uint16_t dport = load_be16(ip + l4 + 2);
  if (proto == 6) return sport == 179 || dport == 179;
  if (proto != 17) return false;
  auto udp = [](uint16_t p) { return p == 3784 || p == 3785 || p == 4784; };
  return udp(sport) || udp(dport);
}

}  // namespace espgw::dp
