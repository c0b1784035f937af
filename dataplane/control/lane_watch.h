#pragma once
// Lane liveness on the control thread (docs/lanes.md "Lane liveness"). Each lane of a tunnel of
// several lanes sends keepalives when it has nothing else to send (dataplane/stages/keepalive.cpp),
// so a lane whose inbound SAs hear nothing for dataplane.lane_dead_ms has lost its path: charon
// cannot tell, as every lane's IKE_SA runs over the IKE port and only the lane's ESP flow (its own
// source port) is lost. The watch marks such a lane silent in the Model, which moves its buckets
// to the lanes up, and alive again when it is heard (dataplane/lanes/lane_liveness.h decides).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dataplane/lanes/lane_liveness.h"
#include "dataplane/tables/model.h"

namespace espgw::dp {

// How often the control loop runs the watch: detection takes at most lane_dead_ms plus this.
inline constexpr uint64_t kLaneCheckMs = 20;

class LaneWatch {
 public:
  explicit LaneWatch(uint32_t dead_ms) : dead_ns_(uint64_t{dead_ms} * 1000000) {}

  struct Change {
    std::string tunnel;
    LaneVerdict verdict;
  };
  // The lanes of `m` whose liveness changes at now_ns (the clock the workers stamp SAs with).
  // dead_ms 0: none ever.
  std::vector<Change> check(const Model& m, uint64_t now_ns);
  // Applies a change to `m` and logs it; returns the buckets that moved.
  size_t apply(Model& m, const Change& c);
  // Lanes of a tunnel made silent / alive again, while the tunnel exists.
  uint64_t silenced(const std::string& tunnel) const;
  uint64_t revived(const std::string& tunnel) const;

 private:
  uint64_t dead_ns_;
  std::map<std::string, LaneLiveness> tunnels_;
  struct Totals {
    uint64_t silenced = 0;
    uint64_t revived = 0;
  };
  std::map<std::string, Totals> totals_;
};

}  // namespace espgw::dp
