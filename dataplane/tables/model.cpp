#include "dataplane/tables/model.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/hex.h"
#include "dataplane/esp/static_sa_params.h"
#include "dataplane/tables/snapshot_build.h"

namespace espgw::dp {
namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw std::invalid_argument(what);
}

// Whether `sa` holds the key material in `p`. An Sa keeps its keys only in SaKeys (its params()
// has them wiped), so they are compared there.
bool same_keys(const esp::Sa& sa, const esp::SaParams& p) {
  const crypto::SaKeys& k = sa.keys();
  auto same = [](const std::vector<uint8_t>& given, const uint8_t* held, size_t held_len) {
    return given.size() == held_len && std::equal(given.begin(), given.end(), held);
  };
  return p.algorithm == k.alg && same(p.enc_key, k.cipher_key, k.alg.key_bytes) &&
         same(p.salt, k.salt, k.alg.salt_bytes()) &&
         same(p.auth_key, k.imb.cbc.auth_key, k.alg.aead() ? 0 : k.auth_key_len);
}

// Whether `sa` is what `p` would install, sending from `sport`.
bool same_sa(const esp::Sa& sa, const esp::SaParams& p, uint16_t sport) {
  esp::SaParams bare = p;
  bare.local_port = sport;
  bare.enc_key.clear();
  bare.salt.clear();
  bare.auth_key.clear();
  bare.replay_seen.clear();  // in the replay window, not kept in params()
  return sa.params() == bare && same_keys(sa, p);
}

}  // namespace

const char* lane_state_name(LaneState s) noexcept {
  switch (s) {
    case LaneState::kUp: return "up";
    case LaneState::kNoSa: return "no_sa";
    case LaneState::kSilent: return "silent";
  }
  return "?";
}

LaneState Model::lane_state(const std::string& tunnel, uint8_t lane) const {
  const auto per_lane = lane_out_.find(tunnel);
  const bool has_sa =
      per_lane != lane_out_.end() && lane < per_lane->second.size() && per_lane->second[lane] != 0;
  if (!has_sa) return LaneState::kNoSa;
  return lane_silent(tunnel, lane) ? LaneState::kSilent : LaneState::kUp;
}

bool Model::lane_silent(const std::string& tunnel, uint8_t lane) const noexcept {
  const auto it = lane_silent_.find(tunnel);
  return it != lane_silent_.end() && lane < 64 && ((it->second >> lane) & 1) != 0;
}

size_t Model::set_lane_silent(const std::string& tunnel, uint8_t lane, bool silent) {
  const auto t = tunnels_.find(tunnel);
  if (t == tunnels_.end() || lane >= t->second.lanes) return 0;
  uint64_t& bits = lane_silent_[tunnel];
  const uint64_t bit = uint64_t{1} << lane;
  bits = silent ? bits | bit : bits & ~bit;
  const auto per_lane = lane_out_.find(tunnel);
  const bool has_sa =
      per_lane != lane_out_.end() && lane < per_lane->second.size() && per_lane->second[lane] != 0;
  if (!has_sa) return 0;
  return set_lane_up(tunnel, t->second.lanes, lane, !silent);
}

size_t Model::set_lane_up(const std::string& tunnel, uint8_t lanes, uint8_t lane, bool up) {
  if (lanes == 1) return 0;
  auto [it, made] = lane_maps_.try_emplace(tunnel, lanes);
  if (made) {
    const auto per_lane = lane_out_.find(tunnel);
    for (uint8_t k = 0; k < lanes; ++k) {
      const bool has_sa =
          per_lane != lane_out_.end() && k < per_lane->second.size() && per_lane->second[k] != 0;
      if (!has_sa) it->second.set_up(k, false);
    }
  }
  return it->second.set_up(lane, up);
}

uint16_t Model::lane_sport(esp::Direction dir, uint8_t lane, bool udp_encap, uint16_t local_port,
                           uint16_t remote_port) const noexcept {
  if (dir != esp::Direction::kOutbound || lane == 0 || !udp_encap || remote_port != kIkeNattPort) {
    return local_port;
  }
  return static_cast<uint16_t>(lane_port_base_ + lane - 1);
}

uint16_t tunnel_inner_mtu(uint16_t egress_mtu, const esp::Algorithm& a, bool nat_t,
                          bool outer_v6) noexcept {
  const uint32_t fixed =
      (outer_v6 ? 40u : 20u) + (nat_t ? 8u : 0u) + 8u + a.iv_bytes() + a.icv_bytes();
  if (egress_mtu < fixed + a.align_bytes() + 2) return 0;
  const uint32_t ct_max = (egress_mtu - fixed) & ~(a.align_bytes() - 1);
  return static_cast<uint16_t>(ct_max - 2);
}

Model::Model(std::vector<PortDesc> ports, uint32_t workers)
    : ports_(std::move(ports)), workers_(workers) {}

void Model::add_route(const config::Route& r, bool replace) {
  // A route into a tunnel names it; the build checks that it exists (tunnels load after routes).
  const auto port = std::find_if(ports_.begin(), ports_.end(),
                                 [&](const PortDesc& p) { return p.name == r.interface; });
  if (r.tunnel.empty() && port == ports_.end()) {
    invalid("route " + r.prefix.to_string() + ": no interface \"" + r.interface + "\"");
  }
  if (r.via && r.via->family != r.prefix.address.family) {
    invalid("route " + r.prefix.to_string() + ": next hop " + r.via->to_string() +
            " is of the other address family");
  }
  if (!routes_.put(r, replace)) invalid("route " + r.prefix.to_string() + " exists");
}

void Model::remove_route(const IpPrefix& prefix) {
  if (!routes_.erase(prefix)) invalid("route " + prefix.to_string() + " does not exist");
}

void Model::add_tunnel(const config::Tunnel& t, bool replace) {
  if (t.name.empty()) invalid("tunnel without a name");
  if (t.local.family != t.remote.family) {
    invalid("tunnel " + t.name + ": local and remote addresses differ in family");
  }
  const auto existing = tunnels_.find(t.name);
  if (existing != tunnels_.end() && !replace) invalid("tunnel " + t.name + " exists");
  // Only a tunnel that exists has SAs, and only fewer lanes can strand one: a new tunnel skips the
  // scan of every SA (which made loading n tunnels take n^2 steps).
  if (existing != tunnels_.end() && t.lanes < existing->second.lanes) {
    for (const auto* table : {&inbound_, &outbound_}) {
      for (const auto& [spi, rec] : *table) {
        if (rec.tunnel == t.name && rec.lane >= t.lanes) {
          invalid("tunnel " + t.name + ": " + std::to_string(t.lanes) + " lane(s), but SA " +
                  spi_hex(spi) + " is on lane " + std::to_string(rec.lane));
        }
      }
    }
  }
  config::Tunnel copy = t;
  copy.static_sa.reset();  // keys live only in SA objects
  tunnels_[t.name] = std::move(copy);
  // Another number of lanes: a fresh bucket table, each lane up where it has an SA.
  if (auto m = lane_maps_.find(t.name); m != lane_maps_.end() && m->second.lanes() != t.lanes) {
    lane_maps_.erase(m);
    lane_out_.erase(t.name);
    lane_silent_.erase(t.name);
    for (uint8_t lane = 0; lane < t.lanes; ++lane)
      pick_active(t.name, lane);
  }
}

void Model::remove_tunnel(const std::string& name) {
  if (tunnels_.erase(name) == 0) invalid("tunnel " + name + " does not exist");
  std::erase_if(inbound_, [&](const auto& kv) { return kv.second.tunnel == name; });
  std::erase_if(outbound_, [&](const auto& kv) { return kv.second.tunnel == name; });
  active_out_.erase(name);
  lane_out_.erase(name);
  lane_maps_.erase(name);
  lane_silent_.erase(name);
}

void Model::add_sa(const std::string& tunnel, const esp::SaParams& params, uint64_t iv_seed,
                   bool replace, SaOrigin origin, const SaLifetime& life, uint8_t lane) {
  const auto t = tunnels_.find(tunnel);
  if (t == tunnels_.end()) {
    invalid("SA " + spi_hex(params.spi) + ": no tunnel \"" + tunnel + "\"");
  }
  if (lane >= t->second.lanes) {
    invalid("SA " + spi_hex(params.spi) + ": lane " + std::to_string(lane) + ", but tunnel " +
            tunnel + " has " + std::to_string(t->second.lanes) + " lane(s)");
  }
  auto& table = params.direction == esp::Direction::kInbound ? inbound_ : outbound_;
  const uint16_t sport =
      lane_sport(params.direction, lane, params.udp_encap, params.local_port, params.remote_port);
  const std::string what =
      std::string(params.direction == esp::Direction::kInbound ? "inbound" : "outbound") + " SA " +
      spi_hex(params.spi);
  if (auto existing = table.find(params.spi); existing != table.end()) {
    if (!replace) invalid(what + " exists");
    // Replacing another tunnel's SA would leave that tunnel's traffic on this tunnel's SA.
    if (existing->second.tunnel != tunnel) {
      invalid(what + " belongs to tunnel " + existing->second.tunnel + ", not " + tunnel);
    }
    // The same SA given again (tunnel-replace with the tunnel's static SAs unchanged, a config
    // applied twice) stays as it is: its sequence number, replay window and counters are live
    // state. A fresh copy would send from sequence number 1 again, which the peer drops as
    // replays until the numbers pass its window.
    if (same_sa(*existing->second.sa, params, sport) && existing->second.lane == lane) {
      if (params.direction == esp::Direction::kOutbound) {
        existing->second.installed = ++installs_;  // given again: in use again
        set_lane_sa(tunnel, lane, params.spi);
      }
      return;
    }
    // The same outbound SA with other parameters (a tunnel's TTL, DF or DSCP changed under its
    // static SAs) would be a fresh copy, sending from sequence number 1 again under the same SPI
    // and keys: the peer drops all of it as replays. A live SA's state cannot move to a copy
    // without racing the workers, so such a change needs a new SA (new SPI and keys).
    if (params.direction == esp::Direction::kOutbound && same_keys(*existing->second.sa, params)) {
      invalid("outbound SA " + spi_hex(params.spi) +
              " exists with these keys: with other parameters it would restart at sequence "
              "number 1, which the peer drops as replays; install a new SA (new SPI and keys)");
    }
  }
  // An SA given without a state (a new one, or one whose state espgw may hold: docs/sa-state.md).
  std::optional<esp::SaStart> start;
  const uint64_t fingerprint = esp::key_fingerprint(params);
  if (resume_ != nullptr && params.first_seq == 1 && params.replay_seen.empty()) {
    start = resume_->resume(params, fingerprint);
  }
  auto sa = std::shared_ptr<esp::Sa>(
      esp::Sa::make(params, workers_, iv_seed, start ? &*start : nullptr, fingerprint));
  if (start) ++resumed_;
  // The lane's own source port, set before any worker sees the SA (params holds keys, so it is
  // not copied to change the port).
  if (sport != params.local_port) {
    sa->retarget(params.local, params.remote, params.udp_encap, sport, params.remote_port);
  }
  SaRecord rec;
  rec.sa = std::move(sa);
  rec.tunnel = tunnel;
  rec.installed = ++installs_;
  rec.origin = origin;
  rec.lifetime = life;
  rec.lane = lane;
  uint8_t replaced_lane = lane;
  if (auto old = table.find(params.spi); old != table.end()) replaced_lane = old->second.lane;
  table[params.spi] = std::move(rec);
  if (params.direction == esp::Direction::kOutbound) {
    set_lane_sa(tunnel, lane, params.spi);  // the newest of its lane
    if (replaced_lane != lane) pick_active(tunnel, replaced_lane);
  }
}

void Model::pick_active(const std::string& tunnel, uint8_t lane) {
  uint64_t newest = 0;
  uint32_t pick = 0;
  for (const auto& [spi, rec] : outbound_) {
    if (rec.tunnel == tunnel && rec.lane == lane && rec.installed > newest) {
      newest = rec.installed;
      pick = spi;
    }
  }
  set_lane_sa(tunnel, lane, pick);
}

void Model::set_lane_sa(const std::string& tunnel, uint8_t lane, uint32_t spi) {
  const uint8_t lanes = tunnels_.at(tunnel).lanes;
  auto& per_lane = lane_out_[tunnel];
  per_lane.resize(lanes, 0);
  per_lane[lane] = spi;
  if (spi == 0) {
    if (auto s = lane_silent_.find(tunnel); s != lane_silent_.end()) {
      s->second &= ~(uint64_t{1} << lane);
    }
  }
  set_lane_up(tunnel, lanes, lane, spi != 0 && !lane_silent(tunnel, lane));
  active_out_.erase(tunnel);
  for (uint32_t s : per_lane) {
    if (s != 0) {
      active_out_[tunnel] = s;
      break;
    }
  }
}

void Model::remove_sa(esp::Direction dir, uint32_t spi) {
  auto& table = dir == esp::Direction::kInbound ? inbound_ : outbound_;
  auto it = table.find(spi);
  if (it == table.end()) {
    invalid(std::string(dir == esp::Direction::kInbound ? "inbound" : "outbound") + " SA " +
            spi_hex(spi) + " does not exist");
  }
  const std::string tunnel = it->second.tunnel;
  const uint8_t lane = it->second.lane;
  table.erase(it);
  // The lane falls back to its newest remaining outbound SA, if any.
  if (dir == esp::Direction::kOutbound) pick_active(tunnel, lane);
}

void Model::update_sa(esp::Direction dir, uint32_t spi, const IpAddress& local,
                      const IpAddress& remote, bool udp_encap, uint16_t local_port,
                      uint16_t remote_port) {
  auto& table = dir == esp::Direction::kInbound ? inbound_ : outbound_;
  auto it = table.find(spi);
  if (it == table.end()) {
    invalid(std::string(dir == esp::Direction::kInbound ? "inbound" : "outbound") + " SA " +
            spi_hex(spi) + " does not exist");
  }
  // A lane keeps its own source port while charon's ports stay the IKE port's (a NAT mapping of
  // the address alone), and sends from charon's port once the remote port is translated.
  const uint16_t sport = lane_sport(dir, it->second.lane, udp_encap, local_port, remote_port);
  it->second.sa->retarget(local, remote, udp_encap, sport, remote_port);
}

size_t Model::flush_sas(SaOrigin origin) {
  size_t n = 0;
  for (auto* table : {&inbound_, &outbound_}) {
    for (auto it = table->begin(); it != table->end();) {
      if (it->second.origin == origin) {
        it = table->erase(it);
        ++n;
      } else {
        ++it;
      }
    }
  }
  // Lanes whose SA in use went fall back to a remaining one.
  for (const auto& [tunnel, per_lane] : std::map(lane_out_)) {
    for (uint8_t lane = 0; lane < per_lane.size(); ++lane) {
      if (per_lane[lane] != 0 && outbound_.count(per_lane[lane]) == 0) pick_active(tunnel, lane);
    }
  }
  return n;
}

const config::Tunnel* Model::tunnel_by_if_id(uint32_t if_id, uint8_t* lane) const {
  for (const auto& [name, t] : tunnels_) {
    for (uint8_t k = 0; k < t.lanes; ++k) {
      if (config::lane_if_id(name, k) != if_id) continue;
      if (lane != nullptr) *lane = k;
      return &t;
    }
  }
  return nullptr;
}

void Model::set_peers(std::vector<config::Peer> peers) {
  peers_ = std::move(peers);
}

void Model::load(const config::Config& cfg, uint64_t (*iv_seed)(void*), void* seed_ctx) {
  set_lane_port_base(cfg.dataplane.lane_port_base);
  set_fpm_distance(cfg.routing.fpm.distance);
  for (const auto& r : cfg.routes)
    add_route(r, false);
  // Without its peers, a config whose tunnels back each other up (the same remote CIDRs) would
  // not build: each tunnel would route the CIDRs it shares.
  set_peers(cfg.peers);
  for (const auto& t : cfg.tunnels) {
    add_tunnel(t, false);
    if (t.static_sa) {
      add_sa(t.name, esp::static_sa_params(t, t.static_sa->inbound, esp::Direction::kInbound),
             iv_seed(seed_ctx), false, SaOrigin::kConfig);
      add_sa(t.name, esp::static_sa_params(t, t.static_sa->outbound, esp::Direction::kOutbound),
             iv_seed(seed_ctx), false, SaOrigin::kConfig);
    }
  }
}

std::unique_ptr<Snapshot> Model::build(uint64_t generation, uint64_t now_ms) const {
  PeerRouting routing = route_peers(now_ms);
  auto s = build_snapshot(*this, routing.routed_by, generation);
  remember_build(std::move(routing.chosen), now_ms);
  return s;
}

// Tunnels that back each other up share their CIDRs: the routes go to the peer's tunnel in use
// (choose()), the first member carries them and the others route nothing.
Model::PeerRouting Model::route_peers(uint64_t now_ms) const {
  PeerRouting r;
  for (const auto& peer : peers_) {
    const std::vector<std::string> members = this->members(peer);
    if (members.empty()) continue;
    const std::string pick = choose(peer, members, now_ms);
    r.chosen[peer.name] = pick;
    for (const auto& t : members)
      r.routed_by[t] = members.front() == t ? pick : "";
  }
  return r;
}

void Model::remember_build(std::map<std::string, std::string> chosen, uint64_t now_ms) const {
  // Remembered only for a snapshot that was built: the next build keeps a peer without failback
  // on this choice while it stays up, and times the failback hold from here.
  peer_active_ = std::move(chosen);
  for (const auto& [name, t] : tunnels_) {
    if (active_out_.count(name) != 0) {
      up_since_ms_.emplace(name, now_ms);
    } else {
      up_since_ms_.erase(name);
    }
  }
  std::erase_if(up_since_ms_, [&](const auto& kv) { return tunnels_.count(kv.first) == 0; });
}

std::vector<std::string> Model::members(const config::Peer& peer) const {
  std::vector<std::string> out;
  for (const auto& t : peer.tunnels) {
    if (tunnels_.count(t) != 0) out.push_back(t);
  }
  return out;
}

// The first tunnel in preference order that is up (has an outbound SA) with failback, or the one
// in use as long as it stays up without. A tunnel in use that goes down is left at once for the
// first one up (the alternative is dropping); a tunnel that comes up takes over from one that
// is up only once ready (kFailbackHoldMs). With none up, the preferred one (its drops:
// tunnel_down).
std::string Model::choose(const config::Peer& peer, const std::vector<std::string>& members,
                          uint64_t now_ms) const {
  auto up = [&](const std::string& t) { return active_out_.count(t) != 0; };
  auto ready = [&](const std::string& t) {
    const auto since = up_since_ms_.find(t);
    if (since != up_since_ms_.end() && now_ms >= since->second + kFailbackHoldMs) return true;
    // The peer sent under the tunnel's newest inbound SA: it has installed that CHILD_SA.
    const SaRecord* newest = nullptr;
    for (const auto& [spi, rec] : inbound_) {
      if (rec.tunnel == t && (newest == nullptr || rec.installed > newest->installed)) {
        newest = &rec;
      }
    }
    return newest != nullptr && newest->sa->packets() != 0;
  };
  const auto prev = peer_active_.find(peer.name);
  const bool prev_up = prev != peer_active_.end() && up(prev->second) &&
                       std::find(members.begin(), members.end(), prev->second) != members.end();
  if (prev_up) {
    if (!peer.failback) return prev->second;
    for (const auto& t : members) {
      if (t == prev->second) return t;
      if (up(t) && ready(t)) return t;
    }
  }
  for (const auto& t : members) {
    if (up(t)) return t;
  }
  return members.front();
}

bool Model::peer_choice_due(uint64_t now_ms) const {
  for (const auto& peer : peers_) {
    const std::vector<std::string> members = this->members(peer);
    if (members.empty()) continue;
    const auto prev = peer_active_.find(peer.name);
    if (prev == peer_active_.end() || choose(peer, members, now_ms) != prev->second) return true;
  }
  return false;
}

}  // namespace espgw::dp
