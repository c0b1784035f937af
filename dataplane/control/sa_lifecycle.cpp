// An SA's life after it is installed, watched from the control loop: byte and packet lifetimes
// (expire events), traffic into an IKE tunnel without an SA (acquire events), a peer's choice of
// tunnel that changes with time alone (failback), and tunnels that send but hear nothing
// (liveness events, dataplane/control/liveness.h). Events go to the control socket's subscribers:
// charon's kernel-espgw plugin (docs/ike-bridge.md).

#include <rte_cycles.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/hex.h"
#include "dataplane/control/app.h"

namespace espgw::dp {
namespace {

using nlohmann::json;

// At most one acquire event per tunnel in this time: charon ignores an acquire for a trap while
// it negotiates that CHILD_SA anyway, and a flood into a tunnel that is down must not become a
// flood of events. Short enough that an attempt that failed is retried on the next traffic soon
// (XFRM waits for its larval state to expire, net.core.xfrm_acq_expires, 30 s by default).
constexpr uint64_t kAcquireIntervalMs = 1000;

IpAddress address_of(uint8_t family, const uint8_t* bytes) {
  IpAddress a;
  a.family = family == 4 ? IpFamily::kV4 : IpFamily::kV6;
  std::memcpy(a.bytes.data(), bytes, family == 4 ? 4 : 16);
  return a;
}

// The checks run from every turn of the control loop, each at most once per period: true when
// `next_ms` has come, which then moves on by the period.
bool due(uint64_t& next_ms, uint64_t now, uint64_t period_ms) {
  if (now < next_ms) return false;
  next_ms = now + period_ms;
  return true;
}

}  // namespace

uint64_t App::dataplane_now_ns() const {
  const uint64_t tsc = rte_rdtsc();
  return tsc / rt_.tsc_hz * 1000000000ull + (tsc % rt_.tsc_hz) * 1000000000ull / rt_.tsc_hz;
}

void App::check_lifetimes() {
  const uint64_t now = now_ms();
  if (!due(next_lifetime_check_ms_, now, 100)) return;
  std::vector<json> events;
  {
    std::lock_guard guard(lock_);
    for (const auto* table : {&model_->inbound(), &model_->outbound()}) {
      const bool inbound = table == &model_->inbound();
      for (const auto& entry : *table) {
        // Named, not a structured binding: clang 14 cannot capture bindings in the lambdas below.
        const uint32_t spi = entry.first;
        const SaRecord& rec = entry.second;
        const SaLifetime& l = rec.lifetime;
        if (!l.any()) continue;
        const uint64_t bytes = rec.sa->bytes();
        const uint64_t packets = rec.sa->packets();
        auto past = [&](uint64_t b, uint64_t p) {
          return (b != 0 && bytes >= b) || (p != 0 && packets >= p);
        };
        auto event = [&](bool hard) {
          const auto& p = rec.sa->params();
          return json{{"event", "expire"},
                      {"direction", inbound ? "in" : "out"},
                      {"spi", spi_hex(spi)},
                      {"hard", hard},
                      {"local", p.local.to_string()},
                      {"remote", p.remote.to_string()},
                      {"tunnel", rec.tunnel}};
        };
        if (!rec.expired->first && past(l.soft_bytes, l.soft_packets)) {
          rec.expired->first = true;
          events.push_back(event(false));
        }
        if (!rec.expired->second && past(l.hard_bytes, l.hard_packets)) {
          rec.expired->second = true;
          rec.sa->stop();
          events.push_back(event(true));
        }
      }
    }
  }
  for (const auto& e : events) {
    std::fprintf(stderr, "espgw: SA %s %s reached its %s lifetime\n",
                 e["spi"].get<std::string>().c_str(), e["direction"].get<std::string>().c_str(),
                 e["hard"].get<bool>() ? "hard" : "soft");
    server_->broadcast(e.dump());
  }
}

void App::check_acquires() {
  std::vector<AcquireSignal> signals;
  for (const auto& w : workers_)
    w->acquire.drain([&](const AcquireSignal& a) { signals.push_back(a); });
  if (signals.empty()) return;
  std::vector<json> events;
  const uint64_t now = now_ms();
  {
    std::lock_guard guard(lock_);
    const Snapshot* s = rt_.tables.get();
    for (const AcquireSignal& a : signals) {
      // The tunnel as it stands now: it may have gone, lost its ike: section or come up since
      // the worker posted.
      const auto t = std::find_if(s->tunnels.begin(), s->tunnels.end(),
                                  [&](const auto& te) { return te.acquire_if_id == a.if_id; });
      if (t == s->tunnels.end() || t->outbound != nullptr) continue;
      AcquireState& st = acquires_[t->name];
      if (st.sent != 0 && now < st.last_ms + kAcquireIntervalMs) continue;
      st.last_ms = now;
      ++st.sent;
      events.push_back({{"event", "acquire"},
                        {"tunnel", t->name},
                        {"if_id", a.if_id},
                        {"src", address_of(a.family, a.src).to_string()},
                        {"dst", address_of(a.family, a.dst).to_string()}});
    }
    std::erase_if(acquires_,
                  [&](const auto& kv) { return model_->tunnels().count(kv.first) == 0; });
  }
  for (const auto& e : events) {
    std::fprintf(stderr, "espgw: tunnel %s: traffic from %s to %s and no SA: acquire\n",
                 e["tunnel"].get<std::string>().c_str(), e["src"].get<std::string>().c_str(),
                 e["dst"].get<std::string>().c_str());
    server_->broadcast(e.dump());
  }
}

void App::check_liveness() {
  const uint64_t now = now_ms();
  if (!due(next_liveness_check_ms_, now, 100)) return;
  std::vector<json> events;
  {
    std::lock_guard guard(lock_);
    events = liveness_.check(*model_, dataplane_now_ns(), now);
  }
  for (const auto& e : events)
    server_->broadcast(e.dump());
}

void App::check_lanes() {
  const uint64_t now = now_ms();
  if (!due(next_lane_check_ms_, now, kLaneCheckMs)) return;
  std::lock_guard guard(lock_);
  const std::vector<LaneWatch::Change> changes = lane_watch_.check(*model_, dataplane_now_ns());
  if (changes.empty()) return;
  for (const auto& c : changes)
    lane_watch_.apply(*model_, c);
  // On failure the next publish carries the change.
  republish("a lane", now);
}

// The same model built a moment ago but for what the control thread changed in it (a lane's
// buckets, a peer's tunnel): a failure is not expected, and is logged naming `what`.
bool App::republish(const char* what, uint64_t now) {
  try {
    rt_.tables.publish(model_->build(generation_ + 1, now), *rt_.rcu);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "espgw: cannot rebuild the tables for %s: %s\n", what, e.what());
    return false;
  }
  ++generation_;
  peer_tracker_.update(*model_, PeerClock::now());
  return true;
}

void App::check_peers() {
  const uint64_t now = now_ms();
  if (!due(next_peer_check_ms_, now, 50)) return;
  std::lock_guard guard(lock_);
  if (!model_->peer_choice_due(now)) return;
  const auto before = model_->peer_active();
  if (!republish("a peer's tunnel", now)) {
    next_peer_check_ms_ = now + 1000;  // try again in a second
    return;
  }
  log_peer_changes(before);
}

void App::log_peer_changes(const std::map<std::string, std::string>& before) const {
  for (const auto& [peer, tunnel] : model_->peer_active()) {
    const auto was = before.find(peer);
    if (was == before.end() || was->second == tunnel) continue;
    std::fprintf(stderr, "espgw: peer %s: traffic goes into tunnel %s (was %s)\n", peer.c_str(),
                 tunnel.c_str(), was->second.c_str());
  }
}

uint64_t App::acquire_count(const std::string& tunnel) const {
  const auto it = acquires_.find(tunnel);
  return it == acquires_.end() ? 0 : it->second.sent;
}

}  // namespace espgw::dp
