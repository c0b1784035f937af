// Model -> Snapshot in steps; see snapshot_build.h.
#include "dataplane/tables/snapshot_build.h"

#include <rte_errno.h>
#include <rte_lpm6.h>
#include <rte_memory.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace espgw::dp {
namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw std::invalid_argument(what);
}

IpPrefix network_of(const IpPrefix& p) {
  IpPrefix n = p;
  const unsigned max = p.address.is_v4() ? 32 : 128;
  for (unsigned bit = p.length; bit < max; ++bit) {
    n.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return n;
}

struct RouteEntry {
  IpPrefix prefix;
  NextHop nh;
  std::string origin;
  uint8_t distance = kConfigDistance;  // fpm_table.h
};

// The ports' addresses: the local-address tables, and a connected route per address.
void add_port_routes(const Model& m, Snapshot& s, std::vector<RouteEntry>& entries) {
  std::vector<std::pair<uint32_t, uint16_t>> local4;
  const auto& ports = m.ports();
  for (uint16_t i = 0; i < ports.size(); ++i) {
    s.ports.push_back({ports[i].addresses, ports[i].mtu});
    for (const auto& a : ports[i].addresses) {
      if (a.address.is_v4()) {
        local4.emplace_back(a.address.v4_host(), i);
      } else {
        s.local6.emplace_back(a.address.bytes, i);
      }
      NextHop nh;
      nh.kind = NextHopKind::kPort;
      nh.port = i;
      entries.push_back({network_of(a), nh, "interface " + ports[i].name, kConnectedDistance});
    }
  }
  s.local4 = FlatMap<uint32_t, uint16_t, U32Hash>(local4);
  if (s.local4.size() <= Snapshot::kFewLocal) {
    s.local4.for_each([&](uint32_t a, uint16_t port) { s.local4_few.emplace_back(a, port); });
  }
}

void add_static_routes(const Model& m, const std::map<std::string, uint32_t>& tunnel_index,
                       std::vector<RouteEntry>& entries) {
  const auto& ports = m.ports();
  m.routes().for_each([&](const IpPrefix& prefix, const RouteList::Hop& r) {
    NextHop nh;
    if (!r.tunnel.empty()) {  // into a route-based tunnel (docs/routing.md)
      const auto t = tunnel_index.find(r.tunnel);
      if (t == tunnel_index.end()) {
        invalid("route " + prefix.to_string() + ": no tunnel \"" + r.tunnel + "\"");
      }
      nh.kind = NextHopKind::kTunnel;
      nh.tunnel = t->second;
      entries.push_back({prefix, nh, "static route"});
      return;
    }
    nh.kind = NextHopKind::kPort;
    for (uint16_t i = 0; i < ports.size(); ++i) {
      if (ports[i].name == r.interface) nh.port = i;
    }
    if (nh.port == kNoPort) {
      invalid("route " + prefix.to_string() + ": no interface \"" + r.interface + "\"");
    }
    if (r.via) {
      nh.via_gateway = true;
      nh.gateway = *r.via;
    }
    entries.push_back({prefix, nh, "static route"});
  });
}

// Each tunnel's remote CIDRs into the tunnel that carries them: itself, or its peer's tunnel in
// use (tunnels that back each other up share their CIDRs).
void add_tunnel_routes(const Model& m, const std::map<std::string, std::string>& routed_by,
                       const std::map<std::string, uint32_t>& tunnel_index,
                       std::vector<RouteEntry>& entries) {
  for (const auto& [name, t] : m.tunnels()) {
    auto rb = routed_by.find(name);
    if (rb != routed_by.end() && rb->second.empty()) continue;  // a backup: its peer routes
    if (t.route_based()) continue;  // its remote_cidrs are selectors; routes pick it
    const uint32_t idx = tunnel_index.at(rb != routed_by.end() ? rb->second : name);
    for (const auto& c : t.remote_cidrs) {
      NextHop nh;
      nh.kind = NextHopKind::kTunnel;
      nh.tunnel = idx;
      entries.push_back({c, nh, "tunnel " + name});
    }
  }
}

// Route-based tunnels' inside addresses: ours go in the inside tables (decrypted packets for
// them go to the tunnel's TUN device), and each inside prefix is routed into its tunnel, so the
// kernel's packets to the peer's inside address (bgpd, bfdd) are encrypted into it.
void add_inside(const Model& m, Snapshot& s, const std::map<std::string, uint32_t>& tunnel_index,
                std::vector<RouteEntry>& entries) {
  for (const auto& [name, t] : m.tunnels()) {
    if (!t.route_based()) continue;
    const uint32_t if_id = config::tunnel_if_id(name);
    for (const auto& a : t.inside) {
      if (a.address.is_v4()) {
        s.inside4.emplace_back(a.address.v4_host(), if_id);
      } else {
        s.inside6.emplace_back(a.address.bytes, if_id);
      }
      NextHop nh;
      nh.kind = NextHopKind::kTunnel;
      nh.tunnel = tunnel_index.at(name);
      entries.push_back({network_of(a), nh, "tunnel " + name + " inside"});
    }
  }
}

struct RouteCounts {
  size_t n4 = 0;
  size_t n6 = 0;  // other than ::/0
  uint32_t max_depth6 = 0;
};

void count_route(RouteCounts& c, const IpPrefix& p) {
  if (p.address.is_v4()) {
    ++c.n4;
  } else if (p.length != 0) {  // ::/0 is default6, outside the LPM
    ++c.n6;
    c.max_depth6 = std::max<uint32_t>(c.max_depth6, p.length);
  }
}

using SeenPrefixes = std::unordered_map<IpPrefix, size_t, Model::PrefixHash>;  // -> entry index

// The same prefix from two places of the config is a mistake, not a tie to break silently.
RouteCounts check_routes(const std::vector<RouteEntry>& entries, SeenPrefixes& seen) {
  seen.reserve(entries.size());
  RouteCounts c;
  for (size_t i = 0; i < entries.size(); ++i) {
    const RouteEntry& e = entries[i];
    auto [it, fresh] = seen.emplace(e.prefix, i);
    if (!fresh) {
      invalid("route " + e.prefix.to_string() + " (" + e.origin + ") duplicates the one from " +
              entries[it->second].origin);
    }
    count_route(c, e.prefix);
  }
  return c;
}

NextHop next_hop_of(const ResolvedHop& r, const std::map<std::string, uint32_t>& tunnel_index) {
  NextHop nh;
  if (r.tunnel) {
    nh.kind = NextHopKind::kTunnel;
    nh.tunnel = tunnel_index.at(r.tunnel_name);
  } else {
    nh.kind = NextHopKind::kPort;
    nh.port = r.port;
    nh.via_gateway = true;
    nh.gateway = r.gateway;
  }
  return nh;
}

// An FPM route's next hop in this build: its members that resolve now, one path or an ECMP group
// with the route's bucket table (a member that does not resolve hands its buckets to the
// others); nullopt when none resolves (docs/routing.md "Next hops"). A member into a tunnel
// without an outbound SA (its IKE is down: DPD ended it, or it is not up yet) is left out too
// while another member can carry: BGP's hold time (AWS: 30 s) would otherwise keep its share of
// the flows on a tunnel that drops them. With no member that can carry, they all stay (traffic
// into an on-demand tunnel is what starts it).
std::optional<NextHop> fpm_next_hop(const Model& m, const HopResolver& resolver, Snapshot& s,
                                    const IpPrefix& prefix, const FpmRoute& r,
                                    const std::map<std::string, uint32_t>& tunnel_index) {
  auto keyed = [&](const ResolvedHop& h) {
    return !h.tunnel || m.active_outbound().count(h.tunnel_name) != 0;
  };
  const EcmpState* st = m.fpm().ecmp(prefix);
  if (st == nullptr) {
    for (const auto& h : r.hops) {
      if (auto res = resolver.resolve(h)) return next_hop_of(*res, tunnel_index);
    }
    return std::nullopt;
  }
  EcmpGroup g;
  g.members.resize(st->slots.size());
  LaneMap map = st->map;
  std::vector<std::optional<ResolvedHop>> resolved(st->slots.size());
  bool any_keyed = false;
  for (size_t i = 0; i < st->slots.size(); ++i) {
    if (!map.up(static_cast<uint32_t>(i))) continue;
    resolved[i] = resolver.resolve(st->slots[i]);
    any_keyed |= resolved[i] && keyed(*resolved[i]);
  }
  size_t up = 0;
  size_t last = 0;
  for (size_t i = 0; i < st->slots.size(); ++i) {
    if (!map.up(static_cast<uint32_t>(i))) continue;
    const auto& res = resolved[i];
    if (!res || (any_keyed && !keyed(*res))) {
      map.set_up(static_cast<uint32_t>(i), false);
      continue;
    }
    g.members[i] = next_hop_of(*res, tunnel_index);
    g.any_tunnel |= res->tunnel;
    ++up;
    last = i;
  }
  if (up == 0) return std::nullopt;
  if (up == 1) return g.members[last];
  g.buckets = map.buckets();
  NextHop nh;
  nh.kind = NextHopKind::kEcmp;
  nh.tunnel = static_cast<uint32_t>(s.ecmp.size());
  s.ecmp.push_back(std::move(g));
  return nh;
}

// zebra's routes: each prefix's FPM route goes in where no config candidate of a lower or equal
// distance holds the prefix, and replaces one of a higher distance (docs/routing.md "Origin and
// precedence").
// A route into a tunnel must not catch the tunnel's own outer packets (a peer announcing the
// prefix of our remote address over the tunnel): the longest prefix of the config's routes (and
// connected ones) that holds each tunnel's remote address; an FPM route into a tunnel that holds
// one and is longer would route the outer packets into a tunnel, and is left out
// (Snapshot::fpm_recursive) rather than failing the whole build.
std::vector<std::pair<IpAddress, int>> outer_remotes(const Model& m,
                                                     const std::vector<RouteEntry>& entries) {
  std::vector<std::pair<IpAddress, int>> out;
  for (const auto& [name, t] : m.tunnels()) {
    const auto active = m.active_outbound().find(name);
    const IpAddress remote = active != m.active_outbound().end()
                                 ? m.outbound().at(active->second).sa->params().remote
                                 : t.remote;
    out.emplace_back(remote, -1);
  }
  for (const auto& e : entries) {
    for (auto& [a, longest] : out) {
      if (e.prefix.length > longest && e.prefix.contains(a)) longest = e.prefix.length;
    }
  }
  return out;
}

void add_fpm_routes(const Model& m, Snapshot& s,
                    const std::map<std::string, uint32_t>& tunnel_index,
                    std::vector<RouteEntry>& entries, SeenPrefixes& seen, RouteCounts& c) {
  if (m.fpm().size() == 0) return;
  const HopResolver resolver = m.resolver();
  const uint8_t distance = m.fpm_distance();
  const auto remotes = outer_remotes(m, entries);
  auto catches_outer = [&](const IpPrefix& p) {
    return std::any_of(remotes.begin(), remotes.end(),
                       [&](const auto& r) { return p.length > r.second && p.contains(r.first); });
  };
  for (const auto& [prefix, r] : m.fpm().routes()) {
    const auto held = seen.find(prefix);
    if (held != seen.end() && entries[held->second].distance <= distance) continue;
    const std::optional<NextHop> nh = fpm_next_hop(m, resolver, s, prefix, r, tunnel_index);
    if (!nh) continue;
    const bool into_tunnel = nh->kind == NextHopKind::kTunnel ||
                             (nh->kind == NextHopKind::kEcmp && s.ecmp[nh->tunnel].any_tunnel);
    if (into_tunnel && catches_outer(prefix)) {
      if (nh->kind == NextHopKind::kEcmp) s.ecmp.pop_back();  // the group fpm_next_hop made
      ++s.fpm_recursive;
      continue;
    }
    s.fpm_selected.insert(prefix);
    if (held != seen.end()) {
      entries[held->second] = {prefix, *nh, "fpm", distance};
      continue;
    }
    seen.emplace(prefix, entries.size());
    entries.push_back({prefix, *nh, "fpm", distance});
    count_route(c, prefix);
  }
}

// Next hops are shared by the routes that have the same one; the id of each entry's.
std::vector<uint32_t> next_hop_ids(Snapshot& s, const std::vector<RouteEntry>& entries) {
  using NhKey = std::tuple<uint8_t, uint16_t, bool, uint32_t, uint8_t, std::array<uint8_t, 16>>;
  std::map<NhKey, uint32_t> nh_ids;
  // Routes come in runs with the same next hop (a million to one gateway): the last one is
  // remembered.
  std::optional<std::pair<NhKey, uint32_t>> last_nh;
  std::vector<uint32_t> ids;
  ids.reserve(entries.size());
  for (const auto& e : entries) {
    const NextHop& nh = e.nh;
    NhKey key{static_cast<uint8_t>(nh.kind),           nh.port,         nh.via_gateway, nh.tunnel,
              static_cast<uint8_t>(nh.gateway.family), nh.gateway.bytes};
    if (last_nh && last_nh->first == key) {
      ids.push_back(last_nh->second);
      continue;
    }
    auto [it, fresh] = nh_ids.emplace(key, static_cast<uint32_t>(s.nexthops.size()));
    if (fresh) s.nexthops.push_back(nh);
    last_nh.emplace(key, it->second);
    ids.push_back(it->second);
  }
  return ids;
}

// The IPv6 LPM, sized for the routes. rte_lpm6 has a first-level table of 2^24 entries (64 MiB,
// zeroed on every snapshot): made only when an IPv6 route other than ::/0 needs it
// (Snapshot::lookup6 without it: default6 or none).
void create_lpm6(Snapshot& s, const RouteCounts& c, uint64_t generation) {
  if (c.n6 == 0) return;
  rte_lpm6_config c6{};
  c6.max_rules = static_cast<uint32_t>(std::max<size_t>(1024, c.n6 + c.n6 / 4));
  c6.number_tbl8s = static_cast<uint32_t>(
      std::max<size_t>(1024, c.n6 * std::max<uint32_t>(1, (c.max_depth6 + 7) / 8)));
  s.lpm6 =
      rte_lpm6_create(("espgw_lpm6_" + std::to_string(generation)).c_str(), SOCKET_ID_ANY, &c6);
  if (s.lpm6 == nullptr) {
    throw std::runtime_error("cannot create the IPv6 routing table for " + std::to_string(c.n6) +
                             " routes: " + rte_strerror(rte_errno));
  }
}

// IPv6 routes into the LPM as they come; IPv4 routes into one Dir24_8 built from all of them.
void fill_tables(Snapshot& s, const std::vector<RouteEntry>& entries,
                 const std::vector<uint32_t>& ids, size_t n4) {
  std::vector<Dir24_8::Route> v4;
  v4.reserve(n4);
  for (size_t i = 0; i < entries.size(); ++i) {
    const RouteEntry& e = entries[i];
    const uint32_t id = ids[i];
    if (e.prefix.address.is_v4() && e.nh.kind != NextHopKind::kPort) s.tunnel_routes4 = true;
    if (e.prefix.length == 0) {
      (e.prefix.address.is_v4() ? s.default4 : s.default6) = id;
      continue;
    }
    if (e.prefix.address.is_v4()) {
      v4.push_back({e.prefix.address.v4_host(), e.prefix.length, id});
      continue;
    }
    const int rc = rte_lpm6_add(s.lpm6, e.prefix.address.bytes.data(), e.prefix.length, id);
    if (rc != 0) {
      throw std::runtime_error("cannot add route " + e.prefix.to_string() + " (" + e.origin +
                               "): " + rte_strerror(-rc));
    }
  }
  try {
    s.lpm4 = std::make_unique<Dir24_8>(v4, static_cast<uint32_t>(s.nexthops.size()));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot create the IPv4 routing table for " +
                             std::to_string(v4.size()) + " routes: " + e.what());
  }
}

// A packet into an IPv4 tunnel of one lane reads its entry's first line (snapshot.h).
static_assert(offsetof(TunnelEntry, lanes) < 64);

std::vector<std::pair<uint32_t, uint32_t>> v4_pairs(const std::vector<IpPrefix>& v) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& p : v) {
    if (!p.address.is_v4()) continue;
    const uint32_t mask = p.length == 0 ? 0 : ~uint32_t{0} << (32 - p.length);
    out.emplace_back(p.address.v4_host() & mask, mask);
  }
  return out;
}

// Where a tunnel's outer packets leave (the route to its remote, which the routes above must
// already hold), and the inner MTU and MSS that fit that way out.
void resolve_egress(const Model& m, const Snapshot& s, const config::Tunnel& t, const esp::Sa* out,
                    TunnelEntry& te) {
  // The outer packets go where the SA in use says (IKE may have moved it: MOBIKE, a NAT
  // mapping), else to the tunnel's configured remote.
  const IpAddress remote = out ? out->params().remote : t.remote;
  te.remote = remote;
  const NextHop* nh = remote.is_v4() ? s.lookup4(remote.v4_host()) : s.lookup6(remote.bytes.data());
  if (nh == nullptr) {
    invalid("tunnel " + t.name + ": no route to its remote address " + remote.to_string());
  }
  if (nh->kind != NextHopKind::kPort) {
    invalid("tunnel " + t.name + ": the route to its remote address " + remote.to_string() +
            " goes into a tunnel");
  }
  te.egress_port = nh->port;
  te.egress_via_gateway = nh->via_gateway;
  te.egress_gateway = nh->gateway;
  te.out_v4 = remote.is_v4();
  if (te.out_v4) te.next4 = (nh->via_gateway ? nh->gateway : remote).v4_host();
  // With no SA yet, size for the largest overhead we support (AES-CBC + HMAC-SHA-512).
  const esp::Algorithm worst{esp::Cipher::kAesCbc, 32, esp::Integrity::kHmacSha512_256};
  const esp::Algorithm& alg = out ? out->algorithm() : worst;
  const uint16_t derived =
      tunnel_inner_mtu(m.ports()[nh->port].mtu, alg, t.nat_t, t.remote.is_v6());
  te.inner_mtu = t.mtu ? std::min(*t.mtu, derived) : derived;
  te.mss4 = t.mss ? *t.mss : static_cast<uint16_t>(te.inner_mtu - 40);
  te.mss6 = t.mss ? *t.mss : static_cast<uint16_t>(te.inner_mtu - 60);
}

// A tunnel of several lanes: each lane's SA in use and the bucket table over the lanes up.
void add_lanes(const Model& m, const config::Tunnel& t, TunnelEntry& te) {
  if (t.lanes == 1) return;
  te.lane_out.assign(t.lanes, nullptr);
  te.lanes = true;
  if (auto per_lane = m.lane_outbound().find(t.name); per_lane != m.lane_outbound().end()) {
    for (size_t lane = 0; lane < per_lane->second.size() && lane < t.lanes; ++lane) {
      const uint32_t spi = per_lane->second[lane];
      if (spi != 0) te.lane_out[lane] = m.outbound().at(spi).sa.get();
    }
  }
  auto map = m.lane_maps().find(t.name);
  te.buckets = std::make_shared<const LaneBuckets>(
      map != m.lane_maps().end() ? map->second.buckets() : LaneMap(t.lanes).buckets());
}

void add_tunnels(const Model& m, Snapshot& s) {
  s.tunnels.reserve(m.tunnels().size());
  for (const auto& [name, t] : m.tunnels()) {
    TunnelEntry te;
    te.name = name;
    te.local = t.local;
    te.local_cidrs = t.local_cidrs;
    te.remote_cidrs = t.remote_cidrs;
    if (t.ike) te.acquire_if_id = config::tunnel_if_id(name);
    te.sel4 = v4_pairs(t.local_cidrs);
    te.nlocal4 = static_cast<uint32_t>(te.sel4.size());
    const auto remote4 = v4_pairs(t.remote_cidrs);
    te.sel4.insert(te.sel4.end(), remote4.begin(), remote4.end());
    te.one4 = te.nlocal4 == 1 && remote4.size() == 1;
    if (te.one4) {
      te.one_local4 = te.sel4[0];
      te.one_remote4 = te.sel4[1];
    }
    if (t.nat_t &&
        std::find(s.natt_ports.begin(), s.natt_ports.end(), t.local_port) == s.natt_ports.end()) {
      s.natt_ports.push_back(t.local_port);
    }
    const esp::Sa* out = nullptr;
    if (auto a = m.active_outbound().find(name); a != m.active_outbound().end()) {
      out = m.outbound().at(a->second).sa.get();
      te.outbound = m.outbound().at(a->second).sa.get();
    }
    resolve_egress(m, s, t, out, te);
    add_lanes(m, t, te);
    if (!te.lane_out.empty()) s.lane_tunnels.push_back(static_cast<uint32_t>(s.tunnels.size()));
    s.tunnels.push_back(std::move(te));
  }
}

void add_sas(const Model& m, Snapshot& s, const std::map<std::string, uint32_t>& tunnel_index) {
  std::vector<std::pair<uint32_t, InboundEntry>> in;
  for (const auto& [spi, rec] : m.inbound()) {
    in.emplace_back(spi, InboundEntry{rec.sa.get(), tunnel_index.at(rec.tunnel)});
    s.sa_refs.push_back(rec.sa);
  }
  for (const auto& [spi, rec] : m.outbound())
    s.sa_refs.push_back(rec.sa);
  s.inbound = FlatMap<uint32_t, InboundEntry, U32Hash>(in);
}

}  // namespace

std::unique_ptr<Snapshot> build_snapshot(const Model& model,
                                         const std::map<std::string, std::string>& routed_by,
                                         uint64_t generation) {
  auto s = std::make_unique<Snapshot>();
  s->generation = generation;
  s->natt_ports.push_back(4500);
  std::map<std::string, uint32_t> tunnel_index;  // the tunnels' order in s->tunnels
  for (const auto& [name, t] : model.tunnels()) {
    tunnel_index[name] = static_cast<uint32_t>(tunnel_index.size());
  }

  std::vector<RouteEntry> entries;
  add_port_routes(model, *s, entries);
  add_static_routes(model, tunnel_index, entries);
  add_tunnel_routes(model, routed_by, tunnel_index, entries);
  add_inside(model, *s, tunnel_index, entries);
  SeenPrefixes seen;
  RouteCounts counts = check_routes(entries, seen);
  add_fpm_routes(model, *s, tunnel_index, entries, seen, counts);
  // Next hop ids first: their number picks the IPv4 table's entry width.
  const std::vector<uint32_t> ids = next_hop_ids(*s, entries);
  create_lpm6(*s, counts, generation);
  fill_tables(*s, entries, ids, counts.n4);

  add_tunnels(model, *s);
  add_sas(model, *s, tunnel_index);
  return s;
}

}  // namespace espgw::dp
