// bench/imb_shared_line: does intel-ipsec-mb write a line that all workers share, on every packet?
//
// intel-ipsec-mb 1.3 (Debian 12) keeps its error status in one process-wide variable, imb_errno,
// and every AES-GCM call (direct API, job and burst API alike) starts by storing 0 to it, whether
// or not it is 0 already (intel-ipsec-mb#112; 1.4 stores only when the value changes). A store to
// a line that another core holds takes the line from that core, so two workers encrypting at once
// pass that line back and forth once per packet.
//
// This measures it the way a worker sees it: AES-128-GCM encryption of 64-byte packets through the
// direct API (as dataplane/crypto/ipsec_mb_backend.cpp calls it), each runner with its own
// manager, key and buffer, on its own CPU, in three set-ups:
//   alone        one runner on CPU A;
//   2 threads    a second runner on CPU B in the same process: both store to the same imb_errno;
//   2 processes  the second runner in a forked child on CPU B: the same work, but the child's
//                imb_errno is its own copy (the page is copied on its first store);
//   2 threads, B's own copy   as "2 threads", the second runner's manager from a copy of the
//                library loaded with dlmopen() into a link namespace of its own, so with its
//                own imb_errno: what a dataplane worker runs from (dataplane/crypto/imb_copy.h).
// If the library wrote nothing shared, "2 threads" would cost what "2 processes" costs. Both
// runners' cycles per packet are printed (TSC), medians of --rounds windows.
//
//   build/bench/imb_shared_line [--cpus A,B] [--rounds N] [--packets N]
// Needs two CPUs that nothing else uses; it measures, it judges nothing.

#include <intel-ipsec-mb.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/crypto/imb_copy.h"

namespace {

using namespace espgw;

struct Args {
  int cpu_a = 0;
  int cpu_b = 1;
  int rounds = 9;
  uint64_t packets = 2'000'000;
};

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    std::perror("sched_setaffinity");
    std::exit(2);
  }
}

// One runner: its own manager and key; TSC cycles per 64-byte encryption over `packets`.
double run_gcm(uint64_t packets, const crypto::ImbLib& lib = crypto::ImbLib{}) {
  IMB_MGR* mgr = lib.alloc(0);
  if (mgr == nullptr) {
    std::fprintf(stderr, "imb_shared_line: cannot allocate a manager\n");
    std::exit(2);
  }
  lib.init(mgr, nullptr);
  alignas(64) static thread_local gcm_key_data key;
  uint8_t raw_key[16];
  for (int i = 0; i < 16; ++i)
    raw_key[i] = static_cast<uint8_t>(i * 7 + 1);
  IMB_AES128_GCM_PRE(mgr, raw_key, &key);
  alignas(64) uint8_t buf[128] = {};
  uint8_t iv[12] = {};
  uint8_t aad[8] = {};
  uint8_t tag[16];
  gcm_context_data ctx;
  const uint64_t t0 = __rdtsc();
  for (uint64_t i = 0; i < packets; ++i) {
    std::memcpy(iv + 4, &i, 8);
    IMB_AES128_GCM_ENC(mgr, &key, &ctx, buf, buf, 64, iv, aad, sizeof aad, tag, sizeof tag);
  }
  const uint64_t t1 = __rdtsc();
  lib.free(mgr);
  return static_cast<double>(t1 - t0) / static_cast<double>(packets);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Both runners start together (a spin on a shared flag for threads; the child starts first for
// processes, and the parent's window falls inside the child's longer one).
void two_threads(const Args& a, double& mine, double& other,
                 const crypto::ImbLib& lib_b = crypto::ImbLib{}) {
  std::atomic<int> ready{0};
  double b = 0;
  std::thread t([&] {
    pin(a.cpu_b);
    ready.fetch_add(1);
    while (ready.load() != 2) {
    }
    b = run_gcm(a.packets, lib_b);
  });
  pin(a.cpu_a);
  ready.fetch_add(1);
  while (ready.load() != 2) {
  }
  mine = run_gcm(a.packets);
  t.join();
  other = b;
}

void two_processes(const Args& a, double& mine) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(2);
  const pid_t child = fork();
  if (child == 0) {
    pin(a.cpu_b);
    const char go = 'g';
    if (write(fds[1], &go, 1) != 1) _exit(2);
    run_gcm(a.packets + a.packets / 4);  // outlasts the parent's window
    _exit(0);
  }
  char go = 0;
  if (read(fds[0], &go, 1) != 1) std::exit(2);
  pin(a.cpu_a);
  mine = run_gcm(a.packets);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--cpus" && i + 1 < argc) {
      if (std::sscanf(argv[++i], "%d,%d", &a.cpu_a, &a.cpu_b) != 2) return 2;
    } else if (arg == "--rounds" && i + 1 < argc) {
      a.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--packets" && i + 1 < argc) {
      a.packets = std::max<uint64_t>(1000, std::strtoull(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: %s [--cpus A,B] [--rounds N] [--packets N]\n", argv[0]);
      return 2;
    }
  }
  std::printf("intel-ipsec-mb %s, AES-128-GCM 64 B, CPUs %d and %d, %d rounds (interleaved)\n",
              imb_get_version_str(), a.cpu_a, a.cpu_b, a.rounds);
  // What a dataplane worker runs from (dataplane/crypto/imb_copy.h): its own copy of the library.
  const crypto::ImbLib& copy = crypto::imb_for_worker(1);
  if (!copy.own_copy) std::printf("(no copy of the library was loaded: see the line above)\n");
  std::vector<double> alone, threads_a, threads_b, procs, copies;
  for (int r = 0; r < a.rounds; ++r) {
    pin(a.cpu_a);
    alone.push_back(run_gcm(a.packets));
    double x = 0, y = 0;
    two_threads(a, x, y);
    threads_a.push_back(x);
    threads_b.push_back(y);
    two_processes(a, x);
    procs.push_back(x);
    two_threads(a, x, y, copy);
    copies.push_back(x);
  }
  auto row = [](const char* what, const std::vector<double>& v) {
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    std::printf("| %-44s | %7.1f | %7.1f - %-7.1f |\n", what, median(v), s.front(), s.back());
  };
  std::printf("| set-up | cycles/pkt (median) | range |\n|---|---|---|\n");
  row("alone", alone);
  row("2 threads, one process (runner A)", threads_a);
  row("2 threads, one process (runner B)", threads_b);
  row("2 processes (runner A)", procs);
  row("2 threads, B's own copy (runner A)", copies);
  return 0;
}
