#pragma once
// The AWS importer's insides (espgwctl import-aws), shared by the files that each do one part:
//   config/import/aws_vpn_text.cpp     the "Generic" text download into an AwsConnection
//   config/import/aws_vpn_xml.cpp      the CustomerGatewayConfiguration XML into an AwsConnection
//   config/import/aws_vpn_convert.cpp  one tunnel's fields into espgw's values (Tunnel)
//   config/import/aws_vpn_bgp.cpp      a dynamic-routing tunnel's BGP fields (Tunnel::Bgp)
//   config/import/aws_vpn.cpp          import_aws: the driver and the YAML it writes
// import.h is the interface; this header is not part of it.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "config/import/import.h"

namespace espgw::import::aws {

struct Field {
  std::string value;
  int line = 0;
  std::string where;  // "IPSec Tunnel #1: Encryption Algorithm", "vpn_connection/.../lifetime"
};

// What a tunnel has, by a key of our own; each key is described in both formats for "missing"
// messages.
struct KeyInfo {
  const char* key;
  const char* section;  // the text format's "#N: ..." heading
  const char* label;    // the text format's "- Label : value"
  const char* element;  // the XML path below <ipsec_tunnel>
  bool required;
};

inline constexpr const char* kIke = "#1: Internet Key Exchange Configuration";
inline constexpr const char* kIpsec = "#2: IPSec Configuration";
inline constexpr const char* kIface = "#3: Tunnel Interface Configuration";

inline constexpr std::array<KeyInfo, 21> kKeys = {{
    {"ike.version", kIke, "IKE version", "ike/ike_version", false},
    {"ike.auth_method", kIke, "Authentication Method", "", false},
    {"ike.psk", kIke, "Pre-Shared Key", "ike/pre_shared_key", true},
    {"ike.integrity", kIke, "Authentication Algorithm", "ike/authentication_protocol", true},
    {"ike.encryption", kIke, "Encryption Algorithm", "ike/encryption_protocol", true},
    {"ike.lifetime", kIke, "Lifetime", "ike/lifetime", true},
    {"ike.mode", kIke, "Phase 1 Negotiation Mode", "ike/mode", false},
    {"ike.dh", kIke, "Diffie-Hellman", "ike/perfect_forward_secrecy", true},
    {"esp.protocol", kIpsec, "Protocol", "ipsec/protocol", false},
    {"esp.integrity", kIpsec, "Authentication Algorithm", "ipsec/authentication_protocol", false},
    {"esp.encryption", kIpsec, "Encryption Algorithm", "ipsec/encryption_protocol", true},
    {"esp.lifetime", kIpsec, "Lifetime", "ipsec/lifetime", true},
    {"esp.mode", kIpsec, "Mode", "ipsec/mode", false},
    {"esp.pfs", kIpsec, "Perfect Forward Secrecy", "ipsec/perfect_forward_secrecy", false},
    {"dpd.interval", kIpsec, "DPD Interval", "ipsec/dead_peer_detection/interval", false},
    {"dpd.retries", kIpsec, "DPD Retries", "ipsec/dead_peer_detection/retries", false},
    {"mss", kIpsec, "TCP MSS Adjustment", "ipsec/tcp_mss_adjustment", false},
    {"clear_df", kIpsec, "Clear Don't Fragment Bit", "ipsec/clear_df_bit", false},
    {"outside.cgw", "#3: Tunnel Interface Configuration, Outside IP Addresses", "Customer Gateway",
     "customer_gateway/tunnel_outside_address/ip_address", true},
    {"outside.vgw", "#3: Tunnel Interface Configuration, Outside IP Addresses",
     "Virtual Private Gateway", "vpn_gateway/tunnel_outside_address/ip_address", true},
    {"mtu", kIface, "Tunnel interface MTU", "", false},
}};

struct AwsTunnel {
  int number = 0;
  int line = 0;       // of "IPSec Tunnel #N" / <ipsec_tunnel>
  int end_line = 0;   // text: the last line that belongs to it
  std::string where;  // "IPSec Tunnel #1" / "vpn_connection/ipsec_tunnel[1]"
  std::map<std::string, Field> f;
  Field inside_cgw, inside_vgw;    // the inside /30s: "169.254.44.2/30"
  Field inside6_cgw, inside6_vgw;  // the IPv6 inside /126s, when the connection has them
  // Dynamic routing (text: "#4: Border Gateway Protocol (BGP) Configuration"; XML: <bgp>).
  Field cgw_asn, vgw_asn;  // "Customer Gateway ASN", "Virtual Private  Gateway ASN"
  Field neighbour;         // "Neighbor IP Address" (the XML has none: the AWS inside address)
  Field hold_time;         // "Neighbor Hold Time" / <vpn_gateway><bgp><hold_time>
  const Field* get(std::string_view key) const {
    auto it = f.find(std::string(key));
    return it == f.end() ? nullptr : &it->second;
  }
};

// What either format says about a VPN connection.
struct AwsConnection {
  std::string source;
  bool xml = false;
  std::string vpn_id, cgw_id, vgw_id;
  std::vector<AwsTunnel> tunnels;
  std::vector<Field> static_routes;
  int bgp_line = 0;  // where the file says it uses BGP (dynamic routing); 0: static routing
  int last_line = 0;
  std::vector<std::string> notes;
};

// Throw ImportError "SOURCE:LINE: WHAT"; for a field, its line and where it is.
[[noreturn]] void fail(const std::string& source, int line, const std::string& what);
[[noreturn]] void fail(const std::string& source, const Field& f, const std::string& what);

// Lower case, runs of blanks as one space: "Customer Gateway \t\t" -> "customer gateway".
std::string label_of(std::string_view s);

// The text format (aws_vpn_text.cpp) and the XML format (aws_vpn_xml.cpp).
AwsConnection parse_text(const std::string& text, const std::string& source);
AwsConnection parse_xml_connection(const std::string& text, const std::string& source);

// One tunnel as espgw configures it (aws_vpn_convert.cpp).
struct Tunnel {
  std::string name;
  IpAddress cgw, vgw;
  std::string ike_proposal, esp_proposal;
  int version = 1;
  uint32_t ike_life = 28800, child_life = 3600;
  uint32_t dpd_delay = 10, dpd_retries = 3;
  uint16_t mss = 1379;
  std::optional<uint16_t> mtu;
  bool clear_df = true;
  std::string psk;
  const AwsTunnel* from = nullptr;
  // A dynamic-routing tunnel: route-based, with its BGP neighbour (aws_vpn_bgp.cpp).
  struct Bgp {
    uint32_t local_asn = 0, remote_asn = 0;
    std::vector<InterfaceAddress> inside;  // ours: "169.254.44.2/30", "fd00:44::2/126"
    std::vector<IpAddress> neighbours;     // AWS's inside addresses
    uint32_t hold_s = 30;
    const Field* local_asn_from = nullptr;  // for the top-level bgp.asn's origin
  };
  std::optional<Bgp> bgp;
};

Tunnel convert(const AwsConnection& c, const AwsTunnel& t, const AwsOptions& o,
               std::vector<std::string>& notes);
// The BGP side of a dynamic-routing tunnel (aws_vpn_bgp.cpp): fails with the line of a value
// espgw cannot take, notes what it does not use.
Tunnel::Bgp convert_bgp(const AwsConnection& c, const AwsTunnel& t,
                        std::vector<std::string>& notes);

}  // namespace espgw::import::aws
