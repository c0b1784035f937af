#include "frr/bgp_view.h"

#include <cstdint>
#include <string>

#include "common/ip_address.h"

namespace espgw::frr {
namespace {

using nlohmann::json;

// FRR writes addresses its own way; compare them parsed.
bool same_address(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto pa = IpAddress::parse(a);
  const auto pb = IpAddress::parse(b);
  return pa && pb && *pa == *pb;
}

uint64_t count(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// The neighbour's entries in the summary's address families, its own family's first.
std::vector<json> entries(const json& summary, const std::string& neighbour) {
  std::vector<json> out;
  if (!summary.is_object()) return out;
  const bool v6 = neighbour.find(':') != std::string::npos;
  const char* order[] = {v6 ? "ipv6Unicast" : "ipv4Unicast", v6 ? "ipv4Unicast" : "ipv6Unicast"};
  for (const char* af : order) {
    const auto f = summary.find(af);
    if (f == summary.end() || !f->is_object()) continue;
    const auto p = f->find("peers");
    if (p == f->end() || !p->is_object()) continue;
    for (const auto& [addr, e] : p->items()) {
      if (e.is_object() && same_address(addr, neighbour)) out.push_back(e);
    }
  }
  return out;
}

}  // namespace

json bgp_view(const BgpPeers& peers, const json& summary, const json& bfd_peers) {
  json out = json::array();
  for (const auto& n : peers.neighbours) {
    json s = {{"tunnel", n.tunnel},
              {"neighbour", n.address},
              {"remote_asn", n.remote_asn},
              {"state", "unknown"},
              {"uptime_s", nullptr},
              {"prefixes_received", 0},
              {"prefixes_sent", 0},
              {"flaps", 0},
              {"bfd", nullptr}};
    const auto es = entries(summary, n.address);
    if (!es.empty()) {
      const json& first = es.front();
      const std::string state = first.value("state", "unknown");
      s["state"] = state;
      if (state == "Established") s["uptime_s"] = count(first, "peerUptimeMsec") / 1000;
      s["flaps"] = count(first, "connectionsDropped");
      uint64_t rcvd = 0;
      uint64_t sent = 0;
      for (const auto& e : es) {
        rcvd += count(e, "pfxRcd");
        sent += count(e, "pfxSnt");
      }
      s["prefixes_received"] = rcvd;
      s["prefixes_sent"] = sent;
    }
    if (bfd_peers.is_array()) {
      for (const auto& b : bfd_peers) {
        if (b.is_object() && b.value("peer", "") != "" &&
            same_address(b.value("peer", ""), n.address)) {
          s["bfd"] = b.value("status", "unknown");
          break;
        }
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace espgw::frr
