#include "dataplane/tables/dir24_8.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace espgw::dp {
namespace {

constexpr size_t kTbl24Entries = size_t{1} << 24;
constexpr size_t kGroupEntries = 256;
constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

// Stored entries are value + 1: 0 is a miss, so the first table needs no fill. Untouched pages of
// an anonymous mapping read as zero without being resident; a table of a few routes costs the
// pages they paint. The price: a worker's first lookup in a page that no route painted takes a
// minor fault (the zero page is mapped), once per page and snapshot. Reading every page here
// instead made the idle gateway 27 MiB larger (VmRSS, bench/scale).
Dir24_8::Dir24_8(const std::vector<Route>& routes, uint32_t values) {
  std::unordered_set<uint32_t> blocks;  // the /24s that need a group
  for (const Route& r : routes) {
    if (r.len == 0 || r.len > 32) {
      throw std::invalid_argument("prefix length " + std::to_string(r.len) + " out of 1-32");
    }
    if (r.value >= values) throw std::invalid_argument("route value out of range");
    if (r.len > 24) blocks.insert(r.prefix >> 8);
  }
  groups_ = blocks.size();
  // 2 bytes while values + 1 and group indexes fit in 15 bits.
  wide_ = values > 0x7fff || groups_ > 0x8000;
  if (wide_ && (values > 0x7fffffffu || groups_ > 0x80000000u)) {
    throw std::invalid_argument("too many next hops or groups");
  }
  // Sorted before the mapping exists: nothing after it can throw, so nothing leaks it.
  std::vector<Route> sorted = routes;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Route& a, const Route& b) { return a.len < b.len; });
  const size_t entry = wide_ ? 4 : 2;
  const size_t t24 = kTbl24Entries * entry;
  bytes_ = (t24 + groups_ * kGroupEntries * entry + kHugePage - 1) & ~(kHugePage - 1);
  void* map = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) throw std::bad_alloc();
  madvise(map, bytes_, MADV_HUGEPAGE);  // a hint: without THP the table still works
  tbl24_ = map;
  tbl8_ = static_cast<char*>(map) + t24;

  if (wide_) {
    build<uint32_t>(sorted);
  } else {
    build<uint16_t>(sorted);
  }
}

Dir24_8::~Dir24_8() {
  munmap(tbl24_, bytes_);
}

template <class E>
void Dir24_8::build(const std::vector<Route>& sorted) {
  constexpr E kExt = static_cast<E>(E{1} << (sizeof(E) * 8 - 1));
  E* t24 = static_cast<E*>(tbl24_);
  E* t8 = static_cast<E*>(tbl8_);
  size_t next_group = 0;
  for (const Route& r : sorted) {
    const uint32_t mask = ~uint32_t{0} << (32 - r.len);
    const uint32_t net = r.prefix & mask;
    const E stored = static_cast<E>(r.value + 1);
    if (r.len <= 24) {
      // Shorter prefixes came first and no group exists yet: plain entries, overwritten.
      std::fill_n(t24 + (net >> 8), size_t{1} << (24 - r.len), stored);
      continue;
    }
    E& top = t24[net >> 8];
    if (!(top & kExt)) {
      // The group starts as what covered the whole /24 (a shorter route, or a miss).
      std::fill_n(t8 + next_group * kGroupEntries, kGroupEntries, top);
      top = static_cast<E>(kExt | next_group);
      ++next_group;
    }
    const size_t group = top & static_cast<E>(~kExt);
    std::fill_n(t8 + group * kGroupEntries + (net & 0xff), size_t{1} << (32 - r.len), stored);
  }
}

void Dir24_8::lookup_bulk(const uint32_t* addr, uint32_t* out, unsigned n) const noexcept {
  // The first table is 32 or 64 MiB read at random: start each entry's load a few packets
  // ahead.
  constexpr unsigned kAhead = 4;
  auto run = [&](auto zero) noexcept {
    using E = decltype(zero);
    const E* t24 = static_cast<const E*>(tbl24_);
    for (unsigned i = 0; i < n && i < kAhead; ++i)
      __builtin_prefetch(t24 + (addr[i] >> 8));
    for (unsigned i = 0; i < n; ++i) {
      if (i + kAhead < n) __builtin_prefetch(t24 + (addr[i + kAhead] >> 8));
      out[i] = lookup_as<E>(addr[i]);
    }
  };
  if (wide_) {
    run(uint32_t{0});
  } else {
    run(uint16_t{0});
  }
}

}  // namespace espgw::dp
