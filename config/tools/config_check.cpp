// espgw-config-check FILE: loads and validates an espgw config, as every espgw binary would.
// Prints "FILE: ok (N interfaces, M tunnels, K routes)" and exits 0, or prints the errors to stderr
// and exits 1. Exits 2 on a usage error.

#include <cstdio>
#include <string>

#include "config/config.h"

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: espgw-config-check FILE\n");
    return 2;
  }
  const std::string path = argv[1];
  try {
    const auto config = espgw::config::load_file(path);
    std::printf("%s: ok (%zu interfaces, %zu tunnels, %zu routes)\n", path.c_str(),
                config.interfaces.size(), config.tunnels.size(), config.routes.size());
    return 0;
  } catch (const espgw::config::ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
