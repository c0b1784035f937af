#include <algorithm>

#include "config/parser.h"

namespace espgw::config {

void Parser::interface(const Value& v, Interface& out) {
  auto f = map(v, {"name", "device", "mac", "addresses", "mtu", "exception", "neighbours"});
  if (!f) return;
  const bool name_ok = interface_name(*f, out);
  if (auto x = require(*f, "device")) device(*x, out.device);
  interface_mac(*f, out);
  const bool has_v6 = interface_addresses(*f, out);
  if (auto x = f->get("mtu")) {
    if (auto n = integer(*x, kMinMtu, kMaxMtu)) {
      if (has_v6 && *n < kMinMtuV6) {
        error(*x, "an interface with an IPv6 address needs an MTU of 1280 or more, got " +
                      quote(x->node.Scalar()));
      } else {
        out.mtu = static_cast<uint16_t>(*n);
      }
    }
  }
  if (auto x = f->get("neighbours")) neighbours(*x, out);
  const size_t before = errors_.size();
  if (auto x = f->get("exception")) {
    exception_path(*x, out.exception);
  }
  // A bad name or exception path is reported once, not again as a kernel name clash.
  if (!name_ok || errors_.size() != before) return;
  interface_kernel_name(*f, out);
}

// Returns whether the name is valid and the first of its kind.
bool Parser::interface_name(const Fields& f, Interface& out) {
  bool name_ok = false;
  if (auto x = require(f, "name")) {
    if (auto s = name(*x)) {
      out.name = *s;
      name_ok = first_name(*x, *s, interface_names_, "interface");
    }
  }
  return name_ok;
}

// DPDK devargs (a port's or an exception path's), each used once in the file.
void Parser::device(const Value& x, std::string& out) {
  if (auto s = text(x)) {
    if (has_space(*s)) {
      error(x, "DPDK devargs contain no spaces, got " + quote(*s));
    } else {
      out = *s;
      if (auto [first, inserted] = devices_.emplace(*s, x.line); !inserted) {
        error(x, "device used twice " + quote(*s) + " (first at line " +
                     std::to_string(first->second) + ")");
      }
    }
  }
}

void Parser::interface_mac(const Fields& f, Interface& out) {
  if (auto x = f.get("mac")) {
    if (auto s = scalar(*x, "a MAC address")) {
      auto mac = parse_mac(*s);
      if (!mac) {
        error(*x, "not a MAC address " + quote(*s));
      } else if ((*mac)[0] & 1) {
        error(*x, "multicast MAC address " + quote(*s));
      } else if (*mac == MacAddress{}) {
        error(*x, "all-zero MAC address " + quote(*s));
      } else {
        out.mac = mac;
      }
    }
  }
}

// Our addresses: unicast, not a prefix's network or broadcast address, each once, and connected
// prefixes that overlap no other interface's. Returns whether one of them is IPv6.
bool Parser::interface_addresses(const Fields& f, Interface& out) {
  bool has_v6 = false;
  if (auto x = require(f, "addresses")) {
    if (auto items = list(*x, true)) {
      for (const auto& item : *items) {
        auto p = interface_address(item);
        if (!p) continue;
        const std::string shown = item.node.Scalar();
        if (!is_unicast(p->address)) {
          error(item, "not a unicast address " + quote(shown));
          continue;
        }
        const IpPrefix net = network_of(*p);
        if (is_network_or_broadcast(*p)) {
          error(item, "the network or broadcast address of its prefix " + quote(shown));
          continue;
        }
        bool clash = false;
        for (const auto& seen : interface_addresses_) {
          if (seen.prefix.address == p->address) {
            error(item, "address used twice " + quote(shown) + " (first at line " +
                            std::to_string(seen.line) + ")");
            clash = true;
            break;
          }
          if (seen.owner != out.name && overlaps(seen.prefix, *p)) {
            error(item, "connected prefix " + net.to_string() + " overlaps interface \"" +
                            seen.owner + "\" (line " + std::to_string(seen.line) +
                            "): " + quote(shown));
            clash = true;
            break;
          }
        }
        if (clash) continue;
        has_v6 |= p->address.is_v6();
        interface_addresses_.push_back({*p, out.name, item.line});
        out.addresses.push_back(*p);
      }
    }
  }
  return has_v6;
}

// The kernel interface's name: given, or "espgw-" and the interface's; unique.
void Parser::interface_kernel_name(const Fields& f, Interface& out) {
  if (out.exception.kind == ExceptionKind::kTap && out.exception.kernel_name.empty()) {
    out.exception.kernel_name = "espgw-" + out.name;
    if (out.exception.kernel_name.size() > kIfNameMax) {
      const Value at = f.get("exception").value_or(f.get("name").value_or(f.self()));
      error(at, "the default kernel interface name " + quote(out.exception.kernel_name) +
                    " is longer than 15 characters; set exception.kernel_name");
    }
  }
  if (!out.exception.kernel_name.empty()) {
    const int line = f.get("exception") ? f.get("exception")->line : f.self().line;
    if (auto [first, inserted] = kernel_names_.emplace(out.exception.kernel_name, line);
        !inserted) {
      error(line, join(f.self().path, "exception.kernel_name"),
            "kernel interface name used twice " + quote(out.exception.kernel_name) +
                " (first at line " + std::to_string(first->second) + ")");
    }
  }
}

// Permanent neighbour entries: next hops whose MAC is known (and fixed), and test set-ups that
// must not depend on ARP timing.
void Parser::neighbours(const Value& v, Interface& out) {
  auto items = list(v, false);
  if (!items) return;
  for (const auto& item : *items) {
    auto f = map(item, {"address", "mac"});
    if (!f) continue;
    StaticNeighbour n;
    bool ok = true;
    if (auto x = require(*f, "address")) {
      if (auto a = unicast(*x)) {
        n.address = *a;
        if (std::none_of(out.addresses.begin(), out.addresses.end(),
                         [&](const IpPrefix& p) { return p.contains(*a); }) &&
            !is_link_local_v6(*a)) {
          error(*x, "not on a connected prefix of interface " + quote(out.name) + ": " +
                        quote(x->node.Scalar()));
          ok = false;
        }
        for (const auto& other : out.neighbours) {
          if (other.address == *a) {
            error(*x, "neighbour listed twice " + quote(x->node.Scalar()));
            ok = false;
          }
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto x = require(*f, "mac")) {
      if (auto s = scalar(*x, "a MAC address")) {
        auto mac = parse_mac(*s);
        if (!mac || ((*mac)[0] & 1) || *mac == MacAddress{}) {
          error(*x, "not a unicast MAC address " + quote(*s));
          ok = false;
        } else {
          n.mac = *mac;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (ok) out.neighbours.push_back(n);
  }
}

void Parser::exception_path(const Value& v, ExceptionPath& out) {
  if (v.node.IsScalar()) {
    // Shorthand: "exception: tap" or "exception: none".
    const std::string& s = v.node.Scalar();
    if (s == "tap") {
      out.kind = ExceptionKind::kTap;
    } else if (s == "none") {
      out.kind = ExceptionKind::kNone;
    } else if (s == "device") {
      error(v,
            "kind device needs a device: write {kind: device, device: DEVARGS}, got " + quote(s));
    } else {
      error(v, "unknown exception kind " + quote(s) + " (expected tap, device or none)");
    }
    return;
  }
  auto f = map(v, {"kind", "kernel_name", "device"});
  if (!f) return;
  if (auto x = f->get("kind")) {
    if (auto k = choice<ExceptionKind>(*x, "exception kind",
                                       {{"tap", ExceptionKind::kTap},
                                        {"device", ExceptionKind::kDevice},
                                        {"none", ExceptionKind::kNone}})) {
      out.kind = *k;
    } else {
      return;
    }
  }
  if (auto x = f->get("kernel_name")) {
    if (out.kind != ExceptionKind::kTap) {
      error(*x, "only with kind tap");
    } else if (auto s = scalar(*x, "an interface name")) {
      if (valid_kernel_name(*s)) {
        out.kernel_name = *s;
      } else {
        error(*x, "must be 1 to 15 letters, digits, '-', '_' or '.', got " + quote(*s));
      }
    }
  }
  if (auto x = f->get("device")) {
    if (out.kind != ExceptionKind::kDevice) {
      error(*x, "only with kind device");
    } else {
      device(*x, out.device);
    }
  } else if (out.kind == ExceptionKind::kDevice) {
    error(f->self(), "missing key \"device\" (kind device needs DPDK devargs)");
  }
}

void Parser::route(const Value& v, Route& out) {
  auto f = map(v, {"prefix", "via", "interface", "tunnel"});
  if (!f) return;
  auto px = require(*f, "prefix");
  std::optional<IpPrefix> p = px ? prefix(*px) : std::nullopt;
  if (p) {
    out.prefix = *p;
    for (const auto& seen : route_prefixes_) {
      if (seen.prefix == *p) {
        error(*px, "duplicate route " + quote(px->node.Scalar()) + " (first at line " +
                       std::to_string(seen.line) + ")");
        p.reset();
        break;
      }
    }
    if (p) route_prefixes_.push_back({*p, "", px->line});
  }
  // Into a route-based tunnel: the tunnel is the next hop (check_route_tunnels(), once the
  // tunnels are known).
  if (auto tx = f->get("tunnel")) {
    for (std::string_view key : {"via", "interface"}) {
      if (auto x = f->get(key)) {
        error(*x, "a route into a tunnel takes no via or interface (the tunnel is its next hop)");
      }
    }
    if (auto s = name(*tx)) {
      out.tunnel = *s;
      route_tunnels_.push_back({p, *s, *tx});
    }
    return;
  }
  auto vx = f->get("via");
  if (vx) {
    if (auto a = unicast(*vx)) {
      if (p && a->family != p->address.family) {
        error(*vx, family_name(*a) + " next hop for an " + family_name(p->address) + " prefix " +
                       quote(vx->node.Scalar()));
      } else {
        out.via = a;
      }
    }
  }
  if (auto x = require(*f, "interface")) {
    if (auto s = name(*x)) {
      out.interface = *s;
      const Interface* iface = find_interface(*s);
      if (!interfaces_clean_) return;
      if (!iface) {
        std::string known;
        for (const auto& i : config_.interfaces)
          known += (known.empty() ? "" : ", ") + i.name;
        error(*x, "unknown interface " + quote(*s) + " (interfaces: " + known + ")");
        return;
      }
      if (p && std::none_of(iface->addresses.begin(), iface->addresses.end(),
                            [&](auto& a) { return a.address.family == p->address.family; })) {
        error(*x, "interface has no " + family_name(p->address) + " address to route " +
                      p->to_string() + ": " + quote(*s));
        return;
      }
      if (out.via) {
        const IpAddress& via = *out.via;
        if (owner_of(via)) {
          error(*vx, "next hop is one of our own addresses " + quote(vx->node.Scalar()));
        } else if (!is_link_local_v6(via) &&
                   std::none_of(iface->addresses.begin(), iface->addresses.end(),
                                [&](auto& a) { return a.contains(via); })) {
          error(*vx, "next hop is not on a connected prefix of interface " + quote(iface->name) +
                         ": " + quote(vx->node.Scalar()));
        }
      }
    }
  }
}

}  // namespace espgw::config
