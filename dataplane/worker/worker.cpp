#include "dataplane/worker/worker.h"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <cstring>

#include "common/bytes.h"
#include "dataplane/inside/priority.h"
#include "dataplane/stages/stages.h"

namespace espgw::dp {
namespace {

// TX errors: free what the queue would not take and count it.
void tx_error(rte_mbuf** unsent, uint16_t count, void* userdata) {
  auto* counter = static_cast<DropCounters*>(userdata);
  counter->add(DropReason::kTxFull, count);
  rte_pktmbuf_free_bulk(unsent, count);
}

// TX errors on an exception tap: a tap has no queue to fill, its write fails when the kernel
// refuses the frame, that is while its kernel interface is down (or gone). net_tap stops the
// burst at the first refusal and hands back the rest. Checked only here, where a TX already
// failed; App::check_kernel_interfaces() follows the interface and dresses it again once up.
void tx_error_exception_down(rte_mbuf** unsent, uint16_t count, void* userdata) {
  auto* counter = static_cast<DropCounters*>(userdata);
  counter->add(DropReason::kExceptionDown, count);
  rte_pktmbuf_free_bulk(unsent, count);
}

// A message to the control thread about the neighbour `ip` (family 4 or 6) on `port`; the caller
// adds what its type carries. Built on the stack, no allocation.
inline ControlMsg neighbour_msg(ControlMsg::Type type, uint16_t port, const uint8_t* ip,
                                uint8_t family, uint32_t worker) noexcept {
  ControlMsg msg{};
  msg.type = type;
  msg.family = family;
  msg.port = port;
  msg.worker = static_cast<uint16_t>(worker);
  std::memcpy(msg.ip, ip, family == 4 ? 4 : 16);
  return msg;
}

}  // namespace

Worker::Worker(Runtime& runtime, uint32_t idx, rte_mempool* mp, crypto::BackendKind kind)
    : rt(runtime),
      index(idx),
      queue(static_cast<uint16_t>(idx)),
      pool(mp),
      crypto(crypto::make_backend(kind, static_cast<int>(idx))),
      engine(*crypto, idx),
      port_counters(runtime.ports.size()) {
  exception_tokens.configure(std::max<uint64_t>(1, rt.cfg.exception_pps / rt.workers), rt.tsc_hz);
  // BGP and BFD: a quarter of exception_pps on top of it, at least 1000/s in all (BFD at
  // 200 ms is 5 packets a second per tunnel each way).
  priority_tokens.configure(
      std::max<uint64_t>(1, std::max<uint64_t>(1000, rt.cfg.exception_pps / 4) / rt.workers),
      rt.tsc_hz);
  icmp_tokens.configure(1000, rt.tsc_hz);
  ip_id = static_cast<uint16_t>(engine.random().next64());
  auto make_buffer = [&](uint16_t port_id, buffer_tx_error_fn on_error) {
    TxQueue q;
    q.port_id = port_id;
    if (port_id == kNoPort) return q;
    q.buffer = static_cast<rte_eth_dev_tx_buffer*>(rte_zmalloc_socket(
        "espgw_txbuf", RTE_ETH_TX_BUFFER_SIZE(kRxBurst), 0, rte_eth_dev_socket_id(port_id)));
    if (q.buffer == nullptr) throw std::runtime_error("cannot allocate TX buffers");
    rte_eth_tx_buffer_init(q.buffer, kRxBurst);
    rte_eth_tx_buffer_set_err_callback(q.buffer, on_error, &drops);
    return q;
  };
  if (idx == 0 && rt.cfg.lane_keepalive_ms != 0) {
    keepalive_idle_ns_ = uint64_t{rt.cfg.lane_keepalive_ms} * 1000000;
    keepalive_period_tsc_ = std::max<uint64_t>(1, rt.tsc_hz * rt.cfg.lane_keepalive_ms / 5000);
  }
  for (const Port& p : rt.ports) {
    tx_.push_back(make_buffer(p.port_id, tx_error));
    // A tap (it has a kernel interface) refuses only when down; any other exception device
    // (kind: device) has a TX queue that can be full, as a port's.
    tx_kernel_.push_back(
        make_buffer(p.exc_port_id, p.kernel_name.empty() ? tx_error : tx_error_exception_down));
  }
}

Worker::~Worker() {
  for (auto& q : tx_)
    rte_free(q.buffer);
  for (auto& q : tx_kernel_)
    rte_free(q.buffer);
}

void Worker::send(uint16_t port, rte_mbuf* m) noexcept {
  TxQueue& q = tx_[port];
  ++q.packets;
  q.bytes += m->pkt_len;
  rte_eth_tx_buffer(q.port_id, queue, q.buffer, m);
}

bool Worker::admit_exception(const uint8_t* ip, uint32_t len) noexcept {
  if (priority_control(ip, len) && priority_tokens.take(now_tsc)) return true;
  return exception_tokens.take(now_tsc);
}

void Worker::to_kernel(uint16_t port, rte_mbuf* m) noexcept {
  if (tx_kernel_[port].buffer == nullptr) return drop(m, DropReason::kNoExceptionPath);
  const uint8_t* eth = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint16_t type = m->data_len >= 14 ? load_be16(eth + 12) : 0;
  const bool ip = type == 0x0800 || type == 0x86dd;
  if (!admit_exception(eth + 14, ip ? m->data_len - 14u : 0)) {
    return drop(m, DropReason::kExceptionRateLimit);
  }
  // Counted as the device takes them: a frame the tap refuses is an exception_down drop only.
  port_counters[port].to_kernel.add(
      rte_eth_tx_buffer(tx_kernel_[port].port_id, queue, tx_kernel_[port].buffer, m));
}

void Worker::to_inside(uint32_t if_id, rte_mbuf* m) noexcept {
  if (!admit_exception(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len)) {
    return drop(m, DropReason::kExceptionRateLimit);
  }
  InsidePacket p{m, if_id, 0};
  if (rte_ring_mp_enqueue_elem(rt.to_inside, &p, sizeof p) != 0) {
    return drop(m, DropReason::kInsideRingFull);
  }
  counters.to_inside.add();
}

void Worker::hold(uint16_t port, const uint8_t* ip, uint8_t family, rte_mbuf* m) noexcept {
  ControlMsg msg = neighbour_msg(ControlMsg::Type::kHold, port, ip, family, index);
  msg.mbuf = m;
  if (rte_ring_mp_enqueue_elem(rt.to_control, &msg, sizeof msg) != 0) {
    return drop(m, DropReason::kControlRingFull);
  }
  counters.held.add();
}

void Worker::learn(uint16_t port, const uint8_t* ip, uint8_t family, const uint8_t* mac) noexcept {
  ControlMsg msg = neighbour_msg(ControlMsg::Type::kLearn, port, ip, family, index);
  std::memcpy(msg.mac, mac, 6);
  // A full ring loses one learning event; the next ARP/ND packet brings it again.
  rte_ring_mp_enqueue_elem(rt.to_control, &msg, sizeof msg);
}

void Worker::poll_port(const Port& p) noexcept {
  rte_mbuf* pkts[kRxBurst];
  const uint16_t n = rte_eth_rx_burst(p.port_id, queue, pkts, kRxBurst);
  if (n == 0) return;
  stages::classify(*this, p, pkts, n);
  counters.packets.add(n);
}

void Worker::poll_kernel(const Port& p) noexcept {
  rte_mbuf* pkts[kRxBurst];
  const uint16_t n = rte_eth_rx_burst(p.exc_port_id, queue, pkts, kRxBurst);
  if (n == 0) return;
  port_counters[p.index].from_kernel.add(n);
  stages::from_kernel(*this, p, pkts, n);
  counters.packets.add(n);
}

void Worker::poll_control() noexcept {
  TxRequest reqs[kRxBurst];
  const unsigned n = rte_ring_sc_dequeue_burst_elem(rt.to_worker[index], reqs, sizeof(TxRequest),
                                                    kRxBurst, nullptr);
  Batch inside;  // from inside interfaces: routed as our own, into their tunnels
  for (unsigned i = 0; i < n; ++i) {
    if (reqs[i].route) {
      inside.push(reqs[i].mbuf, Batch::kLocalOrigin);
    } else if (reqs[i].to_kernel) {
      to_kernel(reqs[i].port, reqs[i].mbuf);
    } else {
      send(reqs[i].port, reqs[i].mbuf);
    }
  }
  if (inside.n != 0) {
    counters.from_inside.add(inside.n);
    stages::route(*this, inside);
  }
}

void Worker::keepalives() noexcept {
  if (keepalive_period_tsc_ == 0 || now_tsc < keepalive_next_tsc_) return;
  keepalive_cursor_ = stages::send_keepalives(*this, keepalive_cursor_, keepalive_idle_ns_);
  keepalive_next_tsc_ = keepalive_cursor_ == 0 ? now_tsc + keepalive_period_tsc_ : now_tsc;
}

void Worker::finish_deferred(bool drain) noexcept {
  if (engine.deferred() == 0) return;
  if (drain) engine.drain();
  stages::esp_reap(*this);
}

void Worker::flush() noexcept {
  for (size_t p = 0; p < tx_.size(); ++p) {
    TxQueue& q = tx_[p];
    if (q.packets == 0) continue;
    rte_eth_tx_buffer_flush(q.port_id, queue, q.buffer);
    port_counters[p].tx_packets.add(q.packets);
    port_counters[p].tx_bytes.add(q.bytes);
    q.packets = 0;
    q.bytes = 0;
  }
  for (size_t p = 0; p < tx_kernel_.size(); ++p) {
    const TxQueue& q = tx_kernel_[p];
    if (q.buffer != nullptr) {
      port_counters[p].to_kernel.add(rte_eth_tx_buffer_flush(q.port_id, queue, q.buffer));
    }
  }
}

int Worker::run() noexcept {
  rt.rcu->online(index);
  const uint64_t ns_per_tsc_num = 1000000000ull;
  uint64_t last = rte_rdtsc();
  uint32_t idle = 0;
  while (!rt.stop.load(std::memory_order_relaxed)) {
    // Packets in the crypto lanes hold the tables they were looked up in (SAs, tunnels): no
    // quiescent state while there are any. A new table finishes them first, so that its publisher
    // waits at most this one loop.
    if (engine.deferred() != 0 && (rt.tables.get() != snap || rt.neighbours.get() != neigh)) {
      finish_deferred(true);
    }
    if (engine.deferred() == 0) {
      // Between bursts this worker holds no table: a quiescent state for RCU.
      rt.rcu->quiescent(index);
      snap = rt.tables.get();
      neigh = rt.neighbours.get();
    }
    now_tsc = rte_rdtsc();
    const uint64_t deferred_before = engine.deferred_total();
    engine.set_now(now_tsc / rt.tsc_hz * ns_per_tsc_num +
                   (now_tsc % rt.tsc_hz) * ns_per_tsc_num / rt.tsc_hz);
    const uint64_t before = counters.packets.get();
    for (const Port& p : rt.ports) {
      poll_port(p);
      if (p.exc_port_id != kNoPort) poll_kernel(p);
    }
    poll_control();
    keepalives();
    // A loop that put nothing new into the crypto lanes finishes what is there: no packet waits
    // longer than one loop once traffic stops.
    finish_deferred(engine.deferred_total() == deferred_before);
    flush();
    counters.loops.add();
    const uint64_t end = rte_rdtsc();
    if (counters.packets.get() != before) {
      counters.busy_loops.add();
      counters.busy_tsc.add(end - now_tsc);
      idle = 0;
    } else if (rt.cfg.idle_sleep_us != 0 && ++idle > 100) {
      rte_delay_us_sleep(rt.cfg.idle_sleep_us);
    }
    counters.total_tsc.add(end - last);
    last = end;
  }
  finish_deferred(true);
  flush();
  rt.rcu->offline(index);
  return 0;
}

}  // namespace espgw::dp
