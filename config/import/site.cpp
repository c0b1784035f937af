#include "config/import/site.h"

#include <charconv>

namespace espgw::import {

std::optional<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  const size_t slash = text.find('/');
  InterfaceAddress a;
  const auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  a.address = *ip;
  const unsigned max = ip->is_v4() ? 32 : 128;
  if (slash == std::string_view::npos) {
    a.length = static_cast<uint8_t>(max);
    return a;
  }
  const std::string_view len = text.substr(slash + 1);
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (ec != std::errc() || end != len.data() + len.size() || len.empty() || n > max) {
    return std::nullopt;
  }
  a.length = static_cast<uint8_t>(n);
  return a;
}

IpPrefix InterfaceAddress::network() const {
  IpPrefix p;
  p.address = address;
  p.length = length;
  for (size_t bit = length; bit < address.size() * 8; ++bit) {
    p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return p;
}

std::string InterfaceAddress::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

std::optional<IpAddress> subnet_router(const InterfaceAddress& a) {
  const unsigned max = a.address.is_v4() ? 32 : 128;
  if (a.length + 2u > max) return std::nullopt;  // /31, /32: no room for a router
  IpAddress r = a.network().address;
  for (size_t i = r.size(); i-- > 0;) {
    if (++r.bytes[i] != 0) break;
  }
  if (r == a.address) return std::nullopt;
  return r;
}

std::string prefix_list(const std::vector<IpPrefix>& ps) {
  std::string s = "[";
  for (const auto& p : ps)
    s += (s.size() > 1 ? ", " : "") + p.to_string();
  return s + "]";
}

IpAddress wan_local(const Site& site, const InterfaceAddress& fallback) {
  return site.wan_address ? site.wan_address->address : fallback.address;
}

namespace {

// The WAN port (`wan`, with the `extra` addresses) and the LAN port where the site has one.
void write_interfaces(YamlWriter& y, const Site& site, const InterfaceAddress& wan,
                      bool wan_is_placeholder, std::string_view why, const std::string& source,
                      const std::vector<InterfaceAddress>& extra) {
  y.line(0, "interfaces:");
  y.line(2, "- name: wan");
  if (site.wan_device.empty()) {
    y.placeholder(4, "device: EDIT-wan-device",
                  "the DPDK device of the port that carries the tunnels, e.g. \"0000:00:06.0\" "
                  "(--wan-interface)");
  } else {
    y.line(4, "device: " + yaml_quote(site.wan_device));
  }
  std::string addresses = wan.to_string();
  for (const auto& e : extra) {
    if (!(e.address == wan.address)) addresses += ", " + e.to_string();
  }
  if (wan_is_placeholder && !site.wan_address) {
    y.placeholder(4, "addresses: [" + addresses + "]", std::string(why));
  } else {
    y.line(4, "addresses: [" + addresses + "]");
  }
  y.line(4, "mtu: " + std::to_string(site.wan_mtu));
  y.line(4, "exception: tap", "kernel interface espgw-wan: charon does IKE through it");
  if (site.lan_device.empty() && !site.lan_address) return;
  if (!site.lan_address) {
    throw ImportError(source + ": --lan-interface needs --lan-address ADDRESS/LENGTH");
  }
  y.line(2, "- name: lan");
  if (site.lan_device.empty()) {
    y.placeholder(4, "device: EDIT-lan-device",
                  "the DPDK device of the port towards the local networks (--lan-interface)");
  } else {
    y.line(4, "device: " + yaml_quote(site.lan_device));
  }
  y.line(4, "addresses: [" + site.lan_address->to_string() + "]");
  y.line(4, "mtu: " + std::to_string(site.lan_mtu));
  y.line(4, "exception: tap");
}

// The default route through the WAN port's router; the local networks through the LAN port's.
void write_routes(YamlWriter& y, const Site& site, const InterfaceAddress& wan, bool lan,
                  const std::string& source) {
  y.line(0, "routes:");
  std::optional<IpAddress> gw = site.wan_gateway ? site.wan_gateway : subnet_router(wan);
  bool gw_guessed = false;
  if (!gw && !site.wan_address && !site.wan_gateway) {
    // A placeholder address that is itself the subnet's base + 1: the next one stands in.
    if (wan.length + 2u <= wan.address.size() * 8) {
      IpAddress g = wan.network().address;
      g.bytes[g.size() - 1] = static_cast<uint8_t>(g.bytes[g.size() - 1] + 2);
      gw = g;
      gw_guessed = true;
    }
  }
  if (!gw) {
    throw ImportError(source + ": the WAN address " + wan.to_string() +
                      " leaves no room for a router: give --wan-gateway ADDRESS");
  }
  const char* any = wan.address.is_v4() ? "0.0.0.0/0" : "::/0";
  y.line(2, std::string("- prefix: ") + any,
         site.wan_gateway ? "" : "the VPC router: the subnet's base address + 1");
  if (gw_guessed) {
    y.placeholder(4, "via: " + gw->to_string(), "the WAN port's next hop (--wan-gateway)");
  } else {
    y.line(4, "via: " + gw->to_string());
  }
  y.line(4, "interface: wan");
  if (!lan) return;
  for (const auto& c : site.local_cidrs) {
    if (c.address.family != site.lan_address->address.family) continue;
    if (c.contains(site.lan_address->address) && c.length >= site.lan_address->length) continue;
    std::optional<IpAddress> lgw =
        site.lan_gateway ? site.lan_gateway : subnet_router(*site.lan_address);
    if (!lgw) {
      throw ImportError(source + ": the LAN address " + site.lan_address->to_string() +
                        " leaves no room for a router to " + c.to_string() +
                        ": give --lan-gateway ADDRESS");
    }
    y.line(2, "- prefix: " + c.to_string(), "a local network, behind the LAN port");
    y.line(4, "via: " + lgw->to_string());
    y.line(4, "interface: lan");
  }
}

}  // namespace

void write_secrets_file(YamlWriter& y, const Site& site) {
  y.blank();
  y.line(0, "ike:");
  y.line(2, "secrets_file: " + site.secrets_file, "mode 0600: the pre-shared keys");
}

void write_site(YamlWriter& y, const Site& site, const InterfaceAddress& wan_address,
                bool wan_is_placeholder, std::string_view why, const std::string& source,
                const std::vector<InterfaceAddress>& extra) {
  y.line(0, "dataplane:");
  y.line(2, "workers: " + std::to_string(site.workers),
         "worker lcores: start espgw with -l 0-" + std::to_string(site.workers));
  if (!site.control_socket.empty()) y.line(2, "control_socket: " + site.control_socket);
  for (const auto& [k, v] : site.dataplane_extra)
    y.line(2, k + ": " + v);
  y.blank();
  const InterfaceAddress wan = site.wan_address ? *site.wan_address : wan_address;
  write_interfaces(y, site, wan, wan_is_placeholder, why, source, extra);
  y.blank();
  write_routes(y, site, wan, !site.lan_device.empty() || site.lan_address, source);
}

}  // namespace espgw::import
