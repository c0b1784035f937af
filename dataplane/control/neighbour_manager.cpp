#include "dataplane/control/neighbour_manager.h"

#include <cstring>

#include "common/bytes.h"
#include "dataplane/common/checksum.h"

namespace espgw::dp {
namespace {

constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// An ARP request (RFC 826) from `port` for `target_ip` (network order), sent to `dst_mac`.
// With sender and target both our address it is a gratuitous ARP (RFC 5227 3).
bool write_arp_request(rte_mbuf* m, const Port& port, const uint8_t* dst_mac, uint32_t our_ip,
                       const uint8_t* target_ip) {
  auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 14 + 28));
  if (eth == nullptr) return false;
  std::memcpy(eth, dst_mac, 6);
  std::memcpy(eth + 6, port.mac.addr_bytes, 6);
  store_be16(eth + 12, 0x0806);
  uint8_t* arp = eth + 14;
  store_be16(arp, 1);
  store_be16(arp + 2, 0x0800);
  arp[4] = 6;
  arp[5] = 4;
  store_be16(arp + 6, 1);
  std::memcpy(arp + 8, port.mac.addr_bytes, 6);
  store_be32(arp + 14, our_ip);
  std::memset(arp + 18, 0, 6);
  std::memcpy(arp + 24, target_ip, 4);
  return true;
}

const char* state_name(int s) {
  static const char* names[] = {"incomplete", "reachable", "probe", "permanent"};
  return names[s];
}

}  // namespace

NeighbourManager::NeighbourManager(Runtime& rt, rte_mempool* pool) : rt_(rt), pool_(pool) {}

NeighbourManager::~NeighbourManager() {
  for (auto& [k, e] : entries_) {
    for (auto& h : e.held)
      rte_pktmbuf_free(h.m);
  }
}

void NeighbourManager::add_static(uint16_t port, const IpAddress& ip,
                                  const std::array<uint8_t, 6>& mac) {
  Entry& e = entries_[{static_cast<uint8_t>(ip.family), ip.bytes}];
  e.state = State::kPermanent;
  e.port = port;
  e.mac = mac;
  dirty_ = true;
}

void NeighbourManager::add_remembered(uint16_t port, const IpAddress& ip,
                                      const std::array<uint8_t, 6>& mac, uint64_t now_ms) {
  Entry& e = entries_[{static_cast<uint8_t>(ip.family), ip.bytes}];
  if (e.state == State::kPermanent) return;
  e.state = State::kProbe;
  e.port = port;
  e.mac = mac;
  e.tries = 0;
  e.next_ms = now_ms;
  dirty_ = true;
}

bool NeighbourManager::send(uint16_t worker, uint16_t port, rte_mbuf* m) {
  TxRequest req{m, port, 0, {}};
  if (rte_ring_enqueue_elem(rt_.to_worker[worker], &req, sizeof req) != 0) {
    drops_.add(DropReason::kControlRingFull);
    rte_pktmbuf_free(m);
    return false;
  }
  return true;
}

void NeighbourManager::release(Entry& e) {
  while (!e.held.empty()) {
    Held h = e.held.front();
    e.held.pop_front();
    const bool v4 = (rte_pktmbuf_mtod(h.m, uint8_t*)[0] >> 4) == 4;
    auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(h.m, 14));
    if (eth == nullptr) {
      drops_.add(DropReason::kNoBufferRoom);
      rte_pktmbuf_free(h.m);
      continue;
    }
    std::memcpy(eth, e.mac.data(), 6);
    std::memcpy(eth + 6, rt_.ports[e.port].mac.addr_bytes, 6);
    store_be16(eth + 12, v4 ? 0x0800 : 0x86dd);
    if (send(h.worker, e.port, h.m)) ++counters_.released;
  }
}

void NeighbourManager::discard(Entry& e, DropReason why) {
  for (auto& h : e.held)
    rte_pktmbuf_free(h.m);
  drops_.add(why, e.held.size());
  e.held.clear();
}

void NeighbourManager::handle(const ControlMsg& msg, uint64_t now_ms) noexcept {
  Key key{msg.family, {}};
  std::memcpy(key.second.data(), msg.ip, msg.family == 4 ? 4 : 16);
  if (msg.type == ControlMsg::Type::kLearn) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      it = entries_.emplace(key, Entry{}).first;
    } else if (it->second.state == State::kPermanent) {
      return;  // configured entries are not overridden by what the wire says
    }
    Entry& e = it->second;
    const bool changed = e.state == State::kIncomplete || e.port != msg.port ||
                         std::memcmp(e.mac.data(), msg.mac, 6) != 0;
    e.state = State::kReachable;
    e.port = msg.port;
    std::memcpy(e.mac.data(), msg.mac, 6);
    e.tries = 0;
    e.expires_ms = now_ms + uint64_t{rt_.cfg.neighbour_ttl_s} * 1000;
    if (changed) {
      ++counters_.resolved;
      dirty_ = true;
      // Publish before releasing, so what follows the held packets finds the entry too.
      publish();
    }
    release(e);
    return;
  }

  // kHold: a packet waits for msg.ip on msg.port.
  auto [it, fresh] = entries_.emplace(key, Entry{});
  Entry& e = it->second;
  if (!fresh && e.port == msg.port &&
      (e.state == State::kReachable || e.state == State::kProbe || e.state == State::kPermanent)) {
    // Resolved already; the worker had an older snapshot.
    e.held.push_back({msg.mbuf, msg.worker});
    release(e);
    return;
  }
  if (fresh || e.port != msg.port) {
    e.state = State::kIncomplete;
    e.port = msg.port;
    e.tries = 0;
  }
  if (e.held.size() >= rt_.cfg.arp_hold_packets) {
    drops_.add(DropReason::kNeighbourHoldFull);
    rte_pktmbuf_free(msg.mbuf);
  } else {
    e.held.push_back({msg.mbuf, msg.worker});
  }
  if (e.tries == 0) {
    solicit(e.port, key, true, nullptr);
    e.tries = 1;
    e.next_ms = now_ms + rt_.cfg.arp_retry_ms;
  }
}

void NeighbourManager::tick(uint64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    bool erase = false;
    switch (e.state) {
      case State::kPermanent: break;
      case State::kIncomplete:
        if (now_ms >= e.next_ms) {
          if (e.tries >= rt_.cfg.arp_retries) {
            ++counters_.failed;
            discard(e, DropReason::kNeighbourUnresolved);
            erase = true;
          } else {
            solicit(e.port, it->first, true, nullptr);
            ++e.tries;
            e.next_ms = now_ms + rt_.cfg.arp_retry_ms;
          }
        }
        break;
      case State::kReachable:
        // Aged: ask the neighbour itself (unicast) before forgetting it, so traffic keeps
        // flowing on the old entry while it answers (RFC 4861 7.3.3 PROBE).
        if (now_ms >= e.expires_ms) {
          e.state = State::kProbe;
          e.tries = 1;
          e.next_ms = now_ms + rt_.cfg.arp_retry_ms;
          solicit(e.port, it->first, false, e.mac.data());
        }
        break;
      case State::kProbe:
        if (now_ms >= e.next_ms) {
          if (e.tries >= rt_.cfg.arp_retries) {
            erase = true;
            dirty_ = true;
          } else {
            solicit(e.port, it->first, false, e.mac.data());
            ++e.tries;
            e.next_ms = now_ms + rt_.cfg.arp_retry_ms;
          }
        }
        break;
    }
    it = erase ? entries_.erase(it) : std::next(it);
  }
  if (dirty_) publish();
}

void NeighbourManager::publish() {
  auto snap = std::make_unique<NeighbourSnapshot>();
  std::vector<std::pair<uint32_t, Neighbour>> v4;
  std::vector<std::pair<Ip6Key, Neighbour>> v6;
  for (const auto& [key, e] : entries_) {
    if (e.state == State::kIncomplete) continue;
    Neighbour n{e.mac, e.port};
    if (key.first == 4) {
      v4.emplace_back(load_be32(key.second.data()), n);
    } else {
      v6.emplace_back(Ip6Key{key.second}, n);
    }
  }
  snap->v4 = FlatMap<uint32_t, Neighbour, U32Hash>(v4);
  snap->v6 = FlatMap<Ip6Key, Neighbour, Ip6Hash>(v6);
  rt_.neighbours.publish(std::move(snap), *rt_.rcu);
  dirty_ = false;
}

// An ARP request, or an IPv6 neighbour solicitation, for `key` out of `port`: broadcast /
// solicited-node multicast when resolving, unicast when probing a known neighbour.
void NeighbourManager::solicit(uint16_t port, const Key& key, bool broadcast,
                               const uint8_t* unicast_mac) {
  const Port& p = rt_.ports[port];
  const Snapshot* s = rt_.tables.get();
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    drops_.add(DropReason::kNoMbuf);
    return;
  }
  ++counters_.requests;
  if (key.first == 4) {
    uint32_t our = 0;
    // Prefer our address in the target's subnet.
    const uint32_t target = load_be32(key.second.data());
    for (const auto& a : p.addresses) {
      if (a.address.is_v4() && a.contains(IpAddress::v4(target))) our = a.address.v4_host();
    }
    if (our == 0) s->port_address4(port, &our);
    if (!write_arp_request(m, p, broadcast ? kBroadcast : unicast_mac, our, key.second.data())) {
      rte_pktmbuf_free(m);
      return;
    }
  } else {
    uint8_t our[16] = {};
    s->port_address6(port, our);
    const uint8_t* t = key.second.data();
    uint8_t dst_ip[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]};
    uint8_t dst_mac[6] = {0x33, 0x33, 0xff, t[13], t[14], t[15]};
    if (!broadcast) {
      std::memcpy(dst_ip, t, 16);
      std::memcpy(dst_mac, unicast_mac, 6);
    }
    auto* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 14 + 40 + 32));
    std::memcpy(eth, dst_mac, 6);
    std::memcpy(eth + 6, p.mac.addr_bytes, 6);
    store_be16(eth + 12, 0x86dd);
    uint8_t* ip = eth + 14;
    std::memset(ip, 0, 40 + 32);
    ip[0] = 0x60;
    store_be16(ip + 4, 32);
    ip[6] = 58;
    ip[7] = 255;
    std::memcpy(ip + 8, our, 16);
    std::memcpy(ip + 24, dst_ip, 16);
    uint8_t* icmp = ip + 40;
    icmp[0] = 135;
    std::memcpy(icmp + 8, t, 16);
    icmp[24] = 1;  // source link-layer address
    icmp[25] = 1;
    std::memcpy(icmp + 26, p.mac.addr_bytes, 6);
    uint32_t sum = csum_partial(ip + 8, 32) + 32 + 58;
    store_be16(icmp + 2, csum_fold(csum_partial(icmp, 32, sum)));
  }
  send(0, port, m);
}

void NeighbourManager::announce() {
  for (const Port& p : rt_.ports) {
    for (const auto& a : p.addresses) {
      if (!a.address.is_v4()) continue;
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (m == nullptr) return;
      if (!write_arp_request(m, p, kBroadcast, a.address.v4_host(), a.address.bytes.data())) {
        rte_pktmbuf_free(m);
        continue;
      }
      send(0, p.index, m);
    }
  }
}

std::vector<NeighbourManager::View> NeighbourManager::list() const {
  std::vector<View> out;
  for (const auto& [key, e] : entries_) {
    View v;
    v.ip.family = key.first == 4 ? IpFamily::kV4 : IpFamily::kV6;
    v.ip.bytes = key.second;
    v.port = e.port;
    v.mac = e.mac;
    v.state = state_name(static_cast<int>(e.state));
    out.push_back(v);
  }
  return out;
}

}  // namespace espgw::dp
