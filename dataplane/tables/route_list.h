#pragma once
// The Model's static routes (config routes and the control socket's route-add), kept compact:
// a million routes is a gateway's normal load (bench/scale), and the Model is copied for every
// transaction. A route is its prefix and the index of its next hop (24 bytes); the next hops
// (next-hop address, interface or tunnel name) are few and each is kept once, with a count of the
// routes that use it. Prefixes are found through an open-addressed index of entry numbers.
// docs/memory.md, "Where a route's bytes go now", has the figures.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "config/config.h"

namespace espgw::dp {

class RouteList {
 public:
  // Where a route goes: through an interface (to `via`, or directly connected), or into a
  // route-based tunnel.
  struct Hop {
    std::optional<IpAddress> via;
    std::string interface;
    std::string tunnel;
  };

  // Adds `r`, or with `replace` overwrites the route of the same prefix. Returns false (and
  // changes nothing) when that prefix exists and `replace` is not set.
  bool put(const config::Route& r, bool replace);
  // Removes the route of that prefix; false when there is none. The last route takes its place
  // (routes are a set: their order means nothing).
  bool erase(const IpPrefix& prefix);
  bool contains(const IpPrefix& prefix) const noexcept { return find(prefix) != kNone; }
  size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  // Distinct next hops in use (a hop no route uses any more is forgotten).
  size_t hop_count() const noexcept { return hop_index_.size(); }
  // Room for `more` routes without growing (route-add-many).
  void reserve(size_t more);

  // f(const IpPrefix&, const Hop&) for every route.
  template <class F>
  void for_each(F&& f) const {
    for (const Entry& e : entries_)
      f(e.prefix, hops_[e.hop]);
  }
  // As config::Route, for the config checks that need the routes (a tunnel's route to its peer).
  std::vector<config::Route> to_config() const;

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Entry {
    IpPrefix prefix;
    uint32_t hop;
  };
  static_assert(sizeof(Entry) <= 24);

  uint32_t find(const IpPrefix& prefix) const noexcept;  // entry number, or kNone
  size_t slot_of(
      const IpPrefix& prefix) const noexcept;  // its slot, or the empty one it would take
  void grow_index(size_t routes);
  uint32_t intern(const config::Route& r);
  void release(uint32_t hop);

  std::vector<Entry> entries_;
  // Entry number + 1 per slot, 0 = empty; linear probing; a power of two, at most half full.
  std::vector<uint32_t> slots_;
  std::vector<Hop> hops_;
  std::vector<uint32_t> hop_routes_;  // routes per hop; 0 = a free hop slot
  std::vector<uint32_t> free_hops_;
  std::unordered_map<std::string, uint32_t> hop_index_;  // hop_key() -> index in hops_
};

}  // namespace espgw::dp
