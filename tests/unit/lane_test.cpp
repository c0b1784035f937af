// Lanes: the bucket table (dataplane/lanes/lane_map.h) moves only the buckets of a lane that goes
// or comes back, and keeps the lanes' loads even; the inner flow hash (lane_hash.h) keeps a flow
// on one bucket, spreads flows evenly, and hashes every fragment of a packet alike.

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

#include "dataplane/lanes/lane_hash.h"
#include "dataplane/lanes/lane_map.h"

namespace espgw::dp {
namespace {

uint32_t max_load(const LaneMap& m) {
  uint32_t hi = 0;
  for (uint32_t l = 0; l < m.lanes(); ++l)
    if (m.up(l)) hi = std::max(hi, m.load()[l]);
  return hi;
}

uint32_t min_load(const LaneMap& m) {
  uint32_t lo = kLaneBuckets;
  for (uint32_t l = 0; l < m.lanes(); ++l)
    if (m.up(l)) lo = std::min(lo, m.load()[l]);
  return lo;
}

TEST(LaneMap, StartsOnHomeLanes) {
  for (uint32_t lanes : {1u, 2u, 3u, 4u, 7u, 64u}) {
    LaneMap m(lanes);
    for (uint32_t b = 0; b < kLaneBuckets; ++b)
      ASSERT_EQ(m.lane_of(b), b % lanes);
    EXPECT_LE(max_load(m) - min_load(m), 1u) << lanes << " lanes";
  }
}

TEST(LaneMap, RefusesLaneCountsOutOfRange) {
  EXPECT_THROW(LaneMap(0), std::invalid_argument);
  EXPECT_THROW(LaneMap(65), std::invalid_argument);
  LaneMap m(4);
  EXPECT_THROW(m.set_up(4, false), std::invalid_argument);
}

TEST(LaneMap, ALaneThatGoesMovesOnlyItsBucketsAndComesBackToThem) {
  LaneMap m(4);
  const LaneBuckets before = m.buckets();
  EXPECT_EQ(m.set_up(2, false), kLaneBuckets / 4);
  for (uint32_t b = 0; b < kLaneBuckets; ++b) {
    if (before[b] == 2) {
      EXPECT_NE(m.buckets()[b], 2);
    } else {
      EXPECT_EQ(m.buckets()[b], before[b]) << "bucket " << b << " moved";
    }
  }
  EXPECT_LE(max_load(m) - min_load(m), 1u);  // 256 buckets over three lanes
  EXPECT_EQ(m.set_up(2, false), 0u);         // already down
  EXPECT_EQ(m.set_up(2, true), kLaneBuckets / 4);
  EXPECT_EQ(m.buckets(), before);
}

TEST(LaneMap, RandomEventsMoveOnlyTheEventLanesBuckets) {
  std::mt19937 rng(7);
  for (uint32_t lanes : {2u, 4u, 5u, 16u, 64u}) {
    LaneMap m(lanes);
    for (int step = 0; step < 2000; ++step) {
      const uint32_t lane = rng() % lanes;
      const bool up = !m.up(lane);
      const LaneBuckets before = m.buckets();
      const bool any_up_before = m.up_count() != 0;
      m.set_up(lane, up);
      for (uint32_t b = 0; b < kLaneBuckets; ++b) {
        if (m.buckets()[b] == before[b]) continue;
        // A bucket moves only off the lane that went down, onto the lane that came back (its
        // home), or off a lane still down when no lane was up before.
        const bool off_gone = !up && before[b] == lane;
        const bool home_back = up && m.buckets()[b] == lane && b % lanes == lane;
        const bool stranded = up && !any_up_before;
        ASSERT_TRUE(off_gone || home_back || stranded)
            << lanes << " lanes, step " << step << ": bucket " << b << " moved from lane "
            << int(before[b]) << " to " << int(m.buckets()[b]);
      }
      if (m.up_count() != 0) {
        for (uint32_t b = 0; b < kLaneBuckets; ++b)
          ASSERT_TRUE(m.up(m.buckets()[b])) << "bucket " << b << " on a lane that is down";
      }
    }
    for (uint32_t l = 0; l < lanes; ++l)
      m.set_up(l, true);
    for (uint32_t b = 0; b < kLaneBuckets; ++b)
      ASSERT_EQ(m.lane_of(b), b % lanes) << "all lanes back: every bucket home";
  }
}

TEST(LaneMap, WithNoLaneUpTheFirstBackTakesEveryBucket) {
  LaneMap m(3);
  m.set_up(0, false);
  m.set_up(1, false);
  m.set_up(2, false);
  EXPECT_EQ(m.up_count(), 0u);
  m.set_up(1, true);
  for (uint32_t b = 0; b < kLaneBuckets; ++b)
    ASSERT_EQ(m.lane_of(b), 1u);
}

std::vector<uint8_t> ipv4(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                          uint16_t frag = 0) {
  std::vector<uint8_t> p(40, 0);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p.data());
  ip->version_ihl = 0x45;
  ip->next_proto_id = proto;
  ip->src_addr = rte_cpu_to_be_32(src);
  ip->dst_addr = rte_cpu_to_be_32(dst);
  ip->fragment_offset = rte_cpu_to_be_16(frag);
  p[20] = static_cast<uint8_t>(sport >> 8);
  p[21] = static_cast<uint8_t>(sport);
  p[22] = static_cast<uint8_t>(dport >> 8);
  p[23] = static_cast<uint8_t>(dport);
  return p;
}

uint32_t h4(const std::vector<uint8_t>& p) {
  return lane_hash4(reinterpret_cast<const rte_ipv4_hdr*>(p.data()));
}

TEST(LaneHash, OneFlowOneHashPortsCountForTcpAndUdpOnly) {
  const auto a = ipv4(IPPROTO_TCP, 0xac320a0a, 0xac3c0114, 40000, 443);
  EXPECT_EQ(h4(a), h4(ipv4(IPPROTO_TCP, 0xac320a0a, 0xac3c0114, 40000, 443)));
  EXPECT_NE(h4(a), h4(ipv4(IPPROTO_TCP, 0xac320a0a, 0xac3c0114, 40001, 443)));
  EXPECT_NE(h4(a), h4(ipv4(IPPROTO_UDP, 0xac320a0a, 0xac3c0114, 40000, 443)));
  // ICMP: the bytes where ports would be (type, code, checksum) do not count.
  EXPECT_EQ(h4(ipv4(IPPROTO_ICMP, 1, 2, 0x0800, 1)), h4(ipv4(IPPROTO_ICMP, 1, 2, 0x0000, 2)));
}

TEST(LaneHash, EveryFragmentOfAPacketHashesAlike) {
  const uint16_t mf = RTE_IPV4_HDR_MF_FLAG;
  const uint32_t first = h4(ipv4(IPPROTO_UDP, 1, 2, 5000, 6000, mf));
  const uint32_t middle = h4(ipv4(IPPROTO_UDP, 1, 2, 0x1234, 0x5678, mf | 185));
  const uint32_t last = h4(ipv4(IPPROTO_UDP, 1, 2, 0xabcd, 0xef01, 370));
  EXPECT_EQ(first, middle);
  EXPECT_EQ(first, last);
}

TEST(LaneHash, FlowsSpreadEvenlyOverLanes) {
  LaneMap m(4);
  std::array<uint32_t, 4> n{};
  for (uint32_t i = 0; i < 40000; ++i) {
    n[m.lane_of(h4(ipv4(IPPROTO_TCP, 0xac320a00 + (i % 200), 0xac3c0114,
                        static_cast<uint16_t>(32768 + i / 200), 5201)))]++;
  }
  for (uint32_t c : n)
    EXPECT_NEAR(c, 10000, 600) << "lane loads " << n[0] << " " << n[1] << " " << n[2] << " "
                               << n[3];
}

TEST(LaneHash, Ipv6AddressesPortsAndNextHeader) {
  std::vector<uint8_t> p(44, 0);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(p.data());
  ip->proto = IPPROTO_UDP;
  ip->src_addr[15] = 1;
  ip->dst_addr[15] = 2;
  p[40] = 0x13;
  p[41] = 0x88;
  const uint32_t udp = lane_hash6(ip);
  p[41] = 0x89;
  EXPECT_NE(lane_hash6(ip), udp);
  ip->proto = 44;  // a fragment header: ports are not looked at
  const uint32_t frag = lane_hash6(ip);
  p[41] = 0x88;
  EXPECT_EQ(lane_hash6(ip), frag);
}

}  // namespace
}  // namespace espgw::dp
