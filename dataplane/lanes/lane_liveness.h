#pragma once
// The decision of the lane watch (docs/lanes.md "Lane liveness"), apart from the Model so that it
// can be tested with a clock of its own. One LaneLiveness per tunnel of several lanes.
//
// A lane is judged only while it has an outbound SA in use and at least one inbound SA. It is
// silent when its inbound SAs received nothing (data or the peer's keepalives) for `dead_ns`,
// counted from the later of its last packet and the moment it was first seen with an outbound SA
// (kFirstHeardFactor x dead_ns while it has never been heard: a lane just keyed).
// A silent lane is alive again as soon as anything newer than its silence arrives. A lane is
// never made silent when no other lane would be left up: when every lane is quiet the peer or the
// whole path is down, which moving flows cannot help, and charon's DPD over the IKE port decides
// (dataplane/control/liveness.h).

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace espgw::dp {

// One lane at one moment, as the watch gathers it.
struct LaneSeen {
  uint32_t out_spi = 0;      // the lane's outbound SA in use; 0: none
  bool has_inbound = false;  // the lane has an inbound SA
  uint64_t heard_ns = 0;     // the newest packet under its inbound SAs; 0: none yet
  bool silent = false;       // the lane as the Model has it now
};

struct LaneVerdict {
  uint8_t lane;
  bool silent;        // the lane's new state
  uint64_t quiet_ns;  // how long it had heard nothing (silent), or had been silent (alive again)
};

class LaneLiveness {
 public:
  // A lane that has never been heard is judged after this many times dead_ns (lane_liveness.cpp).
  static constexpr uint64_t kFirstHeardFactor = 5;
  explicit LaneLiveness(uint64_t dead_ns) : dead_ns_(dead_ns) {}
  // The lanes whose state changes at now_ns (the clock heard_ns is on).
  std::vector<LaneVerdict> decide(std::span<const LaneSeen> lanes, uint64_t now_ns);

 private:
  struct State {
    bool has_sa = false;
    uint64_t since_ns = 0;          // first seen with an outbound SA: quiet counts from here
    uint64_t heard_at_silence = 0;  // heard_ns when it went silent
    uint64_t silent_since_ns = 0;
  };
  uint64_t dead_ns_;
  std::vector<State> state_;
};

}  // namespace espgw::dp
