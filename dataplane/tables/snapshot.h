#pragma once
// The routing and SA tables as workers see them: one immutable snapshot, built on the control
// thread from the Model (model.h) and published under RCU (rcu.h). A change builds a whole new
// snapshot; workers pick the current one up once per loop, so a change is applied whole or not at
// all and no worker ever waits.
//
// SAs are not part of a snapshot's value: it holds references to them, and their mutable state
// (sequence numbers, replay windows, counters) lives in the Sa objects, so it survives rebuilds.

#include <rte_lpm6.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/ip_address.h"
#include "dataplane/esp/sa.h"
#include "dataplane/lanes/lane_map.h"
#include "dataplane/tables/dir24_8.h"
#include "dataplane/tables/flat_map.h"

namespace espgw::dp {

inline constexpr uint16_t kNoPort = 0xffff;
inline constexpr uint32_t kNoTunnel = 0xffffffff;

// kEcmp: several paths (docs/routing.md "ECMP"); the flow's bucket in Snapshot::ecmp[group]
// names the member, a kPort or kTunnel next hop.
enum class NextHopKind : uint8_t { kPort, kTunnel, kEcmp };

struct NextHop {
  NextHopKind kind = NextHopKind::kPort;
  uint16_t port = kNoPort;   // kPort: egress port index
  bool via_gateway = false;  // false: directly connected, resolve the packet's own destination
  IpAddress gateway;
  uint32_t tunnel = kNoTunnel;  // kTunnel: index into Snapshot::tunnels; kEcmp: into ecmp

  friend bool operator==(const NextHop&, const NextHop&) = default;
};

// What a packet into an IPv4 tunnel of one lane reads is the first cache line (the outbound SA,
// the next hop, MTU and MSS, the selectors of a tunnel with one local and one remote IPv4
// prefix), so that traffic spread over thousands of tunnels loads one line per tunnel
// (docs/memory.md).
struct alignas(64) TunnelEntry {
  using Pair4 = std::pair<uint32_t, uint32_t>;  // (network, mask), host order

  esp::Sa* outbound = nullptr;  // the SA in use; null until one is installed (drops: tunnel_down)
  // config::tunnel_if_id() where IKE starts the tunnel (an `ike:` section): its tunnel_down drops
  // ask the control thread for an acquire. 0 for static-SA tunnels, which never raise one.
  uint32_t acquire_if_id = 0;
  // An IPv4 tunnel's outer next hop (egress_gateway or remote), host order; out_v4 says which.
  uint32_t next4 = 0;
  // one4: the tunnel has exactly one IPv4 local and one IPv4 remote selector, here (the usual
  // case); otherwise sel4 below holds them.
  Pair4 one_local4{};
  Pair4 one_remote4{};
  // Where the outer packets go: the route to `remote`, resolved when the snapshot was built.
  uint16_t egress_port = kNoPort;
  uint16_t inner_mtu = 0;  // largest inner packet that fits the egress MTU after ESP
  uint16_t mss4 = 0;       // TCP MSS clamp for inner IPv4 / IPv6
  uint16_t mss6 = 0;
  bool egress_via_gateway = false;
  bool out_v4 = false;  // remote is IPv4
  bool one4 = false;
  bool lanes = false;  // lane_out is not empty

  // Read per packet by IPv6 tunnels, tunnels of several lanes and tunnels with other selectors.
  IpAddress remote;
  IpAddress egress_gateway;
  // Every IPv4 selector, the local ones first, then the remote ones, in one array.
  std::vector<Pair4> sel4;
  uint32_t nlocal4 = 0;
  // Lanes (docs/lanes.md): with more than one, each inner flow's bucket names its lane, and
  // lane_out[lane] is that lane's SA in use (null: none; its buckets are on other lanes). A silent
  // lane ("Lane liveness") keeps its SA here for its keepalives, but no bucket names it while
  // another lane is up. Empty for a tunnel of one lane, which sends under `outbound`; so is
  // buckets (null), which a tunnel of one lane does not need (1 KiB each at 100,000 tunnels).
  std::vector<esp::Sa*> lane_out;
  std::shared_ptr<const LaneBuckets> buckets;

  // Not read per packet, but for IPv6 traffic (the selectors).
  std::string name;
  IpAddress local;
  std::vector<IpPrefix> local_cidrs;
  std::vector<IpPrefix> remote_cidrs;

  using Sel4 = std::span<const Pair4>;
  Sel4 local4() const noexcept { return Sel4(sel4).first(nlocal4); }
  Sel4 remote4() const noexcept { return Sel4(sel4).subspan(nlocal4); }
  static bool in4(Sel4 set, uint32_t a) noexcept {
    for (const auto& [net, mask] : set) {
      if ((a & mask) == net) return true;
    }
    return false;
  }
  static bool in6(const std::vector<IpPrefix>& set, const uint8_t* a) noexcept;
};

// An ECMP route's paths: each of kLaneBuckets buckets names a member (lane_map.h's resilient
// table, kept in the Model across builds); a flow's bucket is ecmp_bucket_of() of its CRC
// (lane_hash.h).
struct EcmpGroup {
  std::vector<NextHop> members;  // kPort or kTunnel
  LaneBuckets buckets{};
  bool any_tunnel = false;  // some member goes into a tunnel (the unprotected-source check)
};

struct InboundEntry {
  esp::Sa* sa = nullptr;
  uint32_t tunnel = kNoTunnel;
};

struct PortAddressing {
  std::vector<IpPrefix> addresses;  // ours, with their connected prefixes
  uint16_t mtu = 1500;
};

class Snapshot {
 public:
  Snapshot() = default;
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  uint64_t generation = 0;
  // IPv4: a DIR-24-8 table built for this snapshot (dir24_8.h; its values index nexthops). DPDK's
  // rte_lpm searched its rule array on every add (a million routes took minutes), and rte_fib
  // kept a RIB of 384 bytes per route beside each snapshot's table.
  std::unique_ptr<Dir24_8> lpm4;
  rte_lpm6* lpm6 = nullptr;  // null while no IPv6 route but ::/0 exists (lookup6() misses)
  std::vector<NextHop> nexthops;
  // Dir24_8 and rte_lpm6 take depths from 1: the default routes live here.
  uint32_t default4 = UINT32_MAX;
  uint32_t default6 = UINT32_MAX;
  // Whether some IPv4 route goes into a tunnel: without one, cleartext cannot come from a
  // protected network (RFC 4301 5.2) and route() skips the lookup of the source.
  bool tunnel_routes4 = false;
  std::vector<TunnelEntry> tunnels;
  std::vector<EcmpGroup> ecmp;
  // FPM routes left out of this build because they would route a tunnel's own outer packets into
  // a tunnel (snapshot_build.cpp outer_remotes); status.fpm reports it.
  uint32_t fpm_recursive = 0;
  // The prefixes whose FPM route this build installed (the control thread's `routes` report:
  // "selected" as built, not derived again).
  std::unordered_set<IpPrefix, IpPrefixHash> fpm_selected;
  // The tunnels of several lanes (indices into `tunnels`): worker 0 sends their keepalives
  // (dataplane/stages/keepalive.cpp) without a pass over every tunnel.
  std::vector<uint32_t> lane_tunnels;
  FlatMap<uint32_t, InboundEntry, U32Hash> inbound;  // by SPI
  FlatMap<uint32_t, uint16_t, U32Hash> local4;       // our IPv4 addresses (host order) -> port
  // The same, when there are few: every transit packet is checked against our addresses (twice
  // before this), and a hash probe at a random slot mispredicted on nearly every packet; a scan
  // of a handful of entries that all differ is predicted.
  std::vector<std::pair<uint32_t, uint16_t>> local4_few;
  static constexpr size_t kFewLocal = 8;
  std::vector<std::pair<std::array<uint8_t, 16>, uint16_t>> local6;  // our IPv6 addresses
  // Route-based tunnels' inside addresses (ours) -> config::tunnel_if_id() of the tunnel whose
  // inside interface holds them: route() hands decrypted packets for them to that TUN device
  // (dataplane/control/inside_interfaces.h). A handful per tunnel, scanned.
  std::vector<std::pair<uint32_t, uint32_t>> inside4;
  std::vector<std::pair<std::array<uint8_t, 16>, uint32_t>> inside6;
  std::vector<PortAddressing> ports;
  std::vector<uint16_t> natt_ports;  // local UDP ports that carry ESP-in-UDP (4500 and tunnels')
  std::vector<std::shared_ptr<esp::Sa>> sa_refs;  // keeps every referenced SA alive

  // The port owning a local address, or kNoPort.
  uint16_t local_port4(uint32_t host_order) const noexcept {
    if (local4.size() <= kFewLocal) {
      for (const auto& [a, port] : local4_few) {
        if (a == host_order) return port;
      }
      return kNoPort;
    }
    const uint16_t* p = local4.find(host_order);
    return p ? *p : kNoPort;
  }
  uint16_t local_port6(const uint8_t* addr) const noexcept;
  // The tunnel (its if_id) whose inside interface holds a local address, or 0.
  uint32_t inside_if_id4(uint32_t host_order) const noexcept {
    for (const auto& [a, id] : inside4) {
      if (a == host_order) return id;
    }
    return 0;
  }
  uint32_t inside_if_id6(const uint8_t* addr) const noexcept;
  // Longest-prefix match; nullptr when no route.
  const NextHop* lookup4(uint32_t host_order) const noexcept;
  // Burst form: n addresses (host order) to next hops (nullptr: no route).
  void lookup4_bulk(uint32_t* host_order, const NextHop** out, unsigned n) const noexcept;
  const NextHop* lookup6(const uint8_t* addr) const noexcept;
  // Our first address of the family on a port (source of ICMP errors, ARP, ND); false if none.
  bool port_address4(uint16_t port, uint32_t* host_order) const noexcept;
  bool port_address6(uint16_t port, uint8_t* out) const noexcept;
};

}  // namespace espgw::dp
