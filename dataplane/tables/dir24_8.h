#pragma once
// The IPv4 longest-prefix-match table of a Snapshot: DIR-24-8 (Gupta, Lin and McKeown, "Routing
// Lookups in Hardware at Memory Access Speeds", INFOCOM 1998), as DPDK's rte_lpm and rte_fib lay
// it out: a first table indexed by the top 24 bits of the address, whose entry is the value or,
// where a prefix longer than /24 starts inside that /24, the index of a second-level group of 256
// entries indexed by the last 8 bits. One lookup is one or two loads.
//
// Built once from the whole route list and then only read, as a snapshot is immutable
// (snapshot.h). rte_fib keeps a RIB beside its tables so that routes can be added and removed one
// by one: a mempool of 2 nodes per route, 192 bytes each, and every snapshot had its own. This
// table keeps nothing per route: a /24 or shorter is entries of the first table, a longer one
// entries of a group. Building paints the routes in order of length, so a longer prefix
// overwrites the shorter ones it lies in.
//
// Entries are 2 bytes wide while values and groups fit in 15 bits, else 4; the top bit marks a
// group, and the rest is a group index or the value + 1 (0: no route). The tables are anonymous
// memory of their own, with transparent huge pages asked for: the 32 or 64 MiB first table is read
// at random, and a retired snapshot's tables go back to the system when it is freed.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace espgw::dp {

class Dir24_8 {
 public:
  struct Route {
    uint32_t prefix;  // host order; bits past the length are ignored
    uint8_t len;      // 1..32 (a default route is the caller's, outside the table)
    uint32_t value;
  };
  static constexpr uint32_t kMiss = UINT32_MAX;

  // values: every route's value is below it. Throws std::invalid_argument for a length out of
  // range or a value too large, std::bad_alloc when the memory cannot be had.
  Dir24_8(const std::vector<Route>& routes, uint32_t values);
  ~Dir24_8();
  Dir24_8(const Dir24_8&) = delete;
  Dir24_8& operator=(const Dir24_8&) = delete;

  // The value of the longest prefix holding addr (host order), or kMiss.
  uint32_t lookup(uint32_t addr) const noexcept {
    return wide_ ? lookup_as<uint32_t>(addr) : lookup_as<uint16_t>(addr);
  }
  void lookup_bulk(const uint32_t* addr, uint32_t* out, unsigned n) const noexcept;

  bool wide() const noexcept { return wide_; }
  size_t groups() const noexcept { return groups_; }

 private:
  template <class E>
  uint32_t lookup_as(uint32_t addr) const noexcept {
    constexpr E kExt = static_cast<E>(E{1} << (sizeof(E) * 8 - 1));
    const E* t24 = static_cast<const E*>(tbl24_);
    E e = t24[addr >> 8];
    if (e & kExt) {
      e = static_cast<const E*>(tbl8_)[(size_t{static_cast<E>(e & ~kExt)} << 8) | (addr & 0xff)];
    }
    return uint32_t{e} - 1;  // stored as value + 1; 0 (a miss) becomes kMiss
  }
  template <class E>
  void build(const std::vector<Route>& sorted);

  bool wide_ = false;
  size_t groups_ = 0;
  size_t bytes_ = 0;       // of the mapping
  void* tbl24_ = nullptr;  // one mapping: the first table, then the groups
  void* tbl8_ = nullptr;
};

}  // namespace espgw::dp
