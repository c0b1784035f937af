// libFuzzer target: whole frames through the worker pipeline (classify, ESP inbound, route,
// fragment and ICMP, ESP outbound, neighbour, TX) over the small gateway of pipeline_harness.h.
// Raw inputs are frames into a port or from the kernel; crafted inputs are sealed as ESP with a
// valid ICV so that what follows decryption is reached.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/pipeline_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static espgw::fuzz::PipelineHarness* harness = new espgw::fuzz::PipelineHarness();
  harness->run(data, size);
  return 0;
}
