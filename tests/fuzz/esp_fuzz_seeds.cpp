// Writes the seed corpus of esp_inbound_fuzz into a directory: seed-000, seed-001, ...
// Generated rather than committed because the valid packets depend on the harness's keys.

#include <cstdio>
#include <string>

#include "tests/fuzz/esp_inbound_harness.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  espgw::fuzz::InboundHarness harness;
  const auto seeds = harness.seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/seed-%03zu", i);
    const std::string path = std::string(argv[1]) + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) != seeds[i].size() ||
        std::fclose(f) != 0) {
      std::perror(path.c_str());
      return 1;
    }
    // Every seed must pass the harness's own checks.
    harness.run(seeds[i].data(), seeds[i].size());
  }
  std::printf("%zu seeds in %s\n", seeds.size(), argv[1]);
  return 0;
}
