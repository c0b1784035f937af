#pragma once
// What the fuzz targets that run DPDK code share (pipeline_harness.h, control_harness.h): one
// EAL per process, without hugepages, PCI or shared files, on one lcore, with `rings` net_ring
// devices (net_ring0, net_ring1, ...); and such a device started with one RX and one TX queue.
// A net_ring device's RX and TX are one ring: what is sent on it is received from it.

#include <rte_mempool.h>

#include <cstdint>

namespace espgw::fuzz {

// Starts EAL once (later calls do nothing); exits the process if it cannot.
void start_eal(const char* program, unsigned rings);
// Starts net_ringN; exits the process if it cannot.
uint16_t start_ring_port(unsigned n, rte_mempool* pool);

}  // namespace espgw::fuzz
