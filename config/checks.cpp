#include "common/hex.h"
#include "config/parser.h"

namespace espgw::config {

// Two tunnels may route the same remote prefix only as one peer's failover pair.
void Parser::check_remote_cidrs() {
  const auto grouped = [&](const std::string& a, const std::string& b) {
    auto ia = peer_of_tunnel_.find(a);
    auto ib = peer_of_tunnel_.find(b);
    return ia != peer_of_tunnel_.end() && ib != peer_of_tunnel_.end() && ia->second == ib->second;
  };
  std::vector<bool> reported(remote_cidrs_.size());
  for (size_t i = 0; i < remote_cidrs_.size(); ++i) {
    const RemoteCidr& c = remote_cidrs_[i];
    for (size_t j = 0; j < i; ++j) {
      const RemoteCidr& seen = remote_cidrs_[j];
      if (reported[j] || seen.prefix != c.prefix || seen.tunnel == c.tunnel ||
          grouped(seen.tunnel, c.tunnel)) {
        continue;
      }
      error(c.at, "already routed into tunnel " + quote(seen.tunnel) + " (line " +
                      std::to_string(seen.at.line) + "): " + quote(c.at.node.Scalar()));
      reported[i] = true;
      break;
    }
  }
}

void Parser::check_dpd_timeouts() {
  const DpdSeen* shortest = nullptr;
  for (const DpdSeen& d : dpd_seen_) {
    if (!shortest || d.timeout_s < shortest->timeout_s) shortest = &d;
  }
  for (const DpdSeen& d : dpd_seen_) {
    if (d.given && d.delay_s == 0) {
      warning(d.at, "dpd_delay_s is 0 (no DPD): this tunnel's dead peer is never detected, and " +
                        std::to_string(d.timeout_s) +
                        " s only bounds charon's retransmissions (every IKEv2 exchange gives up "
                        "after them)");
    }
    if (d.timeout_s == shortest->timeout_s) continue;
    warning(d.at, "charon's retransmissions are global: every IKEv2 exchange gives up after " +
                      std::to_string(shortest->timeout_s) + " s, tunnel " +
                      quote(shortest->tunnel) + "'s dpd_timeout_s (" +
                      (shortest->given ? "" : "the default, ike section at ") + "line " +
                      std::to_string(shortest->at.line) +
                      "), so this tunnel's peer is declared "
                      "dead after " +
                      std::to_string(shortest->timeout_s) + " s, not " +
                      std::to_string(d.timeout_s) + " s");
  }
}

// Every lane's interface ID (config::lane_if_id) is distinct across all tunnels.
void Parser::check_if_ids() {
  struct Owner {
    std::string name;  // the tunnel
    unsigned lane;
    int line;  // 0: a tunnel of the running config
  };
  auto lane_text = [](const std::string& name, unsigned lane) {
    return (lane == 0 ? "" : "lane " + std::to_string(lane) + " of ") + "tunnel " + quote(name);
  };
  std::map<uint32_t, Owner> ids;
  if (seeded_) {
    for (const auto& t : config_.tunnels) {
      for (unsigned k = 0; k < t.lanes; ++k)
        ids.emplace(lane_if_id(t.name, k), Owner{t.name, k, 0});
    }
  }
  for (const auto& n : tunnel_name_values_) {
    const auto l = lanes_of_.find(n.name);
    const unsigned lanes = l == lanes_of_.end() ? 1 : l->second;
    for (unsigned k = 0; k < lanes; ++k) {
      const uint32_t id = lane_if_id(n.name, k);
      auto [it, inserted] = ids.emplace(id, Owner{n.name, k, n.at.line});
      if (inserted || it->second.name == n.name) continue;
      error(n.at, "interface ID " + spi_hex(id) + (k ? " of lane " + std::to_string(k) : "") +
                      " is that of " + lane_text(it->second.name, it->second.lane) +
                      (it->second.line ? " (line " + std::to_string(it->second.line) + ")" : "") +
                      "; rename one of the two: " + quote(n.name));
    }
  }
}

// Lanes send from dataplane.lane_port_base on (docs/lanes.md): once a tunnel has more than one
// lane, no tunnel may receive ESP-in-UDP on one of those ports.
void Parser::check_lane_ports(const Tunnel* added) {
  bool lanes = added != nullptr && added->lanes > 1;
  for (const auto& t : config_.tunnels)
    lanes = lanes || t.lanes > 1;
  if (!lanes) return;
  const unsigned base = config_.dataplane.lane_port_base;
  const unsigned last = base + kLanePorts - 1;
  const std::string range = "one of the lane ports " + std::to_string(base) + "-" +
                            std::to_string(last) + " (dataplane.lane_port_base)";
  auto in_range = [&](uint64_t port) { return port >= base && port <= last; };
  for (const Value& v : local_port_values_) {
    uint64_t port = 0;
    if (parse_uint(v.node.Scalar(), port) == UintParse::kOk && in_range(port))
      error(v, "is " + range + ", got " + quote(v.node.Scalar()));
  }
  if (added != nullptr && added->lanes > 1 && !tunnel_name_values_.empty()) {
    for (const auto& t : config_.tunnels) {
      if (t.nat_t && in_range(t.local_port) && t.name != added->name) {
        error(tunnel_name_values_.front().at, "tunnel " + quote(t.name) +
                                                  " receives on local_port " +
                                                  std::to_string(t.local_port) + ", " + range);
      }
    }
  }
}

void Parser::check_psk_refs(const std::string& secrets_file) {
  for (const auto& ref : psk_refs_) {
    if (!config_.secrets.contains(ref.name)) {
      error(ref.at, "no such pre-shared key in " + secrets_file + ": " + quote(ref.name));
    }
  }
}

}  // namespace espgw::config
