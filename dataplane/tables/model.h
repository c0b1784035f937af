#pragma once
// The control thread's authoritative state: interfaces (fixed at start), routes, tunnels and SAs.
// Every change goes through a copy of the Model; the copy builds a Snapshot (which validates
// everything the workers will rely on), and only when that succeeds does the copy replace the
// Model and the Snapshot get published. A failed change leaves both untouched.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "dataplane/esp/sa.h"
#include "dataplane/lanes/lane_map.h"
#include "dataplane/tables/fpm_table.h"
#include "dataplane/tables/route_list.h"
#include "dataplane/tables/snapshot.h"

namespace espgw::dp {

// Byte and packet lifetimes of an SA (RFC 4301 4.4.2.1); 0 = none. The control thread checks
// them (App), so the hot path carries no extra counter comparisons.
struct SaLifetime {
  uint64_t soft_bytes = 0;
  uint64_t hard_bytes = 0;
  uint64_t soft_packets = 0;
  uint64_t hard_packets = 0;
  bool any() const noexcept { return soft_bytes || hard_bytes || soft_packets || hard_packets; }
};

enum class SaOrigin : uint8_t { kConfig, kControl, kIke };

// What a tunnel's lane is doing (docs/lanes.md): up (carries its buckets' flows), without an
// outbound SA in use, or silent (its inbound SAs heard nothing for dataplane.lane_dead_ms, "Lane
// liveness"); in the last two its flows ride the other lanes.
enum class LaneState : uint8_t { kUp, kNoSa, kSilent };
const char* lane_state_name(LaneState s) noexcept;  // "up", "no_sa", "silent"

// The IKE NAT-T port (RFC 3948): lane 0 sends from it, and lanes send from their own port only
// towards it (docs/lanes.md, Decision point 7).
inline constexpr uint16_t kIkeNattPort = 4500;

// A tunnel that comes up takes its peer's traffic over from another tunnel of the peer that is up
// (failback) only once the peer has shown that it holds the new SAs, by sending under the
// tunnel's newest inbound SA, or after this long. When the peer initiated that CHILD_SA it
// installs its inbound SA only on our IKE_AUTH answer: what we sent under the new outbound SA
// before that would be lost, while the tunnel in use still works.
inline constexpr uint64_t kFailbackHoldMs = 1000;

struct SaRecord {
  std::shared_ptr<esp::Sa> sa;
  std::string tunnel;
  uint64_t installed = 0;  // install order, to fall back to the newest SA
  SaOrigin origin = SaOrigin::kControl;
  SaLifetime lifetime;
  uint8_t lane = 0;  // of the tunnel's lanes (docs/lanes.md)
  // Shared between copies of the Model: which expiry events were sent, so a transaction that
  // copies the record does not send them again.
  std::shared_ptr<std::pair<bool, bool>> expired = std::make_shared<std::pair<bool, bool>>();
};

struct PortDesc {
  std::string name;
  uint16_t mtu = 1500;
  std::vector<IpPrefix> addresses;
};

// Largest inner packet that fits `egress_mtu` after tunnel-mode ESP with this algorithm.
uint16_t tunnel_inner_mtu(uint16_t egress_mtu, const esp::Algorithm& alg, bool nat_t,
                          bool outer_v6) noexcept;

// Where an SA added without a state of its own starts: the state an SA with the same direction,
// SPI and keys had before (a restart's state file, a resync's re-add: docs/sa-state.md).
class SaResume {
 public:
  virtual ~SaResume() = default;
  virtual std::optional<esp::SaStart> resume(const esp::SaParams& params,
                                             uint64_t key_fingerprint) = 0;
};

class Model {
 public:
  Model(std::vector<PortDesc> ports, uint32_t workers);

  // add_sa() asks `resume` (null: none; it must outlive the Model and its copies) where an SA
  // given without a state starts; resumed() counts the SAs it placed.
  void set_resume(SaResume* resume) noexcept { resume_ = resume; }
  uint64_t resumed() const noexcept { return resumed_; }

  // Each throws std::invalid_argument naming the object and the problem.
  void add_route(const config::Route& r, bool replace);
  void remove_route(const IpPrefix& prefix);
  // zebra's routes (fpm_table.h): the control thread's FPM listener applies its events here.
  // The snapshot takes, per prefix, the candidate of the lowest distance: connected 0, config
  // routes and routed remote_cidrs 1 (kConfigDistance), FPM routes fpm_distance().
  FpmTable& fpm() noexcept { return fpm_; }
  const FpmTable& fpm() const noexcept { return fpm_; }
  uint8_t fpm_distance() const noexcept { return fpm_distance_; }
  void set_fpm_distance(uint8_t d) noexcept { fpm_distance_ = d; }
  // RTA_OIF -> tunnel: the inside interfaces' kernel ifindexes (set by the control thread).
  void set_inside_ifindex(std::map<uint32_t, std::string> m) { inside_ifindex_ = std::move(m); }
  const std::map<uint32_t, std::string>& inside_ifindex() const noexcept { return inside_ifindex_; }
  HopResolver resolver() const { return HopResolver(tunnels_, inside_ifindex_, ports_); }
  void reserve_routes(size_t more) { routes_.reserve(more); }
  void add_tunnel(const config::Tunnel& t, bool replace);
  void remove_tunnel(const std::string& name);  // and its SAs
  // An outbound SA becomes its tunnel's SA in use at once (the make-before-break switch of a
  // rekey is this one pointer in the next snapshot); the previous one stays until removed.
  // With `replace`, an SA given exactly as installed stays as it is (sequence number, window,
  // counters); an outbound SA with the same SPI and keys but other parameters is refused, as a
  // copy would restart at sequence number 1.
  // An outbound SA is its lane's SA in use (lane 0 unless given; below the tunnel's lanes).
  void add_sa(const std::string& tunnel, const esp::SaParams& params, uint64_t iv_seed,
              bool replace, SaOrigin origin = SaOrigin::kControl, const SaLifetime& life = {},
              uint8_t lane = 0);
  // New outer addresses / NAT-T ports for a live SA (docs/ike-bridge.md sa-update). Takes effect
  // at once in the running SA (its outer header is swapped under RCU); the caller publishes a
  // rebuilt snapshot so the tunnel's next hop follows a changed remote address.
  void update_sa(esp::Direction dir, uint32_t spi, const IpAddress& local, const IpAddress& remote,
                 bool udp_encap, uint16_t local_port, uint16_t remote_port);
  // Removes every SA of that origin (a restarted charon's stale SAs).
  size_t flush_sas(SaOrigin origin);
  // The tunnel one of whose lanes has if_id as its config::lane_if_id() (lane 0: tunnel_if_id),
  // or nullptr; `lane` (when given) gets that lane.
  const config::Tunnel* tunnel_by_if_id(uint32_t if_id, uint8_t* lane = nullptr) const;
  void set_peers(std::vector<config::Peer> peers);
  void remove_sa(esp::Direction dir, uint32_t spi);
  // Loads interfaces' routes, static routes, tunnels and their static SAs from a config.
  void load(const config::Config& cfg, uint64_t (*iv_seed)(void*), void* seed_ctx);

  // Throws std::invalid_argument (bad references) or std::runtime_error (table creation).
  // now_ms: the control thread's clock, for the failback hold (kFailbackHoldMs).
  std::unique_ptr<Snapshot> build(uint64_t generation, uint64_t now_ms) const;
  // Whether a build at now_ms would route some peer into another tunnel than the last build did
  // (a failback hold has ended, or the peer has sent under the new SAs): the control thread
  // then builds and publishes again.
  bool peer_choice_due(uint64_t now_ms) const;

  const std::vector<PortDesc>& ports() const noexcept { return ports_; }
  const RouteList& routes() const noexcept { return routes_; }
  const std::map<std::string, config::Tunnel>& tunnels() const noexcept { return tunnels_; }
  const std::map<uint32_t, SaRecord>& inbound() const noexcept { return inbound_; }
  const std::map<uint32_t, SaRecord>& outbound() const noexcept { return outbound_; }
  // Each tunnel's SA in use: its lane 0's, else its lowest lane's that has one.
  const std::map<std::string, uint32_t>& active_outbound() const noexcept { return active_out_; }
  // Each tunnel's outbound SA in use per lane (0: none), and the bucket table of each tunnel of
  // more than one lane.
  const std::map<std::string, std::vector<uint32_t>>& lane_outbound() const noexcept {
    return lane_out_;
  }
  const std::map<std::string, LaneMap>& lane_maps() const noexcept { return lane_maps_; }
  // The state of a tunnel's lane (the tunnel and lane exist).
  LaneState lane_state(const std::string& tunnel, uint8_t lane) const;
  // Lane liveness (dataplane/control/lane_watch.h): a silent lane keeps its SA (its keepalives
  // go on) but hands its buckets to the lanes up, and takes them back when it is heard again.
  // Returns how many buckets moved. A lane that loses its SA in use is no longer silent.
  size_t set_lane_silent(const std::string& tunnel, uint8_t lane, bool silent);
  bool lane_silent(const std::string& tunnel, uint8_t lane) const noexcept;
  // Lane k >= 1 of a tunnel sends its ESP-in-UDP from base + k - 1 (config
  // dataplane.lane_port_base); set by load().
  void set_lane_port_base(uint16_t base) noexcept { lane_port_base_ = base; }
  // The UDP source port an outbound SA of `lane` sends from, given the ports charon gave it: the
  // lane's own port when it sends ESP-in-UDP to the IKE NAT-T port, else local_port (lane 0, a
  // port-translating NAT). Inbound SAs keep theirs.
  uint16_t lane_sport(esp::Direction dir, uint8_t lane, bool udp_encap, uint16_t local_port,
                      uint16_t remote_port) const noexcept;
  const std::vector<config::Peer>& peers() const noexcept { return peers_; }
  // Each peer's tunnel in use (its routes point there), as of the last build().
  const std::map<std::string, std::string>& peer_active() const noexcept { return peer_active_; }
  uint32_t workers() const noexcept { return workers_; }

  using PrefixHash = IpPrefixHash;

 private:
  // Which tunnel carries each tunnel's routes at now_ms (see build_snapshot()), and each peer's
  // choice, for remember_build().
  struct PeerRouting {
    std::map<std::string, std::string> routed_by;
    std::map<std::string, std::string> chosen;
  };
  PeerRouting route_peers(uint64_t now_ms) const;
  // After a build that succeeded: its peer choices, and since when each tunnel has been up.
  void remember_build(std::map<std::string, std::string> chosen, uint64_t now_ms) const;

  std::vector<PortDesc> ports_;
  uint32_t workers_;
  RouteList routes_;
  FpmTable fpm_;
  uint8_t fpm_distance_ = 20;
  std::map<uint32_t, std::string> inside_ifindex_;
  std::map<std::string, config::Tunnel> tunnels_;
  std::map<uint32_t, SaRecord> inbound_;
  std::map<uint32_t, SaRecord> outbound_;
  std::map<std::string, uint32_t> active_out_;  // tunnel -> SPI of its outbound SA in use
  std::map<std::string, std::vector<uint32_t>> lane_out_;  // tunnel -> per lane, 0: none
  std::map<std::string, LaneMap> lane_maps_;
  // A lane up or down in its tunnel's LaneMap; returns how many buckets moved. The map is made on
  // first use with every lane that has no outbound SA yet down: a lane never keyed holds no
  // buckets (its flows would ride another lane's SA unaccounted). A tunnel of one lane has no
  // map (its traffic takes the tunnel's SA in use; 1 KiB per tunnel at 100,000 tunnels): 0.
  size_t set_lane_up(const std::string& tunnel, uint8_t lanes, uint8_t lane, bool up);
  std::map<std::string, uint64_t> lane_silent_;  // tunnel -> a bit per silent lane
  // A lane's SA in use: the newest outbound SA of that tunnel and lane (or none), the lane up or
  // down in the tunnel's LaneMap accordingly, and the tunnel's SA in use after that.
  void pick_active(const std::string& tunnel, uint8_t lane);
  void set_lane_sa(const std::string& tunnel, uint8_t lane, uint32_t spi);  // 0: none
  uint64_t installs_ = 0;
  SaResume* resume_ = nullptr;
  uint64_t resumed_ = 0;
  uint16_t lane_port_base_ = config::kDefaultLanePortBase;
  std::vector<config::Peer> peers_;
  // The tunnels of `peer` that this model has, in preference order.
  std::vector<std::string> members(const config::Peer& peer) const;
  // The tunnel a peer's routes go to at now_ms.
  std::string choose(const config::Peer& peer, const std::vector<std::string>& members,
                     uint64_t now_ms) const;
  // Written by build(), which is otherwise const: the choice it made, so that failback: false
  // can keep a working tunnel instead of returning to the preferred one.
  mutable std::map<std::string, std::string> peer_active_;
  // Also written by build(): since when each tunnel has been up (has an outbound SA in use), as
  // first seen by a build.
  mutable std::map<std::string, uint64_t> up_since_ms_;
};

}  // namespace espgw::dp
