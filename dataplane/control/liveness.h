#pragma once
// The dataplane's part in failover: a tunnel that still sends into its outbound SA but has
// received nothing under its inbound SAs for kLivenessQuietMs asks charon for a liveness check
// (a DPD, through a "liveness" event to the kernel-espgw plugin) at once, instead of charon
// waiting dpd_delay_s for it. espgw never declares a tunnel dead itself: only a DPD that goes
// unanswered for dpd_timeout_s does (charon deletes the CHILD_SA, and the peer's traffic moves
// to its next tunnel). A peer that is merely quiet (one-way traffic) answers the check and the
// tunnel stays; the check is then repeated at most every dpd_delay_s while the quiet lasts,
// which is what charon's own DPD would do on that tunnel anyway (docs/ike-ha.md).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dataplane/tables/model.h"

namespace espgw::dp {

// Quiet long enough to be unusual while we send: bidirectional traffic (TCP's ACKs, replies)
// comes back well within it; a one-way flow pays one extra DPD exchange per dpd_delay_s.
inline constexpr uint64_t kLivenessQuietMs = 2000;
// "Still sending": the tunnel's outbound SA carried a packet this recently.
inline constexpr uint64_t kLivenessSendingMs = 1000;

class LivenessWatch {
 public:
  // The tunnels of `m` that need a check now, as "liveness" events for the control socket's
  // subscribers. Only IKE tunnels with DPD (dpd_delay_s > 0) and an outbound SA in use.
  // now_ns: the clock the workers stamp SAs with; now_ms: the control thread's.
  std::vector<nlohmann::json> check(const Model& m, uint64_t now_ns, uint64_t now_ms);
  // Events sent for a tunnel (its `liveness_checks` counter).
  uint64_t sent(const std::string& tunnel) const;

 private:
  struct State {
    uint64_t up_since_ns = 0;  // first seen with an outbound SA: quiet counts from here
    uint64_t last_event_ms = 0;
    uint64_t heard_at_event_ns = 0;  // last inbound packet as of that event
    bool sent = false;
  };
  std::map<std::string, State> state_;      // tunnels with an outbound SA in use
  std::map<std::string, uint64_t> totals_;  // events per tunnel, while the tunnel exists
};

}  // namespace espgw::dp
