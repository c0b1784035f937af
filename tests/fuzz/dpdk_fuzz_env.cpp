#include "tests/fuzz/dpdk_fuzz_env.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace espgw::fuzz {
namespace {

void need(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz harness: %s\n", what);
  std::exit(1);
}

}  // namespace

void start_eal(const char* program, unsigned rings) {
  static bool started = false;
  if (started) return;
  started = true;
  std::vector<std::string> args = {
      program,       "-l", "0",   "--no-huge",           "--no-pci",
      "--no-shconf", "-m", "256", "--log-level=*:error", "--no-telemetry"};
  args.push_back("--file-prefix=" + std::string(program) + "_" + std::to_string(getpid()));
  for (unsigned i = 0; i < rings; ++i)
    args.push_back("--vdev=net_ring" + std::to_string(i));
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  need(rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0, "EAL did not start");
}

uint16_t start_ring_port(unsigned n, rte_mempool* pool) {
  const std::string name = "net_ring" + std::to_string(n);
  uint16_t id = 0;
  need(rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0, "no ring port");
  rte_eth_conf conf{};
  need(rte_eth_dev_configure(id, 1, 1, &conf) == 0, "cannot configure a ring port");
  need(rte_eth_rx_queue_setup(id, 0, 1024, SOCKET_ID_ANY, nullptr, pool) == 0, "RX queue");
  need(rte_eth_tx_queue_setup(id, 0, 1024, SOCKET_ID_ANY, nullptr) == 0, "TX queue");
  need(rte_eth_dev_start(id) == 0, "cannot start a ring port");
  return id;
}

}  // namespace espgw::fuzz
