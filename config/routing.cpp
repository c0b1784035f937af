// Dynamic routing in the config (docs/routing.md): routing.fpm, the top-level bgp section, a
// tunnel's inside addresses, inside interface and BGP neighbour, and routes into route-based
// tunnels.

#include <algorithm>
#include <array>
#include <cctype>

#include "config/parser.h"

namespace espgw::config {
namespace {

// `outer` holds every address of `inner`.
bool covers(const IpPrefix& outer, const IpPrefix& inner) {
  return outer.address.family == inner.address.family && outer.length <= inner.length &&
         outer.contains(inner.address);
}

bool valid_frr_instance(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameLength && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool any_contains(const std::vector<IpPrefix>& ps, const IpAddress& a) {
  return std::any_of(ps.begin(), ps.end(), [&](const IpPrefix& p) { return p.contains(a); });
}

}  // namespace

// routing: {fpm: {address, port, grace_s, distance}}; `fpm: {}` enables it with the defaults.
void Parser::routing(const Value& v, RoutingConfig& out) {
  auto f = map(v, {"fpm"});
  if (!f) return;
  auto x = f->get("fpm");
  if (!x) return;
  auto ff = map(*x, {"address", "port", "grace_s", "distance"});
  if (!ff) return;
  out.fpm.enabled = true;
  if (auto a = ff->get("address")) {
    if (auto ip = address(*a)) {
      static constexpr std::array<uint8_t, 16> kZero{};
      const bool unspecified = ip->bytes == kZero;
      const bool multicast = ip->is_v4() ? ip->bytes[0] >= 224 : ip->bytes[0] == 0xff;
      if (unspecified || multicast) {
        error(*a, "not an address zebra can connect to " + quote(a->node.Scalar()));
      } else {
        out.fpm.address = *ip;
      }
    }
  }
  read_uint(*ff, "port", out.fpm.port, 1, 65535);
  read_uint(*ff, "grace_s", out.fpm.grace_s, 1, kMaxFpmGrace);
  read_uint(*ff, "distance", out.fpm.distance, 1, 255);
}

// bgp: FRR's bgpd beside espgw. It needs zebra's routes, so it implies routing.fpm.
void Parser::bgp(const Value& v, BgpConfig& out) {
  bgp_at_ = v;
  auto f = map(v, {"asn", "router_id", "announce", "maximum_paths", "bfd", "frr_instance"});
  if (!f) return;
  if (auto x = require(*f, "asn")) {
    if (auto n = integer(*x, 1, UINT32_MAX)) out.asn = static_cast<uint32_t>(*n);
  }
  if (auto x = f->get("router_id")) {
    if (auto a = unicast(*x)) {
      if (a->is_v4()) {
        out.router_id = a;
      } else {
        error(*x, "must be an IPv4 address (a BGP router ID is 32 bits), got " +
                      quote(x->node.Scalar()));
      }
    }
  }
  if (auto x = f->get("announce")) bgp_announce(*x, out);
  read_uint(*f, "maximum_paths", out.maximum_paths, 1, kMaxMaximumPaths);
  if (auto x = f->get("bfd")) bgp_bfd(*x, out);
  if (auto x = f->get("frr_instance")) {
    if (auto s = scalar(*x, "a name")) {
      if (valid_frr_instance(*s)) {
        out.frr_instance = *s;
      } else {
        error(*x, "must be 1 to " + std::to_string(kMaxNameLength) +
                      " letters, digits, '-' or '_', got " + quote(*s));
      }
    }
  }
  if (out.enabled()) config_.routing.fpm.enabled = true;
}

// The prefixes every neighbour is sent, and only those: at most 100 (AWS's limit).
void Parser::bgp_announce(const Value& v, BgpConfig& out) {
  auto items = list(v, false);
  if (!items) return;
  if (items->size() > kMaxAnnounce) {
    error(v, "at most " + std::to_string(kMaxAnnounce) +
                 " prefixes (AWS accepts no more from a customer gateway), got " +
                 std::to_string(items->size()));
    return;
  }
  std::vector<int> lines;
  for (const auto& item : *items) {
    auto p = prefix(item);
    if (!p) continue;
    if (auto it = std::find(out.announce.begin(), out.announce.end(), *p);
        it != out.announce.end()) {
      error(item, "duplicate prefix " + quote(item.node.Scalar()) + " (first at line " +
                      std::to_string(lines[it - out.announce.begin()]) + ")");
      continue;
    }
    out.announce.push_back(*p);
    lines.push_back(item.line);
  }
}

void Parser::bgp_bfd(const Value& v, BgpConfig& out) {
  auto f = map(v, {"interval_ms", "multiplier"});
  if (!f) return;
  read_uint(*f, "interval_ms", out.bfd_interval_ms, 10, 60000);
  read_uint(*f, "multiplier", out.bfd_multiplier, 2, 255);
}

// inside: our addresses inside the tunnel, with their prefix: at most one IPv4 (/30 or /31) and
// one IPv6 (/126 or /127), overlapping no other tunnel's and no connected prefix.
void Parser::tunnel_inside(const Fields& f, Tunnel& out) {
  auto x = f.get("inside");
  if (!x) return;
  auto items = list(*x, true);
  if (!items) return;
  std::optional<int> family_line[2];  // IPv4, IPv6
  for (const auto& item : *items) {
    auto p = interface_address(item);
    if (!p) continue;
    const std::string shown = item.node.Scalar();
    const bool v4 = p->address.is_v4();
    const unsigned wide = v4 ? 30 : 126;
    if (!is_unicast(p->address)) {
      error(item, "not a unicast address " + quote(shown));
      continue;
    }
    if (p->length != wide && p->length != wide + 1) {
      error(item, std::string("an ") + family_name(p->address) + " inside prefix is a /" +
                      std::to_string(wide) + " or a /" + std::to_string(wide + 1) +
                      " (the tunnel's two ends), got " + quote(shown));
      continue;
    }
    const unsigned host = p->address.bytes[p->address.size() - 1] & 3u;
    if (p->length == wide && (host == 0 || host == 3)) {
      error(item, "our inside address must be host 1 or 2 of its /" + std::to_string(wide) +
                      " (not its network or broadcast address), got " + quote(shown));
      continue;
    }
    std::optional<int>& seen_family = family_line[v4 ? 0 : 1];
    if (seen_family) {
      error(item, "a second " + family_name(p->address) + " inside prefix (first at line " +
                      std::to_string(*seen_family) +
                      "; a tunnel has at most one of each family): " + quote(shown));
      continue;
    }
    seen_family = item.line;
    bool clash = false;
    for (const auto& i : config_.interfaces) {
      for (const auto& a : i.addresses) {
        if (!clash && overlaps(a, *p)) {
          error(item, "overlaps the connected prefix " + network_of(a).to_string() +
                          " of interface " + quote(i.name) + ": " + quote(shown));
          clash = true;
        }
      }
    }
    for (const auto& seen : inside_prefixes_) {
      if (!clash && overlaps(seen.prefix, *p)) {
        error(item, "overlaps the inside prefix " + network_of(seen.prefix).to_string() +
                        " of tunnel " + quote(seen.owner) + " (line " + std::to_string(seen.line) +
                        "): " + quote(shown));
        clash = true;
      }
    }
    if (seeded_) {
      for (const auto& t : config_.tunnels) {
        for (const auto& q : t.inside) {
          if (!clash && t.name != out.name && overlaps(q, *p)) {
            error(item, "overlaps the inside prefix " + network_of(q).to_string() + " of tunnel " +
                            quote(t.name) + ": " + quote(shown));
            clash = true;
          }
        }
      }
    }
    if (clash) continue;
    inside_prefixes_.push_back({*p, out.name, item.line});
    out.inside.push_back(*p);
  }
}

// A route-based tunnel's traffic selectors must carry its inside addresses, or BGP and BFD to
// the peer never pass: ours within local_cidrs, the peer's within remote_cidrs.
void Parser::tunnel_inside_covered(const Fields& f, const Tunnel& out) {
  auto x = f.get("inside");
  if (!x || out.local_cidrs.empty() || out.remote_cidrs.empty()) return;
  for (const auto& p : out.inside) {
    const IpAddress peer = inside_peer_address(p);
    const char* which = nullptr;
    std::string address;
    if (!any_contains(out.local_cidrs, p.address)) {
      which = "local_cidrs";
      address = "our inside address " + p.address.to_string();
    } else if (!any_contains(out.remote_cidrs, peer)) {
      which = "remote_cidrs";
      address = "the peer's inside address " + peer.to_string();
    }
    if (which) {
      error(*x, address + " is not within " + which +
                    ": a route-based tunnel's traffic selectors must carry its inside addresses "
                    "(AWS negotiates 0.0.0.0/0 both ways)");
    }
  }
}

// inside_interface: the kernel interface of the inside addresses, by default
// inside_interface_name(name); unique among the inside and exception interfaces.
void Parser::tunnel_inside_interface(const Fields& f, Tunnel& out) {
  auto x = f.get("inside_interface");
  if (!f.get("inside")) {
    if (x) error(*x, "only with inside (a route-based tunnel)");
    return;
  }
  const Value at = x.value_or(f.get("inside").value_or(f.self()));
  if (x) {
    auto s = scalar(*x, "an interface name");
    if (!s) return;
    if (!valid_kernel_name(*s)) {
      error(*x, "must be 1 to 15 letters, digits, '-', '_' or '.', got " + quote(*s));
      return;
    }
    out.inside_interface = *s;
  } else if (!out.name.empty()) {
    out.inside_interface = inside_interface_name(out.name);
  } else {
    return;
  }
  const std::string& n = out.inside_interface;
  for (const auto& i : config_.interfaces) {
    if (i.exception.kernel_name == n) {
      error(at, "kernel interface name " + quote(n) + " is interface " + quote(i.name) +
                    "'s exception interface");
      return;
    }
  }
  if (seeded_) {
    for (const auto& t : config_.tunnels) {
      if (t.name != out.name && t.inside_interface == n) {
        error(at, "inside interface name " + quote(n) + " is tunnel " + quote(t.name) + "'s");
        return;
      }
    }
  }
  if (auto [first, inserted] = inside_names_.emplace(n, at.line); !inserted) {
    error(at, "inside interface name used twice " + quote(n) + " (first at line " +
                  std::to_string(first->second) + ")");
  }
}

// bgp: a neighbour over the tunnel, between the inside addresses.
void Parser::tunnel_bgp(const Fields& f, Tunnel& out) {
  auto x = f.get("bgp");
  if (!x) return;
  auto bf = map(*x, {"remote_asn", "neighbours", "keepalive_s", "hold_s", "bfd"});
  if (!bf) return;
  const size_t before = errors_.size();
  tunnel_bgp_values_.push_back(*x);
  if (!f.get("inside")) {
    error(*x, "needs inside addresses (BGP runs between the tunnel's inside addresses)");
  }
  if (!bgp_at_ && !config_.bgp.enabled()) {
    error(*x, "needs the top-level bgp section (our ASN)");
  }
  Tunnel::Bgp b;
  if (auto a = require(*bf, "remote_asn")) {
    if (auto n = integer(*a, 1, UINT32_MAX)) b.remote_asn = static_cast<uint32_t>(*n);
  }
  tunnel_bgp_timers(*bf, b);
  b.bfd = out.peer_kind == PeerKind::kEspgw;
  read_bool(*bf, "bfd", b.bfd);
  if (!out.inside.empty()) tunnel_bgp_neighbours(*bf, out, b);
  if (errors_.size() != before) return;
  if (auto bx = bf->get("bfd"); bx && b.bfd && out.peer_kind != PeerKind::kEspgw) {
    warning(*bx,
            "the peer is not an espgw gateway (peer_kind: other) and may not run BFD (AWS does "
            "not): its BFD session then never comes up, and only hold_s detects a dead peer");
  }
  if (b.hold_s != 0 && b.keepalive_s > b.hold_s / 3) {
    warning(bf->get("keepalive_s").value_or(*x),
            "bgpd sends keepalives every hold_s / 3 = " + std::to_string(b.hold_s / 3) +
                " s at most, not every " + std::to_string(b.keepalive_s) + " s");
  }
  if (b.hold_s == 0 && !b.bfd) {
    warning(bf->get("hold_s").value_or(*x),
            "hold_s 0 and no BFD: nothing detects a dead peer, and its routes stay");
  }
  out.bgp = std::move(b);
}

// keepalive_s and hold_s as bgpd's `timers`: hold 0 (none) or at least 3 (RFC 4271 4.2), and
// not below the keepalive.
void Parser::tunnel_bgp_timers(const Fields& bf, Tunnel::Bgp& out) {
  read_uint(bf, "keepalive_s", out.keepalive_s, 1, 65535);
  if (auto h = bf.get("hold_s")) {
    if (auto n = integer(*h, 0, 65535)) {
      if (*n == 1 || *n == 2) {
        error(*h, "must be 0 (no hold timer) or at least 3 (RFC 4271 4.2), got " +
                      quote(h->node.Scalar()));
      } else if (*n != 0 && *n < out.keepalive_s) {
        error(*h, "must be at least keepalive_s (" + std::to_string(out.keepalive_s) + "), got " +
                      quote(h->node.Scalar()));
      } else {
        out.hold_s = static_cast<uint32_t>(*n);
      }
    }
  }
}

// The peer's inside addresses: by default the other end of each inside prefix; given, a subset
// of them (one family only, say).
void Parser::tunnel_bgp_neighbours(const Fields& bf, const Tunnel& t, Tunnel::Bgp& out) {
  auto x = bf.get("neighbours");
  if (!x) {
    for (const auto& p : t.inside)
      out.neighbours.push_back(inside_peer_address(p));
    return;
  }
  auto items = list(*x, true);
  if (!items) return;
  for (const auto& item : *items) {
    auto a = address(item);
    if (!a) continue;
    const std::string shown = item.node.Scalar();
    const auto in = std::find_if(t.inside.begin(), t.inside.end(),
                                 [&](const IpPrefix& p) { return p.contains(*a); });
    if (in == t.inside.end()) {
      error(item, "not in an inside prefix of the tunnel " + quote(shown));
    } else if (in->address == *a) {
      error(item, "our own inside address, not the peer's " + quote(shown));
    } else if (*a != inside_peer_address(*in)) {
      error(item, "not the peer's inside address in " + network_of(*in).to_string() + " (" +
                      inside_peer_address(*in).to_string() + "): " + quote(shown));
    } else if (std::find(out.neighbours.begin(), out.neighbours.end(), *a) !=
               out.neighbours.end()) {
      error(item, "neighbour listed twice " + quote(shown));
    } else {
      out.neighbours.push_back(*a);
    }
  }
}

// routes[].tunnel: a route-based tunnel of this file (or of the running config), whose traffic
// selectors hold the route's prefix.
void Parser::check_route_tunnels() {
  if (!tunnels_clean_ && !seeded_) return;
  for (const auto& rt : route_tunnels_) {
    const Tunnel* t = config_.find_tunnel(rt.tunnel);
    if (!t) {
      std::string known;
      for (const auto& k : config_.tunnels) {
        if (k.route_based()) known += (known.empty() ? "" : ", ") + bare(k.name);
      }
      error(rt.at, "unknown tunnel " + quote(rt.tunnel) +
                       " (route-based tunnels: " + (known.empty() ? "none" : known) + ")");
    } else if (!t->route_based()) {
      error(rt.at, "tunnel " + quote(rt.tunnel) +
                       " is not route-based (it has no inside addresses): its remote_cidrs are "
                       "what it carries");
    } else if (rt.prefix &&
               std::none_of(t->remote_cidrs.begin(), t->remote_cidrs.end(),
                            [&](const IpPrefix& r) { return covers(r, *rt.prefix); })) {
      error(rt.at, rt.prefix->to_string() +
                       " is not within the remote_cidrs (traffic selectors) "
                       "of tunnel " +
                       quote(rt.tunnel));
    }
  }
}

// After every section: bgp's default router ID, and what BGP leaves unused.
void Parser::check_bgp() {
  BgpConfig& b = config_.bgp;
  if (!b.enabled() || !bgp_at_) return;
  if (!b.router_id && interfaces_clean_) {
    for (const auto& i : config_.interfaces) {
      for (const auto& a : i.addresses) {
        if (!b.router_id && a.address.is_v4()) b.router_id = a.address;
      }
    }
    if (!b.router_id) {
      error(*bgp_at_, "no IPv4 interface address to take the router ID from: set router_id");
    }
  }
  if (tunnels_clean_ && tunnel_bgp_values_.empty()) {
    warning(*bgp_at_, "no tunnel has a bgp section: bgpd runs without neighbours");
  }
}

}  // namespace espgw::config
