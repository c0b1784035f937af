// zebra's routes in the Model and the snapshot (docs/routing.md "Design: espgw takes zebra's
// routes over FPM"): the grace period and stale sweep on a clock of the test's own (FpmGrace),
// ECMP bucket tables that move only a lost member's buckets (FpmTable), next-hop resolution by
// inside address, inside interface and connected prefix (HopResolver), and, through real
// snapshots (EAL without hugepages), administrative distance, takeover, config routes into a
// tunnel, route-based tunnels' remote_cidrs not routed, and the ECMP hash's independence from
// the lanes'.

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <unistd.h>

#include <array>
#include <set>
#include <string>
#include <vector>

#include "dataplane/control/fpm_listener.h"
#include "dataplane/lanes/lane_hash.h"
#include "dataplane/tables/model.h"

namespace espgw::dp {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}
IpPrefix pfx(const char* s) {
  return *IpPrefix::parse(s);
}
routing::NextHop via(const char* gw, uint32_t ifindex = 0) {
  return {ip(gw), ifindex, 1};
}
routing::RouteEvent add(const char* prefix, std::vector<routing::NextHop> hops) {
  routing::RouteEvent e;
  e.prefix = pfx(prefix);
  e.next_hops = std::move(hops);
  e.protocol = 186;
  e.table = 254;
  return e;
}
routing::RouteEvent del(const char* prefix) {
  routing::RouteEvent e;
  e.action = routing::RouteAction::kDelete;
  e.prefix = pfx(prefix);
  return e;
}

// ---- FpmGrace ----------------------------------------------------------------------------------

using Action = FpmGrace::Action;

TEST(FpmGrace, RoutesStayForTheGracePeriodAfterACloseThenAllGo) {
  FpmGrace g(30000);
  g.connected(0);
  EXPECT_EQ(g.due(1000), Action::kNone);
  EXPECT_EQ(g.due(30000), Action::kSweepStale);  // the first dump: nothing stale yet
  g.closed(35000);
  EXPECT_EQ(*g.grace_left_ms(35000), 30000u);
  EXPECT_EQ(g.due(64999), Action::kNone);
  EXPECT_EQ(*g.grace_left_ms(64000), 1000u);
  EXPECT_EQ(g.due(65000), Action::kClearAll);
  EXPECT_EQ(g.due(66000), Action::kNone) << "once";
  EXPECT_FALSE(g.grace_left_ms(66000));
}

// A restarted zebra dumps before bgpd has given it its routes again: the stale ones stay until
// the grace period that the close started is over, however quiet the stream.
TEST(FpmGrace, AReconnectSweepsTheStaleOnesWhenTheGracePeriodEnds) {
  FpmGrace g(30000);
  g.closed(10000);
  g.connected(12000);  // within the grace period: no clear; the sweep at its end
  EXPECT_EQ(g.due(13000), Action::kNone);
  EXPECT_EQ(g.due(39999), Action::kNone);
  EXPECT_EQ(*g.grace_left_ms(39000), 1000u);
  EXPECT_EQ(g.due(40000), Action::kSweepStale);
  EXPECT_FALSE(g.grace_left_ms(40001)) << "the sweep ends the grace period";
  EXPECT_EQ(g.due(90000), Action::kNone);
}

TEST(FpmGrace, AConnectionThatReplacesAnotherSweepsAGracePeriodLater) {
  FpmGrace g(3000);
  g.connected(0);
  EXPECT_EQ(g.due(3000), Action::kSweepStale);
  g.connected(5000);  // a new connection without a close of the old one
  EXPECT_EQ(g.due(7999), Action::kNone);
  EXPECT_EQ(g.due(8000), Action::kSweepStale);
}

TEST(FpmGrace, ACloseGetsAWholeGracePeriodWhileTheFirstDumpsSweepIsPending) {
  FpmGrace g(30000);
  g.connected(0);
  g.closed(20000);  // before the first connection's sweep (at 30000)
  EXPECT_EQ(*g.grace_left_ms(20000), 30000u);
  EXPECT_EQ(g.due(30000), Action::kNone);
  EXPECT_EQ(g.due(50000), Action::kClearAll);
}

TEST(FpmGrace, AConnectionThatComesAndGoesKeepsNothingPastTheFirstGracePeriod) {
  FpmGrace g(3000);
  g.closed(0);
  for (uint64_t t = 500; t < 3000; t += 1000) {
    g.connected(t);
    EXPECT_EQ(g.due(t + 100), Action::kNone);
    g.closed(t + 200);  // gone again before the grace period ended
  }
  EXPECT_EQ(g.due(3000), Action::kClearAll) << "the deadline set at the first close";
}

// ---- FpmTable: ECMP bucket tables --------------------------------------------------------------

std::array<uint32_t, kMaxLanes> loads(const FpmTable& t, const char* prefix) {
  return t.ecmp(pfx(prefix))->map.load();
}

TEST(FpmTable, ALostPathMovesOnlyItsBucketsAndTakesThemBackWhenItReturns) {
  FpmTable t;
  t.apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.5"), via("169.254.44.9")}));
  t.prune();
  const LaneBuckets before = t.ecmp(pfx("10.2.0.0/16"))->map.buckets();
  EXPECT_EQ(loads(t, "10.2.0.0/16")[0] + loads(t, "10.2.0.0/16")[1], 683u);
  // zebra's frame for a lost path: delete + add with the paths left, in one turn.
  t.apply(del("10.2.0.0/16"));
  t.apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.9")}));
  t.prune();
  const LaneBuckets during = t.ecmp(pfx("10.2.0.0/16"))->map.buckets();
  size_t moved = 0;
  for (uint32_t b = 0; b < kLaneBuckets; ++b) {
    if (before[b] != 1) {
      EXPECT_EQ(during[b], before[b]) << "bucket " << b << " was not on the lost path";
    } else {
      EXPECT_NE(during[b], 1) << b;
      ++moved;
    }
  }
  EXPECT_EQ(moved, 341u);
  const auto l = loads(t, "10.2.0.0/16");
  EXPECT_EQ(l[0] + l[2], 1024u);
  EXPECT_LE(l[0] > l[2] ? l[0] - l[2] : l[2] - l[0], 1u) << "spread evenly";
  // The path comes back (in another order): exactly the first table again.
  t.apply(del("10.2.0.0/16"));
  t.apply(add("10.2.0.0/16", {via("169.254.44.5"), via("169.254.44.9"), via("169.254.44.1")}));
  t.prune();
  EXPECT_EQ(t.ecmp(pfx("10.2.0.0/16"))->map.buckets(), before);
}

TEST(FpmTable, ARouteDownToOnePathKeepsItsTableAndANewMemberTakesAFreeSlot) {
  FpmTable t;
  t.apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.5")}));
  t.apply(add("10.2.0.0/16", {via("169.254.44.1")}));  // an add alone replaces too
  t.prune();
  ASSERT_NE(t.ecmp(pfx("10.2.0.0/16")), nullptr);
  EXPECT_EQ(loads(t, "10.2.0.0/16")[0], 1024u);
  t.apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.13")}));
  t.prune();
  const EcmpState* st = t.ecmp(pfx("10.2.0.0/16"));
  ASSERT_EQ(st->slots.size(), 2u);
  EXPECT_EQ(st->slots[1], via("169.254.44.13")) << "the free slot";
  EXPECT_EQ(loads(t, "10.2.0.0/16")[1], 512u);
}

TEST(FpmTable, AWithdrawnPrefixLosesItsTableAtTheEndOfTheTurnNotBefore) {
  FpmTable t;
  t.apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.5")}));
  t.apply(del("10.2.0.0/16"));
  EXPECT_NE(t.ecmp(pfx("10.2.0.0/16")), nullptr);
  t.prune();
  EXPECT_EQ(t.ecmp(pfx("10.2.0.0/16")), nullptr);
  EXPECT_FALSE(t.apply(del("10.2.0.0/16"))) << "nothing to delete";
}

TEST(FpmTable, StaleRoutesAreThoseTheDumpDidNotNameAgain) {
  FpmTable t;
  t.apply(add("10.2.0.0/16", {via("169.254.44.1")}));
  t.apply(add("10.3.0.0/16", {via("169.254.44.1")}));
  t.mark_stale();
  EXPECT_EQ(t.stale_count(), 2u);
  t.apply(add("10.3.0.0/16", {via("169.254.44.1")}));
  EXPECT_EQ(t.sweep_stale(), 1u);
  EXPECT_EQ(t.routes().count(pfx("10.3.0.0/16")), 1u);
  EXPECT_EQ(t.routes().count(pfx("10.2.0.0/16")), 0u);
  EXPECT_EQ(t.clear(), 1u);
}

// ---- HopResolver -------------------------------------------------------------------------------

config::Tunnel tunnel(const std::string& name, const char* remote, std::vector<IpPrefix> inside,
                      std::vector<IpPrefix> remote_cidrs = {}) {
  config::Tunnel t;
  t.name = name;
  t.local = ip("198.51.100.1");
  t.remote = ip(remote);
  t.inside = std::move(inside);
  t.local_cidrs = {pfx("0.0.0.0/0")};
  t.remote_cidrs = remote_cidrs.empty() ? std::vector<IpPrefix>{pfx("0.0.0.0/0")} : remote_cidrs;
  return t;
}

Model model() {
  std::vector<PortDesc> ports = {
      {"wan", 1500, {*IpPrefix::parse_with_host_bits("198.51.100.1/24")}},
      {"lan", 1500, {*IpPrefix::parse_with_host_bits("10.1.0.1/16")}}};
  Model m(std::move(ports), 1);
  m.add_tunnel(tunnel("t1", "198.51.100.7", {*IpPrefix::parse_with_host_bits("169.254.44.2/30")}),
               false);
  m.add_tunnel(tunnel("t2", "198.51.100.8", {*IpPrefix::parse_with_host_bits("169.254.44.6/30")}),
               false);
  return m;
}

TEST(HopResolver, InsideAddressThenInsideInterfaceThenConnectedPrefix) {
  Model m = model();
  m.set_inside_ifindex({{42, "t2"}});
  const HopResolver r = m.resolver();
  auto t1 = r.resolve(via("169.254.44.1"));
  ASSERT_TRUE(t1);
  EXPECT_TRUE(t1->tunnel);
  EXPECT_EQ(t1->tunnel_name, "t1");
  EXPECT_STREQ(t1->how, "inside address");
  auto by_oif = r.resolve({std::nullopt, 42, 1});
  ASSERT_TRUE(by_oif);
  EXPECT_EQ(by_oif->tunnel_name, "t2");
  EXPECT_STREQ(by_oif->how, "inside interface");
  auto port = r.resolve(via("10.1.0.254"));
  ASSERT_TRUE(port);
  EXPECT_FALSE(port->tunnel);
  EXPECT_EQ(port->port, 1);
  EXPECT_EQ(port->gateway, ip("10.1.0.254"));
  EXPECT_FALSE(r.resolve(via("192.0.2.1"))) << "nowhere";
  EXPECT_FALSE(r.resolve(via("10.1.0.1"))) << "our own address";
  EXPECT_FALSE(r.resolve(via("169.254.44.2"))) << "our own inside address";
  EXPECT_FALSE(r.resolve({std::nullopt, 7, 1})) << "an unknown interface";
  EXPECT_EQ(r.resolvable({via("192.0.2.1"), via("169.254.44.5")}), 1u);
}

// ---- Snapshots ---------------------------------------------------------------------------------

const NextHop* lookup(const Snapshot& s, const char* a) {
  return s.lookup4(ip(a).v4_host());
}

class FpmSnapshot : public ::testing::Test {
 protected:
  std::unique_ptr<Snapshot> build() { return m.build(++generation, 0); }
  Model m = model();
  uint64_t generation = 0;
  uint32_t t1 = 0;  // tunnel indices: the order of the Model's tunnels
  uint32_t t2 = 1;
};

TEST_F(FpmSnapshot, RouteBasedTunnelsRouteNothingOfTheirOwn) {
  auto s = build();
  EXPECT_EQ(lookup(*s, "8.8.8.8"), nullptr) << "0.0.0.0/0 of route-based tunnels is a selector";
}

TEST_F(FpmSnapshot, AConfigRouteBeatsAnFpmRouteAndTheFpmOneTakesOverWhenItGoes) {
  config::Route r;
  r.prefix = pfx("10.9.0.0/16");
  r.interface = "lan";
  r.via = ip("10.1.0.254");
  m.add_route(r, false);
  m.fpm().apply(add("10.9.0.0/16", {via("169.254.44.1")}));
  m.fpm().apply(add("10.8.0.0/16", {via("169.254.44.5")}));
  auto s = build();
  ASSERT_NE(lookup(*s, "10.9.1.1"), nullptr);
  EXPECT_EQ(lookup(*s, "10.9.1.1")->kind, NextHopKind::kPort) << "distance 1 beats 20";
  EXPECT_EQ(lookup(*s, "10.8.1.1")->kind, NextHopKind::kTunnel);
  EXPECT_EQ(lookup(*s, "10.8.1.1")->tunnel, t2);
  m.remove_route(pfx("10.9.0.0/16"));
  s = build();
  EXPECT_EQ(lookup(*s, "10.9.1.1")->kind, NextHopKind::kTunnel) << "the FPM route takes over";
  EXPECT_EQ(lookup(*s, "10.9.1.1")->tunnel, t1);
  // With a distance below the config's, FPM wins.
  m.add_route(r, false);
  m.set_fpm_distance(0);
  s = build();
  EXPECT_EQ(lookup(*s, "10.9.1.1")->kind, NextHopKind::kTunnel);
}

TEST_F(FpmSnapshot, ConfigDuplicatesAreStillRefusedButNotAgainstFpm) {
  config::Route r;
  r.prefix = pfx("10.1.0.0/16");  // lan's connected prefix
  r.interface = "wan";
  m.add_route(r, false);
  EXPECT_THROW(build(), std::invalid_argument);
  m.remove_route(r.prefix);
  m.fpm().apply(add("10.1.0.0/16", {via("169.254.44.1")}));
  auto s = build();
  EXPECT_EQ(lookup(*s, "10.1.2.3")->kind, NextHopKind::kPort) << "connected wins";
}

TEST_F(FpmSnapshot, AConfigRouteIntoATunnel) {
  config::Route r;
  r.prefix = pfx("10.7.0.0/16");
  r.tunnel = "t2";
  m.add_route(r, false);
  auto s = build();
  EXPECT_EQ(lookup(*s, "10.7.0.1")->kind, NextHopKind::kTunnel);
  EXPECT_EQ(lookup(*s, "10.7.0.1")->tunnel, t2);
  r.prefix = pfx("10.6.0.0/16");
  r.tunnel = "nope";
  m.add_route(r, false);
  EXPECT_THROW(build(), std::invalid_argument);
}

TEST_F(FpmSnapshot, ARouteWithoutAResolvableNextHopIsNotInstalledAndAPartialOneIs) {
  m.fpm().apply(add("10.5.0.0/16", {via("192.0.2.1")}));
  m.fpm().apply(add("10.4.0.0/16", {via("192.0.2.1"), via("169.254.44.5")}));
  m.fpm().prune();
  auto s = build();
  EXPECT_EQ(lookup(*s, "10.5.0.1"), nullptr);
  ASSERT_NE(lookup(*s, "10.4.0.1"), nullptr);
  EXPECT_EQ(lookup(*s, "10.4.0.1")->kind, NextHopKind::kTunnel) << "one member left: no group";
  EXPECT_EQ(lookup(*s, "10.4.0.1")->tunnel, t2);
}

// Inner IPv4 UDP headers of flows from consecutive source ports.
std::vector<std::array<uint8_t, 28>> flows(int n) {
  std::vector<std::array<uint8_t, 28>> out;
  for (int i = 0; i < n; ++i) {
    std::array<uint8_t, 28> p{};
    p[0] = 0x45;
    p[9] = 17;
    const std::array<uint8_t, 8> addrs = {10, 1, 0, 10, 10, 2, static_cast<uint8_t>(i >> 8), 9};
    std::copy(addrs.begin(), addrs.end(), p.begin() + 12);
    p[20] = static_cast<uint8_t>((40000 + i) >> 8);
    p[21] = static_cast<uint8_t>(40000 + i);
    p[23] = 53;
    out.push_back(p);
  }
  return out;
}

TEST_F(FpmSnapshot, EcmpSpreadsFlowsOverBothTunnelsAndEachTunnelStillOverAllItsLanes) {
  m.fpm().apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.5")}));
  auto s = build();
  const NextHop* nh = lookup(*s, "10.2.0.9");
  ASSERT_NE(nh, nullptr);
  ASSERT_EQ(nh->kind, NextHopKind::kEcmp);
  const EcmpGroup& g = s->ecmp.at(nh->tunnel);
  EXPECT_TRUE(g.any_tunnel);
  ASSERT_EQ(g.members.size(), 2u);
  EXPECT_EQ(g.members[0].tunnel, t1);
  EXPECT_EQ(g.members[1].tunnel, t2);
  // 2 paths x 4 lanes: every combination carries flows, about an eighth each.
  const LaneMap lanes(4);
  std::array<std::array<int, 4>, 2> n{};
  const auto fs = flows(4000);
  for (const auto& f : fs) {
    const auto* hdr = reinterpret_cast<const rte_ipv4_hdr*>(f.data());
    const uint32_t crc = flow_crc4(hdr);
    EXPECT_EQ(lane_hash4(hdr), lane_bucket_of(crc));
    ++n[g.buckets[ecmp_bucket_of(crc)]][lanes.lane_of(lane_hash4(hdr))];
  }
  for (int path = 0; path < 2; ++path) {
    for (int lane = 0; lane < 4; ++lane) {
      EXPECT_GT(n[path][lane], 400) << "path " << path << " lane " << lane;
      EXPECT_LT(n[path][lane], 600) << "path " << path << " lane " << lane;
    }
  }
  // A tunnel removed: its member does not resolve, the route goes on over the other.
  m.fpm().apply(add("10.3.0.0/16", {via("169.254.44.1"), via("169.254.44.5")}));
  m.remove_tunnel("t1");
  s = build();
  EXPECT_EQ(lookup(*s, "10.2.0.9")->kind, NextHopKind::kTunnel);
  EXPECT_EQ(lookup(*s, "10.2.0.9")->tunnel, 0u) << "t2, now the only tunnel";
}

// A peer announcing the prefix of our tunnels' outer addresses over the tunnel: the route would
// send the tunnels' own ESP into a tunnel. It is left out (and counted), the build goes on.
TEST_F(FpmSnapshot, AnFpmRouteThatWouldCatchATunnelsOuterPacketsIsLeftOut) {
  m.fpm().apply(add("198.51.100.7/32", {via("169.254.44.5")}));
  m.fpm().apply(add("198.51.100.0/25", {via("169.254.44.1"), via("169.254.44.5")}));
  m.fpm().apply(add("198.51.0.0/16", {via("169.254.44.1")}));  // shorter than the connected /24
  m.fpm().apply(add("10.2.0.0/16", {via("169.254.44.1")}));
  m.fpm().prune();
  std::unique_ptr<Snapshot> s;
  ASSERT_NO_THROW(s = build());
  EXPECT_EQ(s->fpm_recursive, 2u);
  EXPECT_EQ(lookup(*s, "198.51.100.7")->kind, NextHopKind::kPort) << "the connected /24";
  EXPECT_EQ(lookup(*s, "198.51.100.9")->kind, NextHopKind::kPort);
  EXPECT_EQ(lookup(*s, "198.51.7.7")->kind, NextHopKind::kTunnel) << "the /16 catches nothing";
  EXPECT_EQ(lookup(*s, "10.2.0.1")->kind, NextHopKind::kTunnel);
  EXPECT_TRUE(s->ecmp.empty()) << "the /25's group went with it";
  EXPECT_EQ(s->tunnels.at(t1).egress_port, 0) << "the outer packets still leave by wan";
}

// An outbound SA of a tunnel of model(): local 198.51.100.1, remote the tunnel's.
esp::SaParams outbound(uint32_t spi, const char* remote) {
  esp::SaParams p;
  p.spi = spi;
  p.direction = esp::Direction::kOutbound;
  p.algorithm = *esp::parse_algorithm("aes128gcm16");
  p.enc_key.assign(16, 0x11);
  p.salt.assign(4, 0x22);
  p.local = ip("198.51.100.1");
  p.remote = ip(remote);
  return p;
}

// A tunnel whose IKE is down (no outbound SA: DPD ended it) leaves the ECMP route while another
// member has one, and takes its own buckets back when it is keyed again; with none keyed, all
// stay (traffic into an on-demand tunnel starts it).
TEST_F(FpmSnapshot, AnEcmpMemberIntoATunnelWithoutAnSaLeavesWhileAnotherCanCarry) {
  m.fpm().apply(add("10.2.0.0/16", {via("169.254.44.1"), via("169.254.44.5")}));
  m.fpm().prune();
  auto s = build();
  ASSERT_EQ(lookup(*s, "10.2.0.9")->kind, NextHopKind::kEcmp) << "neither keyed: both stay";
  const LaneBuckets both = s->ecmp.at(lookup(*s, "10.2.0.9")->tunnel).buckets;
  m.add_sa("t2", outbound(0x1001, "198.51.100.8"), 1, false);
  s = build();
  ASSERT_EQ(lookup(*s, "10.2.0.9")->kind, NextHopKind::kTunnel) << "only t2 can carry";
  EXPECT_EQ(lookup(*s, "10.2.0.9")->tunnel, t2);
  m.add_sa("t1", outbound(0x1002, "198.51.100.7"), 2, false);
  s = build();
  ASSERT_EQ(lookup(*s, "10.2.0.9")->kind, NextHopKind::kEcmp);
  EXPECT_EQ(s->ecmp.at(lookup(*s, "10.2.0.9")->tunnel).buckets, both) << "t1 takes its own back";
  m.remove_sa(esp::Direction::kOutbound, 0x1001);
  s = build();
  EXPECT_EQ(lookup(*s, "10.2.0.9")->kind, NextHopKind::kTunnel);
  EXPECT_EQ(lookup(*s, "10.2.0.9")->tunnel, t1);
}

}  // namespace
}  // namespace espgw::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // rte_lpm6 needs EAL's memory: a small heap without hugepages, a prefix of our own.
  std::string prefix = "--file-prefix=fpm_routes_" + std::to_string(getpid());
  std::vector<const char*> eal = {
      "fpm_routes_test", "--no-huge",     "-m",          "256", "--no-pci",
      "--no-telemetry",  "--log-level=3", prefix.c_str()};
  if (rte_eal_init(static_cast<int>(eal.size()), const_cast<char**>(eal.data())) < 0) {
    std::fprintf(stderr, "fpm_routes_test: cannot start EAL\n");
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
