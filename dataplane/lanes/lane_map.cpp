// LaneMap: the resilient bucket table of a tunnel's lanes; see lane_map.h.
#include "dataplane/lanes/lane_map.h"

#include <stdexcept>
#include <string>

namespace espgw::dp {

LaneMap::LaneMap(uint32_t lanes) : lanes_(lanes) {
  if (lanes < 1 || lanes > kMaxLanes) {
    throw std::invalid_argument("lanes: " + std::to_string(lanes) + " is not within 1.." +
                                std::to_string(kMaxLanes));
  }
  up_ = lanes == 64 ? ~uint64_t{0} : (uint64_t{1} << lanes) - 1;
  for (uint32_t b = 0; b < kLaneBuckets; ++b)
    buckets_[b] = static_cast<uint8_t>(b % lanes);
}

uint32_t LaneMap::up_count() const noexcept {
  return static_cast<uint32_t>(__builtin_popcountll(up_));
}

std::array<uint32_t, kMaxLanes> lane_loads(const LaneBuckets& buckets) noexcept {
  std::array<uint32_t, kMaxLanes> n{};
  for (uint8_t lane : buckets)
    ++n[lane];
  return n;
}

size_t LaneMap::set_up(uint32_t lane, bool up) {
  if (lane >= lanes_) {
    throw std::invalid_argument("lane " + std::to_string(lane) + " of " + std::to_string(lanes_));
  }
  if (this->up(lane) == up) return 0;
  const uint64_t bit = uint64_t{1} << lane;
  size_t moved = 0;
  if (up) {
    up_ |= bit;
    for (uint32_t b = lane; b < kLaneBuckets; b += lanes_) {
      if (buckets_[b] != lane) {
        buckets_[b] = static_cast<uint8_t>(lane);
        ++moved;
      }
    }
    // Buckets left on down lanes while no lane was up go to the up lanes too.
    return moved + rehome_stranded();
  }
  up_ &= ~bit;
  return rehome_stranded();
}

// Each bucket on a lane that is down goes to the up lane with the fewest buckets (ties: the
// lowest index). None moves while no lane is up: the buckets stay, the tunnel drops.
size_t LaneMap::rehome_stranded() {
  if (up_ == 0) return 0;
  std::array<uint32_t, kMaxLanes> n = load();
  size_t moved = 0;
  for (uint32_t b = 0; b < kLaneBuckets; ++b) {
    const uint32_t from = buckets_[b];
    if (up(from)) continue;
    uint32_t best = kMaxLanes;
    for (uint32_t l = 0; l < lanes_; ++l) {
      if (up(l) && (best == kMaxLanes || n[l] < n[best])) best = l;
    }
    buckets_[b] = static_cast<uint8_t>(best);
    ++n[best];
    --n[from];
    ++moved;
  }
  return moved;
}

}  // namespace espgw::dp
