#pragma once
// The inner flow's hash that picks its lane bucket (lane_map.h), computed per packet by the
// worker before ESP outbound: CRC32-C (one instruction per 8 bytes with SSE4.2) over
//   - IPv4: source and destination address, protocol, and for TCP and UDP that are not
//     fragments the two ports;
//   - IPv6: both addresses, next header, and the ports for TCP and UDP right behind the fixed
//     header.
// Fragments and other protocols hash on addresses and protocol alone, so every fragment of a
// packet takes one lane (the first fragment has ports, the others do not). Nothing is allocated,
// nothing branches on data beyond the protocol and fragment checks.
//
// CRC32-C is linear: its low bits over consecutive source ports (iperf3 -P, a NAT's port block)
// take only a few of the possible patterns, so 8 consecutive ports never split 2-2-2-2 over 4
// lanes. The result is therefore the top 10 bits of the CRC times the golden-ratio constant
// (Fibonacci hashing), which depend on every bit of the CRC: a bucket number below 1024.
//
// ECMP (docs/routing.md) picks a path from the same CRC (flow_crc4/6), through another
// multiplier: its bucket bits are independent of the lanes', so the flows that one ECMP path
// carries still spread over all of its tunnel's lanes.

#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>

#include <cstdint>
#include <cstring>

#include "dataplane/lanes/lane_map.h"

namespace espgw::dp {

inline constexpr uint32_t kLaneHashSeed = 0x6c616e65;  // "lane"

inline constexpr uint32_t kLaneBucketBits = 10;  // lane_map.h's kLaneBuckets is 1 << this

static_assert(kLaneBuckets == 1u << kLaneBucketBits);

inline uint32_t lane_bucket_of(uint32_t crc) noexcept {
  return (crc * 0x9e3779b1u) >> (32 - kLaneBucketBits);
}

// The ECMP bucket of a flow (a path's bucket table has kLaneBuckets entries too): the top bits
// of the CRC times another odd constant (MurmurHash3's), independent of lane_bucket_of's.
inline uint32_t ecmp_bucket_of(uint32_t crc) noexcept {
  return (crc * 0x85ebca6bu) >> (32 - kLaneBucketBits);
}

inline bool lane_ports_proto(uint8_t proto) noexcept {
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

// The inner flow's raw CRC32-C; lane_hash4/6 and the ECMP bucket derive from it.
inline uint32_t flow_crc4(const rte_ipv4_hdr* ip) noexcept {
  uint64_t addrs;
  std::memcpy(&addrs, &ip->src_addr, 8);  // source and destination, adjacent in the header
  uint32_t h = rte_hash_crc_8byte(addrs, kLaneHashSeed);
  uint32_t rest = ip->next_proto_id;
  const uint16_t frag =
      ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK);
  if (frag == 0 && lane_ports_proto(ip->next_proto_id)) {
    uint32_t ports;
    std::memcpy(&ports, reinterpret_cast<const uint8_t*>(ip) + rte_ipv4_hdr_len(ip), 4);
    h = rte_hash_crc_4byte(ports, h);
  }
  return rte_hash_crc_4byte(rest, h);
}

inline uint32_t flow_crc6(const rte_ipv6_hdr* ip) noexcept {
  uint64_t a[4];
  std::memcpy(a, ip->src_addr, 32);  // source and destination, adjacent in the header
  uint32_t h = rte_hash_crc_8byte(a[0], kLaneHashSeed);
  h = rte_hash_crc_8byte(a[1], h);
  h = rte_hash_crc_8byte(a[2], h);
  h = rte_hash_crc_8byte(a[3], h);
  if (lane_ports_proto(ip->proto)) {
    uint32_t ports;
    std::memcpy(&ports, reinterpret_cast<const uint8_t*>(ip) + sizeof(rte_ipv6_hdr), 4);
    h = rte_hash_crc_4byte(ports, h);
  }
  return rte_hash_crc_4byte(ip->proto, h);
}

inline uint32_t lane_hash4(const rte_ipv4_hdr* ip) noexcept {
  return lane_bucket_of(flow_crc4(ip));
}

inline uint32_t lane_hash6(const rte_ipv6_hdr* ip) noexcept {
  return lane_bucket_of(flow_crc6(ip));
}

}  // namespace espgw::dp
