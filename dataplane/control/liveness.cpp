#include "dataplane/control/liveness.h"

#include <algorithm>
#include <cstdio>

#include "common/hex.h"

namespace espgw::dp {

std::vector<nlohmann::json> LivenessWatch::check(const Model& m, uint64_t now_ns, uint64_t now_ms) {
  std::vector<nlohmann::json> events;
  // The tunnels to watch, with their outbound SA's last use; the inbound SAs only when any.
  struct Sending {
    uint64_t last_ns;  // the outbound SA's last packet
    uint32_t spi;
  };
  std::map<std::string, Sending> sending;
  for (const auto& [name, spi] : m.active_outbound()) {
    const auto t = m.tunnels().find(name);
    if (t == m.tunnels().end() || !t->second.ike || t->second.ike->dpd_delay_s == 0) continue;
    const auto o = m.outbound().find(spi);
    if (o == m.outbound().end()) continue;
    sending[name] = {o->second.sa->last_use_ns(), spi};
  }
  std::erase_if(state_, [&](const auto& kv) { return sending.count(kv.first) == 0; });
  std::erase_if(totals_, [&](const auto& kv) { return m.tunnels().count(kv.first) == 0; });
  if (sending.empty()) return events;
  std::map<std::string, uint64_t> heard;  // tunnel -> last inbound packet (ns), any of its SAs
  for (const auto& [spi, rec] : m.inbound()) {
    if (sending.count(rec.tunnel) == 0) continue;
    uint64_t& h = heard[rec.tunnel];
    h = std::max(h, rec.sa->last_use_ns());
  }
  const uint64_t quiet_ns = kLivenessQuietMs * 1000000ull;
  for (const auto& [name, out] : sending) {
    auto [it, fresh] = state_.try_emplace(name);
    State& st = it->second;
    if (fresh) st.up_since_ns = now_ns;
    const uint64_t heard_ns = std::max(heard[name], st.up_since_ns);
    if (out.last_ns < heard_ns + quiet_ns ||
        now_ns > out.last_ns + kLivenessSendingMs * 1000000ull) {
      continue;
    }
    // Once per quiet spell, and again after dpd_delay_s if it lasts (each check the peer answers
    // leaves the tunnel up, and the quiet may be one-way traffic).
    const uint64_t delay_ms = uint64_t{m.tunnels().at(name).ike->dpd_delay_s} * 1000;
    if (st.sent && heard_ns == st.heard_at_event_ns && now_ms < st.last_event_ms + delay_ms) {
      continue;
    }
    st.last_event_ms = now_ms;
    st.heard_at_event_ns = heard_ns;
    st.sent = true;
    ++totals_[name];
    const uint64_t quiet_ms = (now_ns - heard_ns) / 1000000ull;
    std::fprintf(stderr,
                 "espgw: tunnel %s: nothing received for %.1f s while sending: liveness check\n",
                 name.c_str(), static_cast<double>(quiet_ms) / 1000.0);
    events.push_back({{"event", "liveness"},
                      {"tunnel", name},
                      {"if_id", config::tunnel_if_id(name)},
                      {"spi", spi_hex(out.spi)},
                      {"quiet_ms", quiet_ms}});
  }
  return events;
}

uint64_t LivenessWatch::sent(const std::string& tunnel) const {
  const auto it = totals_.find(tunnel);
  return it == totals_.end() ? 0 : it->second;
}

}  // namespace espgw::dp
