#pragma once
// Which BGP neighbour belongs to which tunnel, and the FRR instance that runs the sessions, as
// `espgwctl bgp` and espgw-exporter read them from espgw's config (docs/routing.md "Reading state
// for operators"). Only `bgp.frr_instance` and the tunnels' `name`, `inside` and `bgp` members
// are read, leniently as protocol/socket_paths.h reads the sockets: a config whose secrets file
// the reader may not open (mode 0600, root's) still names its neighbours.

#include <cstdint>
#include <string>
#include <vector>

namespace espgw::frr {

struct BgpNeighbour {
  std::string tunnel;
  std::string address;  // as FRR writes it in its JSON (IpAddress::to_string())
  uint32_t remote_asn = 0;
  bool bfd = false;
};

struct BgpPeers {
  bool enabled = false;                  // the config has a `bgp` section with an asn
  std::string instance = "espgw";        // bgp.frr_instance: vtysh -N
  std::vector<BgpNeighbour> neighbours;  // in the config's tunnel order
};

// Throws std::runtime_error for a file that cannot be read or is not YAML.
BgpPeers bgp_peers_from_config(const std::string& config_path);
BgpPeers bgp_peers_from_yaml(const std::string& yaml_text);

}  // namespace espgw::frr
