#include <algorithm>
#include <tuple>

#include "config/charon_retransmit.h"
#include "config/parser.h"

namespace espgw::config {
namespace {

std::string prefix_list(const std::vector<IpPrefix>& ps) {
  std::string s;
  for (const auto& p : ps)
    s += (s.empty() ? "" : ", ") + p.to_string();
  return s;
}

}  // namespace

void Parser::ike(const Value& v, IkeConfig& out, bool nat_t, const std::string& tunnel_name) {
  auto f = map(v, {"version", "local_id", "remote_id", "psk_ref", "ike_proposals", "esp_proposals",
                   "ike_lifetime_s", "child_lifetime_s", "rekey_margin_s", "rekey_fuzz_percent",
                   "life_bytes", "life_packets", "dpd_delay_s", "dpd_timeout_s", "dpd_action",
                   "start_action", "mobike", "force_encap"});
  if (!f) return;
  bool version_ok = true;
  if (auto x = f->get("version")) {
    auto n = integer(*x, 1, 2);
    version_ok = n.has_value();
    if (n) out.version = static_cast<uint8_t>(*n);
  }
  ike_auth(*f, out);
  if (auto x = f->get("ike_proposals")) proposals(*x, ProposalKind::kIke, out.ike_proposals);
  if (auto x = f->get("esp_proposals")) proposals(*x, ProposalKind::kEsp, out.esp_proposals);
  ike_lifetimes(*f, out);
  read_uint(*f, "life_bytes", out.life_bytes, 0, UINT64_MAX);
  read_uint(*f, "life_packets", out.life_packets, 0, UINT64_MAX);
  ike_dpd(*f, v, out, version_ok, tunnel_name);
  ike_options(*f, out, version_ok, nat_t);
}

// Who we and the peer are, and the pre-shared key that proves it.
void Parser::ike_auth(const Fields& f, IkeConfig& out) {
  for (auto [key, id] :
       {std::pair{"local_id", &out.local_id}, std::pair{"remote_id", &out.remote_id}}) {
    if (auto x = f.get(key)) {
      if (auto s = text(*x)) *id = *s;
    }
  }
  if (auto x = f.get("psk_ref")) {
    if (auto s = name(*x)) {
      out.psk_ref = *s;
      psk_refs_.push_back({*s, *x});
    }
  } else {
    error(f.self(),
          "missing key \"psk_ref\" (a pre-shared key is the only IKE authentication espgw "
          "configures for now)");
  }
}

void Parser::read_timer(Timer& t, uint64_t min, uint64_t max) {
  if (!t.at) return;
  auto n = integer(*t.at, min, max);
  t.ok = n.has_value();
  if (n) *t.value = static_cast<uint32_t>(*n);
}

std::string Parser::timer_text(const Timer& t) {
  return std::to_string(*t.value) + (t.at ? "" : ", the default");
}

// Lifetimes and the rekey margin: the SA is rekeyed margin (plus up to fuzz% of it) before it
// expires, which needs the margin below each lifetime. A default that conflicts with a value
// given is reported at the value given.
void Parser::ike_lifetimes(const Fields& f, IkeConfig& out) {
  Timer lifetimes[] = {{"child_lifetime_s", &out.child_lifetime_s, f.get("child_lifetime_s")},
                       {"ike_lifetime_s", &out.ike_lifetime_s, f.get("ike_lifetime_s")}};
  Timer margin{"rekey_margin_s", &out.rekey_margin_s, f.get("rekey_margin_s")};
  for (Timer& t : lifetimes)
    read_timer(t, kMinLifetime, kMaxLifetime);
  read_timer(margin, 1, kMaxLifetime - 1);
  for (const Timer& life : lifetimes) {
    if (!life.ok || !margin.ok || *margin.value < *life.value) continue;
    if (margin.at) {
      error(*margin.at, "must be less than " + std::string(life.key) + " (" + timer_text(life) +
                            "), got " + quote(margin.at->node.Scalar()));
      break;  // once: the shorter lifetime says it
    }
    error(*life.at, "must be greater than rekey_margin_s (" + timer_text(margin) + "), got " +
                        quote(life.at->node.Scalar()));
  }
  // charon rekeys at a random point up to margin * fuzz / 100 before lifetime - margin, and does
  // not clamp it (child_cfg.c apply_jitter()): that point must stay after the SA's start.
  Timer fuzz{"rekey_fuzz_percent", &out.rekey_fuzz_percent, f.get("rekey_fuzz_percent")};
  read_timer(fuzz, 0, kMaxFuzzPercent);
  for (const Timer& life : lifetimes) {
    if (!life.ok || !margin.ok || !fuzz.ok || *margin.value >= *life.value) continue;
    const uint64_t earliest =
        *margin.value + uint64_t{*margin.value} * *fuzz.value / 100;  // before the end
    if (earliest < *life.value) continue;
    const Value& where = fuzz.at ? *fuzz.at : margin.at ? *margin.at : *life.at;
    error(where, "rekey_margin_s (" + timer_text(margin) + ") plus rekey_fuzz_percent (" +
                     timer_text(fuzz) + ") of it is " + std::to_string(earliest) +
                     " s, not less than " + std::string(life.key) + " (" + timer_text(life) +
                     "): charon could rekey as soon as the SA is up, got " +
                     quote(where.node.Scalar()));
    break;
  }
}

// DPD. IKEv1: charon's dpd_timeout, the time without an answer after which the peer is dead,
// so more than the delay. IKEv2: charon ignores dpd_timeout and gives up when a DPD request's
// retransmissions run out; espgw-up sets those from dpd_timeout_s (config/charon_retransmit.h),
// so it is the length of an unanswered liveness check, and has no relation to the delay.
void Parser::ike_dpd(const Fields& f, const Value& v, IkeConfig& out, bool version_ok,
                     const std::string& tunnel_name) {
  Timer delay{"dpd_delay_s", &out.dpd_delay_s, f.get("dpd_delay_s")};
  Timer timeout{"dpd_timeout_s", &out.dpd_timeout_s, f.get("dpd_timeout_s")};
  read_timer(delay, 0, kMaxDpdDelay);
  const bool ikev2 = !version_ok || out.version == 2;
  if (ikev2) {
    out.dpd_timeout_s = kDefaultIkev2DpdTimeout;
    read_timer(timeout, kMinIkev2DpdTimeout, kMaxIkev2DpdTimeout);
    if (timeout.ok && version_ok) {
      dpd_seen_.push_back({tunnel_name, timeout.at ? *timeout.at : v, out.dpd_timeout_s,
                           out.dpd_delay_s, timeout.at.has_value()});
    }
  } else {
    read_timer(timeout, 1, kMaxDpdTimeout);
  }
  if (!ikev2 && delay.ok && timeout.ok && *timeout.value <= *delay.value) {
    if (timeout.at) {
      error(*timeout.at, "must be greater than dpd_delay_s (" + timer_text(delay) + "), got " +
                             quote(timeout.at->node.Scalar()));
    } else {
      error(*delay.at, "must be less than dpd_timeout_s (" + timer_text(timeout) + "), got " +
                           quote(delay.at->node.Scalar()));
    }
  }
}

// The actions, MOBIKE and UDP encapsulation.
void Parser::ike_options(const Fields& f, IkeConfig& out, bool version_ok, bool nat_t) {
  if (auto x = f.get("dpd_action")) {
    if (auto a = choice<DpdAction>(*x, "dpd action",
                                   {{"clear", DpdAction::kClear},
                                    {"trap", DpdAction::kTrap},
                                    {"restart", DpdAction::kRestart}})) {
      out.dpd_action = *a;
    }
  }
  if (auto x = f.get("start_action")) {
    if (auto a = choice<StartAction>(*x, "start action",
                                     {{"none", StartAction::kNone},
                                      {"trap", StartAction::kTrap},
                                      {"start", StartAction::kStart}})) {
      out.start_action = *a;
    }
  }
  if (auto x = f.get("mobike")) {
    if (auto b = boolean(*x)) {
      if (*b && version_ok && out.version == 1) {
        error(*x, "MOBIKE (RFC 4555) is an IKEv2 extension; version is 1, got " +
                      quote(x->node.Scalar()));
      } else {
        out.mobike = *b;
      }
    }
  }
  if (auto x = f.get("force_encap")) {
    if (auto b = boolean(*x)) {
      if (!*b && nat_t) {
        error(*x, "the tunnel's nat_t: true already forces UDP encapsulation, got " +
                      quote(x->node.Scalar()));
      } else {
        out.force_encap = *b;
      }
    }
  }
  // An IKE tunnel with nat_t: true sends ESP in UDP even where IKE detects no NAT, as its static
  // SAs would.
  if (nat_t) out.force_encap = true;
}

void Parser::ike_global(const Value& v, IkeGlobal& out) {
  auto f = map(v, {"secrets_file", "vici_socket"});
  if (!f) return;
  if (auto x = f->get("secrets_file")) {
    secrets_file_at_ = *x;
    if (auto s = absolute_path(*x)) out.secrets_file = *s;
  }
  if (auto x = f->get("vici_socket")) {
    if (auto s = socket_path(*x)) {
      if (*s == config_.dataplane.control_socket) {
        error(*x, "the same path as dataplane.control_socket " + quote(*s));
      } else {
        out.vici_socket = *s;
      }
    }
  }
}

void Parser::peers(const Value& v) {
  auto items = list(v, false);
  if (!items) return;
  std::map<std::string, int, std::less<>> names;
  std::map<std::string, int, std::less<>> member_lines;  // tunnel -> line, over all peers
  for (const auto& item : *items) {
    auto f = map(item, {"name", "tunnels", "failback"});
    if (!f) continue;
    const size_t index = config_.peers.size();
    Peer& p = config_.peers.emplace_back();
    if (auto x = require(*f, "name")) {
      if (auto s = name(*x)) {
        p.name = *s;
        first_name(*x, *s, names, "peer");
      }
    }
    if (auto x = require(*f, "tunnels")) peer_tunnels(*x, index, member_lines);
    read_bool(*f, "failback", p.failback);
  }
}

// The tunnels of peer `index`: each in one peer at most, known, and carrying the same CIDRs as the
// first. member_lines: tunnel -> line, over all peers so far.
void Parser::peer_tunnels(const Value& x, size_t index,
                          std::map<std::string, int, std::less<>>& member_lines) {
  auto members = list(x, true);
  if (!members) return;
  Peer& p = config_.peers[index];
  const Tunnel* first_tunnel = nullptr;
  int first_line = 0;
  for (const auto& m : *members) {
    auto s = name(m);
    if (!s) continue;
    if (auto [other, inserted] = member_lines.emplace(*s, m.line); !inserted) {
      const size_t owner = peer_of_tunnel_.at(*s);
      if (owner == index) {
        error(m, "tunnel listed twice in this peer " + quote(*s) + " (first at line " +
                     std::to_string(other->second) + ")");
      } else {
        error(m, "already in peer " + quote(config_.peers[owner].name) + " (line " +
                     std::to_string(other->second) +
                     "); a tunnel belongs to one peer at most: " + quote(*s));
      }
      continue;
    }
    peer_of_tunnel_.emplace(*s, index);
    p.tunnels.push_back(*s);
    if (!tunnels_clean_) continue;
    const Tunnel* t = config_.find_tunnel(*s);
    if (!t) {
      std::string known;
      for (const auto& other_tunnel : config_.tunnels)
        known += (known.empty() ? "" : ", ") + bare(other_tunnel.name);
      error(m,
            "unknown tunnel " + quote(*s) + " (tunnels: " + (known.empty() ? "none" : known) + ")");
      continue;
    }
    if (!first_tunnel) {
      first_tunnel = t;
      first_line = m.line;
      continue;
    }
    same_cidrs(m, *t, *first_tunnel, first_line);
  }
}

// Failover moves the same traffic: both tunnels must carry the same CIDRs.
void Parser::same_cidrs(const Value& m, const Tunnel& t, const Tunnel& first_tunnel,
                        int first_line) {
  for (auto [key, mine, theirs] :
       {std::tuple{"local_cidrs", &t.local_cidrs, &first_tunnel.local_cidrs},
        std::tuple{"remote_cidrs", &t.remote_cidrs, &first_tunnel.remote_cidrs}}) {
    std::vector<IpPrefix> only_here;
    std::vector<IpPrefix> only_there;
    for (const auto& c : *mine) {
      if (std::find(theirs->begin(), theirs->end(), c) == theirs->end()) only_here.push_back(c);
    }
    for (const auto& c : *theirs) {
      if (std::find(mine->begin(), mine->end(), c) == mine->end()) only_there.push_back(c);
    }
    if (only_here.empty() && only_there.empty()) continue;
    std::string diff;
    if (!only_here.empty()) diff = "only in " + quote(t.name) + ": " + prefix_list(only_here);
    if (!only_there.empty()) {
      diff += (diff.empty() ? "" : "; ") + std::string("only in ") + quote(first_tunnel.name) +
              ": " + prefix_list(only_there);
    }
    error(m, std::string(key) + " differ from those of tunnel " + quote(first_tunnel.name) +
                 " (line " + std::to_string(first_line) + "; " + diff +
                 "); the tunnels of a peer carry the same CIDRs: " + quote(m.node.Scalar()));
  }
}

}  // namespace espgw::config
