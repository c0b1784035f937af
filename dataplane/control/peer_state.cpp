#include "dataplane/control/peer_state.h"

#include <chrono>
#include <ctime>

namespace espgw::dp {
namespace {

using nlohmann::json;

bool is_up(const Model& model, const std::string& tunnel) {
  return model.active_outbound().count(tunnel) != 0;
}

// The tunnel the peer's routes go into as of the last build, or "" (no tunnel of it exists).
std::string routed_to(const Model& model, const std::string& peer) {
  const auto it = model.peer_active().find(peer);
  return it == model.peer_active().end() ? "" : it->second;
}

// Model::choose() routes a peer with no tunnel up into its preferred tunnel, which drops the
// traffic as tunnel_down: that tunnel is not "in use".
std::string in_use(const Model& model, const std::string& peer) {
  const std::string t = routed_to(model, peer);
  return !t.empty() && is_up(model, t) ? t : "";
}

std::string iso8601_utc(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

json name_or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

}  // namespace

PeerClock PeerClock::now() {
  using namespace std::chrono;
  return {duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(),
          static_cast<uint64_t>(
              duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count())};
}

void PeerTracker::update(const Model& model, PeerClock now) {
  for (const auto& peer : model.peers()) {
    auto [it, fresh] = peers_.try_emplace(peer.name);
    State& st = it->second;
    if (fresh) st.since = now;  // start-up: no tunnel in use yet
    const std::string cur = in_use(model, peer.name);
    if (cur == st.in_use) continue;
    if (st.had_tunnel) ++st.moves;
    st.had_tunnel |= !cur.empty();
    st.in_use = cur;
    st.since = now;
  }
}

json PeerTracker::report(const Model& model, PeerClock now) const {
  json out = json::array();
  for (const auto& peer : model.peers()) {
    const auto it = peers_.find(peer.name);
    const State st = it != peers_.end() ? it->second : State{"", false, now, 0};
    json tunnels = json::array();
    for (const auto& t : peer.tunnels) {
      tunnels.push_back({{"name", t}, {"up", is_up(model, t)}, {"in_use", t == st.in_use}});
    }
    out.push_back(
        {{"name", peer.name},
         {"tunnels", tunnels},
         {"tunnel_in_use", name_or_null(st.in_use)},
         {"routed_to", name_or_null(routed_to(model, peer.name))},
         {"since", iso8601_utc(st.since.unix_ms)},
         {"since_unix", st.since.unix_ms / 1000},
         {"seconds_since",
          now.steady_ms > st.since.steady_ms ? (now.steady_ms - st.since.steady_ms) / 1000 : 0},
         {"moves", st.moves},
         {"failback", peer.failback}});
  }
  return out;
}

const config::Peer* peer_of(const Model& model, const std::string& tunnel) {
  for (const auto& peer : model.peers()) {
    for (const auto& t : peer.tunnels) {
      if (t == tunnel) return &peer;
    }
  }
  return nullptr;
}

json peer_route_members(const Model& model, const std::string& tunnel) {
  const config::Peer* peer = peer_of(model, tunnel);
  if (peer == nullptr) return json::object();
  return {{"peer", peer->name},
          {"state", routed_to(model, peer->name) == tunnel ? "active" : "backup"}};
}

json peer_sa_members(const Model& model, const std::string& tunnel) {
  const config::Peer* peer = peer_of(model, tunnel);
  if (peer == nullptr) return json::object();
  return {{"peer", peer->name}, {"peer_in_use", in_use(model, peer->name) == tunnel}};
}

json peers_for_telemetry(const json& peers) {
  json out = json::object();
  for (const auto& p : peers) {
    json flat = p;
    std::string names;
    for (const auto& t : p["tunnels"]) {
      const std::string name = t["name"];
      names += (names.empty() ? "" : ",") + name;
      flat["up_" + name] = t["up"];
    }
    flat["tunnels"] = names;
    for (const char* k : {"tunnel_in_use", "routed_to"}) {
      if (flat[k].is_null()) flat[k] = "";
    }
    out[p["name"].get<std::string>()] = flat;
  }
  return out;
}

}  // namespace espgw::dp
