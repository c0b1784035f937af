#pragma once
// A copy-free traffic source for benchmarks (bench/run): an interface whose device is
// `bench_source,pcap=FILE` receives the frames of FILE over and over, without the per-packet copy
// of net_pcap's infinite_rx. The port is a net_null device (no-rx) with an RX callback on each
// queue: inside rte_eth_rx_burst(), on the worker's lcore, the callback takes a burst of mbufs
// from the worker's pool (its mempool cache hands back the buffers that TX freed a moment ago)
// and writes only the first cache line of the next frames of FILE into them: Ethernet, IP and
// UDP/TCP headers; the payload bytes are whatever the recycled buffer held. What the port sends
// is freed by net_null.
//
// The worker polls it like any port, and ports that are not bench sources have no callback:
// nothing is added to the forwarding path. The per-packet cost of the source is one 64-byte copy
// and the mbuf allocation, which a NIC's PMD pays too (descriptor to mbuf).

#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

namespace espgw::dp {

// Whether devargs names a bench source.
bool is_bench_source(const std::string& devargs) noexcept;
// The DPDK device that stands for it (probed like any other).
std::string bench_source_device(const std::string& iface);
// After the port's queues are set up: one callback per queue, queue q filled from pools[q].
// Throws std::runtime_error (unreadable pcap, a frame too large for the pool's mbufs).
void attach_bench_source(const std::string& devargs, uint16_t port,
                         const std::vector<rte_mempool*>& pools);
// Forgets the sources' state (after the workers stopped).
void stop_bench_sources() noexcept;

}  // namespace espgw::dp
