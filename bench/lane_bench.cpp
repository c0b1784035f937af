// The lane choice's cost per packet (docs/lanes.md): the inner flow hash (dataplane/lanes/
// lane_hash.h) and the bucket lookup (lane_map.h), over bursts of 32 IPv4 TCP packets of
// different flows, against a 1-lane tunnel, which chooses nothing. Reported as TSC cycles per
// packet (`cycles_per_pkt`); the bound is 5 cycles over the 1-lane tunnel.

#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <array>
#include <cstdint>
#include <vector>

#include "dataplane/lanes/lane_hash.h"
#include "dataplane/lanes/lane_map.h"

namespace {

using espgw::dp::LaneMap;

constexpr uint32_t kBurst = 32;
constexpr uint32_t kPackets = 4096;  // more flows than a burst, all in cache

std::vector<std::array<uint8_t, 64>> make_packets() {
  std::vector<std::array<uint8_t, 64>> pkts(kPackets);
  for (uint32_t i = 0; i < kPackets; ++i) {
    auto& p = pkts[i];
    p.fill(0);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p.data());
    ip->version_ihl = 0x45;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = rte_cpu_to_be_32(0xac320a00 + (i % 251));
    ip->dst_addr = rte_cpu_to_be_32(0xac3c0114);
    p[20] = static_cast<uint8_t>((32768 + i) >> 8);
    p[21] = static_cast<uint8_t>(32768 + i);
    p[23] = 80;
  }
  return pkts;
}

// What the worker would do per packet: a 1-lane tunnel takes lane 0 without looking at the packet.
void BM_LaneChoice(benchmark::State& state) {
  const auto lanes = static_cast<uint32_t>(state.range(0));
  const LaneMap map(lanes);
  const auto pkts = make_packets();
  std::array<uint32_t, kBurst> out{};
  uint32_t next = 0;
  uint64_t cycles = 0;
  uint64_t packets = 0;
  for (auto _ : state) {
    const uint64_t t0 = __rdtsc();
    for (uint32_t k = 0; k < kBurst; ++k) {
      const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(pkts[(next + k) % kPackets].data());
      out[k] = map.lanes() == 1 ? 0 : map.lane_of(espgw::dp::lane_hash4(ip));
    }
    cycles += __rdtsc() - t0;
    benchmark::DoNotOptimize(out);
    next = (next + kBurst) % kPackets;
    packets += kBurst;
  }
  state.counters["cycles_per_pkt"] = static_cast<double>(cycles) / static_cast<double>(packets);
  state.SetItemsProcessed(static_cast<int64_t>(packets));
}
BENCHMARK(BM_LaneChoice)->ArgName("lanes")->Arg(1)->Arg(4)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
