#include "metrics/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "common/version.h"

namespace espgw::metrics {

using nlohmann::json;

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char b[64];
  // Integers up to 2^53 exactly as integers (counters), others with full precision.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    std::snprintf(b, sizeof b, "%.0f", v);
  } else {
    std::snprintf(b, sizeof b, "%.17g", v);
  }
  return b;
}

void Exposition::declare(const std::string& name, Type type, const std::string& help) {
  for (const auto& f : families_) {
    if (f.name == name) return;
  }
  families_.push_back({name, type, help, {}});
}

void Exposition::sample(const std::string& name, const Labels& labels, double value) {
  for (auto& f : families_) {
    if (f.name != name) continue;
    std::string s = name;
    if (!labels.empty()) {
      s += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) s += ',';
        s += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
      }
      s += '}';
    }
    s += ' ' + format_value(value);
    f.samples.push_back(std::move(s));
    return;
  }
  throw std::logic_error("metric family not declared: " + name);
}

std::string Exposition::render() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + (f.type == Type::kCounter ? " counter\n" : " gauge\n");
    for (const auto& s : f.samples)
      out += s + "\n";
  }
  return out;
}

namespace {

using Type = Exposition::Type;

double num(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  return 0;
}

std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.is_null() ? "" : v.dump();
}

// How much of an SA's hard lifetime is used, per limit it has: bytes and packets (the SA's
// hard_bytes, hard_packets) and, for an outbound SA without ESN, its 2^32 sequence numbers.
void sa_lifetime_used(Exposition& e, const Labels& l, const json& sa) {
  auto ratio = [&](const char* limit, double used, double hard) {
    if (hard <= 0) return;
    Labels with_limit = l;
    with_limit.emplace_back("limit", limit);
    e.sample("espgw_sa_lifetime_used_ratio", with_limit, used / hard);
  };
  ratio("bytes", num(sa.value("bytes", json())), num(sa.value("hard_bytes", json())));
  ratio("packets", num(sa.value("packets", json())), num(sa.value("hard_packets", json())));
  if (sa.value("direction", json()) == "out" && sa.value("esn", json()) == false &&
      sa.contains("next_seq")) {
    ratio("sequence", num(sa["next_seq"]) - 1, 4294967295.0);
  }
}

struct Field {
  const char* key;
  const char* name;
  Type type;
  const char* help;
};

constexpr Field kPortFields[] = {
    {"rx_packets", "espgw_port_rx_packets_total", Type::kCounter,
     "Packets received on the port, counted by the workers."},
    {"rx_bytes", "espgw_port_rx_bytes_total", Type::kCounter,
     "Bytes received on the port, counted by the workers."},
    {"tx_packets", "espgw_port_tx_packets_total", Type::kCounter,
     "Packets sent on the port, counted by the workers."},
    {"tx_bytes", "espgw_port_tx_bytes_total", Type::kCounter,
     "Bytes sent on the port, counted by the workers."},
    {"to_kernel", "espgw_port_to_kernel_packets_total", Type::kCounter,
     "Packets handed to the kernel through the port's exception path."},
    {"from_kernel", "espgw_port_from_kernel_packets_total", Type::kCounter,
     "Packets the kernel sent out through the port's exception path."},
    {"nic_rx_missed", "espgw_port_nic_rx_missed_packets_total", Type::kCounter,
     "Packets the NIC dropped for lack of RX descriptors (rte_eth_stats imissed)."},
    {"nic_rx_errors", "espgw_port_nic_rx_errors_total", Type::kCounter,
     "Receive errors reported by the NIC."},
    {"nic_tx_errors", "espgw_port_nic_tx_errors_total", Type::kCounter,
     "Transmit errors reported by the NIC."},
};

constexpr Field kWorkerFields[] = {
    {"packets", "espgw_worker_packets_total", Type::kCounter, "Packets handled by the worker."},
    {"loops", "espgw_worker_loops_total", Type::kCounter, "Poll loops of the worker."},
    {"busy_loops", "espgw_worker_busy_loops_total", Type::kCounter,
     "Poll loops that found packets."},
    {"fragments", "espgw_worker_fragments_total", Type::kCounter,
     "Fragments made before encryption."},
    {"mss_clamped", "espgw_worker_mss_clamped_total", Type::kCounter,
     "TCP SYNs whose MSS was clamped."},
    {"icmp_sent", "espgw_worker_icmp_sent_total", Type::kCounter,
     "ICMP errors sent (time exceeded, fragmentation needed)."},
    {"icmp_suppressed", "espgw_worker_icmp_suppressed_total", Type::kCounter,
     "ICMP errors not sent because of the rate limit."},
    {"arp_nd_replies", "espgw_worker_arp_nd_replies_total", Type::kCounter,
     "ARP and neighbour advertisements answered by the worker."},
    {"held_for_neighbour", "espgw_worker_held_for_neighbour_packets_total", Type::kCounter,
     "Packets held while their next hop was being resolved."},
    {"esn_resyncs", "espgw_worker_esn_resyncs_total", Type::kCounter,
     "ESN re-synchronisations (RFC 4303 Appendix A3)."},
};

// `peers` of the control socket (dataplane/control/peer_state.h): which tunnel of each peer
// carries its traffic. An espgw without the `peers` member (older) gives no series.
void peer_metrics(Exposition& e, const json& peers) {
  if (!peers.is_array()) return;
  e.declare("espgw_peer_tunnel_active", Type::kGauge,
            "1 for the tunnel of the peer that carries its traffic, 0 for its other tunnels "
            "(all 0: no tunnel of the peer is up).");
  e.declare("espgw_peer_tunnel_moves_total", Type::kCounter,
            "Changes of the peer's tunnel in use, to and from none included (not the first "
            "tunnel after start-up).");
  e.declare("espgw_peer_active_since_seconds", Type::kGauge,
            "Unix time of the last change of the peer's tunnel in use (start-up if none yet).");
  for (const auto& p : peers) {
    if (!p.is_object()) continue;
    const std::string peer = text(p.value("name", json()));
    const json in_use = p.value("tunnel_in_use", json());
    for (const auto& t : p.value("tunnels", json::array())) {
      const std::string tunnel = text(t.value("name", json()));
      e.sample("espgw_peer_tunnel_active", {{"peer", peer}, {"tunnel", tunnel}},
               in_use.is_string() && in_use.get<std::string>() == tunnel ? 1 : 0);
    }
    e.sample("espgw_peer_tunnel_moves_total", {{"peer", peer}}, num(p.value("moves", json())));
    e.sample("espgw_peer_active_since_seconds", {{"peer", peer}},
             num(p.value("since_unix", json())));
  }
}

// Each lane of the tunnels of several lanes (`tunnels[].lanes`, docs/control-protocol.md#reading),
// up to kMaxLaneSeries lanes; a one-lane tunnel adds nothing (its tunnel and SA series say it all).
void lane_metrics(Exposition& e, const json& tunnels) {
  e.declare("espgw_lane_up", Type::kGauge,
            "1 when the lane of a tunnel of several lanes carries its flows (state up), 0 when "
            "it has no outbound SA or is silent (its flows ride the other lanes).");
  e.declare("espgw_lane_packets_total", Type::kCounter,
            "Packets of the lane's SAs, by direction (an SA removed after a rekey takes its "
            "counts with it: the counter restarts).");
  e.declare("espgw_lane_bytes_total", Type::kCounter,
            "Bytes of the lane's SAs, by direction (restarts as espgw_lane_packets_total).");
  e.declare("espgw_lane_series_omitted", Type::kGauge,
            "Lanes left out of the espgw_lane_* series this scrape: beyond the exporter's cap of " +
                std::to_string(kMaxLaneSeries) + " lanes.");
  size_t shown = 0;
  size_t omitted = 0;
  for (const auto& t : tunnels) {
    const json lanes = t.value("lanes", json::array());
    if (!lanes.is_array() || lanes.size() < 2) continue;
    const std::string tunnel = text(t.value("name", json()));
    for (const auto& l : lanes) {
      if (shown == kMaxLaneSeries) {
        ++omitted;
        continue;
      }
      ++shown;
      const std::string lane = text(l.value("lane", json()));
      e.sample("espgw_lane_up", {{"tunnel", tunnel}, {"lane", lane}},
               l.value("state", "") == "up" ? 1 : 0);
      for (const char* dir : {"in", "out"}) {
        const Labels ld{{"tunnel", tunnel}, {"lane", lane}, {"direction", dir}};
        e.sample("espgw_lane_packets_total", ld,
                 num(l.value(std::string("packets_") + dir, json())));
        e.sample("espgw_lane_bytes_total", ld, num(l.value(std::string("bytes_") + dir, json())));
      }
    }
  }
  e.sample("espgw_lane_series_omitted", {}, static_cast<double>(omitted));
}

// status.fpm (docs/control-protocol.md "status"): zebra's FPM connection, the routes it gave, and
// its counters by reason. Nothing when routing.fpm is off.
void fpm_metrics(Exposition& e, const json& fpm) {
  if (!fpm.is_object() || !fpm.value("enabled", false)) return;
  e.declare("espgw_fpm_connected", Type::kGauge, "1 while zebra's FPM connection is open.");
  e.sample("espgw_fpm_connected", {}, num(fpm.value("connected", json())));
  e.declare("espgw_fpm_routes", Type::kGauge,
            "Routes espgw holds from FPM (installed or not: see espgw_fpm_refused_total).");
  e.sample("espgw_fpm_routes", {}, num(fpm.value("routes", json())));
  e.declare("espgw_fpm_stale_routes", Type::kGauge,
            "FPM routes not named again since zebra reconnected (swept when the grace period "
            "of the close ends).");
  e.sample("espgw_fpm_stale_routes", {}, num(fpm.value("stale", json())));
  e.declare("espgw_fpm_grace_left_seconds", Type::kGauge,
            "Time left before the FPM routes go, after the connection closed (0: none running).");
  e.sample("espgw_fpm_grace_left_seconds", {}, num(fpm.value("grace_left_ms", json())) / 1000.0);
  e.declare("espgw_fpm_connections_total", Type::kCounter, "FPM connections accepted.");
  e.sample("espgw_fpm_connections_total", {}, num(fpm.value("connections", json())));
  e.declare("espgw_fpm_disconnects_total", Type::kCounter,
            "FPM connections that ended, by reason.");
  for (const auto& [key, reason] :
       {std::pair{"closed_by_peer", "peer"}, std::pair{"closed_bad_stream", "bad_stream"},
        std::pair{"read_errors", "read_error"}, std::pair{"connections_replaced", "replaced"}}) {
    e.sample("espgw_fpm_disconnects_total", {{"reason", reason}}, num(fpm.value(key, json())));
  }
  const json d = fpm.value("decoder", json::object());
  e.declare("espgw_fpm_route_events_total", Type::kCounter,
            "Route adds and deletes decoded from zebra's FPM stream.");
  e.sample("espgw_fpm_route_events_total", {{"action", "add"}},
           num(d.value("routes_added", json())));
  e.sample("espgw_fpm_route_events_total", {{"action", "delete"}},
           num(d.value("routes_deleted", json())));
  e.declare("espgw_fpm_skipped_total", Type::kCounter,
            "FPM messages skipped by design (next-hop groups, connected, link-local, other "
            "tables, ...), by reason.");
  e.declare("espgw_fpm_errors_total", Type::kCounter,
            "Malformed FPM input (a bad header closes the connection), by reason.");
  for (const auto& [key, v] : d.items()) {
    if (key.rfind("skipped_", 0) == 0) {
      e.sample("espgw_fpm_skipped_total", {{"reason", key.substr(8)}}, num(v));
    } else if (key.rfind("bad_", 0) == 0 || key == "partial_frames_dropped") {
      e.sample("espgw_fpm_errors_total", {{"reason", key}}, num(v));
    }
  }
  e.declare("espgw_fpm_refused_total", Type::kCounter,
            "FPM routes or next hops not installed, by reason: unresolved (no next hop of the "
            "route resolves), next_hop_unresolved (one next hop), build_failed (a turn's "
            "changes refused by the table build).");
  for (const auto& [key, reason] : {std::pair{"routes_unresolved", "unresolved"},
                                    std::pair{"next_hops_unresolved", "next_hop_unresolved"},
                                    std::pair{"transactions_failed", "build_failed"}}) {
    e.sample("espgw_fpm_refused_total", {{"reason", reason}}, num(fpm.value(key, json())));
  }
  e.declare("espgw_fpm_removed_total", Type::kCounter,
            "FPM routes removed by espgw itself, by reason: stale (not in zebra's dump after a "
            "reconnect), grace_over (the connection stayed closed past routing.fpm.grace_s).");
  e.sample("espgw_fpm_removed_total", {{"reason", "stale"}}, num(fpm.value("swept_stale", json())));
  e.sample("espgw_fpm_removed_total", {{"reason", "grace_over"}},
           num(fpm.value("cleared_after_grace", json())));
}

void espgw_metrics(Exposition& e, const json& all) {
  const json status = all.value("status", json::object());
  e.declare("espgw_info", Type::kGauge, "espgw's version, commit and crypto backend (always 1).");
  e.sample("espgw_info",
           {{"version", text(status.value("version", json()))},
            {"commit", text(status.value("commit", json()))},
            {"crypto", text(status.value("crypto", json()))}},
           1);
  e.declare("espgw_table_generation", Type::kGauge,
            "Generation of espgw's tables: +1 for each applied change.");
  e.sample("espgw_table_generation", {}, num(status.value("generation", json())));

  const json ports = all.value("ports", json::object());
  for (const auto& f : kPortFields)
    e.declare(f.name, f.type, f.help);
  for (const auto& [port, c] : ports.items()) {
    for (const auto& f : kPortFields) {
      if (c.contains(f.key)) e.sample(f.name, {{"interface", port}}, num(c[f.key]));
    }
  }

  const json workers = all.value("workers", json::object());
  e.declare("espgw_worker_busy_ratio", Type::kGauge,
            "Share of the worker's time spent in loops that found packets (0 to 1).");
  for (const auto& f : kWorkerFields)
    e.declare(f.name, f.type, f.help);
  for (const auto& [w, c] : workers.items()) {
    const Labels l{{"worker", w}, {"lcore", text(c.value("lcore", json()))}};
    e.sample("espgw_worker_busy_ratio", l, num(c.value("busy_percent", json())) / 100.0);
    for (const auto& f : kWorkerFields) {
      if (c.contains(f.key)) e.sample(f.name, l, num(c[f.key]));
    }
  }

  e.declare("espgw_drops_total", Type::kCounter,
            "Packets dropped, by reason (all workers and the control thread).");
  const json drops = all.value("drops", json::object());
  for (const auto& [reason, n] : drops.items())
    e.sample("espgw_drops_total", {{"reason", reason}}, num(n));

  e.declare("espgw_sa_packets_total", Type::kCounter, "Packets carried by the SA.");
  e.declare("espgw_sa_bytes_total", Type::kCounter, "Bytes carried by the SA.");
  e.declare("espgw_sa_drops_total", Type::kCounter, "Packets of the SA dropped, by reason.");
  e.declare("espgw_sa_in_use", Type::kGauge, "1 for the outbound SA its tunnel sends with.");
  e.declare("espgw_sa_lifetime_used_ratio", Type::kGauge,
            "Share of the SA's hard lifetime used (at 1 it carries nothing more), by limit: "
            "bytes and packets where the SA has one, sequence for outbound SAs without ESN.");
  for (const auto& sa : all.value("sas", json::array())) {
    const Labels l{{"spi", text(sa.value("spi", json()))},
                   {"direction", text(sa.value("direction", json()))},
                   {"tunnel", text(sa.value("tunnel", json()))},
                   {"algorithm", text(sa.value("algorithm", json()))}};
    e.sample("espgw_sa_packets_total", l, num(sa.value("packets", json())));
    e.sample("espgw_sa_bytes_total", l, num(sa.value("bytes", json())));
    const json sa_drops = sa.value("drops", json::object());
    for (const auto& [reason, n] : sa_drops.items()) {
      Labels lr = l;
      lr.emplace_back("reason", reason);
      e.sample("espgw_sa_drops_total", lr, num(n));
    }
    if (sa.contains("in_use")) e.sample("espgw_sa_in_use", l, num(sa["in_use"]));
    sa_lifetime_used(e, l, sa);
  }

  e.declare("espgw_tunnel_up", Type::kGauge,
            "1 when the tunnel has an outbound SA (its traffic is sent), 0 when it drops as "
            "tunnel_down.");
  e.declare("espgw_tunnel_inner_mtu_bytes", Type::kGauge,
            "Largest inner packet the tunnel sends without fragmenting it.");
  e.declare("espgw_tunnel_acquires_total", Type::kCounter,
            "acquire events raised for the tunnel: traffic while it had no SA, to start IKE "
            "(at most one a second).");
  for (const auto& t : all.value("tunnels", json::array())) {
    const Labels l{{"tunnel", text(t.value("name", json()))}};
    e.sample("espgw_tunnel_up", l, text(t.value("outbound_spi", json())).empty() ? 0 : 1);
    e.sample("espgw_tunnel_inner_mtu_bytes", l, num(t.value("inner_mtu", json())));
    if (t.contains("acquires")) e.sample("espgw_tunnel_acquires_total", l, num(t["acquires"]));
  }
  lane_metrics(e, all.value("tunnels", json::array()));
  peer_metrics(e, all.value("peers", json::array()));
  fpm_metrics(e, status.value("fpm", json()));
}

// espgw-ike's status: {"charon": {"connected": bool}, "tunnels": [{"name", "state", "ike_sas":
// [{"state", "child_sas": [{"state", "expires_in_s"}]}]}]}. Read leniently: what is missing is left
// out.
void ike_metrics(Exposition& e, const std::optional<json>& st) {
  e.declare("espgw_ike_up", Type::kGauge, "1 when espgw-ike answered on its status socket.");
  e.sample("espgw_ike_up", {}, st ? 1 : 0);
  if (!st) return;
  e.declare("espgw_ike_charon_connected", Type::kGauge,
            "1 when espgw-ike is connected to charon's VICI socket.");
  const json charon = st->value("charon", json::object());
  if (charon.is_object() && charon.contains("connected")) {
    e.sample("espgw_ike_charon_connected", {}, num(charon["connected"]));
  }
  e.declare(
      "espgw_ike_tunnel_state", Type::kGauge,
      "1 for the tunnel's IKE state as espgw-ike reports it (ESTABLISHED, CONNECTING, down, ...).");
  e.declare("espgw_ike_tunnel_established", Type::kGauge,
            "1 when the tunnel has an ESTABLISHED IKE SA.");
  e.declare("espgw_ike_child_sas_installed", Type::kGauge,
            "CHILD_SAs of the tunnel in state INSTALLED.");
  e.declare("espgw_ike_child_sa_expires_in_seconds", Type::kGauge,
            "Seconds until the hard lifetime of the tunnel's newest INSTALLED CHILD_SA (the one "
            "that expires last); charon rekeys it rekey_margin_s before.");
  json tunnels = st->value("tunnels", json::array());
  if (tunnels.is_object()) {
    json list = json::array();
    for (auto& [name, t] : tunnels.items()) {
      json x = t;
      if (x.is_object() && !x.contains("name")) x["name"] = name;
      list.push_back(x);
    }
    tunnels = list;
  }
  if (!tunnels.is_array()) return;
  for (const auto& t : tunnels) {
    if (!t.is_object()) continue;
    const std::string name = text(t.value("name", json()));
    const std::string state = text(t.value("state", json("unknown")));
    const Labels l{{"tunnel", name}};
    e.sample("espgw_ike_tunnel_state", {{"tunnel", name}, {"state", state}}, 1);
    e.sample("espgw_ike_tunnel_established", l, state == "ESTABLISHED" ? 1 : 0);
    double installed = 0;
    std::optional<double> expires;
    for (const auto& sa : t.value("ike_sas", json::array())) {
      if (!sa.is_object()) continue;
      for (const auto& c : sa.value("child_sas", json::array())) {
        if (!c.is_object() || c.value("state", "") != "INSTALLED") continue;
        installed += 1;
        const json in = c.value("expires_in_s", json());
        if (in.is_number()) expires = std::max(expires.value_or(0), in.get<double>());
      }
    }
    e.sample("espgw_ike_child_sas_installed", l, installed);
    if (expires) e.sample("espgw_ike_child_sa_expires_in_seconds", l, *expires);
  }
}

// The tunnels' BGP sessions as FRR reports them (frr/bgp_view.h), per tunnel and neighbour.
void bgp_metrics(Exposition& e, const Scrape& s) {
  e.declare("espgw_bgp_frr_up", Type::kGauge,
            "1 when FRR's bgpd answered vtysh at this scrape (bgp.frr_instance).");
  e.declare("espgw_bgp_scrape_errors_total", Type::kCounter,
            "vtysh calls for BGP or BFD state that failed or timed out (FRR not running, "
            "bgpd or bfdd down), since the exporter started.");
  e.sample("espgw_bgp_frr_up", {}, s.bgp ? 1 : 0);
  e.sample("espgw_bgp_scrape_errors_total", {}, static_cast<double>(s.bgp_scrape_errors));
  if (!s.bgp || !s.bgp->is_array()) return;
  e.declare("espgw_bgp_session_up", Type::kGauge,
            "1 when the BGP session with the tunnel's neighbour is Established.");
  e.declare("espgw_bgp_prefixes_received", Type::kGauge,
            "Prefixes received from the neighbour (pfxRcd, all address families).");
  e.declare("espgw_bgp_prefixes_sent", Type::kGauge,
            "Prefixes sent to the neighbour (pfxSnt, all address families).");
  e.declare("espgw_bgp_session_flaps_total", Type::kCounter,
            "Times the session went down since bgpd started (connectionsDropped).");
  e.declare("espgw_bfd_up", Type::kGauge,
            "1 when bfdd's session with the neighbour is up; only neighbours bfdd has a "
            "session with.");
  for (const auto& n : *s.bgp) {
    if (!n.is_object()) continue;
    const Labels l{{"tunnel", text(n.value("tunnel", json()))},
                   {"neighbour", text(n.value("neighbour", json()))}};
    e.sample("espgw_bgp_session_up", l, n.value("state", "") == "Established" ? 1 : 0);
    e.sample("espgw_bgp_prefixes_received", l, num(n.value("prefixes_received", json())));
    e.sample("espgw_bgp_prefixes_sent", l, num(n.value("prefixes_sent", json())));
    e.sample("espgw_bgp_session_flaps_total", l, num(n.value("flaps", json())));
    const json bfd = n.value("bfd", json());
    if (s.bfd_known && bfd.is_string()) e.sample("espgw_bfd_up", l, bfd == "up" ? 1 : 0);
  }
}

// The version and commit of each binary that answered: the exporter itself always, espgw and
// espgw-ike from their status. A gateway upgraded but not restarted shows two versions.
void build_info(Exposition& e, const Scrape& s) {
  e.declare("espgw_build_info", Type::kGauge,
            "Version and git commit of espgw's binaries: the exporter, and espgw and espgw-ike "
            "when they answer (always 1).");
  e.sample("espgw_build_info",
           {{"binary", "espgw-exporter"},
            {"version", std::string(kVersion)},
            {"commit", std::string(kCommit)}},
           1);
  auto from = [&](const char* binary, const json& j) {
    if (!j.is_object() || !j.contains("version")) return;
    e.sample("espgw_build_info",
             {{"binary", binary},
              {"version", text(j.value("version", json()))},
              {"commit", text(j.value("commit", json()))}},
             1);
  };
  if (s.all) from("espgw", s.all->value("status", json::object()));
  if (s.ike_status && s.ike_status->is_object())
    from("espgw-ike", s.ike_status->value("espgw_ike", json::object()));
}

// The exporter's own HTTP server (metrics/http_server.h): its connections by how they ended.
void http_metrics(Exposition& e, const HttpServer::Stats& h) {
  e.declare("espgw_exporter_http_connections_accepted_total", Type::kCounter,
            "Connections the exporter's HTTP server accepted since it started.");
  e.sample("espgw_exporter_http_connections_accepted_total", {}, static_cast<double>(h.accepted));
  e.declare("espgw_exporter_http_connections_total", Type::kCounter,
            "Connections the exporter's HTTP server closed, by outcome: answered, evicted (to make "
            "room at " +
                std::to_string(HttpServer::kMaxConnections) +
                " open), timeout (request or answer not done in 5 s), too_large (request head "
                "over 8 KiB), closed_by_client.");
  const std::pair<const char*, uint64_t> outcomes[] = {{"answered", h.answered},
                                                       {"evicted", h.evicted},
                                                       {"timeout", h.timeout},
                                                       {"too_large", h.too_large},
                                                       {"closed_by_client", h.closed_by_client}};
  for (const auto& [outcome, n] : outcomes) {
    e.sample("espgw_exporter_http_connections_total", {{"outcome", outcome}},
             static_cast<double>(n));
  }
  e.declare("espgw_exporter_http_connections_open", Type::kGauge,
            "Connections open on the exporter's HTTP server, this scrape's included.");
  e.sample("espgw_exporter_http_connections_open", {}, static_cast<double>(h.open));
}

}  // namespace

std::string render(const Scrape& s) {
  Exposition e;
  build_info(e, s);
  e.declare("espgw_up", Type::kGauge, "1 when espgw answered on its control socket.");
  e.sample("espgw_up", {}, s.all ? 1 : 0);
  if (s.all) espgw_metrics(e, *s.all);
  ike_metrics(e, s.ike_status);
  if (s.bgp_configured) bgp_metrics(e, s);
  e.declare("espgw_exporter_scrape_duration_seconds", Type::kGauge,
            "Time the exporter took to ask espgw and espgw-ike.");
  e.sample("espgw_exporter_scrape_duration_seconds", {}, s.duration_s);
  if (s.http) http_metrics(e, *s.http);
  return e.render();
}

}  // namespace espgw::metrics
