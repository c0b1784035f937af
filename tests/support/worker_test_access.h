#pragma once
// The test-only door into a Worker that worker.h reserves with `friend struct WorkerTestAccess`:
// the pipeline fuzzer (tests/fuzz/pipeline_harness.h) hands bursts to the stages itself and ends
// each as Worker::run() ends a loop turn.

#include "dataplane/worker/worker.h"

namespace espgw::dp {

struct WorkerTestAccess {
  // What Worker::run() does after the polls, and in the loop turns after it while the crypto
  // lanes hold packets (what a reaped packet makes, an ICMP error into a CBC tunnel say, goes
  // into the lanes again): the lanes finished, the TX buffers flushed into the ports. Returns
  // the turns it took; gives up after `turns`.
  static unsigned end_turn(Worker& w, unsigned turns = 8) noexcept {
    unsigned n = 0;
    do {
      w.finish_deferred(true);
      ++n;
    } while (w.engine.deferred() != 0 && n < turns);
    w.flush();
    return n;
  }
};

}  // namespace espgw::dp
