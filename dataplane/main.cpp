// espgw: the dataplane process.
//   espgw [EAL options] -- --config FILE [--control-socket PATH] [--crypto ipsec-mb|openssl]
//                          [--max-packets N] [--stats-file FILE]
// Exit: 0 after a clean stop (SIGINT, SIGTERM, `espgwctl stop`, --max-packets), 1 when start-up
// fails (the reason is printed), 2 for a bad command line or config.

#include <rte_eal.h>
#include <rte_errno.h>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/redact.h"
#include "common/version.h"
#include "config/config.h"
#include "dataplane/control/app.h"

namespace {

void usage(FILE* f) {
  std::fprintf(f,
               "usage: espgw [EAL options] -- --config FILE [--control-socket PATH]\n"
               "             [--crypto ipsec-mb|openssl] [--max-packets N] [--stats-file F]\n"
               "       espgw --version\n"
               "  EAL: give one lcore per worker plus the main one (-l 0-N), a --file-prefix per\n"
               "  process, and --no-huge -m MB where no hugepages are set up.\n");
}

void on_signal(int) {
  espgw::dp::App::request_stop();
}

// SAs, their key schedules and the tables' C++ side live on glibc's heap, in 4 KiB pages: with
// 100,000 SAs, a burst spread over a few thousand tunnels missed the TLB for each of them
// (bench/scale: 22% slower than the same tunnels in a small gateway; 11% with the heap on
// transparent huge pages). glibc (2.35 and later) puts its heap on huge pages only when the
// tunable is set at start-up, so espgw sets it and executes itself again, once. An operator's own
// glibc.malloc.hugetlb (0 to opt out) is left as it is.
void heap_on_huge_pages(char** argv) {
  const char* env = std::getenv("GLIBC_TUNABLES");
  if (env != nullptr && std::strstr(env, "glibc.malloc.hugetlb") != nullptr) return;
  const bool had = env != nullptr;
  const std::string before = had ? env : "";
  const std::string value =
      before.empty() ? "glibc.malloc.hugetlb=1" : before + ":glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with 4 KiB pages and the environment as it was
  if (had) {
    setenv("GLIBC_TUNABLES", before.c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace

int main(int argc, char** argv) {
  heap_on_huge_pages(argv);
  int sep = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      sep = i;
      break;
    }
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("%s\n", espgw::version_line("espgw").c_str());
      return 0;
    }
  }
  if (sep < 0) {
    usage(stderr);
    return 2;
  }

  espgw::dp::Options opts;
  for (int i = sep + 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "espgw: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config") {
      opts.config_path = value();
    } else if (a == "--control-socket") {
      opts.control_socket = value();
    } else if (a == "--crypto") {
      const std::string v = value();
      opts.crypto = espgw::crypto::parse_backend(v);
      if (!opts.crypto) {
        std::fprintf(stderr, "espgw: --crypto: unknown backend %s (ipsec-mb, openssl)\n",
                     espgw::quote(v).c_str());
        return 2;
      }
    } else if (a == "--stats-file") {
      opts.stats_file = value();
    } else if (a == "--max-packets") {
      const std::string v = value();
      char* end = nullptr;
      opts.max_packets = std::strtoull(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0') {
        std::fprintf(stderr, "espgw: --max-packets: not a number: %s\n", espgw::quote(v).c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "espgw: unknown option %s\n", espgw::quote_option(a).c_str());
      usage(stderr);
      return 2;
    }
  }
  if (opts.config_path.empty()) {
    std::fprintf(stderr, "espgw: --config FILE is required\n");
    return 2;
  }

  espgw::config::Config cfg;
  try {
    cfg = espgw::config::load_file(opts.config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "espgw: %s\n", e.what());
    return 2;
  }

  if (rte_eal_init(sep, argv) < 0) {
    std::fprintf(stderr, "espgw: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  int rc = 0;
  {
    espgw::dp::App app(std::move(cfg), opts);
    try {
      app.start();
      rc = app.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "espgw: start-up failed: %s\n", e.what());
      rc = 1;
    }
  }
  rte_eal_cleanup();
  return rc;
}
