#pragma once
// What the control thread and the workers share: the ports (fixed after start), the published
// tables, RCU, and the rings between them.
//
//   worker --(ControlMsg, MP/SC ring)--> control thread: learned neighbours, packets to hold
//                                                         until their next hop resolves
//   control thread --(TxRequest, SP/SC ring per worker)--> worker: frames to send (ARP/ND
//                                                         requests, released packets)

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "dataplane/port/ports.h"
#include "dataplane/tables/neighbours.h"
#include "dataplane/tables/rcu.h"
#include "dataplane/tables/snapshot.h"

namespace espgw::dp {

struct ControlMsg {
  enum class Type : uint8_t { kLearn, kHold };
  Type type;
  uint8_t family;  // 4 or 6
  uint16_t port;
  uint16_t worker;
  uint8_t mac[6];  // kLearn
  uint8_t ip[16];  // IPv4 in the first 4 bytes, network order
  rte_mbuf* mbuf;  // kHold: an L3 packet waiting for `ip` on `port`
};
static_assert(sizeof(ControlMsg) == 40);

struct TxRequest {
  rte_mbuf* mbuf;  // a whole frame
  uint16_t port;
  uint8_t to_kernel;
  uint8_t pad[5];
};
static_assert(sizeof(TxRequest) == 16);

struct Runtime {
  explicit Runtime(const config::DataplaneConfig& c) : cfg(c) {}

  config::DataplaneConfig cfg;
  uint32_t workers = 1;
  std::vector<Port> ports;
  Published<Snapshot> tables;
  Published<NeighbourSnapshot> neighbours;
  std::unique_ptr<Rcu> rcu;
  std::atomic<bool> stop{false};
  rte_ring* to_control = nullptr;
  std::vector<rte_ring*> to_worker;
  uint64_t tsc_hz = 1;
};

}  // namespace espgw::dp
