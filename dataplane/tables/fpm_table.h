#pragma once
// zebra's routes as the Model keeps them (docs/routing.md "Design: espgw takes zebra's routes over
// FPM"): each prefix with its next hops as FPM sent them, resolved to tunnels or ports at every
// build (a tunnel added later resolves then), a stale mark for the sweep after a reconnect, and
// each ECMP route's bucket table across builds, so that a path that goes moves only its own
// buckets and one that comes back takes its own back (lane_map.h's rules).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "config/config.h"
#include "dataplane/lanes/lane_map.h"
#include "dataplane/routing/route_event.h"

namespace espgw::dp {

struct PortDesc;

// Administrative distances (docs/routing.md "Origin and precedence"): the lowest wins a prefix.
inline constexpr uint8_t kConnectedDistance = 0;
inline constexpr uint8_t kConfigDistance = 1;  // config routes and tunnels' routed remote_cidrs

struct FpmRoute {
  std::vector<routing::NextHop> hops;  // as FPM sent them, duplicates removed
  uint8_t protocol = 0;                // rtm_protocol (186: BGP)
  bool stale = false;                  // not refreshed since the connection came back
};

// An ECMP route's paths across builds: a slot per member ever seen (at most kMaxLanes), the
// LaneMap's lane i being slot i, up while the route names that member.
struct EcmpState {
  std::vector<routing::NextHop> slots;
  LaneMap map{1};
};

// What an FPM next hop is to espgw: a tunnel (by inside address or inside interface) or a port's
// gateway.
struct ResolvedHop {
  bool tunnel = false;
  std::string tunnel_name;
  uint16_t port = 0;
  IpAddress gateway;
  const char* how = "";  // "inside address", "inside interface", "connected"

  friend bool operator==(const ResolvedHop&, const ResolvedHop&) = default;
};

// Resolves next hops against one state of the tunnels and ports (docs/routing.md "Next hops"):
// the gateway in a route-based tunnel's inside prefix, else RTA_OIF an inside interface's
// ifindex, else the gateway in a port's connected prefix (and not our own address).
class HopResolver {
 public:
  HopResolver(const std::map<std::string, config::Tunnel>& tunnels,
              const std::map<uint32_t, std::string>& inside_ifindex,
              const std::vector<PortDesc>& ports);
  std::optional<ResolvedHop> resolve(const routing::NextHop& h) const;
  size_t resolvable(const std::vector<routing::NextHop>& hops) const;

 private:
  std::vector<std::pair<IpPrefix, std::string>> inside_;
  const std::map<std::string, config::Tunnel>& tunnels_;
  const std::map<uint32_t, std::string>& inside_ifindex_;
  const std::vector<PortDesc>& ports_;
};

class FpmTable {
 public:
  using Routes = std::unordered_map<IpPrefix, FpmRoute, IpPrefixHash>;

  // An add replaces the prefix's route (and refreshes its stale mark); a delete removes it (false:
  // there was none). An ECMP route's bucket table follows its members.
  bool apply(const routing::RouteEvent& e);
  // After a batch of events: drops the bucket tables of prefixes that have no route any more (kept
  // until then, so that zebra's delete + add of one prefix keeps its buckets).
  void prune();
  void mark_stale();
  size_t sweep_stale();  // removes the stale routes; returns how many
  size_t clear();        // removes every route; returns how many

  const Routes& routes() const noexcept { return routes_; }
  size_t size() const noexcept { return routes_.size(); }
  size_t stale_count() const noexcept;
  const EcmpState* ecmp(const IpPrefix& p) const;

 private:
  void follow_members(const IpPrefix& p, const std::vector<routing::NextHop>& hops);

  Routes routes_;
  std::unordered_map<IpPrefix, EcmpState, IpPrefixHash> ecmp_;
};

}  // namespace espgw::dp
