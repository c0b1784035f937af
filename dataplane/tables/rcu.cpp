#include "dataplane/tables/rcu.h"

#include <rte_malloc.h>

#include <stdexcept>

namespace espgw::dp {

Rcu::Rcu(uint32_t max_threads) {
  const size_t size = rte_rcu_qsbr_get_memsize(max_threads);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("espgw_rcu", size, RTE_CACHE_LINE_SIZE));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, max_threads) != 0) {
    throw std::runtime_error("cannot set up RCU for " + std::to_string(max_threads) + " workers");
  }
}

Rcu::~Rcu() {
  rte_free(qsbr_);
}

void Rcu::online(uint32_t thread) noexcept {
  rte_rcu_qsbr_thread_register(qsbr_, thread);
  rte_rcu_qsbr_thread_online(qsbr_, thread);
}

void Rcu::offline(uint32_t thread) noexcept {
  rte_rcu_qsbr_thread_offline(qsbr_, thread);
  rte_rcu_qsbr_thread_unregister(qsbr_, thread);
}

}  // namespace espgw::dp
