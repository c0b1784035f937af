// libFuzzer target: a request line to espgw's control socket, through App::handle() (the
// commands and the ops of a transaction: tests/fuzz/control_harness.h). Seeds: one request of
// each command and op (tests/fuzz/corpus/control/).

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/control_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static espgw::fuzz::ControlHarness* harness = new espgw::fuzz::ControlHarness();
  harness->run(data, size);
  return 0;
}
