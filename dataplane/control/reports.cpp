// The reports: what the control socket's reading commands answer (docs/control-protocol.md#reading)
// and DPDK telemetry flattens (telemetry.cpp). Each takes lock_ for the model; the workers'
// counters are read without it.

#include <rte_ethdev.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/hex.h"
#include "common/version.h"
#include "dataplane/control/app.h"

namespace espgw::dp {

using nlohmann::json;

json App::everything() {
  return {{"status", status()},
          {"ports", port_counters()},
          {"workers", worker_counters()},
          {"drops", drop_counters()},
          {"neighbour_resolution", neighbour_counters()},
          {"sas", sa_list()},
          {"tunnels", tunnel_list()},
          {"routes", route_list()},
          {"neighbours", neighbour_list()},
          {"peers", peer_list()}};
}

json App::status() {
  std::lock_guard guard(lock_);
  json ports = json::array();
  for (const auto& p : rt_.ports)
    ports.push_back(p.name);
  return {{"version", kVersion},
          {"commit", kCommit},
          {"workers", rt_.workers},
          {"crypto", workers_.empty() ? "" : workers_[0]->crypto->describe()},
          {"interfaces", ports},
          {"generation", generation_},
          {"tunnels", model_->tunnels().size()},
          {"inbound_sas", model_->inbound().size()},
          {"outbound_sas", model_->outbound().size()},
          {"packets", handled_packets()},
          {"fpm", fpm_status()},
          {"sa_state", sa_state_status()},
          {"kernel_interfaces", kernel_interface_status()},
          {"control_socket", control_socket_status()}};
}

// The exception taps' kernel interfaces as check_kernel_interfaces() (control_loop.cpp) last
// found them, by port name.
json App::kernel_interface_status() const {
  json out = json::object();
  for (size_t i = 0; i < rt_.ports.size() && i < kernel_interfaces_.size(); ++i) {
    const Port& p = rt_.ports[i];
    if (p.kernel_name.empty()) continue;
    const KernelInterface& k = kernel_interfaces_[i];
    const char* state = !k.present ? "gone" : k.up ? "up" : "down";
    json j = {{"name", p.kernel_name},
              {"state", state},
              {"dressed", k.dressed},
              {"went_down", k.went_down},
              {"redressed", k.redressed}};
    if (!k.error.empty()) j["error"] = k.error;
    out[p.name] = std::move(j);
  }
  return out;
}

// The control socket's clients and what its limits did (protocol/line_server.h,
// docs/control-protocol.md#limits).
json App::control_socket_status() const {
  return server_ ? server_->status() : json::object();
}

json App::port_counters() {
  json out = json::object();
  for (const auto& p : rt_.ports) {
    uint64_t v[6] = {};
    for (const auto& w : workers_) {
      const PortCounters& c = w->port_counters[p.index];
      v[0] += c.rx_packets.get();
      v[1] += c.rx_bytes.get();
      v[2] += c.tx_packets.get();
      v[3] += c.tx_bytes.get();
      v[4] += c.to_kernel.get();
      v[5] += c.from_kernel.get();
    }
    rte_eth_stats st{};
    rte_eth_stats_get(p.port_id, &st);
    out[p.name] = {{"rx_packets", v[0]},          {"rx_bytes", v[1]},
                   {"tx_packets", v[2]},          {"tx_bytes", v[3]},
                   {"to_kernel", v[4]},           {"from_kernel", v[5]},
                   {"nic_rx_missed", st.imissed}, {"nic_rx_errors", st.ierrors},
                   {"nic_tx_errors", st.oerrors}};
  }
  return out;
}

json App::worker_counters() {
  json out = json::object();
  for (const auto& w : workers_) {
    const WorkerCounters& c = w->counters;
    const uint64_t total = c.total_tsc.get();
    out[std::to_string(w->index)] = {{"lcore", lcores_[w->index]},
                                     {"loops", c.loops.get()},
                                     {"busy_loops", c.busy_loops.get()},
                                     {"busy_percent", total ? c.busy_tsc.get() * 100 / total : 0},
                                     {"busy_tsc", c.busy_tsc.get()},
                                     {"total_tsc", total},
                                     {"tsc_hz", rt_.tsc_hz},
                                     {"packets", c.packets.get()},
                                     {"icmp_sent", c.icmp_sent.get()},
                                     {"icmp_suppressed", c.icmp_suppressed.get()},
                                     {"fragments", c.fragments.get()},
                                     {"mss_clamped", c.mss_clamped.get()},
                                     {"arp_nd_replies", c.arp_replies.get()},
                                     {"held_for_neighbour", c.held.get()},
                                     {"to_inside", c.to_inside.get()},
                                     {"from_inside", c.from_inside.get()},
                                     {"esn_resyncs", w->engine.esn_resyncs()},
                                     {"keepalives_out", w->engine.keepalives_out()},
                                     {"keepalives_in", w->engine.keepalives_in()}};
  }
  return out;
}

json App::drop_counters() {
  std::lock_guard guard(lock_);
  json out = json::object();
  for (size_t r = 1; r < kDropReasonCount; ++r) {
    const auto reason = static_cast<DropReason>(r);
    uint64_t n = neighbours_ ? neighbours_->drops()[reason] : 0;
    for (const auto& w : workers_)
      n += w->drops[reason] + w->engine.drops()[reason];
    out[std::string(drop_reason_name(reason))] = n;
  }
  return out;
}

json App::sa_list(std::optional<uint32_t> only_spi, bool with_state) {
  std::lock_guard guard(lock_);
  json out = json::array();
  auto add = [&](const SaRecord& rec, bool inbound) {
    const esp::Sa& sa = *rec.sa;
    if (only_spi && *only_spi != sa.spi()) return;
    json drops = json::object();
    for (size_t r = 1; r < kDropReasonCount; ++r) {
      const uint64_t n = sa.drops(static_cast<DropReason>(r));
      if (n) drops[std::string(drop_reason_name(static_cast<DropReason>(r)))] = n;
    }
    const auto& p = sa.params();
    json j = {{"spi", spi_hex(sa.spi())},
              {"direction", inbound ? "in" : "out"},
              {"tunnel", rec.tunnel},
              {"origin", rec.origin == SaOrigin::kIke      ? "ike"
                         : rec.origin == SaOrigin::kConfig ? "config"
                                                           : "control"},
              {"algorithm", sa.algorithm().name()},
              {"esn", p.esn},
              {"nat_t", p.udp_encap},
              {"local", p.local.to_string()},
              {"remote", p.remote.to_string()},
              {"packets", sa.packets()},
              {"bytes", sa.bytes()},
              {"last_use_ns", sa.last_use_ns()},
              {"keepalives", sa.keepalives()},
              {"lane", rec.lane},
              {"drops", drops}};
    // Its byte and packet lifetimes, those set (sa-add, the plugin: charon's life_bytes and
    // life_packets); espgw-exporter turns them into espgw_sa_lifetime_used_ratio.
    const SaLifetime& life = rec.lifetime;
    for (const auto& [key, value] :
         {std::pair{"soft_bytes", life.soft_bytes}, std::pair{"hard_bytes", life.hard_bytes},
          std::pair{"soft_packets", life.soft_packets},
          std::pair{"hard_packets", life.hard_packets}}) {
      if (value) j[key] = value;
    }
    if (p.udp_encap) {  // NAT-T ports: a NAT mapping change moves them (sa-update)
      j["local_port"] = p.local_port;
      j["remote_port"] = p.remote_port;
    }
    if (inbound) {
      j["replay_window"] = sa.replay().size();
      j["highest_seq"] = sa.replay().top();
      // Its state as sa-add takes it back (docs/sa-state.md): seq, and with the state asked
      // for, the replay bitmap below it.
      if (with_state) {
        uint64_t top = 0;
        const std::vector<uint8_t> seen = sa.replay().snapshot(&top);
        j["seq"] = top;
        j["replay_bitmap"] = to_hex(seen);
      } else {
        j["seq"] = sa.replay().top();
      }
      // The worker that writes its replay window (dataplane/esp/sa.h), absent before the first
      // packet (DPDK telemetry, which mirrors this report, has no null); owner_moves: how often
      // another worker took it over.
      if (sa.owner() != esp::kNoOwner) j["worker"] = sa.owner();
      j["owner_moves"] = sa.owner_moves();
    } else {
      j["next_seq"] = sa.next_seq();
      j["oseq"] = sa.next_seq() - 1;  // the last sent, as sa-add takes it (docs/sa-state.md)
      j["stopped"] = sa.stopped();
      // In use: its lane's SA in use (one lane: the tunnel's).
      auto a = model_->lane_outbound().find(rec.tunnel);
      j["in_use"] = a != model_->lane_outbound().end() && rec.lane < a->second.size() &&
                    a->second[rec.lane] == sa.spi();
      j.update(peer_sa_members(*model_, rec.tunnel));
    }
    out.push_back(std::move(j));
  };
  for (const auto& [spi, rec] : model_->inbound())
    add(rec, true);
  for (const auto& [spi, rec] : model_->outbound())
    add(rec, false);
  return out;
}

namespace {

// What `tunnels` shows of a lane's SAs: its newest inbound SA, and the counters of every SA the
// lane has now (an SA removed after a rekey takes its counts with it).
struct LaneSas {
  const SaRecord* newest_in = nullptr;
  uint64_t packets_in = 0, bytes_in = 0, packets_out = 0, bytes_out = 0;
};

// Each tunnel's lanes' SAs, in one pass over the SA tables.
std::map<std::string, std::vector<LaneSas>> lane_sas(const Model& m) {
  std::map<std::string, std::vector<LaneSas>> out;
  auto at = [&](const SaRecord& rec) -> LaneSas& {
    auto& lanes = out[rec.tunnel];
    if (lanes.size() <= rec.lane) lanes.resize(rec.lane + 1u);
    return lanes[rec.lane];
  };
  for (const auto& [spi, rec] : m.inbound()) {
    LaneSas& l = at(rec);
    l.packets_in += rec.sa->packets();
    l.bytes_in += rec.sa->bytes();
    if (!l.newest_in || rec.installed > l.newest_in->installed) l.newest_in = &rec;
  }
  for (const auto& [spi, rec] : m.outbound()) {
    LaneSas& l = at(rec);
    l.packets_out += rec.sa->packets();
    l.bytes_out += rec.sa->bytes();
  }
  return out;
}

json spi_or_null(const esp::Sa* sa) {
  return sa ? json(spi_hex(sa->spi())) : json(nullptr);
}

// A tunnel's lanes (docs/lanes.md, docs/control-protocol.md#reading): each lane's state, SAs in
// use, outer UDP ports, decrypting worker, counters and share of the buckets. outbound_spi ("":
// none) is spi_out's older spelling.
json lane_list(const TunnelEntry& te, const Model& m,
               const std::map<std::string, std::vector<LaneSas>>& sas) {
  json out = json::array();
  const bool one = te.lane_out.empty();  // one lane: the tunnel's SA, every bucket
  const size_t lanes = one ? 1 : te.lane_out.size();
  static const LaneBuckets kOneLane{};  // a tunnel of one lane: every bucket on lane 0
  const auto buckets = lane_loads(te.buckets ? *te.buckets : kOneLane);
  const auto per_lane = sas.find(te.name);
  for (size_t lane = 0; lane < lanes; ++lane) {
    const esp::Sa* sa_out = one ? te.outbound : te.lane_out[lane];
    const LaneSas l = per_lane != sas.end() && lane < per_lane->second.size()
                          ? per_lane->second[lane]
                          : LaneSas{};
    const esp::Sa* sa_in = l.newest_in ? l.newest_in->sa.get() : nullptr;
    json j = {
        {"lane", lane},
        {"state", lane_state_name(m.lane_state(te.name, static_cast<uint8_t>(lane)))},
        {"outbound_spi", sa_out ? spi_hex(sa_out->spi()) : ""},
        {"spi_out", spi_or_null(sa_out)},
        {"spi_in", spi_or_null(sa_in)},
        {"sport", nullptr},
        {"dport", nullptr},
        {"worker", sa_in && sa_in->owner() != esp::kNoOwner ? json(sa_in->owner()) : json(nullptr)},
        {"packets_in", l.packets_in},
        {"bytes_in", l.bytes_in},
        {"packets_out", l.packets_out},
        {"bytes_out", l.bytes_out},
        {"buckets", one ? kLaneBuckets : buckets[lane]}};
    if (sa_out && sa_out->params().udp_encap) {  // ESP in UDP: the lane's outer flow
      j["sport"] = sa_out->params().local_port;
      j["dport"] = sa_out->params().remote_port;
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

// A route-based tunnel's inside interface (inside_interfaces.h): its name and addresses, and the
// packets it carried; nothing for other tunnels. "inside_interface_up" is false where the device
// could not be made (a tunnel added at run time; espgw's log says why).
void App::add_inside(json& tunnel, const std::string& name) const {
  auto t = model_->tunnels().find(name);
  if (t == model_->tunnels().end() || !t->second.route_based()) return;
  json addresses = json::array();
  for (const auto& a : t->second.inside)
    addresses.push_back(a.to_string());
  tunnel["inside"] = addresses;
  const InsideInterfaces::Device* d = inside_ ? inside_->find(name) : nullptr;
  tunnel["inside_interface"] = d ? d->name
                               : t->second.inside_interface.empty()
                                   ? config::inside_interface_name(name)
                                   : t->second.inside_interface;
  tunnel["inside_interface_up"] = d != nullptr;
  const InsideInterfaces::Counters c = d ? d->counters : InsideInterfaces::Counters{};
  tunnel["inside_packets"] = {{"to_kernel", c.to_kernel_packets},
                              {"to_kernel_bytes", c.to_kernel_bytes},
                              {"to_kernel_errors", c.to_kernel_errors},
                              {"from_kernel", c.from_kernel_packets},
                              {"from_kernel_bytes", c.from_kernel_bytes},
                              {"from_kernel_dropped", c.from_kernel_dropped},
                              {"from_kernel_ignored", c.from_kernel_ignored}};
}

json App::tunnel_list() {
  std::lock_guard guard(lock_);
  json out = json::array();
  const Snapshot* s = rt_.tables.get();
  const auto sas = lane_sas(*model_);
  for (const auto& te : s->tunnels) {
    json lc = json::array();
    json rc = json::array();
    for (const auto& c : te.local_cidrs)
      lc.push_back(c.to_string());
    for (const auto& c : te.remote_cidrs)
      rc.push_back(c.to_string());
    out.push_back({{"name", te.name},
                   {"local", te.local.to_string()},
                   {"remote", te.remote.to_string()},
                   {"egress", rt_.ports[te.egress_port].name},
                   {"inner_mtu", te.inner_mtu},
                   {"mss", te.mss4},
                   {"outbound_spi", te.outbound ? spi_hex(te.outbound->spi()) : ""},
                   {"acquires", acquire_count(te.name)},
                   {"liveness_checks", liveness_.sent(te.name)},
                   {"lanes_silenced", lane_watch_.silenced(te.name)},
                   {"lanes_revived", lane_watch_.revived(te.name)},
                   {"local_cidrs", lc},
                   {"remote_cidrs", rc},
                   {"lanes", lane_list(te, *model_, sas)}});
    add_inside(out.back(), te.name);
  }
  return out;
}

namespace {

// An FPM route's next hops as resolved now, with each ECMP member's bucket count (as the build
// makes them: a member that does not resolve hands its buckets to the others).
json fpm_next_hops(const Model& m, const HopResolver& resolver, const IpPrefix& prefix,
                   const FpmRoute& r) {
  json out = json::array();
  const EcmpState* st = m.fpm().ecmp(prefix);
  const std::vector<routing::NextHop>& hops = st ? st->slots : r.hops;
  std::optional<LaneMap> map;
  if (st) map = st->map;
  std::vector<std::optional<ResolvedHop>> res;
  for (size_t i = 0; i < hops.size(); ++i) {
    const bool named = st ? map->up(static_cast<uint32_t>(i)) : true;
    res.push_back(named ? resolver.resolve(hops[i]) : std::nullopt);
    if (st && named && !res.back()) map->set_up(static_cast<uint32_t>(i), false);
  }
  const auto loads = map ? map->load() : std::array<uint32_t, kMaxLanes>{};
  for (size_t i = 0; i < hops.size(); ++i) {
    if (st && !map->up(static_cast<uint32_t>(i)) && !res[i]) {
      // A member the route no longer names: kept as a slot so that it takes its buckets back.
      if (std::find(r.hops.begin(), r.hops.end(), hops[i]) == r.hops.end()) continue;
    }
    json h = json::object();
    h["gateway"] = hops[i].gateway ? json(hops[i].gateway->to_string()) : json(nullptr);
    h["ifindex"] = hops[i].ifindex;
    if (res[i]) {
      h["resolved"] = true;
      h["by"] = res[i]->how;
      if (res[i]->tunnel) {
        h["tunnel"] = res[i]->tunnel_name;
      } else {
        h["interface"] = m.ports()[res[i]->port].name;
        h["via"] = res[i]->gateway.to_string();
      }
    } else {
      h["resolved"] = false;
    }
    if (st) h["buckets"] = loads[i];
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace

// Every candidate route (docs/control-protocol.md "routes"): its origin and distance, whether the
// tables use it ("selected": the lowest distance for the prefix wins, a config candidate on a
// tie; an FPM route whose next hops do not resolve, or that would catch a tunnel's outer packets,
// is not used: as the published snapshot installed them), and its next hops.
json App::route_list() {
  std::lock_guard guard(lock_);
  const HopResolver resolver = model_->resolver();
  const uint8_t fpm_distance = model_->fpm_distance();
  const auto& fpm_selected = rt_.tables.get()->fpm_selected;
  // A config candidate loses its prefix only to an FPM route the build installed over it.
  auto fpm_wins = [&](const IpPrefix& p) { return fpm_selected.count(p) != 0; };
  json out = json::array();
  for (const auto& p : model_->ports()) {
    for (const auto& a : p.addresses) {
      out.push_back({{"prefix", a.to_string()},
                     {"interface", p.name},
                     {"origin", "connected"},
                     {"distance", kConnectedDistance},
                     {"selected", true}});
    }
  }
  model_->routes().for_each([&](const IpPrefix& prefix, const RouteList::Hop& r) {
    json j = {{"prefix", prefix.to_string()},
              {"origin", "static"},
              {"distance", kConfigDistance},
              {"selected", !fpm_wins(prefix)}};
    if (r.tunnel.empty()) {
      j["interface"] = r.interface;
    } else {
      j["tunnel"] = r.tunnel;
    }
    if (r.via) j["via"] = r.via->to_string();
    out.push_back(j);
  });
  for (const auto& [name, t] : model_->tunnels()) {
    // A route-based tunnel's inside prefixes go into it (the kernel's BGP and BFD to the peer's
    // inside address); written with our address, as a port's connected prefix is.
    for (const auto& a : t.inside) {
      out.push_back({{"prefix", a.to_string()},
                     {"tunnel", name},
                     {"origin", "inside"},
                     {"distance", kConfigDistance},
                     {"selected", true}});
    }
    if (t.route_based()) continue;  // its remote_cidrs are selectors, not routes
    for (const auto& c : t.remote_cidrs) {
      json j = {{"prefix", c.to_string()},
                {"tunnel", name},
                {"origin", "tunnel"},
                {"distance", kConfigDistance},
                {"selected", !fpm_wins(c)}};
      j.update(peer_route_members(*model_, name));
      if (j.value("state", "") == "backup") j["selected"] = false;  // the peer's other tunnel
      out.push_back(std::move(j));
    }
  }
  if (model_->fpm().size() != 0) {
    std::vector<std::pair<std::string, json>> fpm;
    for (const auto& [prefix, r] : model_->fpm().routes()) {
      json hops = fpm_next_hops(*model_, resolver, prefix, r);
      json j = {{"prefix", prefix.to_string()},
                {"origin", "fpm"},
                {"distance", fpm_distance},
                {"selected", fpm_wins(prefix)},
                {"protocol", r.protocol},
                {"stale", r.stale},
                {"ecmp", model_->fpm().ecmp(prefix) != nullptr && hops.size() > 1},
                {"next_hops", std::move(hops)}};
      fpm.emplace_back(prefix.to_string(), std::move(j));
    }
    std::sort(fpm.begin(), fpm.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [key, j] : fpm)
      out.push_back(std::move(j));
  }
  return out;
}

json App::neighbour_list() {
  std::lock_guard guard(lock_);
  json out = json::array();
  for (const auto& n : neighbours_->list()) {
    out.push_back({{"address", n.ip.to_string()},
                   {"interface", n.port < rt_.ports.size() ? rt_.ports[n.port].name : ""},
                   {"mac", config::mac_to_string(n.mac)},
                   {"state", n.state}});
  }
  return out;
}

// requests: ARP requests and neighbour solicitations sent (resolutions, their retries, probes of
// aged and remembered entries); resolved: entries learned or changed; failed: resolutions that
// ran out of retries; released: held packets sent on once resolved.
json App::neighbour_counters() {
  std::lock_guard guard(lock_);
  const auto& c = neighbours_->counters();
  return {{"requests", c.requests},
          {"resolved", c.resolved},
          {"failed", c.failed},
          {"released", c.released}};
}

json App::peer_list() {
  std::lock_guard guard(lock_);
  return peer_tracker_.report(*model_, PeerClock::now());
}

}  // namespace espgw::dp
