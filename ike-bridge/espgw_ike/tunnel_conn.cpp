#include "ike-bridge/espgw_ike/tunnel_conn.h"

#include <cstdio>

#include "common/hex.h"

namespace espgw::ike {

namespace {

constexpr std::string_view kKeyIdPrefix = "espgw-ike:";
constexpr size_t kViciNumberChars = 15;             // char buf[16] in charon's parsers
constexpr uint64_t kLargestHex = (1ull << 52) - 1;  // "0x" and 13 hex digits

std::string hex(uint64_t n) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(n));
  return b;
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

std::string seconds(uint64_t s) {
  return std::to_string(s) + "s";
}

const char* dpd_action_text(config::DpdAction a) {
  switch (a) {
    case config::DpdAction::kClear: return "clear";
    case config::DpdAction::kTrap: return "trap";
    case config::DpdAction::kRestart: return "restart";
  }
  return "clear";
}

// charon's own start action. For `start`, espgw-ike initiates itself right after loading
// (ConnectionSync): charon's start action would initiate too, and two initiations give two
// CHILD_SAs. `trap` is charon's to do (it installs the trap policies on load and removes them on
// unload), `none` leaves the tunnel to the peer.
const char* charon_start_action(config::StartAction a) {
  return a == config::StartAction::kTrap ? "trap" : "none";
}

vici::List prefixes(const std::vector<IpPrefix>& cidrs) {
  vici::List out;
  for (const auto& c : cidrs)
    out.push_back(c.to_string());
  return out;
}

// 90% of a hard limit, without overflow near 2^64.
uint64_t ninety_percent(uint64_t n) {
  return n / 10 * 9 + n % 10 * 9 / 10;
}

// Lane `lane`'s connection: the tunnel's settings under the lane's name, identities and if_id.
void add_lane(TunnelConn& out, const config::Tunnel& t, unsigned lane, const std::string& local_id,
              const std::string& remote_id) {
  const config::IkeConfig& ike = *t.ike;
  const std::string name = config::lane_name(t.name, lane);
  const uint32_t margin = ike.rekey_margin_s;
  const uint64_t rand = static_cast<uint64_t>(margin) * ike.rekey_fuzz_percent / 100;

  // The IKE (phase 1) part. Lifetimes in ipsec.conf's model (docs/config-reference.md): rekey
  // `margin` before the end, minus up to `rand`; over_time = margin puts the hard end at the
  // lifetime. IKEv1 cannot rekey an ISAKMP SA, charon reauthenticates it instead, and proposes
  // reauth_time + over_time as the lifetime in main mode.
  vici::Section& c = out.conn.add_section(name);
  c.add("version", std::to_string(ike.version));
  c.add("local_addrs", vici::List{t.local.to_string()});
  c.add("remote_addrs", vici::List{t.remote.to_string()});
  c.add("proposals", vici::List(ike.ike_proposals.begin(), ike.ike_proposals.end()));
  const std::string ike_rekey = seconds(ike.ike_lifetime_s - margin);
  if (ike.version == 1) {
    c.add("reauth_time", ike_rekey);
    c.add("rekey_time", "0s");
  } else {
    c.add("rekey_time", ike_rekey);
    c.add("reauth_time", "0s");
  }
  c.add("over_time", seconds(margin));
  c.add("rand_time", seconds(rand));
  c.add("dpd_delay", seconds(ike.dpd_delay_s));
  if (ike.version == 1) c.add("dpd_timeout", seconds(ike.dpd_timeout_s));  // IKEv2 ignores it
  // MOBIKE moves an IKE_SA to other addresses or ports; a tunnel of several lanes keeps every
  // lane's IKE_SA where it is (docs/lanes.md).
  c.add("mobike", yes_no(ike.version == 2 && ike.mobike && t.lanes == 1));
  c.add("encap", yes_no(ike.force_encap));
  // Retry the initial exchange until the peer answers (swanctl's default gives up after one
  // sequence of retransmissions, about 165 s): a gateway's tunnel should come up whenever the
  // peer does. Also applies to restarts after DPD (dpd_action: restart).
  c.add("keyingtries", "0");
  c.add_section("local").add("auth", "psk").add("id", local_id);
  c.add_section("remote").add("auth", "psk").add("id", remote_id);

  // The CHILD_SA (phase 2).
  vici::Section& children = c.add_section("children");
  vici::Section& child = children.add_section(name);
  child.add("mode", "tunnel");
  child.add("local_ts", prefixes(t.local_cidrs));
  child.add("remote_ts", prefixes(t.remote_cidrs));
  child.add("esp_proposals", vici::List(ike.esp_proposals.begin(), ike.esp_proposals.end()));
  child.add("rekey_time", seconds(ike.child_lifetime_s - margin));
  child.add("life_time", seconds(ike.child_lifetime_s));
  child.add("rand_time", seconds(rand));
  // Byte and packet limits: rekeyed at 90% exactly (rand_* 0: charon's default jitter would be
  // the whole 10% up to the hard limit). The dataplane enforces both and raises the expiries.
  auto warn = [&](const char* key, const VNumber& v) {
    if (v.clamped && lane == 0) {  // once per tunnel
      out.warnings.push_back(std::string(key) + " is more than charon can take; " +
                             "using its largest, " + v.text);
    }
  };
  if (ike.life_bytes) {
    child.add("life_bytes", vici_bytes(ike.life_bytes).text);
    child.add("rekey_bytes", vici_bytes(ninety_percent(ike.life_bytes)).text);
    child.add("rand_bytes", "0");
  }
  if (ike.life_packets) {
    const VNumber life = vici_count(ike.life_packets);
    const VNumber rekey = vici_count(ninety_percent(ike.life_packets));
    warn("life_packets", life);
    child.add("life_packets", life.text);
    child.add("rekey_packets", rekey.text);
    child.add("rand_packets", "0");
  }
  child.add("dpd_action", dpd_action_text(ike.dpd_action));
  child.add("start_action", charon_start_action(ike.start_action));
  // Lanes recover alone (docs/lanes.md): where this side starts the tunnel, a lane whose IKE_SA
  // or CHILD_SA the peer deletes is initiated again at once (keyingtries 0: until the peer
  // answers). One lane keeps charon's default (none), as before.
  if (t.lanes > 1 && ike.start_action == config::StartAction::kStart)
    child.add("close_action", "restart");
  // Ties every SA of the child to the tunnel and lane: the kernel-espgw plugin gets it with each
  // SA, and the dataplane finds the lane by it.
  const std::string if_id = if_id_text(config::lane_if_id(t.name, lane));
  child.add("if_id_in", if_id);
  child.add("if_id_out", if_id);
  // The tunnel's ESP options, as far as charon has them, so that what charon hands the plugin
  // agrees with the config: the replay window, DF (copy, or not: `df: set` has no charon
  // equivalent and counts as copy), ECN (RFC 6040 normal mode is charon's copy_ecn) and DSCP.
  child.add("replay_window", std::to_string(t.replay_window));
  child.add("copy_df", yes_no(t.df != esp::DfMode::kClear));
  child.add("copy_ecn", yes_no(t.ecn == esp::EcnMode::kNormal));
  child.add("copy_dscp", t.dscp ? "no" : "out");
}

}  // namespace

std::string shared_key_id(std::string_view tunnel) {
  return std::string(kKeyIdPrefix) + std::string(tunnel);
}

std::string tunnel_of_shared_key_id(std::string_view id) {
  if (!id.starts_with(kKeyIdPrefix) || id.size() == kKeyIdPrefix.size()) return {};
  return std::string(id.substr(kKeyIdPrefix.size()));
}

std::string lane_identity(std::string_view id, unsigned lane) {
  if (lane == 0) return std::string(id);
  return "lane" + std::to_string(lane) + "." + std::string(id);
}

std::string if_id_text(uint32_t if_id) {
  return spi_hex(if_id);
}

VNumber vici_count(uint64_t n) {
  std::string d = std::to_string(n);
  if (d.size() <= kViciNumberChars) return {d};
  if (n <= kLargestHex) return {hex(n)};
  return {hex(kLargestHex), true};
}

VNumber vici_bytes(uint64_t n) {
  std::string d = std::to_string(n);
  if (d.size() <= kViciNumberChars) return {d};
  if (n <= kLargestHex) return {hex(n)};
  const uint64_t gib = (n >> 30) + ((n & ((1ull << 30) - 1)) ? 1 : 0);
  return {std::to_string(gib) + "G"};  // at most 2^34 GiB: 11 digits
}

TunnelConn tunnel_conn(const config::Tunnel& t, const std::map<std::string, std::string>& secrets) {
  if (!t.ike) throw config::ConfigError("tunnel \"" + t.name + "\" has no ike section");
  const config::IkeConfig& ike = *t.ike;
  const auto psk = secrets.find(ike.psk_ref);
  if (psk == secrets.end() || psk->second.empty()) {
    throw config::ConfigError("tunnel \"" + t.name + "\": no pre-shared key named \"" +
                              ike.psk_ref + "\" in the secrets file");
  }
  TunnelConn out;
  out.name = t.name;
  out.start_action = ike.start_action;
  const std::string local_id = ike.local_id.empty() ? t.local.to_string() : ike.local_id;
  const std::string remote_id = ike.remote_id.empty() ? t.remote.to_string() : ike.remote_id;
  vici::List owners;
  for (unsigned lane = 0; lane < t.lanes; ++lane) {
    out.lanes.push_back(config::lane_name(t.name, lane));
    add_lane(out, t, lane, lane_identity(local_id, lane), lane_identity(remote_id, lane));
    owners.push_back(lane_identity(local_id, lane));
    owners.push_back(lane_identity(remote_id, lane));
  }

  vici::Message& key = out.shared_key;
  key.add("id", shared_key_id(t.name));
  key.add("type", "IKE");
  key.add("data", psk->second);
  // One key for every lane: each lane's pair of identities owns it.
  key.add("owners", std::move(owners));
  return out;
}

std::vector<TunnelConn> tunnel_conns(const config::Config& config) {
  std::vector<TunnelConn> out;
  for (const auto& t : config.tunnels) {
    if (t.ike) out.push_back(tunnel_conn(t, config.secrets));
  }
  return out;
}

}  // namespace espgw::ike
