#pragma once
// The main() of a generated seed corpus (run_fuzzer.sh calls it with a directory): writes a
// harness's seeds() there as seed-000, seed-001, ..., and runs each through the harness, whose
// own checks every seed must pass.

#include <cstdio>
#include <string>

namespace espgw::fuzz {

template <class Harness>
int write_seeds(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  Harness harness;
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
    harness.run(seeds[i].data(), seeds[i].size());
  }
  std::printf("%zu seeds in %s\n", seeds.size(), argv[1]);
  return 0;
}

}  // namespace espgw::fuzz
