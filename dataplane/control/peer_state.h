#pragma once
// Which tunnel of each peer (the config's peers[]) carries the peer's traffic, since when, and
// how often that changed: what the control socket's `peers`, telemetry's /espgw/peers, `espgwctl
// show peers` and espgw-exporter report (docs/control-protocol.md#peers). The control thread
// updates it from the Model after each build it publishes; the workers never see it.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "dataplane/tables/model.h"

namespace espgw::dp {

// Both clocks at one moment: wall-clock time for the report, the steady clock for durations
// (a wall clock that NTP steps must not make a tunnel's time in use negative).
struct PeerClock {
  int64_t unix_ms = 0;
  uint64_t steady_ms = 0;
  static PeerClock now();
};

class PeerTracker {
 public:
  // After every published build: Model::peer_active() is that build's choice. The tunnel in use
  // is the tunnel the peer's routes go into while it is up (has an outbound SA), else none.
  // A move is any change of the tunnel in use, to or from none included, except the first
  // tunnel a peer gets after start-up (from the none it started with).
  void update(const Model& model, PeerClock now);
  // The control socket's `peers`: one object per configured peer, in config order.
  nlohmann::json report(const Model& model, PeerClock now) const;

 private:
  struct State {
    std::string in_use;  // "" = none
    bool had_tunnel = false;
    PeerClock since;
    uint64_t moves = 0;
  };
  std::map<std::string, State> peers_;
};

// The peer a tunnel belongs to, or nullptr.
const config::Peer* peer_of(const Model& model, const std::string& tunnel);
// Members added to a tunnel's route (`routes`) and to its outbound SAs (`sas`) when the tunnel
// belongs to a peer, so that a reader sees which tunnel of the peer carries the traffic:
// routes get `peer` and `state` ("active": the tables route the CIDR into this tunnel, "backup":
// into another tunnel of the peer); outbound SAs get `peer` and `peer_in_use` (this tunnel is the
// peer's tunnel in use). Empty for a tunnel of no peer.
nlohmann::json peer_route_members(const Model& model, const std::string& tunnel);
nlohmann::json peer_sa_members(const Model& model, const std::string& tunnel);
// `peers` as DPDK telemetry can carry it (one level of containers, no lists, no null): keyed by
// peer name, the tunnels as "aws1,aws2" and one `up_TUNNEL` per tunnel, none as "".
nlohmann::json peers_for_telemetry(const nlohmann::json& peers);

}  // namespace espgw::dp
