#pragma once
// Which lane of a tunnel carries an inner flow: a table of kLaneBuckets buckets, each naming a
// lane. An inner flow's hash (lane_hash.h) picks its bucket, so a flow stays on one lane, and its
// packets in order, while the buckets stay where they are.
//
// The buckets move only when a lane goes or comes back, and then only its own:
//   - at the start every lane is up and bucket b is on its home lane, b % lanes;
//   - a lane that goes down hands each bucket it carries to the up lane that carries the fewest
//     (ties: the lowest index); no other bucket moves;
//   - a lane that comes back takes back the buckets whose home it is, from wherever they went;
//     no other bucket moves.
// With no lane up every bucket stays where it is (the tunnel drops: tunnel_down); the first lane
// back takes its own and the buckets stranded on lanes still down.
//
// The control thread owns a LaneMap and copies buckets() into each snapshot it publishes; the
// workers only read that copy (docs/lanes.md).

#include <array>
#include <cstddef>
#include <cstdint>

namespace espgw::dp {

inline constexpr uint32_t kLaneBuckets = 1024;  // a power of two: the hash is masked
inline constexpr uint32_t kMaxLanes = 64;

using LaneBuckets = std::array<uint8_t, kLaneBuckets>;

// Buckets per lane, for espgwctl and the tests.
std::array<uint32_t, kMaxLanes> lane_loads(const LaneBuckets& buckets) noexcept;

class LaneMap {
 public:
  // 1 to kMaxLanes lanes, all up; std::invalid_argument outside that range.
  explicit LaneMap(uint32_t lanes);

  uint32_t lanes() const noexcept { return lanes_; }
  bool up(uint32_t lane) const noexcept { return (up_ >> lane) & 1; }
  uint32_t up_count() const noexcept;
  // Returns how many buckets moved (0 when the lane was already in that state).
  size_t set_up(uint32_t lane, bool up);

  const LaneBuckets& buckets() const noexcept { return buckets_; }
  uint32_t lane_of(uint32_t hash) const noexcept { return buckets_[hash & (kLaneBuckets - 1)]; }
  std::array<uint32_t, kMaxLanes> load() const noexcept { return lane_loads(buckets_); }

 private:
  size_t rehome_stranded();

  uint32_t lanes_;
  uint64_t up_;
  LaneBuckets buckets_{};
};

}  // namespace espgw::dp
