#include <algorithm>
#include <cstddef>

#include "common/hex.h"
#include "config/parser.h"

namespace espgw::config {
namespace {

std::string algorithm_list() {
  std::string s;
  for (const auto& a : esp::all_algorithms()) {
    if (!s.empty()) s += ", ";
    s += a.name();
  }
  return s;
}

}  // namespace

void Parser::tunnel(const Value& v, Tunnel& out) {
  auto f = map(v, {"name",         "local",
                   "remote",       "local_cidrs",
                   "remote_cidrs", "nat_t",
                   "local_port",   "remote_port",
                   "esn",          "replay_window",
                   "df",           "dscp",
                   "ecn",          "ttl",
                   "mtu",          "mss",
                   "lanes",        "peer_kind",
                   "static_sa",    "ike",
                   "inside",       "inside_interface",
                   "bgp"});
  if (!f) return;
  tunnel_name(*f, out);
  bool local_ok = false;
  const Interface* local_iface = tunnel_local(*f, out, local_ok);
  tunnel_remote(*f, out, local_ok);
  tunnel_inside(*f, out);
  // A route-based tunnel's remote_cidrs are traffic selectors only (routes decide what enters
  // it): they may be 0.0.0.0/0, shared with other route-based tunnels and with routes.
  const bool route_based = f->get("inside").has_value();
  cidrs(*f, "local_cidrs", out.local_cidrs, false, out.name);
  cidrs(*f, "remote_cidrs", out.remote_cidrs, !route_based, out.name);
  tunnel_inside_covered(*f, out);
  tunnel_inside_interface(*f, out);
  const bool nat_t_ok = tunnel_nat_t(*f, out);
  tunnel_outer_header(*f, out, local_ok);
  tunnel_sizes(*f, out, local_iface);
  tunnel_keys(*f, out, nat_t_ok);
  tunnel_peer_kind(*f, out);
  tunnel_lanes(*f, out);
  tunnel_bgp(*f, out);
}

// peer_kind: espgw | other (default). Only an espgw peer can key and receive lanes.
void Parser::tunnel_peer_kind(const Fields& f, Tunnel& out) {
  if (auto x = f.get("peer_kind")) {
    if (auto k = choice<PeerKind>(*x, "peer kind",
                                  {{"other", PeerKind::kOther}, {"espgw", PeerKind::kEspgw}})) {
      out.peer_kind = *k;
    }
  }
}

// lanes: 1 to 64 outer flows (docs/lanes.md); more than one needs ESP in UDP, a peer that is an
// espgw gateway (docs/lanes.md "Peers that cannot do lanes") and, keyed by IKE, IKEv2 (one
// IKE_SA per lane, each with its own identities).
void Parser::tunnel_lanes(const Fields& f, Tunnel& out) {
  if (auto x = f.get("lanes")) {
    if (auto n = integer(*x, 1, 64)) {
      const std::string got = ", got " + quote(x->node.Scalar());
      if (*n == 1) {
        out.lanes = 1;
      } else if (!out.nat_t) {
        error(*x,
              "more than one lane needs nat_t: true (each lane is its own ESP-in-UDP flow)" + got);
      } else if (out.peer_kind != PeerKind::kEspgw) {
        error(*x,
              "more than one lane needs peer_kind: espgw (only an espgw gateway can key and "
              "receive lanes; AWS VPN endpoints and other IKE peers take 1)" +
                  got);
      } else if (out.ike && out.ike->version != 2) {
        error(*x, "more than one lane needs IKEv2 (ike.version: 2)" + got);
      } else {
        out.lanes = static_cast<uint8_t>(*n);
        if (!out.name.empty()) lanes_of_[out.name] = out.lanes;
      }
    }
  }
}

void Parser::tunnel_name(const Fields& f, Tunnel& out) {
  if (auto x = require(f, "name")) {
    if (auto s = name(*x)) {
      out.name = *s;
      if (first_name(*x, *s, tunnel_names_, "tunnel")) tunnel_name_values_.push_back({*s, *x});
    }
  }
}

// The local address: ours, on an interface (when the interfaces parsed cleanly). Returns that
// interface; local_ok says whether the address can be compared with others.
const Interface* Parser::tunnel_local(const Fields& f, Tunnel& out, bool& local_ok) {
  const Interface* local_iface = nullptr;
  if (auto x = require(f, "local")) {
    if (auto a = address(*x)) {
      out.local = *a;
      local_ok = true;
      if (interfaces_clean_) {
        local_iface = owner_of(*a);
        if (!local_iface) {
          error(*x, "not an address of any interface " + quote(x->node.Scalar()));
          local_ok = false;
        }
      }
    }
  }
  return local_iface;
}

// The peer's address: of local's family, not local itself, and reachable by a route.
void Parser::tunnel_remote(const Fields& f, Tunnel& out, bool local_ok) {
  if (auto x = require(f, "remote")) {
    if (auto a = unicast(*x)) {
      out.remote = *a;
      if (local_ok && a->family != out.local.family) {
        error(*x, family_name(*a) + " remote address for an " + family_name(out.local) +
                      " local address " + quote(x->node.Scalar()));
      } else if (local_ok && *a == out.local) {
        error(*x, "the same as local " + quote(x->node.Scalar()));
      } else if (interfaces_clean_ && routes_clean_) {
        const bool connected = std::any_of(
            config_.interfaces.begin(), config_.interfaces.end(), [&](const Interface& i) {
              return std::any_of(i.addresses.begin(), i.addresses.end(),
                                 [&](const IpPrefix& p) { return p.contains(*a); });
            });
        // A route into a tunnel does not carry the tunnel's own outer packets.
        const bool routed =
            std::any_of(config_.routes.begin(), config_.routes.end(),
                        [&](const Route& r) { return r.tunnel.empty() && r.prefix.contains(*a); });
        if (!connected && !routed) {
          error(*x, "no route to the peer (add a route or a connected address) " +
                        quote(x->node.Scalar()));
        }
      }
    }
  }
}

// nat_t and the UDP ports, which only it allows. Returns false when nat_t itself is bad.
bool Parser::tunnel_nat_t(const Fields& f, Tunnel& out) {
  bool nat_t_ok = true;
  if (auto x = f.get("nat_t")) {
    auto b = boolean(*x);
    nat_t_ok = b.has_value();
    out.nat_t = b.value_or(false);
  }
  for (auto [key, port] :
       {std::pair{"local_port", &out.local_port}, std::pair{"remote_port", &out.remote_port}}) {
    if (auto x = f.get(key)) {
      if (!nat_t_ok) {
        // nat_t's own error says enough.
      } else if (!out.nat_t) {
        error(*x, "only with nat_t: true, got " + describe(x->node));
      } else if (auto n = integer(*x, 1, 65535)) {
        *port = static_cast<uint16_t>(*n);
        if (port == &out.local_port) local_port_values_.push_back(*x);  // check_lane_ports()
      }
    }
  }
  return nat_t_ok;
}

// What the SA's sequence numbers and outer header carry: esn, replay window, DF, DSCP, ECN, TTL.
void Parser::tunnel_outer_header(const Fields& f, Tunnel& out, bool local_ok) {
  read_bool(f, "esn", out.esn);
  if (auto x = f.get("replay_window")) {
    if (auto n = integer(*x, 0, esp::kMaxReplayWindow)) {
      if (*n == 0 && out.esn) {
        error(*x, "cannot be 0 (no replay check) with esn: true, got " + quote(x->node.Scalar()));
      } else {
        out.replay_window = static_cast<uint32_t>(*n);
      }
    }
  }
  if (auto x = f.get("df")) {
    if (auto d = choice<esp::DfMode>(*x, "df mode",
                                     {{"copy", esp::DfMode::kCopy},
                                      {"set", esp::DfMode::kSet},
                                      {"clear", esp::DfMode::kClear}})) {
      if (*d != esp::DfMode::kCopy && local_ok && out.local.is_v6()) {
        error(*x, "an IPv6 outer header has no DF bit; only copy applies, got " +
                      quote(x->node.Scalar()));
      } else {
        out.df = *d;
      }
    }
  }
  if (auto x = f.get("dscp")) {
    if (auto n = integer(*x, 0, 63)) out.dscp = static_cast<uint8_t>(*n);
  }
  if (auto x = f.get("ecn")) {
    if (auto e = choice<esp::EcnMode>(
            *x, "ecn mode",
            {{"normal", esp::EcnMode::kNormal}, {"compatibility", esp::EcnMode::kCompatibility}})) {
      out.ecn = *e;
    }
  }
  read_uint(f, "ttl", out.ttl, 1, 255);
}

// The tunnel MTU and the MSS clamp, against the egress interface and IPv6's minimum.
void Parser::tunnel_sizes(const Fields& f, Tunnel& out, const Interface* local_iface) {
  const auto v6_inside = [&](const std::vector<IpPrefix>& ps) {
    return std::any_of(ps.begin(), ps.end(), [](const IpPrefix& p) { return p.address.is_v6(); });
  };
  const bool inner_v6 = v6_inside(out.local_cidrs) || v6_inside(out.remote_cidrs);
  if (auto x = f.get("mtu")) {
    if (auto n = integer(*x, kMinMtu, kMaxMtu)) {
      if (inner_v6 && *n < kMinMtuV6) {
        error(*x, "a tunnel that carries IPv6 needs an MTU of 1280 or more, got " +
                      quote(x->node.Scalar()));
      } else if (local_iface && *n >= local_iface->mtu) {
        error(*x, "must be below the MTU of interface " + quote(local_iface->name) + " (" +
                      std::to_string(local_iface->mtu) + ") to leave room for ESP, got " +
                      quote(x->node.Scalar()));
      } else {
        out.mtu = static_cast<uint16_t>(*n);
      }
    }
  }
  if (auto x = f.get("mss")) {
    if (auto n = integer(*x, kMinMss, kMaxMtu - 40)) {
      if (out.mtu && *n + 40 > *out.mtu) {
        error(*x, "must leave 40 bytes of IP and TCP header within the tunnel MTU (" +
                      std::to_string(*out.mtu) + "), got " + quote(x->node.Scalar()));
      } else {
        out.mss = static_cast<uint16_t>(*n);
      }
    }
  }
}

// Where the keys come from: static_sa or ike, exactly one of them.
void Parser::tunnel_keys(const Fields& f, Tunnel& out, bool nat_t_ok) {
  if (auto x = f.get("static_sa")) {
    if (auto sf = map(*x, {"outbound", "inbound"})) {
      Tunnel::StaticSas sas;
      const size_t before = errors_.size();
      if (auto o = require(*sf, "outbound")) static_sa(*o, sas.outbound, esp::Direction::kOutbound);
      if (auto i = require(*sf, "inbound")) static_sa(*i, sas.inbound, esp::Direction::kInbound);
      if (errors_.size() == before) out.static_sa = std::move(sas);
    }
  }
  if (auto x = f.get("ike")) {
    if (!first_ike_) first_ike_ = *x;
    if (f.get("static_sa")) {
      error(*x, "a tunnel takes its keys either from static_sa or from ike, not from both");
    }
    // The tunnel's esn is for static SAs; with IKE the proposals negotiate it.
    if (auto e = f.get("esn"); e && out.esn) {
      error(*e, "with ike, ESN is negotiated: add \"esn\" to the ike.esp_proposals instead, got " +
                    quote(e->node.Scalar()));
    }
    IkeConfig ike_config;
    const size_t before = errors_.size();
    ike(*x, ike_config, nat_t_ok && out.nat_t, out.name);
    if (errors_.size() == before) out.ike = std::move(ike_config);
  }
}

void Parser::cidrs(const Fields& f, std::string_view key, std::vector<IpPrefix>& out, bool remote,
                   const std::string& tunnel_name) {
  auto x = require(f, key);
  if (!x) return;
  auto items = list(*x, true);
  if (!items) return;
  std::vector<int> lines;
  for (const auto& item : *items) {
    auto p = prefix(item);
    if (!p) continue;
    const std::string shown = item.node.Scalar();
    if (auto it = std::find(out.begin(), out.end(), *p); it != out.end()) {
      error(item, "duplicate prefix " + quote(shown) + " (first at line " +
                      std::to_string(lines[it - out.begin()]) + ")");
      continue;
    }
    if (remote) {
      bool clash = false;
      for (const auto& seen : route_prefixes_) {
        if (!clash && seen.prefix == *p) {
          error(item,
                "also a static route (line " + std::to_string(seen.line) +
                    "); a prefix goes either into a tunnel or to a next hop: " + quote(shown));
          clash = true;
        }
      }
      if (clash) continue;
      // Another tunnel with the same prefix: check_remote_cidrs(), once the peers are known.
      remote_cidrs_.push_back({*p, tunnel_name, item});
    }
    out.push_back(*p);
    lines.push_back(item.line);
  }
}

void Parser::static_sa(const Value& v, StaticSa& out, esp::Direction dir) {
  auto f = map(v, {"spi", "algorithm", "key", "salt", "auth_key", "oseq", "seq", "replay_bitmap"});
  if (!f) return;
  const bool in = dir == esp::Direction::kInbound;
  if (auto x = f->get("oseq")) {
    if (in) {
      error(*x,
            "\"oseq\" is an outbound SA's state (an inbound one takes \"seq\" and "
            "\"replay_bitmap\")");
    } else if (auto n = integer(*x, 0, UINT64_MAX - 1, "the last sequence number sent")) {
      out.oseq = *n;
    }
  }
  for (const char* k : {"seq", "replay_bitmap"}) {
    if (auto x = f->get(k); x && !in) {
      error(*x, quote(k) + " is an inbound SA's state (an outbound one takes \"oseq\")");
    }
  }
  if (auto x = f->get("seq"); x && in) {
    if (auto n = integer(*x, 0, UINT64_MAX - 1, "the highest sequence number received")) {
      out.seq = *n;
    }
  }
  if (auto x = f->get("replay_bitmap"); x && in) {
    if (auto s = scalar(*x, "a hex string")) {
      // What `sas` shows for an SA that received nothing: "".
      auto bytes = s->empty() ? std::optional<std::vector<uint8_t>>(std::in_place) : parse_hex(*s);
      if (!bytes) {
        error(*x, "not a hex string " + quote(*s));
      } else if (bytes->size() > esp::kMaxReplayWindow / 8) {
        error(*x, "longer than the largest replay window (" +
                      std::to_string(esp::kMaxReplayWindow / 8) + " bytes)");
      } else {
        out.replay_bitmap = std::move(*bytes);
      }
    }
  }
  if (auto x = require(*f, "spi")) {
    if (auto n = integer(*x, 256, UINT32_MAX, "RFC 4303 2.1 reserves 0 to 255")) {
      out.spi = static_cast<uint32_t>(*n);
      auto& seen = spis_[static_cast<size_t>(dir)];
      if (auto [first, inserted] = seen.emplace(out.spi, x->line); !inserted) {
        error(*x, std::string("duplicate ") +
                      (dir == esp::Direction::kInbound ? "inbound" : "outbound") + " SPI \"" +
                      spi_hex(out.spi) + "\" (first at line " + std::to_string(first->second) +
                      ")");
      }
    }
  }
  std::optional<esp::Algorithm> alg;
  if (auto x = require(*f, "algorithm")) {
    if (auto s = scalar(*x, "an algorithm")) {
      alg = esp::parse_algorithm(*s);
      if (alg) {
        out.algorithm = *alg;
      } else {
        error(*x,
              "unknown algorithm " + quote(*s) + " (expected one of: " + algorithm_list() + ")");
      }
    }
  }
  static_sa_keys(*f, alg, out);
}

// The key material of a static SA, against the lengths the algorithm takes. Every value is read
// (and a malformed one reported) even when the algorithm is unknown.
void Parser::static_sa_keys(const Fields& f, const std::optional<esp::Algorithm>& alg,
                            StaticSa& out) {
  auto kx = require(f, "key");
  auto sx = f.get("salt");
  auto ax = f.get("auth_key");
  auto key = kx ? secret(*kx) : std::nullopt;
  auto salt = sx ? secret(*sx) : std::nullopt;
  auto auth = ax ? secret(*ax) : std::nullopt;
  if (!alg) return;
  const std::string an = alg->name();
  const size_t kb = alg->key_bytes;
  const size_t sb = alg->salt_bytes();
  const auto bytes = [](size_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); };

  if (alg->aead()) {
    if (key) {
      if (key->size() == kb + sb) {
        // IKE's keying material for GCM is key || salt (RFC 4106 8.1); accept it as given.
        if (sx) {
          error(*sx, "given twice: \"key\" already holds the key and the salt");
        } else {
          out.salt.assign(key->end() - static_cast<ptrdiff_t>(sb), key->end());
          key->resize(kb);
        }
      } else if (key->size() != kb) {
        error(*kx, an + " needs a " + std::to_string(kb) + "-byte key, or " +
                       std::to_string(kb + sb) + " bytes of key and salt; got " +
                       bytes(key->size()));
        key.reset();
      } else if (!sx) {
        error(f.self(), "missing key \"salt\" (" + an + " needs a " + std::to_string(sb) +
                            "-byte salt, or a " + std::to_string(kb + sb) +
                            "-byte key of key and salt)");
      }
    }
    if (salt) {
      if (salt->size() != sb) {
        error(*sx,
              an + " needs a " + std::to_string(sb) + "-byte salt, got " + bytes(salt->size()));
      } else if (out.salt.empty()) {
        out.salt = std::move(*salt);
      }
    }
    if (ax) error(*ax, an + " is an AEAD and takes no auth_key");
  } else {
    if (key && key->size() != kb) {
      error(*kx, an + " needs a " + std::to_string(kb) + "-byte key, got " + bytes(key->size()));
      key.reset();
    }
    if (sx) error(*sx, an + " takes no salt");
    if (!ax) {
      error(f.self(), "missing key \"auth_key\" (" + an + " needs a " +
                          std::to_string(alg->auth_key_bytes()) + "-byte integrity key)");
    } else if (auth && auth->size() != alg->auth_key_bytes()) {
      error(*ax, an + " needs a " + std::to_string(alg->auth_key_bytes()) + "-byte auth_key, got " +
                     bytes(auth->size()));
    } else if (auth) {
      out.auth_key = std::move(*auth);
    }
  }
  if (key) out.enc_key = std::move(*key);
}

}  // namespace espgw::config
