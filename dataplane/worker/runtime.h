#pragma once
// What the control thread and the workers share: the ports (fixed after start), the published
// tables, RCU, and the rings between them.
//
//   worker --(ControlMsg, MP/SC ring)--> control thread: learned neighbours, packets to hold
//                                                         until their next hop resolves
//   control thread --(TxRequest, SP/SC ring per worker)--> worker: frames to send (ARP/ND
//                                                         requests, released packets)
//   worker --(AcquireMailbox, per worker)--> control thread: traffic into a tunnel that IKE
//                                            starts on demand and that has no SA yet
//   worker --(InsidePacket, MP/SC ring)--> control thread: decrypted packets for a route-based
//                                          tunnel's inside address, to its TUN device; the
//                                          kernel's packets come back as TxRequest::route

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
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
  rte_mbuf* mbuf;  // a whole frame; with `route`, an L3 packet
  uint16_t port;
  uint8_t to_kernel;
  uint8_t route;  // from an inside interface (TUN): route() it as our own (Batch::kLocalOrigin)
  uint8_t pad[4];
};
static_assert(sizeof(TxRequest) == 16);

// A decrypted packet for one of a route-based tunnel's inside addresses (dataplane/control/
// inside_interfaces.h): the control thread writes it to the TUN device of tunnel `if_id`.
struct InsidePacket {
  rte_mbuf* mbuf;  // an L3 packet
  uint32_t if_id;  // config::tunnel_if_id() of the tunnel whose interface holds the address
  uint32_t pad;
};
static_assert(sizeof(InsidePacket) == 16);

// What a worker saw when it dropped a packet as tunnel_down in a tunnel with an `ike:` section: the
// control thread turns it into an `acquire` event, and charon initiates (its trap policies).
struct AcquireSignal {
  uint32_t if_id = 0;    // config::tunnel_if_id() of the tunnel: stable across table rebuilds
  uint8_t family = 0;    // 4 or 6
  uint8_t src[16] = {};  // the packet's inner addresses; IPv4 in the first 4 bytes, network order
  uint8_t dst[16] = {};
};

// A few single-slot mailboxes per worker. Each slot has one writer per side: the worker fills an
// empty slot and marks it full (release); the control thread reads a full one and marks it empty
// (release). No lock, no read-modify-write, no allocation, no syscall on the worker. A tunnel
// that already waits in a slot is not posted again, so a flood into one tunnel holds one slot
// and leaves the others to other tunnels; with every slot full the signal is dropped (the
// control thread drains them every loop, and raises at most one event per tunnel a second
// anyway).
class AcquireMailbox {
 public:
  static constexpr unsigned kSlots = 4;

  // Worker. `ip`: the inner IPv4 or IPv6 header.
  void post(uint32_t if_id, const uint8_t* ip) noexcept {
    Slot* empty = nullptr;
    for (Slot& s : slots_) {
      if (s.full.load(std::memory_order_acquire) == 0) {
        if (empty == nullptr) empty = &s;
      } else if (s.signal.if_id == if_id) {  // written by this worker; the reader only reads
        return;
      }
    }
    if (empty == nullptr) return;
    AcquireSignal& a = empty->signal;
    a.if_id = if_id;
    if ((ip[0] >> 4) == 4) {
      a.family = 4;
      std::memcpy(a.src, ip + 12, 4);
      std::memcpy(a.dst, ip + 16, 4);
    } else {
      a.family = 6;
      std::memcpy(a.src, ip + 8, 16);
      std::memcpy(a.dst, ip + 24, 16);
    }
    empty->full.store(1, std::memory_order_release);
  }

  // Control thread: calls f(const AcquireSignal&) for each full slot and empties it.
  template <class F>
  void drain(F&& f) {
    for (Slot& s : slots_) {
      if (s.full.load(std::memory_order_acquire) == 0) continue;
      const AcquireSignal a = s.signal;
      s.full.store(0, std::memory_order_release);
      f(a);
    }
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint32_t> full{0};
    AcquireSignal signal;
  };
  std::array<Slot, kSlots> slots_;
};

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
  rte_ring* to_inside = nullptr;  // InsidePacket
  std::vector<rte_ring*> to_worker;
  uint64_t tsc_hz = 1;
};

}  // namespace espgw::dp
