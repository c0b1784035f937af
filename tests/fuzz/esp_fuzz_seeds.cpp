// Writes the seed corpus of esp_inbound_fuzz into a directory: seed-000, seed-001, ...
// Generated rather than committed because the valid packets depend on the harness's keys.

#include "tests/fuzz/esp_inbound_harness.h"
#include "tests/fuzz/seed_writer.h"

int main(int argc, char** argv) {
  return espgw::fuzz::write_seeds<espgw::fuzz::InboundHarness>(argc, argv);
}
