// libFuzzer target: the ESP engine's inbound path (parse, SA lookup, anti-replay, decrypt and
// verify, trailer and inner checks, ECN) over the SAs of esp_inbound_harness.h. Raw inputs are
// outer packets; crafted inputs are sealed with a valid ICV so that the checks behind
// verification are reached.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/esp_inbound_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static espgw::fuzz::InboundHarness* harness = new espgw::fuzz::InboundHarness();
  harness->run(data, size);
  return 0;
}
