#include "dataplane/tables/route_list.h"

#include <bit>

namespace espgw::dp {

namespace {

std::string hop_key(const RouteList::Hop& h) {
  std::string k = h.via ? h.via->to_string() : std::string();
  k += '\0';
  k += h.interface;
  k += '\0';
  k += h.tunnel;
  return k;
}

}  // namespace

size_t RouteList::slot_of(const IpPrefix& prefix) const noexcept {
  const size_t mask = slots_.size() - 1;
  for (size_t i = IpPrefixHash{}(prefix)&mask;; i = (i + 1) & mask) {
    const uint32_t s = slots_[i];
    if (s == 0 || entries_[s - 1].prefix == prefix) return i;
  }
}

uint32_t RouteList::find(const IpPrefix& prefix) const noexcept {
  if (slots_.empty()) return kNone;
  const uint32_t s = slots_[slot_of(prefix)];
  return s == 0 ? kNone : s - 1;
}

void RouteList::grow_index(size_t routes) {
  const size_t want = std::bit_ceil(std::max<size_t>(16, routes * 2));
  if (want <= slots_.size()) return;
  slots_.assign(want, 0);
  for (uint32_t e = 0; e < entries_.size(); ++e)
    slots_[slot_of(entries_[e].prefix)] = e + 1;
}

void RouteList::reserve(size_t more) {
  entries_.reserve(entries_.size() + more);
  grow_index(entries_.size() + more);
}

uint32_t RouteList::intern(const config::Route& r) {
  Hop hop{r.via, r.interface, r.tunnel};
  std::string key = hop_key(hop);
  const auto it = hop_index_.find(key);
  if (it != hop_index_.end()) {
    ++hop_routes_[it->second];
    return it->second;
  }
  uint32_t h;
  if (!free_hops_.empty()) {
    h = free_hops_.back();
    free_hops_.pop_back();
  } else {
    h = static_cast<uint32_t>(hops_.size());
    hops_.emplace_back();
    hop_routes_.push_back(0);
  }
  hops_[h] = std::move(hop);
  hop_routes_[h] = 1;
  hop_index_.emplace(std::move(key), h);
  return h;
}

void RouteList::release(uint32_t h) {
  if (--hop_routes_[h] != 0) return;
  hop_index_.erase(hop_key(hops_[h]));
  hops_[h] = Hop{};
  free_hops_.push_back(h);
}

bool RouteList::put(const config::Route& r, bool replace) {
  const uint32_t e = find(r.prefix);
  if (e != kNone) {
    if (!replace) return false;
    const uint32_t h = intern(r);
    release(entries_[e].hop);
    entries_[e].hop = h;
    return true;
  }
  grow_index(entries_.size() + 1);
  const uint32_t h = intern(r);
  entries_.push_back({r.prefix, h});
  slots_[slot_of(r.prefix)] = static_cast<uint32_t>(entries_.size());
  return true;
}

bool RouteList::erase(const IpPrefix& prefix) {
  if (slots_.empty()) return false;
  size_t i = slot_of(prefix);
  if (slots_[i] == 0) return false;
  const uint32_t e = slots_[i] - 1;
  release(entries_[e].hop);
  // Backward-shift deletion: pull up each later entry of the run that may take the hole.
  const size_t mask = slots_.size() - 1;
  slots_[i] = 0;
  for (size_t j = (i + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const size_t home = IpPrefixHash{}(entries_[slots_[j] - 1].prefix) & mask;
    // It may move into the hole unless its home lies cyclically in (i, j].
    const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    slots_[j] = 0;
    i = j;
  }
  // The last entry takes the erased one's place.
  const uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
  if (e != last) {
    entries_[e] = entries_[last];
    slots_[slot_of(entries_[e].prefix)] = e + 1;
  }
  entries_.pop_back();
  return true;
}

std::vector<config::Route> RouteList::to_config() const {
  std::vector<config::Route> out;
  out.reserve(entries_.size());
  for_each([&](const IpPrefix& p, const Hop& h) {
    out.push_back(config::Route{p, h.via, h.interface, h.tunnel});
  });
  return out;
}

}  // namespace espgw::dp
