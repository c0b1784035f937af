#pragma once
// Read-copy-update for the dataplane's tables, on DPDK's quiescent-state-based RCU (rte_rcu_qsbr):
// each worker reports a quiescent state once per loop iteration, between bursts, when it holds no
// table pointer. The control thread publishes a new table with one atomic store, waits until every
// online worker has passed a quiescent state, and only then frees the old one.

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace espgw::dp {

class Rcu {
 public:
  explicit Rcu(uint32_t max_threads);
  ~Rcu();
  Rcu(const Rcu&) = delete;
  Rcu& operator=(const Rcu&) = delete;

  void online(uint32_t thread) noexcept;
  void offline(uint32_t thread) noexcept;
  void quiescent(uint32_t thread) noexcept { rte_rcu_qsbr_quiescent(qsbr_, thread); }
  // Blocks until every online worker has passed a quiescent state.
  void synchronize() noexcept { rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID); }

 private:
  rte_rcu_qsbr* qsbr_ = nullptr;
};

// One RCU-protected pointer to an immutable table.
template <class T>
class Published {
 public:
  ~Published() { delete ptr_.load(std::memory_order_relaxed); }

  const T* get() const noexcept { return ptr_.load(std::memory_order_acquire); }

  // Control thread only. Workers see `next` from their next loop iteration on; the old table is
  // destroyed once none can still hold it.
  void publish(std::unique_ptr<T> next, Rcu& rcu) {
    T* old = ptr_.exchange(next.release(), std::memory_order_acq_rel);
    if (old != nullptr) {
      rcu.synchronize();
      delete old;
    }
  }

 private:
  std::atomic<T*> ptr_{nullptr};
};

}  // namespace espgw::dp
