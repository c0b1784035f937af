#include "dataplane/lanes/lane_liveness.h"

#include <algorithm>

namespace espgw::dp {

std::vector<LaneVerdict> LaneLiveness::decide(std::span<const LaneSeen> lanes, uint64_t now_ns) {
  std::vector<LaneVerdict> out;
  state_.resize(lanes.size());
  std::vector<size_t> quiet;  // lanes up that heard nothing for dead_ns
  size_t up = 0;              // lanes that stay up
  for (size_t k = 0; k < lanes.size(); ++k) {
    const LaneSeen& l = lanes[k];
    State& st = state_[k];
    if (l.out_spi == 0) {
      st = {};  // no SA: not up, not judged; a new SA starts afresh
      continue;
    }
    if (!st.has_sa) {
      st.has_sa = true;
      st.since_ns = now_ns;
    }
    if (l.silent) {
      if (l.heard_ns > st.heard_at_silence) {
        out.push_back({static_cast<uint8_t>(k), false, now_ns - st.silent_since_ns});
        ++up;
      }
      continue;
    }
    // Never heard yet: the peer may still be installing its outbound SA for the lane (its
    // IKE_AUTH answer in flight, its charon busy with the other lanes), so a lane just keyed gets
    // kFirstHeardFactor x dead_ns before it is judged.
    const uint64_t from = std::max(l.heard_ns, st.since_ns);
    const uint64_t limit = l.heard_ns == 0 ? dead_ns_ * kFirstHeardFactor : dead_ns_;
    if (l.has_inbound && now_ns >= from + limit) {
      quiet.push_back(k);
    } else {
      ++up;
    }
  }
  if (up == 0) return out;  // every lane quiet: nothing to move to
  for (size_t k : quiet) {
    State& st = state_[k];
    st.heard_at_silence = lanes[k].heard_ns;
    st.silent_since_ns = now_ns;
    out.push_back(
        {static_cast<uint8_t>(k), true, now_ns - std::max(lanes[k].heard_ns, st.since_ns)});
  }
  return out;
}

}  // namespace espgw::dp
