// The IPv4 route table (dataplane/tables/dir24_8.h) against a plain longest-prefix match over the
// same routes: random prefixes of every length, nested and overlapping, both entry widths.

#include "dataplane/tables/dir24_8.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

namespace espgw::dp {
namespace {

using Route = Dir24_8::Route;

uint32_t mask_of(uint8_t len) {
  return len == 0 ? 0 : ~uint32_t{0} << (32 - len);
}

// The longest prefix holding addr; among equal prefixes the last one given (as the table's
// build keeps the last of equal lengths).
uint32_t reference(const std::vector<Route>& routes, uint32_t addr) {
  int best_len = -1;
  uint32_t value = Dir24_8::kMiss;
  for (const Route& r : routes) {
    if (((addr ^ r.prefix) & mask_of(r.len)) == 0 && r.len >= best_len) {
      best_len = r.len;
      value = r.value;
    }
  }
  return value;
}

// Addresses worth asking: inside, at both ends of and just outside every prefix, and random.
std::vector<uint32_t> probes(const std::vector<Route>& routes, std::mt19937& rng) {
  std::vector<uint32_t> out;
  for (const Route& r : routes) {
    const uint32_t lo = r.prefix & mask_of(r.len);
    const uint32_t hi = lo | ~mask_of(r.len);
    const uint32_t inside = lo + (static_cast<uint32_t>(rng()) & ~mask_of(r.len));
    out.insert(out.end(), {lo, hi, lo - 1, hi + 1, inside});
  }
  for (int i = 0; i < 2000; ++i)
    out.push_back(static_cast<uint32_t>(rng()));
  return out;
}

std::vector<Route> random_routes(std::mt19937& rng, size_t n, uint32_t values) {
  std::vector<Route> routes;
  // Clustered in 10.0.0.0/12 so that prefixes nest and overlap, plus some anywhere.
  for (size_t i = 0; i < n; ++i) {
    const uint8_t len = static_cast<uint8_t>(1 + rng() % 32);
    const uint32_t base = (i % 4 == 0) ? static_cast<uint32_t>(rng())
                                       : 0x0a000000u | (static_cast<uint32_t>(rng()) & 0x000fffffu);
    routes.push_back({base & mask_of(len), len, static_cast<uint32_t>(rng() % values)});
  }
  return routes;
}

void expect_matches(const std::vector<Route>& routes, uint32_t values, uint32_t seed) {
  std::mt19937 rng(seed);
  const Dir24_8 t(routes, values);
  const std::vector<uint32_t> addrs = probes(routes, rng);
  std::vector<uint32_t> bulk(addrs.size());
  for (size_t base = 0; base < addrs.size(); base += 64) {
    const unsigned k = static_cast<unsigned>(std::min<size_t>(64, addrs.size() - base));
    t.lookup_bulk(addrs.data() + base, bulk.data() + base, k);
  }
  for (size_t i = 0; i < addrs.size(); ++i) {
    const uint32_t want = reference(routes, addrs[i]);
    ASSERT_EQ(t.lookup(addrs[i]), want) << "address " << std::hex << addrs[i];
    ASSERT_EQ(bulk[i], want) << "address " << std::hex << addrs[i] << " (bulk)";
  }
}

TEST(Dir24_8, EmptyTableMissesEverything) {
  const Dir24_8 t({}, 1);
  EXPECT_EQ(t.lookup(0), Dir24_8::kMiss);
  EXPECT_EQ(t.lookup(0xffffffffu), Dir24_8::kMiss);
  EXPECT_EQ(t.groups(), 0u);
}

TEST(Dir24_8, NestedPrefixesTakeTheLongest) {
  // 10/8 -> 1, 10.1/16 -> 2, 10.1.2/24 -> 3, 10.1.2.128/25 -> 4, 10.1.2.200/32 -> 5, given in
  // an order that is not by length.
  const std::vector<Route> routes = {{0x0a010280, 25, 4},
                                     {0x0a000000, 8, 1},
                                     {0x0a0102c8, 32, 5},
                                     {0x0a010200, 24, 3},
                                     {0x0a010000, 16, 2}};
  const Dir24_8 t(routes, 6);
  EXPECT_EQ(t.lookup(0x0a7f0000), 1u);
  EXPECT_EQ(t.lookup(0x0a01ff01), 2u);
  EXPECT_EQ(t.lookup(0x0a010201), 3u);
  EXPECT_EQ(t.lookup(0x0a010281), 4u);
  EXPECT_EQ(t.lookup(0x0a0102c8), 5u);
  EXPECT_EQ(t.lookup(0x0a0102c9), 4u);
  EXPECT_EQ(t.lookup(0x0b000000), Dir24_8::kMiss);
  EXPECT_EQ(t.groups(), 1u);  // the /25 and the /32 share 10.1.2.0/24's group
  EXPECT_FALSE(t.wide());
}

TEST(Dir24_8, RandomRoutesNarrowEntries) {
  std::mt19937 rng(12345);
  for (uint32_t round = 0; round < 5; ++round) {
    const auto routes = random_routes(rng, 300, 1000);
    expect_matches(routes, 1000, round);
  }
}

TEST(Dir24_8, RandomRoutesWideEntries) {
  // More values than 15 bits hold: 4-byte entries.
  std::mt19937 rng(777);
  const auto routes = random_routes(rng, 300, 100000);
  const Dir24_8 t(routes, 100000);
  EXPECT_TRUE(t.wide());
  expect_matches(routes, 100000, 9);
}

TEST(Dir24_8, ManyGroupsGoWide) {
  // 40,000 host routes in distinct /24s need more groups than 15 bits index.
  std::vector<Route> routes;
  for (uint32_t i = 0; i < 40000; ++i)
    routes.push_back({0x14000000u | (i << 8) | 7u, 32, i % 7});
  const Dir24_8 t(routes, 7);
  EXPECT_TRUE(t.wide());
  EXPECT_EQ(t.groups(), 40000u);
  EXPECT_EQ(t.lookup(0x14000000u | (39999u << 8) | 7u), 39999u % 7);
  EXPECT_EQ(t.lookup(0x14000000u | (39999u << 8) | 8u), Dir24_8::kMiss);
}

TEST(Dir24_8, RefusesBadRoutes) {
  EXPECT_THROW(Dir24_8({{0x0a000000, 0, 0}}, 1), std::invalid_argument);
  EXPECT_THROW(Dir24_8({{0x0a000000, 33, 0}}, 1), std::invalid_argument);
  EXPECT_THROW(Dir24_8({{0x0a000000, 8, 5}}, 5), std::invalid_argument);
}

}  // namespace
}  // namespace espgw::dp
