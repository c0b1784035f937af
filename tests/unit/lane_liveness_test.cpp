// The lane watch's decision (dataplane/lanes/lane_liveness.h) on a clock of its own: when a lane
// is silent, when it is alive again, and that the last lane up is never made silent.

#include <gtest/gtest.h>

#include <vector>

#include "dataplane/lanes/lane_liveness.h"

namespace espgw::dp {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kDead = 400 * kMs;

// Four lanes, each with an outbound and an inbound SA, last heard at `heard`.
std::vector<LaneSeen> lanes(uint64_t heard) {
  std::vector<LaneSeen> l(4);
  for (uint32_t k = 0; k < 4; ++k)
    l[k] = {0x100 + k, true, heard, false};
  return l;
}

TEST(LaneLiveness, QuietLaneIsSilentAfterDeadAndAliveWhenHeard) {
  LaneLiveness d(kDead);
  uint64_t t = 1000 * kMs;
  auto l = lanes(t);
  EXPECT_TRUE(d.decide(l, t).empty());
  // Lanes 0, 1 and 3 keep hearing their keepalives every 100 ms; lane 2 hears nothing.
  for (int step = 1; step <= 3; ++step) {
    t += 100 * kMs;
    for (uint32_t k : {0u, 1u, 3u})
      l[k].heard_ns = t;
    EXPECT_TRUE(d.decide(l, t).empty()) << step;
  }
  t += 99 * kMs;  // 399 ms of quiet
  EXPECT_TRUE(d.decide(l, t).empty());
  t += 1 * kMs;
  auto v = d.decide(l, t);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].lane, 2);
  EXPECT_TRUE(v[0].silent);
  EXPECT_EQ(v[0].quiet_ns, kDead);
  l[2].silent = true;
  // Silent, still quiet: nothing changes, however long.
  t += 5000 * kMs;
  for (uint32_t k : {0u, 1u, 3u})
    l[k].heard_ns = t;
  EXPECT_TRUE(d.decide(l, t).empty());
  // One keepalive arrives: alive again at once.
  l[2].heard_ns = t + 10 * kMs;
  v = d.decide(l, t + 20 * kMs);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].lane, 2);
  EXPECT_FALSE(v[0].silent);
  EXPECT_EQ(v[0].quiet_ns, 5020 * kMs);
}

TEST(LaneLiveness, QuietCountsFromTheLanesFirstSa) {
  LaneLiveness d(kDead);
  auto l = lanes(0);  // nothing heard ever
  l[1].out_spi = 0;   // lane 1 without SA yet
  uint64_t t = 50 * kMs;
  for (auto& x : l)
    x.heard_ns = x.out_spi != 0 ? t : 0;  // lanes 0, 2 and 3 heard once at 50 ms
  EXPECT_TRUE(d.decide(l, t).empty());
  // Lane 1's SA comes at 300 ms: its quiet counts from there, not from 0.
  l[1].out_spi = 0x201;
  t = 300 * kMs;
  for (uint32_t k : {0u, 2u})
    l[k].heard_ns = t;
  EXPECT_TRUE(d.decide(l, t).empty());
  t = 450 * kMs;
  for (uint32_t k : {0u, 2u})
    l[k].heard_ns = t;
  auto v = d.decide(l, t);  // lane 3: quiet since 50 ms
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].lane, 3);
  l[3].silent = true;
  t = 699 * kMs;
  for (uint32_t k : {0u, 2u})
    l[k].heard_ns = t;
  EXPECT_TRUE(d.decide(l, t).empty());
  // Lane 1 has never been heard: it is judged after kFirstHeardFactor x dead, from its SA.
  const uint64_t first = 300 * kMs + LaneLiveness::kFirstHeardFactor * kDead;
  for (t = 700 * kMs; t < first; t += 100 * kMs) {
    for (uint32_t k : {0u, 2u})
      l[k].heard_ns = t;
    EXPECT_TRUE(d.decide(l, t).empty()) << t;
  }
  t = first;
  v = d.decide(l, t);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].lane, 1);
  EXPECT_TRUE(v[0].silent);
}

TEST(LaneLiveness, LastLaneUpIsNeverSilent) {
  LaneLiveness d(kDead);
  auto l = lanes(10 * kMs);
  EXPECT_TRUE(d.decide(l, 10 * kMs).empty());
  // Everything quiet (the peer is gone): no lane moves its flows.
  EXPECT_TRUE(d.decide(l, 2000 * kMs).empty());
  // Lane 0 heard, lanes 1 to 3 quiet: those three go.
  l[0].heard_ns = 2000 * kMs;
  auto v = d.decide(l, 2010 * kMs);
  EXPECT_EQ(v.size(), 3u);
  for (const auto& x : v) {
    EXPECT_TRUE(x.silent);
    l[x.lane].silent = true;
  }
  // Then lane 0 is quiet too: it stays, being the last one up.
  EXPECT_TRUE(d.decide(l, 5000 * kMs).empty());
}

TEST(LaneLiveness, LanesWithoutInboundSaOrOutboundSaAreNotJudged) {
  LaneLiveness d(kDead);
  auto l = lanes(0);
  l[0].heard_ns = 1;
  l[3].heard_ns = 1;
  l[1].has_inbound = false;  // nothing to hear it by (static outbound SA only)
  l[2].out_spi = 0;          // no SA: no_sa, not silent
  EXPECT_TRUE(d.decide(l, 1).empty());
  l[0].heard_ns = 1000 * kMs;
  auto v = d.decide(l, 1000 * kMs);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].lane, 3);
}

}  // namespace
}  // namespace espgw::dp
