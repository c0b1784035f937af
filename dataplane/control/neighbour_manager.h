#pragma once
// The control thread's neighbour table (ARP, IPv6 ND): resolution with a small hold queue per
// next hop, retries, ageing with a probe before an entry is forgotten, static entries from the
// config, and gratuitous ARP / unsolicited NA at start. Workers read the result as an RCU
// snapshot (tables/neighbours.h) and talk to this class through the runtime's rings.

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "dataplane/common/drop_reason.h"
#include "dataplane/worker/runtime.h"

namespace espgw::dp {

class NeighbourManager {
 public:
  NeighbourManager(Runtime& rt, rte_mempool* pool);
  ~NeighbourManager();

  void add_static(uint16_t port, const IpAddress& ip, const std::array<uint8_t, 6>& mac);
  // A neighbour the previous run had learned (docs/sa-state.md): used at once, and probed at the
  // next tick (PROBE, RFC 4861 7.3.3), so that traffic after a restart needs no resolution and
  // does not fill the hold queue; forgotten if it does not answer. A static entry stays.
  void add_remembered(uint16_t port, const IpAddress& ip, const std::array<uint8_t, 6>& mac,
                      uint64_t now_ms);
  void handle(const ControlMsg& msg, uint64_t now_ms) noexcept;
  // Retries, expiry, ageing probes; publishes the table when it changed.
  void tick(uint64_t now_ms);
  void announce();  // gratuitous ARP and unsolicited NA for every address
  void publish();

  struct Counters {
    uint64_t requests = 0;
    uint64_t resolved = 0;
    uint64_t failed = 0;
    uint64_t released = 0;
  };
  const Counters& counters() const noexcept { return counters_; }
  const DropCounters& drops() const noexcept { return drops_; }

  struct View {
    IpAddress ip;
    uint16_t port;
    std::array<uint8_t, 6> mac;
    const char* state;
  };
  std::vector<View> list() const;

 private:
  enum class State : uint8_t { kIncomplete, kReachable, kProbe, kPermanent };
  struct Held {
    rte_mbuf* m;
    uint16_t worker;
  };
  struct Entry {
    State state = State::kIncomplete;
    uint16_t port = kNoPort;
    std::array<uint8_t, 6> mac{};
    std::deque<Held> held;
    uint32_t tries = 0;
    uint64_t next_ms = 0;     // next retry or probe
    uint64_t expires_ms = 0;  // reachable until
  };
  using Key = std::pair<uint8_t, std::array<uint8_t, 16>>;

  void solicit(uint16_t port, const Key& key, bool broadcast, const uint8_t* unicast_mac);
  void release(Entry& e);
  void discard(Entry& e, DropReason why);
  bool send(uint16_t worker, uint16_t port, rte_mbuf* m);

  Runtime& rt_;
  rte_mempool* pool_;
  std::map<Key, Entry> entries_;
  bool dirty_ = false;
  Counters counters_;
  DropCounters drops_;
};

}  // namespace espgw::dp
