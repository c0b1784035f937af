// zebra's routes in the Model; see fpm_table.h.
#include "dataplane/tables/fpm_table.h"

#include <algorithm>

#include "dataplane/tables/model.h"

namespace espgw::dp {

HopResolver::HopResolver(const std::map<std::string, config::Tunnel>& tunnels,
                         const std::map<uint32_t, std::string>& inside_ifindex,
                         const std::vector<PortDesc>& ports)
    : tunnels_(tunnels), inside_ifindex_(inside_ifindex), ports_(ports) {
  for (const auto& [name, t] : tunnels) {
    for (const auto& p : t.inside)
      inside_.emplace_back(p, name);
  }
}

std::optional<ResolvedHop> HopResolver::resolve(const routing::NextHop& h) const {
  if (h.gateway) {
    for (const auto& [prefix, name] : inside_) {
      if (prefix.contains(*h.gateway) && *h.gateway != prefix.address) {
        return ResolvedHop{true, name, 0, {}, "inside address"};
      }
    }
  }
  if (h.ifindex != 0) {
    const auto it = inside_ifindex_.find(h.ifindex);
    if (it != inside_ifindex_.end() && tunnels_.count(it->second) != 0) {
      return ResolvedHop{true, it->second, 0, {}, "inside interface"};
    }
  }
  if (h.gateway) {
    for (uint16_t i = 0; i < ports_.size(); ++i) {
      for (const auto& a : ports_[i].addresses) {
        if (a.contains(*h.gateway) && *h.gateway != a.address) {
          return ResolvedHop{false, "", i, *h.gateway, "connected"};
        }
      }
    }
  }
  return std::nullopt;
}

size_t HopResolver::resolvable(const std::vector<routing::NextHop>& hops) const {
  return static_cast<size_t>(std::count_if(hops.begin(), hops.end(),
                                           [&](const auto& h) { return resolve(h).has_value(); }));
}

bool FpmTable::apply(const routing::RouteEvent& e) {
  if (e.action == routing::RouteAction::kDelete) return routes_.erase(e.prefix) != 0;
  FpmRoute r;
  r.protocol = e.protocol;
  for (const auto& h : e.next_hops) {
    routing::NextHop key = h;
    key.weight = 1;  // weights are not used (docs/routing.md "ECMP"): equal shares
    if (std::find(r.hops.begin(), r.hops.end(), key) == r.hops.end()) r.hops.push_back(key);
  }
  follow_members(e.prefix, r.hops);
  routes_[e.prefix] = std::move(r);
  return true;
}

// The route's members are the up slots of its bucket table: a member that went is down (its
// buckets on the others), one that comes back takes its slot's buckets back, a new one takes a
// free slot, or, with none free, a table one slot larger is made (every bucket may move then).
void FpmTable::follow_members(const IpPrefix& p, const std::vector<routing::NextHop>& hops) {
  auto it = ecmp_.find(p);
  if (it == ecmp_.end()) {
    if (hops.size() < 2) return;  // one path: no table until the route has several
    it = ecmp_.emplace(p, EcmpState{}).first;
  }
  EcmpState& st = it->second;
  std::vector<routing::NextHop> fresh;
  for (const auto& h : hops) {
    if (std::find(st.slots.begin(), st.slots.end(), h) == st.slots.end()) fresh.push_back(h);
  }
  size_t free_slots = 0;
  for (size_t i = 0; i < st.slots.size(); ++i) {
    if (std::find(hops.begin(), hops.end(), st.slots[i]) == hops.end()) ++free_slots;
  }
  if (fresh.size() > free_slots || st.slots.empty()) {
    // Slots never named again are dropped only here, where the table is made anew anyway.
    std::vector<routing::NextHop> slots;
    for (const auto& s : st.slots) {
      if (std::find(hops.begin(), hops.end(), s) != hops.end()) slots.push_back(s);
    }
    for (const auto& h : fresh)
      slots.push_back(h);
    if (slots.size() > kMaxLanes) slots.resize(kMaxLanes);
    st.slots = std::move(slots);
    st.map = LaneMap(static_cast<uint32_t>(st.slots.size()));
    return;
  }
  size_t next_fresh = 0;
  for (size_t i = 0; i < st.slots.size(); ++i) {
    const bool named = std::find(hops.begin(), hops.end(), st.slots[i]) != hops.end();
    if (!named && next_fresh < fresh.size()) {
      st.slots[i] = fresh[next_fresh++];
      st.map.set_up(static_cast<uint32_t>(i), false);  // its buckets go, then come back as its
      st.map.set_up(static_cast<uint32_t>(i), true);
      continue;
    }
    st.map.set_up(static_cast<uint32_t>(i), named);
  }
}

void FpmTable::prune() {
  std::erase_if(ecmp_, [&](const auto& kv) { return routes_.count(kv.first) == 0; });
}

void FpmTable::mark_stale() {
  for (auto& [p, r] : routes_)
    r.stale = true;
}

size_t FpmTable::sweep_stale() {
  const size_t n = std::erase_if(routes_, [](const auto& kv) { return kv.second.stale; });
  prune();
  return n;
}

size_t FpmTable::clear() {
  const size_t n = routes_.size();
  routes_.clear();
  ecmp_.clear();
  return n;
}

size_t FpmTable::stale_count() const noexcept {
  return static_cast<size_t>(std::count_if(routes_.begin(), routes_.end(),
                                           [](const auto& kv) { return kv.second.stale; }));
}

const EcmpState* FpmTable::ecmp(const IpPrefix& p) const {
  const auto it = ecmp_.find(p);
  return it == ecmp_.end() ? nullptr : &it->second;
}

}  // namespace espgw::dp
