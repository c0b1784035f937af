#include "dataplane/tools/espgwctl/show.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/hex.h"
#include "dataplane/tools/espgwctl/show_lanes.h"
#include "dataplane/tools/espgwctl/table.h"

namespace espgw::ctl {
namespace {

using nlohmann::json;

struct Column {
  const char* key;
  const char* header;
  bool bytes = false;
};

// One row per member of `obj` (a map of name to counters); the columns named, then any that
// espgw reports and this table does not know yet.
std::string counter_table(const json& obj, const char* first, std::vector<Column> cols) {
  std::vector<std::string> extra;
  for (const auto& [name, c] : obj.items()) {
    for (const auto& item : c.items()) {
      // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
      const std::string& k = item.key();
      const bool known =
          std::any_of(cols.begin(), cols.end(), [&](const Column& col) { return k == col.key; });
      if (!known && std::find(extra.begin(), extra.end(), k) == extra.end()) extra.push_back(k);
    }
  }
  std::vector<std::string> headers{first};
  for (const auto& c : cols)
    headers.push_back(std::string(">") + c.header);
  for (const auto& k : extra)
    headers.push_back(">" + k);
  Table t(headers);
  for (const auto& [name, c] : obj.items()) {
    std::vector<std::string> row{name};
    for (const auto& col : cols) {
      const json v = c.value(col.key, json());
      row.push_back(col.bytes && v.is_number_unsigned() ? human_bytes(v.get<uint64_t>())
                                                        : text_of(v));
    }
    for (const auto& k : extra)
      row.push_back(text_of(c.value(k, json())));
    t.add(row);
  }
  return t.render();
}

std::string ports_table(const json& ports) {
  return counter_table(ports, "INTERFACE",
                       {{"rx_packets", "RX PACKETS"},
                        {"rx_bytes", "RX BYTES", true},
                        {"tx_packets", "TX PACKETS"},
                        {"tx_bytes", "TX BYTES", true},
                        {"to_kernel", "TO KERNEL"},
                        {"from_kernel", "FROM KERNEL"},
                        {"nic_rx_missed", "RX MISSED"},
                        {"nic_rx_errors", "RX ERRORS"},
                        {"nic_tx_errors", "TX ERRORS"}});
}

std::string workers_table(json workers) {
  for (auto& [name, w] : workers.items()) {
    if (w.contains("busy_percent")) w["busy_percent"] = text_of(w["busy_percent"]) + "%";
  }
  return counter_table(workers, "WORKER",
                       {{"lcore", "LCORE"},
                        {"busy_percent", "BUSY"},
                        {"packets", "PACKETS"},
                        {"loops", "LOOPS"},
                        {"busy_loops", "BUSY LOOPS"},
                        {"fragments", "FRAGMENTS"},
                        {"mss_clamped", "MSS CLAMPED"},
                        {"icmp_sent", "ICMP SENT"},
                        {"icmp_suppressed", "ICMP SUPPRESSED"},
                        {"arp_nd_replies", "ARP/ND REPLIES"},
                        {"held_for_neighbour", "HELD"},
                        {"esn_resyncs", "ESN RESYNCS"}});
}

std::string drops_table(const json& drops, bool all) {
  Table t({"REASON", ">PACKETS"});
  for (const auto& [reason, n] : drops.items()) {
    if (all || number_of(n) != 0) t.add({reason, text_of(n)});
  }
  if (t.empty()) return "no drops\n";
  return t.render();
}

uint64_t drop_total(const json& drops) {
  uint64_t n = 0;
  for (const auto& [reason, v] : drops.items())
    n += number_of(v);
  return n;
}

std::string sas_table(const json& sas) {
  if (sas.empty()) return "no SAs\n";
  Table t({"SPI", "DIR", "TUNNEL", "ALGORITHM", "REMOTE", "NAT-T", "ESN", ">PACKETS", ">BYTES",
           ">SEQ", ">WINDOW", "STATE", ">DROPS"});
  for (const auto& sa : sas) {
    const bool in = sa.value("direction", "") == "in";
    std::string state = "-";
    if (!in) {
      // The tunnel's SA in use, in a tunnel of a peer whose traffic goes into another tunnel:
      // it sends nothing until the peer moves to its tunnel (peer_state.h).
      const bool backup = !sa.value("peer_in_use", true);
      state = sa.value("stopped", false)  ? "stopped"
              : sa.value("in_use", false) ? (backup ? "backup" : "in use")
                                          : "standby";
    }
    t.add({text_of(sa.value("spi", json())), text_of(sa.value("direction", json())),
           text_of(sa.value("tunnel", json())), text_of(sa.value("algorithm", json())),
           text_of(sa.value("remote", json())), text_of(sa.value("nat_t", json())),
           text_of(sa.value("esn", json())), text_of(sa.value("packets", json())),
           human_bytes(number_of(sa.value("bytes", json()))),
           text_of(sa.value(in ? "highest_seq" : "next_seq", json())),
           in ? text_of(sa.value("replay_window", json())) : "-", state,
           std::to_string(drop_total(sa.value("drops", json::object())))});
  }
  return t.render();
}

// One SA in full: every field, then its drops by reason.
std::string sa_detail(const json& sa) {
  Table t({"", ""});
  for (const auto& [k, v] : sa.items()) {
    if (k == "drops") continue;
    t.add({k, k == "bytes" && v.is_number_unsigned()
                  ? human_bytes(v.get<uint64_t>()) + " (" + text_of(v) + ")"
                  : text_of(v)});
  }
  std::string s = t.render().substr(t.render().find('\n') + 1);  // no header line
  const json drops = sa.value("drops", json::object());
  s += "drops:";
  s += drops.empty() ? " none\n" : "\n";
  for (const auto& [reason, n] : drops.items())
    s += "  " + reason + "  " + text_of(n) + "\n";
  return s;
}

std::string tunnels_table(const json& tunnels) {
  if (tunnels.empty()) return "no tunnels\n";
  Table t({"NAME", "LOCAL", "REMOTE", "EGRESS", ">MTU", ">MSS", "OUT SPI", "LOCAL CIDRS",
           "REMOTE CIDRS"});
  for (const auto& x : tunnels) {
    const std::string spi = x.value("outbound_spi", "");
    t.add({text_of(x.value("name", json())), text_of(x.value("local", json())),
           text_of(x.value("remote", json())), text_of(x.value("egress", json())),
           text_of(x.value("inner_mtu", json())), text_of(x.value("mss", json())),
           spi.empty() ? "none" : spi, text_of(x.value("local_cidrs", json())),
           text_of(x.value("remote_cidrs", json()))});
  }
  return t.render();
}

// An FPM route's next hop: its tunnel, or its gateway out of a port, or why not.
std::string fpm_hop_dev(const json& h) {
  if (!h.value("resolved", false)) return "unresolved";
  if (h.contains("tunnel")) return "tunnel " + text_of(h["tunnel"]);
  return text_of(h.value("interface", json()));
}

// Every candidate (docs/control-protocol.md "routes"): the lowest distance of a prefix is
// selected; an FPM route has a line per next hop, an ECMP member's with its bucket count.
std::string routes_table(const json& routes) {
  if (routes.empty()) return "no routes\n";
  Table t({"PREFIX", "VIA", "DEV", "ORIGIN", ">DIST", "SEL", ">BUCKETS"});
  for (const auto& r : routes) {
    const std::string prefix = text_of(r.value("prefix", json()));
    const std::string dist = text_of(r.value("distance", json()));
    const std::string sel = r.value("selected", true) ? "yes" : "no";
    if (r.contains("next_hops")) {
      std::string origin = text_of(r.value("origin", json()));
      if (r.value("stale", false)) origin += " (stale)";
      const json hops = r["next_hops"];
      if (hops.empty()) t.add({prefix, "-", "none", origin, dist, sel, "-"});
      bool first = true;
      for (const auto& h : hops) {
        const json via = h.value("via", h.value("gateway", json()));
        t.add({first ? prefix : "", text_of(via), fpm_hop_dev(h), first ? origin : "",
               first ? dist : "", first ? sel : "",
               h.contains("buckets") ? text_of(h["buckets"]) : "-"});
        first = false;
      }
      continue;
    }
    const std::string dev = r.contains("tunnel") ? "tunnel " + text_of(r["tunnel"])
                                                 : text_of(r.value("interface", json()));
    std::string origin = text_of(r.value("origin", json()));
    if (r.contains("peer")) {  // a tunnel of a peer: only the peer's tunnel in use is routed into
      origin = r.value("state", "") == "backup"
                   ? "backup (peer " + text_of(r["peer"]) + ", not routed)"
                   : origin + " (peer " + text_of(r["peer"]) + ")";
    }
    t.add({prefix, text_of(r.value("via", json())), dev, origin, dist, sel, "-"});
  }
  return t.render();
}

// status.fpm in one line: off, or the connection (or the grace period after it), the routes.
std::string fpm_text(const json& f) {
  if (!f.value("enabled", false)) return "off";
  std::string s;
  if (f.value("connected", false)) {
    s = "connected from " + text_of(f.value("peer", json()));
  } else {
    s = "listening on " + text_of(f.value("listen", json())) + ", not connected";
    const json left = f.value("grace_left_ms", json());
    if (left.is_number()) {
      char b[48];
      std::snprintf(b, sizeof b, ", grace %.1f s left", number_of(left) / 1000.0);
      s += b;
    }
  }
  s += ", " + text_of(f.value("routes", json())) + " routes";
  if (const uint64_t stale = number_of(f.value("stale", json())); stale != 0) {
    s += " (" + std::to_string(stale) + " stale)";
  }
  const uint64_t failed = number_of(f.value("transactions_failed", json())) +
                          number_of(f.value("routes_unresolved", json()));
  if (failed != 0) s += ", " + std::to_string(failed) + " refused or unresolved";
  return s;
}

// status.kernel_interfaces in one line: each exception tap's kernel interface and its state,
// "espgw-wan up, espgw-lan down"; one that is up but not dressed again says so.
std::string kernel_interfaces_text(const json& k) {
  std::string s;
  for (const auto& i : k) {
    s += (s.empty() ? "" : ", ") + text_of(i.value("name", json())) + " " +
         text_of(i.value("state", json()));
    if (i.value("state", std::string()) == "up" && !i.value("dressed", true)) {
      s += " (not dressed: " + text_of(i.value("error", json())) + ")";
    }
  }
  return s;
}

// 75 -> "1m15s": how long a peer's tunnel has been in use, at a glance.
std::string human_duration(uint64_t s) {
  char b[32];
  if (s < 60) {
    std::snprintf(b, sizeof b, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(b, sizeof b, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(b, sizeof b, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  } else {
    std::snprintf(b, sizeof b, "%llud%02lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s / 3600 % 24));
  }
  return b;
}

std::string peers_table(const json& peers) {
  if (peers.empty()) return "no peers\n";
  Table t({"PEER", "IN USE", "SINCE", ">FOR", ">MOVES", "FAILBACK", "TUNNELS"});
  for (const auto& p : peers) {
    std::string tunnels;
    for (const auto& x : p.value("tunnels", json::array())) {
      tunnels += (tunnels.empty() ? "" : ", ") + text_of(x.value("name", json())) +
                 (x.value("up", false) ? " up" : " down");
    }
    const json in_use = p.value("tunnel_in_use", json());
    t.add({text_of(p.value("name", json())), in_use.is_null() ? "none" : text_of(in_use),
           text_of(p.value("since", json())),
           human_duration(number_of(p.value("seconds_since", json()))),
           text_of(p.value("moves", json())), text_of(p.value("failback", json())), tunnels});
  }
  return t.render();
}

std::string neighbours_table(const json& ns) {
  if (ns.empty()) return "no neighbours\n";
  Table t({"ADDRESS", "INTERFACE", "MAC", "STATE"});
  for (const auto& n : ns) {
    t.add({text_of(n.value("address", json())), text_of(n.value("interface", json())),
           text_of(n.value("mac", json())), text_of(n.value("state", json()))});
  }
  return t.render();
}

std::string status_text(const json& s) {
  Table t({"", ""});
  t.add({"version", text_of(s.value("version", json()))});
  if (s.contains("commit")) t.add({"commit", text_of(s.value("commit", json()))});
  t.add({"generation", text_of(s.value("generation", json()))});
  t.add({"workers", text_of(s.value("workers", json()))});
  t.add({"crypto", text_of(s.value("crypto", json()))});
  t.add({"interfaces", text_of(s.value("interfaces", json()))});
  t.add({"tunnels", text_of(s.value("tunnels", json()))});
  t.add({"inbound SAs", text_of(s.value("inbound_sas", json()))});
  t.add({"outbound SAs", text_of(s.value("outbound_sas", json()))});
  t.add({"packets", text_of(s.value("packets", json()))});
  if (s.contains("fpm")) t.add({"fpm", fpm_text(s["fpm"])});
  if (const json k = s.value("kernel_interfaces", json::object()); !k.empty()) {
    t.add({"kernel interfaces", kernel_interfaces_text(k)});
  }
  const std::string r = t.render();
  return r.substr(r.find('\n') + 1);
}

}  // namespace

std::string render(const Request& req, const json& resp, bool all) {
  using View = Request::View;
  switch (req.view) {
    case View::kStatus: return status_text(resp);
    case View::kCounters: {
      std::string s = "ports:\n" + ports_table(resp.value("ports", json::object())) +
                      "\nworkers:\n" + workers_table(resp.value("workers", json::object())) +
                      "\ndrops:\n" + drops_table(resp.value("drops", json::object()), all);
      // The control thread's ARP and ND (docs/control-protocol.md#reading).
      if (const json n = resp.value("neighbour_resolution", json::object()); !n.empty()) {
        s += "\nneighbour resolution:";
        for (const char* k : {"requests", "resolved", "failed", "released"})
          s += std::string(" ") + k + " " + std::to_string(n.value(k, uint64_t{0}));
        s += "\n";
      }
      return s;
    }
    case View::kPorts: return ports_table(resp.value("ports", json::object()));
    case View::kWorkers: return workers_table(resp.value("workers", json::object()));
    case View::kDrops: return drops_table(resp.value("drops", json::object()), all);
    case View::kSas: {
      const json sas = resp.value("sas", json::array());
      if (!req.spi) return sas_table(sas);
      if (sas.empty()) throw ErrorResponse("no SA with SPI " + spi_hex(*req.spi));
      std::string s;
      for (const auto& sa : sas)
        s += (s.empty() ? "" : "\n") + sa_detail(sa);
      return s;
    }
    case View::kTunnels: return tunnels_table(resp.value("tunnels", json::array()));
    case View::kLanes: return lanes_table(resp.value("tunnels", json::array()), req.tunnel);
    case View::kRoutes: return routes_table(resp.value("routes", json::array()));
    case View::kNeighbours: return neighbours_table(resp.value("neighbours", json::array()));
    case View::kPeers: return peers_table(resp.value("peers", json::array()));
    case View::kChange: return "ok, generation " + text_of(resp.value("generation", json())) + "\n";
    case View::kApply:
      return "ok, " + std::to_string(req.ops) + (req.ops == 1 ? " op" : " ops") +
             " applied, generation " + text_of(resp.value("generation", json())) + "\n";
    case View::kStop: return "espgw is stopping\n";
  }
  return {};
}

}  // namespace espgw::ctl
