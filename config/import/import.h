#pragma once
// Config importers: turn what an operator already has (an AWS VPN connection's downloaded
// configuration, a strongSwan ipsec.conf with its ipsec.secrets, a list of regions) into espgw
// configs. Each importer returns the config as YAML text plus the pre-shared keys, which are
// written to a separate secrets file (mode 0600); the text is validated by config::parse before it
// is written (cli.cpp). Nothing is ever dropped silently: what an importer does not carry over is a
// note that names the file, the line and the reason.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/ip_address.h"

namespace espgw::import {

// A file that cannot be read, parsed or mapped. The message starts with "FILE:LINE: ".
class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An interface address with its connected prefix, host bits kept: "172.31.1.10/24".
struct InterfaceAddress {
  IpAddress address;
  uint8_t length = 0;
  static std::optional<InterfaceAddress> parse(std::string_view text);
  IpPrefix network() const;
  std::string to_string() const;
};

// This gateway's own side, which neither AWS's file nor ipsec.conf describes: its DPDK ports and
// the networks behind it. From the command line; what is missing becomes a marked placeholder.
struct Site {
  std::string wan_device;                       // DPDK devargs of the port that carries the tunnels
  std::optional<InterfaceAddress> wan_address;  // its address (on EC2: the ENI's private address)
  std::optional<IpAddress> wan_gateway;         // default: the subnet's base + 1 (the VPC router)
  uint16_t wan_mtu = 1500;
  std::string lan_device;  // optional second port towards the local networks
  std::optional<InterfaceAddress> lan_address;
  std::optional<IpAddress> lan_gateway;
  uint16_t lan_mtu = 9001;
  std::vector<IpPrefix> local_cidrs;   // networks behind this gateway
  std::vector<IpPrefix> remote_cidrs;  // networks behind the peer
  uint32_t workers = 1;
  std::string control_socket;                                        // empty: the default
  std::vector<std::pair<std::string, std::string>> dataplane_extra;  // more dataplane: keys
  std::string secrets_file;  // absolute path that ike.secrets_file names
};

// Where a line of the generated YAML came from, to point validation errors back at the input.
struct Origin {
  std::string file;
  int line = 0;
  std::string what;  // "conn vpc-b: ike=aes128-sha1-modp2048"
};

struct Result {
  std::string yaml;                            // the config
  std::map<int, Origin> origins;               // YAML line (1-based) -> input
  std::map<std::string, std::string> secrets;  // psk_ref -> pre-shared key
  std::vector<std::string> notes;              // "FILE:LINE: ..." what was not carried over
  std::vector<std::string> placeholders;       // "LINE: what to edit" in the YAML
};

// AWS Site-to-Site VPN: the "Generic" text download or the CustomerGatewayConfiguration XML
// (recognised by its first non-blank character, '<').
struct AwsOptions {
  std::string name = "aws";        // tunnels NAME-tunnel1/2, peer NAME-vpn
  std::optional<int> ike_version;  // overrides the file's
  // A dynamic-routing (BGP) download as if static: one peer, the VPC's CIDRs from remote_cidrs.
  bool static_routing = false;
};
Result import_aws(const std::string& text, const std::string& source, const Site& site,
                  const AwsOptions& options);

// strongSwan's ipsec.conf (starter syntax) and ipsec.secrets.
struct IpsecConfOptions {
  std::string secrets_path;  // ipsec.secrets; empty: none (conns with authby=secret then fail)
};
Result import_ipsec_conf(const std::string& path, const Site& site,
                         const IpsecConfOptions& options);

// A full mesh: one config per region, each with a tunnel to every other region.
struct MeshOptions {
  bool static_sas = false;  // lab keys in the configs instead of IKE with pre-shared keys
  std::string secrets_dir = "/etc/espgw";  // IKE: where each region's secrets file will live
  // Lanes of every tunnel (docs/lanes.md); 0: the regions file's defaults.lanes, else 1. More
  // than 1 needs IKE and NAT-T and marks every tunnel peer_kind: espgw.
  unsigned lanes = 0;
  // Route-based tunnels with BGP and BFD (docs/routing.md): region i's ASN 64512 + i announces
  // its CIDRs; each pair's tunnels share an inside /30 from 169.254.0.0/16.
  bool bgp = false;
  // Tunnels per pair of regions (--bgp with IKE only): each its own inside /30, BGP session and
  // IKE identities; BGP spreads the traffic over them (ECMP).
  unsigned tunnels = 1;
};
struct MeshConfig {
  std::string region;
  Result result;
};
std::vector<MeshConfig> generate_mesh(const std::string& regions_yaml, const std::string& source,
                                      const MeshOptions& options);

// config::parse's error text for `r` (named `name`), each line followed by the input line its
// YAML line came from: "... [from ipsec.conf:12: conn vpc-b: esp=aes128-sha265]".
std::string explain(const std::string& what, const Result& r, const std::string& name);

// The CLI: `espgwctl import-aws|import-ipsec-conf|mesh ...` (cli.cpp). Returns the exit code.
bool is_offline_command(std::string_view word);
int run_offline_command(int argc, char** argv);

}  // namespace espgw::import
