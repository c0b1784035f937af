#pragma once
// The config parser's insides, shared by the files that each read one part of the config:
//   config/parser.cpp              reporting, shapes (maps, lists), value readers, run()
//   config/dataplane_settings.cpp  dataplane:
//   config/interfaces.cpp          interfaces: and routes:
//   config/tunnels.cpp             tunnels: and their static SAs
//   config/ike.cpp                 tunnels[].ike, peers: and the top-level ike:
//   config/routing.cpp             routing:, bgp:, tunnels[].inside and .bgp, routes into tunnels
//   config/proposals.cpp           strongSwan proposal strings (ike_proposals, esp_proposals)
//   config/checks.cpp              checks across sections (remote CIDRs, if_ids, DPD, psk_ref)
//   config/secrets.cpp             the secrets file
// config/config.cpp holds the library's entry points (parse, load_file, parse_tunnel, ...).
// Binaries include config/config.h only; this header is not part of the library's interface.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "common/redact.h"
#include "config/config.h"

namespace espgw::config {

// Limits that are ours rather than a protocol's are documented in docs/config-reference.md.
constexpr size_t kMaxReportedErrors = 20;
constexpr uint64_t kMaxWorkers = 128;  // Debian's DPDK is built with RTE_MAX_LCORE 128
constexpr uint64_t kMinMtu = 576;      // RFC 791: every IPv4 host accepts 576
constexpr uint64_t kMinMtuV6 = 1280;   // RFC 8200 5
constexpr uint64_t kMaxMtu = 9216;     // the largest jumbo frame NICs commonly take
constexpr uint64_t kMinMss = 536;      // RFC 9293 3.7.1
constexpr size_t kMaxNameLength = 32;
constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1
constexpr size_t kSunPathMax = 107;
constexpr size_t kMaxFileBytes = 16u << 20;
constexpr size_t kMaxSecretsFileBytes = 1u << 20;
// IKE timers. The lifetimes' bounds are ours (AWS allows 900 to 28800 s for IKE, 900 to 3600 s for
// CHILD_SAs); a margin of 0 would leave no time to rekey before the SA expires.
constexpr uint64_t kMinLifetime = 60;
constexpr uint64_t kMaxLifetime = 86400;
constexpr uint64_t kMaxFuzzPercent = 1000;
constexpr uint64_t kMaxDpdDelay = 3600;
constexpr uint64_t kMaxDpdTimeout = 86400;
// Dynamic routing (docs/routing.md). AWS takes at most 100 prefixes from a customer gateway.
constexpr size_t kMaxAnnounce = 100;
constexpr uint64_t kMaxMaximumPaths = 64;
constexpr uint64_t kMaxFpmGrace = 86400;

// A YAML node with the key path and line that an error about it names.
struct Value {
  YAML::Node node;
  std::string path;
  int line = 0;  // 1-based
};

// ---- text and address helpers (config/parser.cpp) ----
int line_of(const YAML::Node& n);
std::string join(std::string_view path, std::string_view key);
std::string index(std::string_view path, size_t i);
// Values in messages: espgw::quote() and espgw::looks_like_key() (common/redact.h), the one rule
// for key material in every binary's messages.
using espgw::looks_like_key;
using espgw::quote;
// What a node is, for "expected X, got Y". A scalar is quoted; see quote() about key material.
std::string describe(const YAML::Node& n);
std::string family_name(const IpAddress& a);
size_t edit_distance(std::string_view a, std::string_view b);
// Decimal, or hexadecimal with 0x. No sign, no spaces.
enum class UintParse { kOk, kNotANumber, kTooLarge };
UintParse parse_uint(std::string_view s, uint64_t& out);
// Unspecified, loopback, multicast (and IPv4's class E and broadcast): never a gateway's address.
bool is_unicast(const IpAddress& a);
bool is_link_local_v6(const IpAddress& a);
IpPrefix network_of(IpPrefix p);
// "198.51.100.1/24": an address with a prefix length, host bits allowed; a bare address is a host
// prefix.
std::optional<IpPrefix> parse_address_and_length(std::string_view t);
// IPv4 prefixes up to /30 reserve their first and last address (RFC 919, RFC 3021 for /31).
bool is_network_or_broadcast(const IpPrefix& p);
bool overlaps(const IpPrefix& a, const IpPrefix& b);
bool valid_name(std::string_view s);
bool valid_kernel_name(std::string_view s);
bool has_space(std::string_view s);

enum class ProposalKind : uint8_t { kIke, kEsp };
struct Keyword;  // a strongSwan proposal keyword (config/proposals.cpp)

// The fields of one YAML map, after the unknown and duplicate keys were reported.
class Fields {
 public:
  Fields(Value self, std::vector<std::pair<std::string, Value>> items)
      : self_(std::move(self)), items_(std::move(items)) {}

  const Value& self() const { return self_; }
  std::optional<Value> get(std::string_view key) const {
    for (const auto& [k, v] : items_) {
      if (k == key) return v;
    }
    return std::nullopt;
  }

 private:
  Value self_;
  std::vector<std::pair<std::string, Value>> items_;
};

struct Error {
  int file;  // 0: the config, 1: the secrets file; messages come out by file, then by line
  int line;
  std::string text;
};

class Parser {
 public:
  // from_file: load_file() needs the pre-shared keys of IKE tunnels; parse() of a string reads
  // them only when the config names a secrets file.
  explicit Parser(std::string source, bool from_file = false)
      : source_(std::move(source)), from_file_(from_file) {}

  Config run(const YAML::Node& root);

  // One object of a section, checked against `context` as if it stood in that file.
  void seed(const Config& context) {
    config_ = context;
    interfaces_clean_ = true;
    routes_clean_ = true;
    seeded_ = true;
  }
  template <class T, class Fn>
  T one(const YAML::Node& root, Fn&& section) {
    T out{};
    section(Value{root, "", line_of(root)}, out);
    if (!errors_.empty()) raise();
    return out;
  }
  Tunnel one_tunnel(const YAML::Node& root) {
    return one<Tunnel>(root, [&](const Value& v, Tunnel& t) {
      tunnel(v, t);
      // Against the tunnels and keys the running config already has.
      if (!config_.secrets.empty()) check_psk_refs(config_.ike.secrets_file);
      check_if_ids();
      check_lane_ports(&t);
    });
  }
  Route one_route(const YAML::Node& root) {
    return one<Route>(root, [&](const Value& v, Route& r) {
      route(v, r);
      check_route_tunnels();
    });
  }
  StaticSa one_sa(const YAML::Node& root, esp::Direction dir) {
    return one<StaticSa>(root, [&](const Value& v, StaticSa& sa) { static_sa(v, sa, dir); });
  }

 private:
  // ---- reporting ----
  void error(int line, std::string_view path, std::string_view what) {
    std::string text = source_ + ":" + std::to_string(line) + ": ";
    if (!path.empty()) {
      text += path;
      text += ": ";
    }
    text += what;
    errors_.push_back({0, line, std::move(text)});
  }
  void error(const Value& v, std::string_view what) { error(v.line, v.path, what); }
  // About the content of the secrets file, named by its own path and line.
  void secrets_error(int line, std::string_view path, std::string_view what) {
    std::string text = config_.ike.secrets_file + ":" + std::to_string(line) + ": ";
    if (!path.empty()) {
      text += path;
      text += ": ";
    }
    text += what;
    errors_.push_back({1, line, std::move(text)});
  }
  [[noreturn]] void raise();
  // What loads but will not behave as written; the config carries it (Config::warnings).
  void warning(const Value& v, std::string_view what) {
    std::string text = source_ + ":" + std::to_string(v.line) + ": ";
    if (!v.path.empty()) {
      text += v.path;
      text += ": ";
    }
    text += what;
    config_.warnings.push_back(std::move(text));
  }

  // ---- shapes ----
  // The value is there (else "missing value") and has the expected shape (else "expected ...,
  // got ..."): a map, a list or a scalar.
  bool shape(const Value& v, bool expected_shape, std::string_view expected);
  std::optional<Fields> map(const Value& v, std::initializer_list<std::string_view> known);
  std::optional<Value> require(const Fields& f, std::string_view key);
  std::optional<std::vector<Value>> list(const Value& v, bool non_empty);
  std::optional<std::string> scalar(const Value& v, std::string_view expected);

  // ---- values ----
  std::optional<std::string> text(const Value& v);  // non-empty string
  std::optional<std::string> name(const Value& v);
  // Names seen, with the line of each.
  using NameLines = std::map<std::string, int, std::less<>>;
  // Records the name of an interface, tunnel or peer (`what`); a second one is an error that says
  // where the first is. Returns whether it is the first.
  bool first_name(const Value& v, const std::string& s, NameLines& seen, std::string_view what);
  // why: said after the range, e.g. which standard sets it.
  std::optional<uint64_t> integer(const Value& v, uint64_t min, uint64_t max,
                                  std::string_view why = {});
  std::optional<bool> boolean(const Value& v);
  std::optional<IpAddress> address(const Value& v);
  std::optional<IpAddress> unicast(const Value& v);
  std::optional<IpPrefix> prefix(const Value& v);
  std::optional<IpPrefix> interface_address(const Value& v);
  // Key material: a bad value is never echoed.
  std::optional<std::vector<uint8_t>> secret(const Value& v);
  template <typename E>
  std::optional<E> choice(const Value& v, std::string_view what,
                          std::initializer_list<std::pair<std::string_view, E>> options);
  std::optional<std::string> socket_path(const Value& v);
  std::optional<std::string> absolute_path(const Value& v);

  template <typename T>
  void read_uint(const Fields& f, std::string_view key, T& out, uint64_t min, uint64_t max) {
    if (auto v = f.get(key)) {
      if (auto n = integer(*v, min, max)) out = static_cast<T>(*n);
    }
  }
  void read_bool(const Fields& f, std::string_view key, bool& out) {
    if (auto v = f.get(key)) {
      if (auto b = boolean(*v)) out = *b;
    }
  }

  // ---- sections ----
  void dataplane(const Value& v, DataplaneConfig& d);
  void interface(const Value& v, Interface& out);
  bool interface_name(const Fields& f, Interface& out);
  bool interface_addresses(const Fields& f, Interface& out);
  void interface_mac(const Fields& f, Interface& out);
  void interface_kernel_name(const Fields& f, Interface& out);
  void device(const Value& x, std::string& out);
  void exception_path(const Value& v, ExceptionPath& out);
  void neighbours(const Value& v, Interface& out);
  void route(const Value& v, Route& out);
  void tunnel(const Value& v, Tunnel& out);
  void tunnel_name(const Fields& f, Tunnel& out);
  const Interface* tunnel_local(const Fields& f, Tunnel& out, bool& local_ok);
  void tunnel_remote(const Fields& f, Tunnel& out, bool local_ok);
  bool tunnel_nat_t(const Fields& f, Tunnel& out);
  void tunnel_outer_header(const Fields& f, Tunnel& out, bool local_ok);
  void tunnel_sizes(const Fields& f, Tunnel& out, const Interface* local_iface);
  void tunnel_lanes(const Fields& f, Tunnel& out);
  void tunnel_peer_kind(const Fields& f, Tunnel& out);
  void tunnel_keys(const Fields& f, Tunnel& out, bool nat_t_ok);
  // Route-based tunnels (config/routing.cpp).
  void tunnel_inside(const Fields& f, Tunnel& out);
  void tunnel_inside_interface(const Fields& f, Tunnel& out);
  void tunnel_inside_covered(const Fields& f, const Tunnel& out);
  void tunnel_bgp(const Fields& f, Tunnel& out);
  void tunnel_bgp_neighbours(const Fields& bf, const Tunnel& t, Tunnel::Bgp& out);
  void tunnel_bgp_timers(const Fields& bf, Tunnel::Bgp& out);
  void routing(const Value& v, RoutingConfig& out);
  void bgp(const Value& v, BgpConfig& out);
  void bgp_announce(const Value& v, BgpConfig& out);
  void bgp_bfd(const Value& v, BgpConfig& out);
  // After every section: the routes into tunnels, the default router ID, what BGP leaves unused.
  void check_route_tunnels();
  void check_bgp();
  void cidrs(const Fields& f, std::string_view key, std::vector<IpPrefix>& out, bool remote,
             const std::string& tunnel_name);
  void static_sa(const Value& v, StaticSa& out, esp::Direction dir);
  void static_sa_keys(const Fields& f, const std::optional<esp::Algorithm>& alg, StaticSa& out);
  void ike(const Value& v, IkeConfig& out, bool nat_t, const std::string& tunnel_name);
  void ike_auth(const Fields& f, IkeConfig& out);
  void ike_lifetimes(const Fields& f, IkeConfig& out);
  void ike_dpd(const Fields& f, const Value& v, IkeConfig& out, bool version_ok,
               const std::string& tunnel_name);
  void ike_options(const Fields& f, IkeConfig& out, bool version_ok, bool nat_t);
  // An IKE timer (seconds) and where it was given; `at` is empty for a default.
  struct Timer {
    std::string_view key;
    uint32_t* value;
    std::optional<Value> at;
    bool ok = true;
  };
  void read_timer(Timer& t, uint64_t min, uint64_t max);
  static std::string timer_text(const Timer& t);  // "30" or "30, the default"
  void proposals(const Value& v, ProposalKind kind, std::vector<std::string>& out);
  bool proposal(const Value& v, const std::string& text, ProposalKind kind);
  bool proposal_keywords(const Value& v, const std::string& text, ProposalKind kind,
                         std::vector<const Keyword*>& found);
  void unknown_keyword(const Value& v, const std::string& token, ProposalKind kind,
                       const std::string& in);
  bool proposal_combination(const Value& v, const std::string& text, ProposalKind kind,
                            const std::vector<const Keyword*>& found);
  void ike_global(const Value& v, IkeGlobal& out);
  void peers(const Value& v);
  void peer_tunnels(const Value& x, size_t index,
                    std::map<std::string, int, std::less<>>& member_lines);
  void same_cidrs(const Value& m, const Tunnel& t, const Tunnel& first_tunnel, int first_line);
  // Checks that need every tunnel, the peers and the secrets.
  void check_remote_cidrs();
  void check_if_ids();
  void check_lane_ports(const Tunnel* added);  // added: parse_tunnel's, not in config_
  // charon's retransmissions are global: IKEv2 tunnels whose dpd_timeout_s it cannot honour.
  void check_dpd_timeouts();
  void load_secrets();
  bool read_secrets(const Value& at, const std::string& path);
  void secrets_content(std::string& text);
  void check_psk_refs(const std::string& secrets_file);

  const Interface* find_interface(std::string_view n) const {
    for (const auto& i : config_.interfaces) {
      if (i.name == n) return &i;
    }
    return nullptr;
  }
  const Interface* owner_of(const IpAddress& a) const {
    for (const auto& i : config_.interfaces) {
      for (const auto& p : i.addresses) {
        if (p.address == a) return &i;
      }
    }
    return nullptr;
  }

  std::string source_;
  std::vector<Error> errors_;
  Config config_;

  // For duplicate and cross-reference checks: what was seen, and on which line.
  std::map<std::string, int, std::less<>> interface_names_;
  std::map<std::string, int, std::less<>> devices_;
  std::map<std::string, int, std::less<>> kernel_names_;
  struct SeenPrefix {
    IpPrefix prefix;
    std::string owner;
    int line;
  };
  std::vector<SeenPrefix> interface_addresses_;
  std::vector<SeenPrefix> route_prefixes_;
  std::map<std::string, int, std::less<>> tunnel_names_;
  struct Named {
    std::string name;
    Value at;
  };
  std::vector<Named> tunnel_name_values_;                  // valid, unique names with their nodes
  std::map<std::string, unsigned, std::less<>> lanes_of_;  // tunnel -> lanes, when more than 1
  std::vector<Value> local_port_values_;                   // tunnels' local_port given
  struct DpdSeen {
    std::string tunnel;
    Value at;  // dpd_timeout_s, or the ike section where it is the default
    uint32_t timeout_s;
    uint32_t delay_s;
    bool given;
  };
  std::vector<DpdSeen> dpd_seen_;  // IKEv2 tunnels
  // Remote CIDRs of all tunnels: two tunnels may share one only when a peer groups them, and the
  // peers come later.
  struct RemoteCidr {
    IpPrefix prefix;
    std::string tunnel;
    Value at;
  };
  std::vector<RemoteCidr> remote_cidrs_;
  // Route-based tunnels: the inside prefixes and interface names seen, the routes into tunnels.
  std::vector<SeenPrefix> inside_prefixes_;
  std::map<std::string, int, std::less<>> inside_names_;
  struct RouteTunnel {
    std::optional<IpPrefix> prefix;  // absent when it was bad
    std::string tunnel;
    Value at;  // the tunnel key
  };
  std::vector<RouteTunnel> route_tunnels_;
  std::optional<Value> bgp_at_;  // the top-level bgp section, when given
  std::vector<Value> tunnel_bgp_values_;
  std::map<std::string, size_t, std::less<>> peer_of_tunnel_;  // peer index, as listed
  std::vector<Named> psk_refs_;
  std::optional<Value> first_ike_;        // tunnels[i].ike of the first IKE tunnel
  std::optional<Value> secrets_file_at_;  // ike.secrets_file, when given
  std::map<uint32_t, int> spis_[2];       // by esp::Direction
  // Checks that look at another section run only when that section is clean, so that one mistake
  // is not reported again by everything that refers to it.
  bool interfaces_clean_ = false;
  bool routes_clean_ = false;
  bool tunnels_clean_ = false;
  bool from_file_ = false;
  bool seeded_ = false;  // config_ holds a running config (parse_tunnel and friends)
};

template <typename E>
std::optional<E> Parser::choice(const Value& v, std::string_view what,
                                std::initializer_list<std::pair<std::string_view, E>> options) {
  auto s = scalar(v, what);
  if (!s) return std::nullopt;
  std::string names;
  size_t i = 0;
  for (const auto& [n, e] : options) {
    if (n == *s) return e;
    names += i == 0 ? "" : (i + 1 == options.size() ? " or " : ", ");
    names += n;
    ++i;
  }
  error(v, "unknown " + std::string(what) + " " + quote(*s) + " (expected " + names + ")");
  return std::nullopt;
}

}  // namespace espgw::config
