#pragma once
// The test-only door into an SA's hot state that sa.h reserves with `friend struct SaTestAccess`:
// tests and the fuzzer reset replay windows and sequence counters without rebuilding the SA.

#include <cstdint>

#include "dataplane/esp/sa.h"

namespace espgw::esp {

struct SaTestAccess {
  static ReplayWindow& replay(Sa& sa) noexcept { return sa.replay_; }
  static uint32_t auth_failures(const Sa& sa) noexcept { return sa.auth_failures_; }
  static void set_auth_failures(Sa& sa, uint32_t n) noexcept { sa.auth_failures_ = n; }
  static void set_next_seq(Sa& sa, uint64_t seq) noexcept {
    sa.next_seq_.store(seq, std::memory_order_relaxed);
    sa.stopped_.store(false, std::memory_order_relaxed);
  }
};

}  // namespace espgw::esp
