// espgwctl mesh: the N configs of a full mesh of regions, each gateway with a tunnel to every
// other one. Static SAs (labs) are drawn at random per pair and mirror each other; with IKE each
// pair shares a random pre-shared key. The regions file is small and strictly checked:
//
//   defaults: {nat_t: true, mss: 1379, workers: 1, lanes: 4, dataplane: {idle_sleep_us: 20}}
//   regions:
//     - name: eu-west-1
//       wan_address: 172.31.1.10/24     # the DPDK ENI's private address and prefix
//       public_address: 203.0.113.10    # its Elastic IP (default: the WAN address)
//       vpc_cidr: 10.1.0.0/16           # or vpc_cidrs: [...]
//       workers: 2                      # this region's (default: the defaults' workers)
//       frr_instance: espgw-eu          # --bgp: FRR's path space (default espgw)
//
// With --bgp the tunnels are route-based (docs/routing.md): each region runs BGP as private ASN
// 64512 + its index and announces its CIDRs; each pair of regions shares an inside /30 from
// 169.254.8.0 on (the first region .1, the second .2), whatever the lanes; BFD on every
// neighbour, as both ends are espgw. --tunnels T (with --bgp) gives each pair T tunnels, each its
// own /30, BGP session and IKE identities, over which BGP spreads the traffic (ECMP).

#include <sys/random.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>

#include "common/redact.h"
#include "config/import/import.h"
#include "config/import/site.h"
#include "config/import/yaml_writer.h"

namespace espgw::import {
namespace {

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw ImportError(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<size_t>(r);
  }
  return out;
}

std::string hex(const std::vector<uint8_t>& b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s = "0x";
  for (uint8_t x : b) {
    s += kDigits[x >> 4];
    s += kDigits[x & 15];
  }
  return s;
}

// 32 letters and digits: a pre-shared key of the kind AWS makes.
std::string random_psk() {
  static const std::string kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  while (s.size() < 32) {
    for (uint8_t b : random_bytes(32)) {
      if (b < 248 && s.size() < 32) s += kChars[b % kChars.size()];  // 248 = 4 * 62: no bias
    }
  }
  return s;
}

struct Region {
  std::string name;
  int line = 0;
  InterfaceAddress wan;
  IpAddress public_address;
  std::vector<IpPrefix> cidrs;
  Site site;
  std::vector<std::pair<std::string, std::string>> dataplane;  // extra keys, as written
  std::string frr_instance;  // --bgp: bgp.frr_instance, when given
};

class RegionsReader {
 public:
  explicit RegionsReader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const {
    throw ImportError(source_ + ":" + std::to_string(n.Mark().line + 1) + ": " + what);
  }
  void keys(const YAML::Node& n, const std::string& where,
            std::initializer_list<const char*> known) {
    if (!n.IsMap()) fail(n, where + ": expected a map");
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      if (std::none_of(known.begin(), known.end(), [&](const char* x) { return k == x; })) {
        std::string list;
        for (const char* x : known)
          list += std::string(list.empty() ? "" : ", ") + x;
        fail(kv.first, where + ": unknown key " + quote(k) + " (expected one of: " + list + ")");
      }
    }
  }
  std::string scalar(const YAML::Node& n, const std::string& where) {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, where + ": expected a value");
    return n.Scalar();
  }
  uint64_t integer(const YAML::Node& n, const std::string& where, uint64_t min, uint64_t max) {
    const std::string s = scalar(n, where);
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) {
      fail(n, where + ": must be " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                  quote(s));
    }
    return v;
  }
  bool boolean(const YAML::Node& n, const std::string& where) {
    const std::string s = scalar(n, where);
    if (s == "true") return true;
    if (s == "false") return false;
    fail(n, where + ": expected true or false, got " + quote(s));
  }
  IpAddress address(const YAML::Node& n, const std::string& where) {
    const auto a = IpAddress::parse(scalar(n, where));
    if (!a) fail(n, where + ": not an IP address " + quote(n.Scalar()));
    return *a;
  }
  InterfaceAddress if_address(const YAML::Node& n, const std::string& where) {
    const auto a = InterfaceAddress::parse(scalar(n, where));
    if (!a || a->length == (a->address.is_v4() ? 32 : 128)) {
      fail(n, where + ": expected ADDRESS/LENGTH (the port's address and its subnet), got " +
                  quote(n.Scalar()));
    }
    return *a;
  }
  IpPrefix prefix(const YAML::Node& n, const std::string& where) {
    const auto p = IpPrefix::parse(scalar(n, where));
    if (!p) fail(n, where + ": not a prefix with its host bits zero " + quote(n.Scalar()));
    return *p;
  }
  void dataplane(const YAML::Node& n, const std::string& where,
                 std::vector<std::pair<std::string, std::string>>& out) {
    keys(n, where,
         {"crypto", "idle_sleep_us", "exception_pps", "mbufs", "rx_ring", "tx_ring",
          "arp_hold_packets", "arp_retries", "arp_retry_ms", "neighbour_ttl_s"});
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      const std::string v = scalar(kv.second, where + "." + k);
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == k; });
      if (it != out.end()) {
        it->second = v;
      } else {
        out.emplace_back(k, v);
      }
    }
  }

 private:
  const std::string& source_;
};

// The regions file's defaults: for every region.
struct Defaults {
  bool nat_t_set = false;
  bool nat_t = true;
  std::optional<uint64_t> mss;
  uint32_t workers = 1;
  unsigned lanes = 1;  // every tunnel's (docs/lanes.md); more than 1: IKE, NAT-T, peer_kind espgw
  std::string algorithm = "aes256gcm16";
  std::vector<std::pair<std::string, std::string>> dataplane;
};

YAML::Node load(const std::string& regions_yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(regions_yaml);
  } catch (const YAML::Exception& e) {
    throw ImportError(source + ":" + std::to_string(e.mark.line + 1) +
                      ": YAML syntax error: " + e.msg);
  }
  if (!root || !root.IsMap()) throw ImportError(source + ":1: expected a map with \"regions\"");
  return root;
}

Defaults read_defaults(RegionsReader& rd, const YAML::Node& root) {
  Defaults out;
  const YAML::Node d = root["defaults"];
  if (!d) return out;
  rd.keys(d, "defaults", {"nat_t", "mss", "workers", "lanes", "dataplane", "algorithm"});
  if (d["lanes"])
    out.lanes = static_cast<unsigned>(rd.integer(d["lanes"], "defaults.lanes", 1, 64));
  if (d["nat_t"]) {
    out.nat_t = rd.boolean(d["nat_t"], "defaults.nat_t");
    out.nat_t_set = true;
  }
  if (d["mss"]) out.mss = rd.integer(d["mss"], "defaults.mss", 536, 9176);
  if (d["workers"])
    out.workers = static_cast<uint32_t>(rd.integer(d["workers"], "defaults.workers", 1, 128));
  if (d["dataplane"]) rd.dataplane(d["dataplane"], "defaults.dataplane", out.dataplane);
  if (d["algorithm"]) {
    out.algorithm = rd.scalar(d["algorithm"], "defaults.algorithm");
    if (out.algorithm != "aes128gcm16" && out.algorithm != "aes256gcm16") {
      rd.fail(d["algorithm"],
              "defaults.algorithm: static SAs use aes128gcm16 or aes256gcm16, got " +
                  quote(out.algorithm));
    }
  }
  return out;
}

// The region's own gateway: its ports, the networks behind it, its secrets file.
void read_site(RegionsReader& rd, const YAML::Node& n, const std::string& where, Region& r,
               const Defaults& defaults, const MeshOptions& options) {
  Site& s = r.site;
  s.wan_address = r.wan;
  s.workers = defaults.workers;
  if (n["workers"])
    s.workers = static_cast<uint32_t>(rd.integer(n["workers"], where + ".workers", 1, 128));
  s.local_cidrs = r.cidrs;
  if (n["wan_device"]) s.wan_device = rd.scalar(n["wan_device"], where + ".wan_device");
  if (n["wan_gateway"]) s.wan_gateway = rd.address(n["wan_gateway"], where + ".wan_gateway");
  if (n["wan_mtu"])
    s.wan_mtu = static_cast<uint16_t>(rd.integer(n["wan_mtu"], where + ".wan_mtu", 576, 9216));
  if (n["lan_device"]) s.lan_device = rd.scalar(n["lan_device"], where + ".lan_device");
  if (n["lan_address"]) s.lan_address = rd.if_address(n["lan_address"], where + ".lan_address");
  if (n["lan_gateway"]) s.lan_gateway = rd.address(n["lan_gateway"], where + ".lan_gateway");
  if (n["lan_mtu"])
    s.lan_mtu = static_cast<uint16_t>(rd.integer(n["lan_mtu"], where + ".lan_mtu", 576, 9216));
  if (n["control_socket"])
    s.control_socket = rd.scalar(n["control_socket"], where + ".control_socket");
  // FRR's path space (bgp.frr_instance): several gateways on one host (a lab) need their own.
  if (n["frr_instance"]) r.frr_instance = rd.scalar(n["frr_instance"], where + ".frr_instance");
  r.dataplane = defaults.dataplane;
  if (n["dataplane"]) rd.dataplane(n["dataplane"], where + ".dataplane", r.dataplane);
  s.dataplane_extra = r.dataplane;
  s.secrets_file = options.secrets_dir + "/" + r.name + ".secrets.yaml";
}

// regions[i]; `names` are those of the regions before it.
Region read_region(RegionsReader& rd, const YAML::Node& n, size_t i, const Defaults& defaults,
                   const MeshOptions& options, std::set<std::string>& names) {
  const std::string where = "regions[" + std::to_string(i) + "]";
  rd.keys(n, where,
          {"name", "wan_address", "public_address", "vpc_cidr", "vpc_cidrs", "wan_device",
           "wan_gateway", "wan_mtu", "lan_device", "lan_address", "lan_gateway", "lan_mtu",
           "control_socket", "frr_instance", "dataplane", "workers"});
  Region r;
  r.line = n.Mark().line + 1;
  if (!n["name"]) rd.fail(n, where + ": missing key \"name\"");
  r.name = rd.scalar(n["name"], where + ".name");
  const bool ok_name =
      r.name.size() <= 29 && std::all_of(r.name.begin(), r.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!ok_name) {
    rd.fail(n["name"], where +
                           ".name: 1 to 29 letters, digits, '-', '_' or '.' (tunnels are "
                           "named to-NAME), got " +
                           quote(r.name));
  }
  if (!names.insert(r.name).second)
    rd.fail(n["name"], where + ".name: region " + quote(r.name) + " given twice");
  if (!n["wan_address"]) rd.fail(n, where + ": missing key \"wan_address\"");
  r.wan = rd.if_address(n["wan_address"], where + ".wan_address");
  r.public_address = n["public_address"]
                         ? rd.address(n["public_address"], where + ".public_address")
                         : r.wan.address;
  if (n["vpc_cidr"] && n["vpc_cidrs"]) rd.fail(n, where + ": vpc_cidr or vpc_cidrs, not both");
  if (n["vpc_cidr"]) r.cidrs.push_back(rd.prefix(n["vpc_cidr"], where + ".vpc_cidr"));
  if (const YAML::Node cs = n["vpc_cidrs"]) {
    if (!cs.IsSequence() || cs.size() == 0) rd.fail(cs, where + ".vpc_cidrs: a list of prefixes");
    for (size_t k = 0; k < cs.size(); ++k)
      r.cidrs.push_back(rd.prefix(cs[k], where + ".vpc_cidrs[" + std::to_string(k) + "]"));
  }
  if (r.cidrs.empty()) rd.fail(n, where + ": missing key \"vpc_cidr\"");
  read_site(rd, n, where, r, defaults, options);
  return r;
}

// No two regions' VPC CIDRs overlap: a tunnel could not tell them apart.
void check_overlaps(const std::vector<Region>& regions, const std::string& source) {
  for (size_t i = 0; i < regions.size(); ++i) {
    for (size_t j = i + 1; j < regions.size(); ++j) {
      for (const auto& a : regions[i].cidrs) {
        for (const auto& b : regions[j].cidrs) {
          if (a.contains(b.address) || b.contains(a.address)) {
            throw ImportError(source + ":" + std::to_string(regions[j].line) + ": region " +
                              regions[j].name + ": VPC CIDR " + b.to_string() + " overlaps " +
                              a.to_string() + " of region " + regions[i].name + " (line " +
                              std::to_string(regions[i].line) + ")");
          }
        }
      }
    }
  }
}

// Per ordered pair (i, j): the SA that i sends to j, and for IKE one key per unordered pair.
struct Keys {
  std::vector<std::vector<uint32_t>> spi;
  std::vector<std::vector<std::vector<uint8_t>>> key;
  std::vector<std::vector<std::string>> psk;
};

Keys draw_keys(size_t n, const std::string& algorithm) {
  const size_t key_len = algorithm == "aes128gcm16" ? 20 : 36;  // key || salt, RFC 4106 8.1
  Keys k{std::vector<std::vector<uint32_t>>(n, std::vector<uint32_t>(n)),
         std::vector<std::vector<std::vector<uint8_t>>>(n, std::vector<std::vector<uint8_t>>(n)),
         std::vector<std::vector<std::string>>(n, std::vector<std::string>(n))};
  std::set<uint32_t> used;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      uint32_t s = 0;
      while (s < 0x1000 || used.count(s)) {
        const auto b = random_bytes(4);
        s = static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 |
            static_cast<uint32_t>(b[2]) << 8 | b[3];
      }
      used.insert(s);
      k.spi[i][j] = s;
      k.key[i][j] = random_bytes(key_len);
      if (i < j) k.psk[i][j] = k.psk[j][i] = random_psk();
    }
  }
  return k;
}

// "{spi: 0x..., algorithm: ..., key: 0x...}" of one static SA.
std::string static_sa(uint32_t spi, const std::string& algorithm, const std::vector<uint8_t>& key) {
  const std::vector<uint8_t> spi_bytes = {
      static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16),
      static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
  return "{spi: " + hex(spi_bytes) + ", algorithm: " + algorithm + ", key: " + hex(key) + "}";
}

// Region i's inside address towards region j (--bgp): the pair's /30 counts up from 169.254.8.0
// (AWS reserves 169.254.0.0/30 to 169.254.5.0/30 and 169.254.169.252/30 for VPN inside CIDRs;
// 169.254.169.254 is EC2's metadata address), the region listed first .1, the other .2.
constexpr uint32_t kInsideBase = 0xa9fe0800;   // 169.254.8.0
constexpr uint32_t kInsideLimit = 0xa9fea900;  // 169.254.169.0
constexpr uint32_t kFirstAsn = 64512;          // RFC 6996's private 16-bit ASNs

// With --tunnels T, tunnel k (0 to T-1) of a pair takes the pair's k-th /30 of its T.
InterfaceAddress inside_of(size_t i, size_t j, size_t n, size_t k = 0, size_t tunnels = 1) {
  const size_t a = std::min(i, j), b = std::max(i, j);
  const size_t pair = a * n - a * (a + 1) / 2 + (b - a - 1);  // (0,1) 0, (0,2) 1, ...
  const uint32_t base = kInsideBase + static_cast<uint32_t>(4 * (pair * tunnels + k));
  return InterfaceAddress{IpAddress::v4(base + (i < j ? 1 : 2)), 30};
}

// The configs of a mesh of `regions`, one a region.
class MeshWriter {
 public:
  MeshWriter(const std::vector<Region>& regions, const Defaults& defaults,
             const MeshOptions& options, const std::string& source)
      : regions_(regions),
        defaults_(defaults),
        options_(options),
        source_(source),
        keys_(draw_keys(regions.size(), defaults.algorithm)) {}

  MeshConfig config(size_t i) const {
    const Region& me = regions_[i];
    const size_t n = regions_.size();
    YamlWriter y;
    y.comment(0, "espgw config of region " + me.name + " in a full mesh of " + std::to_string(n) +
                     " regions, written by `espgwctl mesh` from " + source_ + ".");
    if (options_.static_sas) {
      y.comment(0,
                "LAB ONLY: static SAs with keys drawn for this mesh; the other regions' files "
                "hold their mirror images. Keep this file mode 0600.");
    } else {
      y.comment(0,
                "IKE with a pre-shared key per pair of regions, in " + me.site.secrets_file + ".");
    }
    y.blank();
    write_site(y, me.site, me.wan, false, "", source_);
    y.blank();
    if (options_.bgp) {
      y.line(0, "bgp:", "FRR's bgpd and bfdd beside espgw (docs/routing.md)");
      y.line(2, "asn: " + std::to_string(kFirstAsn + i), "private: 64512 + the region's index");
      y.line(2, "announce: " + prefix_list(me.cidrs), "this region's CIDRs");
      if (!me.frr_instance.empty()) y.line(2, "frr_instance: " + me.frr_instance);
      y.blank();
    }
    y.line(0, "tunnels:");
    for (size_t j = 0; j < n; ++j) {
      for (size_t k = 0; k < options_.tunnels && i != j; ++k)
        tunnel(y, i, j, k);
    }
    if (!options_.static_sas) write_secrets_file(y, me.site);
    MeshConfig mc;
    mc.region = me.name;
    y.move_into(mc.result);
    if (!options_.static_sas) {
      for (size_t j = 0; j < n; ++j) {
        for (size_t k = 0; k < options_.tunnels && j != i; ++k)
          mc.result.secrets[tunnel_name(j, k)] = keys_.psk[i][j];
      }
    }
    return mc;
  }

 private:
  // The name of the k-th tunnel to region j: "to-<region>", then "to-<region>-2", ...
  std::string tunnel_name(size_t j, size_t k) const {
    std::string name = "to-" + regions_[j].name;
    if (k != 0) {
      name += '-';
      name += std::to_string(k + 1);
    }
    return name;
  }
  // An IKE identity of the k-th tunnel (--tunnels): the first uses the address; the others
  // "t<k+1>.<address>", so that charon tells the tunnels of a pair apart by their IDs (they
  // share the outer addresses).
  static std::string tunnel_id(const IpAddress& a, size_t k) {
    if (k == 0) return a.to_string();
    std::string id = "t";
    id += std::to_string(k + 1);
    id += '.';
    id += a.to_string();
    return id;
  }
  // Region i's k-th tunnel to region j.
  void tunnel(YamlWriter& y, size_t i, size_t j, size_t k) const {
    const Region& me = regions_[i];
    const Region& peer = regions_[j];
    const std::string name = tunnel_name(j, k);
    const size_t tunnels = options_.tunnels;
    const bool nat = defaults_.nat_t_set   ? defaults_.nat_t
                     : defaults_.lanes > 1 ? true
                                           : !(me.public_address == me.wan.address) ||
                                                 !(peer.public_address == peer.wan.address);
    y.line(2, "- name: " + name, "region " + peer.name,
           Origin{source_, peer.line, "region " + peer.name});
    y.line(4, "local: " + me.wan.address.to_string());
    y.line(4, "remote: " + peer.public_address.to_string());
    if (options_.bgp) {
      const size_t n = regions_.size();
      y.line(4, "local_cidrs: [0.0.0.0/0]", "route-based: BGP's routes decide what enters");
      y.line(4, "remote_cidrs: [0.0.0.0/0]");
      y.line(4, "inside: [" + inside_of(i, j, n, k, tunnels).to_string() + "]",
             "the pair's /30; region " + peer.name + " has the other address");
      y.line(4, "bgp: {remote_asn: " + std::to_string(kFirstAsn + j) + ", neighbours: [" +
                    inside_of(j, i, n, k, tunnels).address.to_string() + "], bfd: true}");
    } else {
      y.line(4, "local_cidrs: " + prefix_list(me.cidrs));
      y.line(4, "remote_cidrs: " + prefix_list(peer.cidrs));
    }
    y.line(4, std::string("nat_t: ") + (nat ? "true" : "false"));
    if (defaults_.mss) y.line(4, "mss: " + std::to_string(*defaults_.mss));
    if (defaults_.lanes > 1) {
      y.line(4, "lanes: " + std::to_string(defaults_.lanes),
             "each lane its own IKE_SA, CHILD_SA and outer flow (docs/lanes.md)");
    }
    if (defaults_.lanes > 1 || options_.bgp) {
      y.line(4, "peer_kind: espgw",
             defaults_.lanes > 1 ? "lanes need an espgw gateway at both ends"
                                 : "an espgw gateway at both ends: BFD");
    }
    if (options_.static_sas) {
      y.line(4, "static_sa:");
      y.line(6, "outbound: " + static_sa(keys_.spi[i][j], defaults_.algorithm, keys_.key[i][j]));
      y.line(6, "inbound: " + static_sa(keys_.spi[j][i], defaults_.algorithm, keys_.key[j][i]));
      return;
    }
    y.line(4, "ike:");
    y.line(6, "local_id: " + yaml_quote(tunnel_id(me.public_address, k)));
    y.line(6, "remote_id: " + yaml_quote(tunnel_id(peer.public_address, k)));
    y.line(6, "psk_ref: " + name);
    // One side starts, so that the pair does not race two IKE_SAs at load; the other traps: its
    // own traffic brings the tunnel up too (espgw raises an acquire), as a network engineer
    // expects of either end.
    y.line(6, std::string("start_action: ") + (me.name < peer.name ? "start" : "trap"),
           me.name < peer.name ? "the region first by name starts IKE"
                               : "the peer starts IKE; traffic from here starts it too");
  }

  const std::vector<Region>& regions_;
  const Defaults& defaults_;
  const MeshOptions& options_;
  const std::string& source_;
  const Keys keys_;
};

}  // namespace

std::vector<MeshConfig> generate_mesh(const std::string& regions_yaml, const std::string& source,
                                      const MeshOptions& options) {
  const YAML::Node root = load(regions_yaml, source);
  RegionsReader rd(source);
  rd.keys(root, "the top level", {"defaults", "regions"});
  Defaults defaults = read_defaults(rd, root);
  if (options.lanes != 0) defaults.lanes = options.lanes;
  // Lanes are keyed by IKE (one IKE_SA per lane) and each is its own ESP-in-UDP flow.
  if (defaults.lanes > 1 && options.static_sas) {
    throw ImportError(source + ": " + std::to_string(defaults.lanes) +
                      " lanes need IKE: static SAs key one lane only (drop --static-sas or the "
                      "lanes)");
  }
  if (defaults.lanes > 1 && defaults.nat_t_set && !defaults.nat_t) {
    throw ImportError(source + ": " + std::to_string(defaults.lanes) +
                      " lanes need nat_t: true (each lane is its own ESP-in-UDP flow)");
  }
  const YAML::Node list = root["regions"];
  if (!list || !list.IsSequence() || list.size() < 2) {
    throw ImportError(source + ":" + std::to_string((list ? list.Mark().line : 0) + 1) +
                      ": regions: a list of at least two regions");
  }
  std::vector<Region> regions;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i)
    regions.push_back(read_region(rd, list[i], i, defaults, options, names));
  check_overlaps(regions, source);
  if (options.tunnels > 1 && (!options.bgp || options.static_sas)) {
    throw ImportError(source + ": --tunnels " + std::to_string(options.tunnels) +
                      " needs --bgp and IKE: the tunnels of a pair share their traffic by ECMP");
  }
  if (options.bgp) {
    const size_t n = regions.size();
    if (kInsideBase + 4 * (n * (n - 1) / 2) * options.tunnels > kInsideLimit) {
      throw ImportError(source + ": " + std::to_string(n) + " regions: --bgp has inside /30s for " +
                        std::to_string((kInsideLimit - kInsideBase) / 4) +
                        " tunnels (169.254.8.0 to 169.254.168.255), fewer regions please");
    }
    for (const auto& r : regions) {
      if (r.cidrs.size() > 100) {
        throw ImportError(source + ":" + std::to_string(r.line) + ": region " + r.name + ": " +
                          std::to_string(r.cidrs.size()) +
                          " CIDRs: bgp.announce takes at most 100");
      }
    }
  }
  const MeshWriter writer(regions, defaults, options, source);
  std::vector<MeshConfig> out;
  for (size_t i = 0; i < regions.size(); ++i)
    out.push_back(writer.config(i));
  return out;
}

}  // namespace espgw::import
