#pragma once
// One worker lcore: polls RX queue `index` of every port and of every exception device, and
// carries each burst through the stages to completion (docs/architecture.md):
//   classify -> [ESP inbound -> selector check] -> route (TTL, LPM, MTU, ICMP errors)
//     -> [MSS clamp, fragment, ESP outbound] -> neighbour -> TX
// Control traffic goes to the kernel through the exception path, rate limited.
//
// State: everything here is this worker's alone (counters, TX buffers, the ESP engine and its
// crypto manager); tables are read through the current RCU snapshot, picked up once per loop.

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/common/counter.h"
#include "dataplane/common/drop_reason.h"
#include "dataplane/crypto/crypto_backend.h"
#include "dataplane/esp/esp_engine.h"
#include "dataplane/worker/runtime.h"

namespace espgw::dp {

inline constexpr uint16_t kRxBurst = 32;
// A burst can grow past kRxBurst inside the stages (fragments, ICMP errors).
inline constexpr uint16_t kBatchMax = 128;

struct alignas(64) PortCounters {
  Counter rx_packets;
  Counter rx_bytes;
  Counter tx_packets;
  Counter tx_bytes;
  Counter to_kernel;
  Counter from_kernel;
};

struct alignas(64) WorkerCounters {
  Counter loops;
  Counter busy_loops;
  Counter packets;  // packets taken from RX queues and fully handled
  Counter icmp_sent;
  Counter icmp_suppressed;
  Counter fragments;
  Counter mss_clamped;
  Counter arp_replies;
  Counter held;         // handed to the control thread to wait for a next hop
  Counter to_inside;    // decrypted packets handed to the control thread for an inside interface
  Counter from_inside;  // packets from an inside interface, routed (TxRequest::route)
  Counter busy_tsc;
  Counter total_tsc;
};

// Packets between stages, with a flag byte each.
struct Batch {
  enum Flag : uint8_t {
    kLocalOrigin = 1,  // from the kernel or made by us: no TTL decrement
    kFromTunnel = 2,   // decrypted
    kTransit = 4,      // classify found its destination is not ours
  };
  std::array<rte_mbuf*, kBatchMax> m;
  std::array<uint8_t, kBatchMax> flags;
  uint16_t n = 0;

  void push(rte_mbuf* mb, uint8_t f) noexcept {
    m[n] = mb;
    flags[n] = f;
    ++n;
  }
  bool full() const noexcept { return n == kBatchMax; }
};

// A token bucket on the TSC: `rate` per second, bursts up to one second's worth.
class TokenBucket {
 public:
  void configure(uint64_t rate_per_s, uint64_t tsc_hz) noexcept {
    rate_ = rate_per_s;
    hz_ = tsc_hz;
    tokens_ = rate_per_s;
  }
  bool take(uint64_t now_tsc) noexcept {
    if (now_tsc > last_) {
      const uint64_t add = (now_tsc - last_) * rate_ / hz_;
      if (add > 0) {
        tokens_ = std::min(rate_, tokens_ + add);
        last_ = now_tsc;
      }
    }
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }

 private:
  uint64_t rate_ = 0;
  uint64_t hz_ = 1;
  uint64_t tokens_ = 0;
  uint64_t last_ = 0;
};

class Worker {
 public:
  Worker(Runtime& rt, uint32_t index, rte_mempool* pool, crypto::BackendKind crypto);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  int run() noexcept;  // the lcore's main function

  // ---- for the stages ----
  void drop(rte_mbuf* m, DropReason r) noexcept {
    drops.add(r);
    rte_pktmbuf_free(m);
  }
  // A finished frame out of a port.
  void send(uint16_t port, rte_mbuf* m) noexcept;
  // A whole frame to the port's kernel interface; rate limited, counted.
  void to_kernel(uint16_t port, rte_mbuf* m) noexcept;
  // A decrypted L3 packet for the inside interface of tunnel `if_id` (config::tunnel_if_id()),
  // through the control thread; rate limited with the exception path, counted.
  void to_inside(uint32_t if_id, rte_mbuf* m) noexcept;
  // The exception path's rate limit: BGP and BFD (priority_control()) take their own
  // reserved budget first, then the shared one; everything else the shared one only.
  bool admit_exception(const uint8_t* ip, uint32_t len) noexcept;
  // Hands a packet to the control thread to wait for its next hop.
  void hold(uint16_t port, const uint8_t* ip, uint8_t family, rte_mbuf* m) noexcept;
  void learn(uint16_t port, const uint8_t* ip, uint8_t family, const uint8_t* mac) noexcept;

  Runtime& rt;
  const uint32_t index;
  const uint16_t queue;
  rte_mempool* const pool;
  std::unique_ptr<crypto::CryptoBackend> crypto;
  esp::EspEngine engine;
  const Snapshot* snap = nullptr;
  const NeighbourSnapshot* neigh = nullptr;
  uint64_t now_tsc = 0;
  uint16_t ip_id = 0;

  DropCounters drops;
  WorkerCounters counters;
  std::vector<PortCounters> port_counters;
  TokenBucket exception_tokens;
  TokenBucket priority_tokens;  // BGP and BFD to the kernel: kept apart from bulk's
  TokenBucket icmp_tokens;
  AcquireMailbox acquire;  // tunnel_down in tunnels IKE starts on demand, to the control thread

  Batch transit;  // scratch of the stages
  Batch esp_in;
  // esp_inbound() and esp_outbound(): arrays that were on their stacks, where a PacketView's
  // default member initialisers cost a 5 KiB memset per call, that is per packet when a burst
  // spreads over many tunnels.
  struct EspScratch {
    std::array<esp::PacketView, kBatchMax> views;
    std::array<esp::Sa*, kBatchMax> sas;
    std::array<DropReason, kBatchMax> reasons;
    std::array<rte_mbuf*, kBatchMax> mbufs;
    std::array<esp::InboundMeta, kBatchMax> meta;
    std::array<uint32_t, kBatchMax> tunnels;
  } esp_scratch;

 private:
  void poll_port(const Port& p) noexcept;
  void poll_kernel(const Port& p) noexcept;
  void poll_control() noexcept;
  void flush() noexcept;
  // Hands the packets the ESP engine finished in the crypto lanes on (stages::esp_reap); `drain`
  // finishes all of them first.
  void finish_deferred(bool drain) noexcept;
  // Worker 0 sends the lane keepalives (stages/keepalive.cpp): it looks every period (a fifth of
  // dataplane.lane_keepalive_ms; 0: never), and next loop again while some are left.
  void keepalives() noexcept;
  uint64_t keepalive_period_tsc_ = 0;
  uint64_t keepalive_next_tsc_ = 0;
  uint64_t keepalive_idle_ns_ = 0;
  uint32_t keepalive_cursor_ = 0;

  // Its own cache line: packets and bytes are written per packet, and the vector's buffer comes
  // from the heap of the thread that built the worker (the main thread), next to whatever that
  // thread allocates later (docs/multicore.md).
  struct alignas(64) TxQueue {
    rte_eth_dev_tx_buffer* buffer = nullptr;
    uint16_t port_id = kNoPort;
    // Sent since the last flush(), added to the port's counters there: two counter updates per
    // packet were a load-store chain through memory.
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };
  std::vector<TxQueue> tx_;         // per port
  std::vector<TxQueue> tx_kernel_;  // per port's exception device

  friend struct WorkerTestAccess;  // tests/support/worker_test_access.h: a loop turn's end
};

}  // namespace espgw::dp
