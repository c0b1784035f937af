#pragma once
// The test-only door into App that app.h reserves with `friend struct AppTestAccess`: the control
// fuzzer (tests/fuzz/control_harness.h) starts an App as App::start() does, on ports it made and
// without running the workers (their counters are there, their lcores are not launched), and
// takes the tables back to where they started after each request.

#include <rte_lcore.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/control/app.h"

namespace espgw::dp {

struct AppTestAccess {
  // App::start() in its steps, on `ports`; the control socket at `socket`. Throws as start() does.
  static void start_idle(App& a, std::vector<Port> ports, const std::string& socket) {
    a.lcores_ = {rte_get_main_lcore()};
    a.rt_.workers = 1;
    a.rt_.tsc_hz = rte_get_tsc_hz();
    a.rt_.rcu = std::make_unique<Rcu>(1);
    a.create_pools(1);
    a.create_rings(1);
    a.rt_.ports = std::move(ports);
    a.load_tables(1);
    a.start_neighbours();
    a.start_inside();
    a.server_ = std::make_unique<protocol::LineServer>(
        socket, [&a](const std::string& r, bool* subscribe) { return a.handle(r, subscribe); });
    a.workers_.push_back(std::make_unique<Worker>(a.rt_, 0, a.pools_[0], a.cfg_.dataplane.crypto));
  }
  static const Model& model(const App& a) { return *a.model_; }
  static uint64_t generation(const App& a) { return a.generation_; }
  // The tables as `m` holds them, published as a change would publish them.
  static void restore(App& a, const Model& m) {
    std::lock_guard guard(a.lock_);
    auto snap = m.build(a.generation_ + 1, App::now_ms());
    a.commit(Model(m), std::move(snap));
    a.spi_reserved_.clear();
  }
  // Frees what the control thread sent the worker (ARP and ND requests, released packets) and
  // what the workers sent it; returns how many.
  static unsigned drain(App& a) {
    unsigned n = 0;
    TxRequest req;
    for (rte_ring* r : a.rt_.to_worker) {
      while (rte_ring_sc_dequeue_elem(r, &req, sizeof req) == 0) {
        rte_pktmbuf_free(req.mbuf);
        ++n;
      }
    }
    return n;
  }
  static rte_mempool* control_pool(const App& a) { return a.control_pool_; }
};

}  // namespace espgw::dp
