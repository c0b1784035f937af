// The Model's compact route list (dataplane/tables/route_list.h) against a plain std::map: random
// adds, replaces and removals, enough of them that the index grows and its probe runs wrap.
#include "dataplane/tables/route_list.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

namespace espgw::dp {
namespace {

using Key = std::tuple<std::string, std::string, std::string, std::string>;

Key key_of(const IpPrefix& p, const RouteList::Hop& h) {
  return {p.to_string(), h.via ? h.via->to_string() : "", h.interface, h.tunnel};
}

config::Route route(const std::string& prefix, int hop) {
  config::Route r;
  r.prefix = *IpPrefix::parse(prefix);
  std::string gateway = "10.0.0.";
  gateway += std::to_string(hop);
  switch (hop % 4) {
    case 0: r.interface = "outside"; break;
    case 1: r.interface = "outside", r.via = IpAddress::parse("198.51.100.1"); break;
    case 2: r.interface = "inside", r.via = IpAddress::parse(gateway); break;
    default: r.tunnel = std::string("t") + gateway.substr(7); break;
  }
  return r;
}

std::map<std::string, Key> contents(const RouteList& l) {
  std::map<std::string, Key> out;
  l.for_each([&](const IpPrefix& p, const RouteList::Hop& h) {
    EXPECT_TRUE(out.emplace(p.to_string(), key_of(p, h)).second) << "twice: " << p.to_string();
  });
  return out;
}

TEST(RouteList, AgreesWithAMapOverRandomChanges) {
  RouteList list;
  std::map<std::string, Key> want;
  std::mt19937 rng(7);
  // 3000 prefixes of both families, so that a change often meets an existing route.
  auto prefix = [&](uint32_t n) {
    // As IpPrefix::to_string() writes them, the map's keys.
    if (n % 5 == 0) return "fd00:" + std::to_string(n + 1) + "::/64";
    return "10." + std::to_string(n / 256 % 256) + "." + std::to_string(n % 256) + ".0/24";
  };
  for (int step = 0; step < 40000; ++step) {
    const std::string p = prefix(rng() % 3000);
    const int hop = static_cast<int>(rng() % 12);
    const config::Route r = route(p, hop);
    const bool exists = want.count(p) != 0;
    switch (rng() % 3) {
      case 0:  // add
        ASSERT_EQ(list.put(r, false), !exists) << p;
        if (!exists) want[p] = key_of(r.prefix, {r.via, r.interface, r.tunnel});
        break;
      case 1:  // replace
        ASSERT_TRUE(list.put(r, true)) << p;
        want[p] = key_of(r.prefix, {r.via, r.interface, r.tunnel});
        break;
      default:  // remove
        ASSERT_EQ(list.erase(r.prefix), exists) << p;
        want.erase(p);
        break;
    }
    ASSERT_EQ(list.size(), want.size());
    ASSERT_EQ(list.contains(r.prefix), want.count(p) != 0) << p;
    if (step % 4000 == 0) {
      ASSERT_EQ(contents(list), want) << "step " << step;
    }
  }
  ASSERT_EQ(contents(list), want);
  // Each next hop is kept while a route uses it, and only then.
  std::set<std::tuple<std::string, std::string, std::string>> hops;
  for (const auto& [p, k] : want)
    hops.emplace(std::get<1>(k), std::get<2>(k), std::get<3>(k));
  EXPECT_EQ(list.hop_count(), hops.size());
  // Every prefix is found or not as the map says, after all that shifting.
  for (uint32_t n = 0; n < 3000; ++n) {
    EXPECT_EQ(list.contains(*IpPrefix::parse(prefix(n))), want.count(prefix(n)) != 0) << prefix(n);
  }
}

TEST(RouteList, EmptyAndConfigView) {
  RouteList list;
  EXPECT_FALSE(list.erase(*IpPrefix::parse("10.0.0.0/8")));
  EXPECT_FALSE(list.contains(*IpPrefix::parse("10.0.0.0/8")));
  list.reserve(100000);
  ASSERT_TRUE(list.put(route("10.0.0.0/8", 1), false));
  ASSERT_TRUE(list.put(route("10.1.0.0/16", 3), false));
  const auto rs = list.to_config();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].prefix.to_string(), "10.0.0.0/8");
  EXPECT_EQ(rs[0].via->to_string(), "198.51.100.1");
  EXPECT_EQ(rs[0].interface, "outside");
  EXPECT_EQ(rs[1].tunnel, "t3");
  EXPECT_TRUE(rs[1].interface.empty());
  EXPECT_EQ(list.hop_count(), 2u);
  // Removing every route of a next hop forgets the hop; adding it again brings it back.
  ASSERT_TRUE(list.erase(rs[1].prefix));
  EXPECT_EQ(list.hop_count(), 1u);
  ASSERT_TRUE(list.put(route("10.2.0.0/16", 3), false));
  EXPECT_EQ(list.hop_count(), 2u);
  EXPECT_EQ(list.to_config()[1].tunnel, "t3");
  // Replacing a route's next hop by one in use already forgets the old one.
  ASSERT_TRUE(list.put(route("10.2.0.0/16", 1), true));
  EXPECT_EQ(list.hop_count(), 1u);
}

}  // namespace
}  // namespace espgw::dp
