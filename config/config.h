#pragma once
// espgw's configuration: one YAML file describes interfaces, routes and tunnels (and, later, IKE
// peers). This header is the contract between the parser (config/parser.h and the files it lists)
// and every binary.
//
// Validation is strict: unknown keys, wrong types and bad values are errors that name the file,
// the line, the key path and the value, e.g.
//   espgw.yaml:14: tunnels[1].static_sa.outbound.algorithm: unknown algorithm "aes129gcm16"
// Key material is never part of an error message.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto_backend_kind.h"
#include "common/esp_algorithm.h"
#include "common/esp_sa_options.h"
#include "common/ip_address.h"

namespace espgw::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using MacAddress = std::array<uint8_t, 6>;
std::optional<MacAddress> parse_mac(std::string_view text);
std::string mac_to_string(const MacAddress& mac);

// Lane k >= 1 of a tunnel sends its ESP-in-UDP from lane_port_base + k - 1 (docs/lanes.md): 63
// ports from the base, which hold neither IKE port (500, 4500) nor a tunnel's local_port.
inline constexpr uint16_t kDefaultLanePortBase = 4501;
inline constexpr uint16_t kLanePorts = 63;

struct DataplaneConfig {
  uint32_t workers = 1;  // worker lcores; each polls one RX queue of every port
  crypto::BackendKind crypto = crypto::BackendKind::kIpsecMb;
  uint32_t mbufs = 0;  // per worker pool; 0 = derived from ports, rings and bursts
  uint16_t rx_ring = 1024;
  uint16_t tx_ring = 1024;
  std::string control_socket = "/run/espgw/espgw.sock";
  // SA state across restarts (docs/sa-state.md): every sa_state_interval_ms (0: never) each SA's
  // sequence numbers go to sa_state_file; empty: beside the control socket, named after it
  // (sa_state_path(): /run/espgw/espgw.sock -> /run/espgw/espgw.sa-state.json), so that espgws
  // whose sockets share a folder keep a file each.
  std::string sa_state_file;
  uint32_t sa_state_interval_ms = 100;
  std::string sa_state_path() const {
    if (!sa_state_file.empty()) return sa_state_file;
    std::string base = control_socket;
    if (base.ends_with(".sock")) base.resize(base.size() - 5);
    return base + ".sa-state.json";
  }
  // The default of earlier releases, sa-state.json beside the control socket: read where
  // sa_state_path() has no file yet (an upgrade's first start). Empty where sa_state_file is set.
  std::string legacy_sa_state_path() const {
    if (!sa_state_file.empty()) return {};
    const auto slash = control_socket.rfind('/');
    return (slash == std::string::npos ? std::string(".") : control_socket.substr(0, slash)) +
           "/sa-state.json";
  }
  uint32_t exception_pps = 20000;  // packets/s to the kernel, all workers together
  uint32_t arp_hold_packets = 4;   // packets held per unresolved next hop
  uint32_t arp_retries = 3;
  uint32_t arp_retry_ms = 1000;
  uint32_t neighbour_ttl_s = 300;  // ageing of learned entries
  // After 100 empty polls in a row a worker sleeps this long before polling again; 0 = poll
  // without pause (production). Labs on few cores use it so gateways leave CPU to their hosts.
  uint32_t idle_sleep_us = 0;
  uint16_t lane_port_base = kDefaultLanePortBase;
  // Lane liveness (docs/lanes.md "Lane liveness"): each lane of a tunnel of several lanes sends
  // an ESP dummy packet when it has sent nothing for lane_keepalive_ms (0: no keepalives and no
  // liveness decision); a lane whose inbound SAs received nothing for lane_dead_ms is silent and
  // its flows move to the other lanes until it is heard again.
  uint32_t lane_keepalive_ms = 100;
  uint32_t lane_dead_ms = 400;  // given or 4 x lane_keepalive_ms; more than lane_keepalive_ms
};

enum class ExceptionKind : uint8_t {
  kTap,     // a net_tap kernel interface with the port's MAC and addresses (the default)
  kDevice,  // any DPDK device (tests capture the exception path with net_pcap)
  kNone,    // no exception path: control traffic is dropped and counted
};

struct ExceptionPath {
  ExceptionKind kind = ExceptionKind::kTap;
  std::string kernel_name;  // kTap: kernel interface name; default "espgw-<interface>"
  std::string device;       // kDevice: DPDK devargs
};

struct StaticNeighbour {
  IpAddress address;
  MacAddress mac{};
};

struct Interface {
  std::string name;    // operator's name: "wan", "lan"
  std::string device;  // DPDK devargs: a PCI address or a vdev ("net_af_packet0,iface=veth0")
  std::optional<MacAddress> mac;    // default: the device's own
  std::vector<IpPrefix> addresses;  // ours, with the connected prefix: "198.51.100.1/24"
  uint16_t mtu = 1500;
  ExceptionPath exception;
  std::vector<StaticNeighbour> neighbours;  // permanent ARP/ND entries (next hops, tests)
};

struct Route {
  IpPrefix prefix;
  std::optional<IpAddress> via;  // next hop; absent = directly connected
  std::string interface;         // egress interface name (must exist); empty with `tunnel`
  std::string tunnel;            // into this route-based tunnel instead (exclusive with the above)
};

struct StaticSa {
  uint32_t spi = 0;
  esp::Algorithm algorithm;
  std::vector<uint8_t> enc_key;
  std::vector<uint8_t> salt;  // GCM: 4 bytes (may also be given as the last 4 bytes of key)
  std::vector<uint8_t> auth_key;
  // Where the SA's sequence numbers stand, for an SA carried over from elsewhere
  // (docs/sa-state.md); 0 and empty: a new SA. 64-bit, the ESN high half included. Outbound: the
  // last sequence number sent (Linux XFRM's oseq/oseq_hi); the next packet carries oseq + 1.
  // Inbound: the highest sequence number received (XFRM's seq/seq_hi) and which of those below it
  // were received: bit b of byte k of replay_bitmap stands for seq - (8k + b).
  uint64_t oseq = 0;
  uint64_t seq = 0;
  std::vector<uint8_t> replay_bitmap;
};

// IKE for a tunnel: strongSwan (charon) negotiates, espgw-ike loads this into charon over VICI,
// and the kernel-espgw plugin installs the resulting CHILD_SAs in the dataplane.
enum class DpdAction : uint8_t { kClear, kTrap, kRestart };
enum class StartAction : uint8_t { kNone, kTrap, kStart };
// The other end of a tunnel: another espgw gateway, or anything else (AWS, strongSwan, ...).
enum class PeerKind : uint8_t { kOther, kEspgw };

struct IkeConfig {
  uint8_t version = 2;    // 1 (main mode) or 2
  std::string local_id;   // default: the tunnel's local address
  std::string remote_id;  // default: the tunnel's remote address
  std::string psk_ref;    // name of the pre-shared key in the secrets file
  std::vector<std::string> ike_proposals{"aes128-sha256-modp2048"};  // strongSwan syntax
  // Only ESP algorithms the dataplane carries (esp::parse_algorithm), with optional DH groups.
  std::vector<std::string> esp_proposals{"aes128gcm16-modp2048", "aes128-sha256-modp2048"};
  uint32_t ike_lifetime_s = 28800;   // AWS: 28800
  uint32_t child_lifetime_s = 3600;  // AWS: 3600
  uint32_t rekey_margin_s = 540;     // AWS: 540
  uint32_t rekey_fuzz_percent = 100;
  uint64_t life_bytes = 0;  // CHILD_SA hard byte lifetime, 0 = none (soft: 90% of it)
  uint64_t life_packets = 0;
  uint32_t dpd_delay_s = 10;  // AWS: 10 s
  // IKEv1: charon's dpd_timeout (AWS: 30). IKEv2: how long an unanswered liveness check lasts
  // before the peer is dead; espgw-up turns it into charon's retransmissions (default 10:
  // config/charon_retransmit.h).
  uint32_t dpd_timeout_s = 30;
  DpdAction dpd_action = DpdAction::kRestart;
  StartAction start_action = StartAction::kStart;
  bool mobike = false;
  bool force_encap = false;  // UDP-encapsulate even without a NAT (tunnel.nat_t: true sets it)
};

struct Tunnel {
  std::string name;
  IpAddress local;   // outer address of this gateway (one of an interface's addresses)
  IpAddress remote;  // outer address of the peer
  std::vector<IpPrefix> local_cidrs;   // behind us (inbound traffic selectors: destination)
  std::vector<IpPrefix> remote_cidrs;  // behind the peer; routed into this tunnel
  bool nat_t = false;                  // RFC 3948 UDP encapsulation
  uint16_t local_port = 4500;
  uint16_t remote_port = 4500;
  bool esn = false;
  uint32_t replay_window = 128;
  esp::DfMode df = esp::DfMode::kCopy;
  std::optional<uint8_t> dscp;  // absent = copy the inner DSCP
  esp::EcnMode ecn = esp::EcnMode::kNormal;
  uint8_t ttl = 64;
  std::optional<uint16_t> mtu;  // largest inner packet; default derived from the egress MTU
  std::optional<uint16_t> mss;  // TCP MSS clamp; default derived from the tunnel MTU
  // Outer flows (docs/lanes.md): each lane its own SA pair and UDP source port; inner flows
  // spread over the lanes that are up. 1 to 64; more than 1 needs nat_t.
  uint8_t lanes = 1;
  // What the peer is (docs/config-reference.md `peer_kind`): lanes need an espgw gateway at the
  // other end (docs/lanes.md "Peers that cannot do lanes").
  PeerKind peer_kind = PeerKind::kOther;
  struct StaticSas {
    StaticSa outbound;
    StaticSa inbound;
  };
  std::optional<StaticSas> static_sa;  // lab and benchmark keys, instead of IKE
  std::optional<IkeConfig> ike;        // keys from IKE; exclusive with static_sa
  // Route-based tunnels (docs/routing.md): our inside addresses, at most one IPv4 (/30 or /31)
  // and one IPv6 (/126 or /127), on a kernel interface of the tunnel's own (inside_interface),
  // where bgpd and bfdd reach the peer's inside address through the tunnel. A tunnel with inside
  // addresses is route-based: its remote_cidrs are traffic selectors only, and routes (config
  // routes with `tunnel:`, BGP's through FPM) decide what enters it.
  std::vector<IpPrefix> inside;
  std::string inside_interface;  // default: inside_interface_name(name)
  bool route_based() const noexcept { return !inside.empty(); }
  // BGP with the peer over the tunnel (needs `inside` and the top-level `bgp` section).
  struct Bgp {
    uint32_t remote_asn = 0;
    // The peer's inside address: default the other host of each inside /30 (/126); with a /31
    // (/127) the other address.
    std::vector<IpAddress> neighbours;
    uint32_t keepalive_s = 10;  // AWS: 10
    uint32_t hold_s = 30;       // AWS: 30; 0 or at least 3
    bool bfd = false;           // default: true when peer_kind is espgw (AWS does not run BFD)
  };
  std::optional<Bgp> bgp;
};

// The peer's address in an inside prefix: the other host of a /30 (/126), the other address of
// a /31 (/127).
IpAddress inside_peer_address(const IpPrefix& ours) noexcept;
// The tunnel's inside kernel interface by default: "espt" and tunnel_if_id() in hex (12
// characters, under IFNAMSIZ; unique as the ids are).
std::string inside_interface_name(std::string_view tunnel_name);

// Tunnels that back each other up, as an AWS VPN connection's two tunnels do: the same CIDRs,
// traffic on the first one that is up (has an outbound SA), in the order listed.
struct Peer {
  std::string name;
  std::vector<std::string> tunnels;  // preference order; each tunnel in at most one peer
  bool failback = true;              // return to a more preferred tunnel when it comes back
};

// zebra's routes into espgw's FIB (docs/routing.md): zebra (dplane_fpm_nl) connects to this
// address and sends the routes it selects as netlink messages.
struct FpmConfig {
  bool enabled = false;  // `routing.fpm` given, or implied by a `bgp` section
  IpAddress address = IpAddress::v4(0x7f000001);  // 127.0.0.1
  uint16_t port = 2620;
  // When zebra's connection goes, its routes stay this long, then go in one transaction.
  uint32_t grace_s = 30;
  // The administrative distance of FPM routes against config routes (1) and tunnels' routed
  // remote_cidrs (1): the lowest wins a prefix; the other takes over when it goes.
  uint8_t distance = 20;
};

struct RoutingConfig {
  FpmConfig fpm;
};

// FRR beside the dataplane (docs/routing.md): espgw-up renders bgpd's, bfdd's and zebra's config
// from this (frr_conf.h) and starts them. asn 0: no BGP.
struct BgpConfig {
  uint32_t asn = 0;
  std::optional<IpAddress> router_id;  // default: the first IPv4 interface address
  // What every neighbour is sent: these prefixes only (an outbound prefix list; AWS takes at most
  // 100 from a customer gateway).
  std::vector<IpPrefix> announce;
  uint32_t maximum_paths = 8;      // ECMP over tunnels
  uint32_t bfd_interval_ms = 200;  // transmit and receive, with bfd_multiplier: see routing.md
  uint8_t bfd_multiplier = 3;
  // FRR's path space (its daemons' -N): the vty sockets are in /var/run/frr/<instance>/.
  std::string frr_instance = "espgw";
  bool enabled() const noexcept { return asn != 0; }
};

// Settings of the IKE side as a whole.
struct IkeGlobal {
  std::string secrets_file;  // YAML "psk: {name: secret}"; must be mode 0600 or stricter
  std::string vici_socket = "/run/espgw/charon.vici";
};

struct Config {
  std::string source;  // file name, for messages
  DataplaneConfig dataplane;
  std::vector<Interface> interfaces;
  std::vector<Route> routes;
  std::vector<Tunnel> tunnels;
  std::vector<Peer> peers;
  IkeGlobal ike;
  RoutingConfig routing;
  BgpConfig bgp;
  // What loads but will not behave as written ("file:line: key: why"): espgw-config-check and
  // the importers print them.
  std::vector<std::string> warnings;
  // Pre-shared keys by name, from ike.secrets_file (filled by load_file; never printed).
  std::map<std::string, std::string> secrets;

  const Interface* find_interface(std::string_view name) const noexcept;
  const Tunnel* find_tunnel(std::string_view name) const noexcept;
};

// Throws ConfigError.
Config load_file(const std::string& path);
Config parse(std::string_view yaml, const std::string& source_name);

// Single objects for the control socket (JSON is YAML), validated as the same key of a config
// file would be; `context` supplies the interfaces that routes and tunnels refer to.
Tunnel parse_tunnel(const Config& context, std::string_view yaml, const std::string& source);
Route parse_route(const Config& context, std::string_view yaml, const std::string& source);
StaticSa parse_static_sa(std::string_view yaml, const std::string& source, esp::Direction dir);

// The XFRM-style interface ID that ties a tunnel's CHILD_SAs to it: espgw-ike gives it to charon
// as if_id_in/if_id_out, the kernel-espgw plugin hands it back with every SA. Stable for a name;
// never 0 or 0xffffffff (reserved by strongSwan). load_file() refuses configs where two collide.
uint32_t tunnel_if_id(std::string_view tunnel_name) noexcept;
// The interface ID of one lane of a tunnel (docs/lanes.md): lane 0 is tunnel_if_id(name), lane
// k >= 1 is tunnel_if_id(name + "#" + k). A tunnel name cannot contain '#', so a lane's id is never
// another tunnel's by construction (only by a hash collision, which load_file() refuses).
uint32_t lane_if_id(std::string_view tunnel_name, unsigned lane);
// The name of lane k's VICI connection and CHILD_SA: the tunnel's name for lane 0, else
// "<tunnel>#k".
std::string lane_name(std::string_view tunnel_name, unsigned lane);

// The dataplane turns a static SA into its SA parameters (esp::static_sa_params, in the ESP
// library): this library includes and links nothing of the dataplane.

}  // namespace espgw::config
