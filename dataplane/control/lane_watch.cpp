#include "dataplane/control/lane_watch.h"

#include <algorithm>
#include <cstdio>

namespace espgw::dp {

std::vector<LaneWatch::Change> LaneWatch::check(const Model& m, uint64_t now_ns) {
  std::vector<Change> out;
  std::erase_if(totals_, [&](const auto& kv) { return m.tunnels().count(kv.first) == 0; });
  std::erase_if(tunnels_, [&](const auto& kv) {
    const auto t = m.tunnels().find(kv.first);
    return t == m.tunnels().end() || t->second.lanes == 1;
  });
  if (dead_ns_ == 0) return out;
  std::map<std::string, std::vector<LaneSeen>> seen;
  for (const auto& [name, per_lane] : m.lane_outbound()) {
    const auto t = m.tunnels().find(name);
    if (t == m.tunnels().end() || t->second.lanes == 1) continue;
    std::vector<LaneSeen>& lanes = seen[name];
    lanes.resize(t->second.lanes);
    for (size_t k = 0; k < lanes.size() && k < per_lane.size(); ++k) {
      lanes[k].out_spi = per_lane[k];
      lanes[k].silent = m.lane_silent(name, static_cast<uint8_t>(k));
    }
  }
  if (seen.empty()) return out;
  for (const auto& [spi, rec] : m.inbound()) {
    const auto s = seen.find(rec.tunnel);
    if (s == seen.end() || rec.lane >= s->second.size()) continue;
    LaneSeen& l = s->second[rec.lane];
    l.has_inbound = true;
    l.heard_ns = std::max(l.heard_ns, rec.sa->last_use_ns());
  }
  for (const auto& [name, lanes] : seen) {
    LaneLiveness& d = tunnels_.try_emplace(name, dead_ns_).first->second;
    for (const LaneVerdict& v : d.decide(lanes, now_ns))
      out.push_back({name, v});
  }
  return out;
}

size_t LaneWatch::apply(Model& m, const Change& c) {
  const LaneVerdict& v = c.verdict;
  const size_t moved = m.set_lane_silent(c.tunnel, v.lane, v.silent);
  Totals& t = totals_[c.tunnel];
  ++(v.silent ? t.silenced : t.revived);
  std::string up;
  if (const auto map = m.lane_maps().find(c.tunnel); map != m.lane_maps().end()) {
    for (uint32_t k = 0; k < map->second.lanes(); ++k) {
      if (map->second.up(k) && k != v.lane) up += (up.empty() ? "" : ", ") + std::to_string(k);
    }
  }
  const double quiet_s = static_cast<double>(v.quiet_ns / 1000000) / 1000.0;
  if (v.silent) {
    std::fprintf(stderr,
                 "espgw: tunnel %s lane %u: nothing received for %.3f s: its %zu buckets move to "
                 "lanes %s\n",
                 c.tunnel.c_str(), v.lane, quiet_s, moved, up.c_str());
  } else {
    std::fprintf(stderr,
                 "espgw: tunnel %s lane %u: heard again after %.3f s silent: its %zu buckets "
                 "return\n",
                 c.tunnel.c_str(), v.lane, quiet_s, moved);
  }
  return moved;
}

uint64_t LaneWatch::silenced(const std::string& tunnel) const {
  const auto it = totals_.find(tunnel);
  return it == totals_.end() ? 0 : it->second.silenced;
}

uint64_t LaneWatch::revived(const std::string& tunnel) const {
  const auto it = totals_.find(tunnel);
  return it == totals_.end() ? 0 : it->second.revived;
}

}  // namespace espgw::dp
