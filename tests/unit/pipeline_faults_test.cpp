// Injected faults in the worker pipeline (docs/reliability.md "Injected faults"), on the fuzz
// harness's gateway (tests/fuzz/pipeline_harness.h: the real stages and worker over DPDK ring
// ports): the port's TX ring full, the worker's mbuf pool empty, the ring to the control thread
// full. Each is counted under its drop reason, loses no mbuf, and the next packet after it goes
// through as before: recovery without a restart.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tests/fuzz/pipeline_harness.h"

namespace espgw::fuzz {
namespace {

constexpr uint32_t kLanHost = 0x0a010002;   // 10.1.0.2: resolved
constexpr uint32_t kLanOther = 0x0a01004d;  // 10.1.0.77: not resolved, held
constexpr uint32_t kRemote = 0x0a020005;    // 10.2.0.5: into the IPv4 tunnel
constexpr uint32_t kInternet = 0x08080808;  // the default route, out of the WAN
constexpr uint32_t kPeer = 0xcb007102;      // 203.0.113.2, from the WAN

PipelineHarness& harness() {
  static PipelineHarness* h = new PipelineHarness();
  return *h;
}

std::vector<uint8_t> input(uint8_t where, const std::vector<uint8_t>& packet) {
  std::vector<uint8_t> in(packet.size() + 1);
  in[0] = static_cast<uint8_t>(where | kPipeAddEthernet);
  std::copy(packet.begin(), packet.end(), in.begin() + 1);
  return in;
}

const PipelineHarness::Outcome& run(const std::vector<uint8_t>& in) {
  harness().run(in.data(), in.size());
  return harness().last();
}

uint64_t drops(const PipelineHarness::Outcome& o, DropReason r) {
  return o.drops[static_cast<size_t>(r)];
}

uint64_t all_drops(const PipelineHarness::Outcome& o) {
  uint64_t n = 0;
  for (uint64_t d : o.drops)
    n += d;
  return n;
}

TEST(PipelineFaults, TxRingFull) {
  // Into the tunnel (encrypted) and forwarded, each out of a full WAN ring, then again.
  for (const auto& pkt : {ipv4_packet(kLanHost, kRemote, 1, 64, 64, false),
                          ipv4_packet(kLanHost, kInternet, 1, 64, 64, false)}) {
    const auto in = input(kEnterLan, pkt);
    harness().fill_tx_ring(0);
    const auto full = run(in);
    EXPECT_EQ(drops(full, DropReason::kTxFull), 1u);
    EXPECT_EQ(full.sent[0][0], 0u);
    const auto after = run(in);
    EXPECT_EQ(after.sent[0][0], 1u);
    EXPECT_EQ(all_drops(after), 0u);
  }
  // From the WAN to the LAN, out of a full LAN ring.
  const auto in = input(kEnterWan, ipv4_packet(kInternet, kLanHost, 1, 56, 64, false));
  harness().fill_tx_ring(1);
  EXPECT_EQ(drops(run(in), DropReason::kTxFull), 1u);
  EXPECT_EQ(run(in).sent[1][0], 1u);
}

TEST(PipelineFaults, MbufPoolEmpty) {
  // Fragmenting needs new mbufs (the WAN's MTU is 1400): with the pool empty behind the packet,
  // no fragment can be made.
  const auto in = input(kEnterLan, ipv4_packet(kLanHost, kInternet, 17, 1460, 64, false));
  harness().take_mbufs(1);
  const auto empty = run(in);
  harness().give_back_mbufs();
  EXPECT_EQ(drops(empty, DropReason::kNoMbuf), 1u);
  EXPECT_EQ(empty.sent[0][0], 0u);
  const auto after = run(in);
  EXPECT_EQ(after.sent[0][0], 2u);  // two fragments
  EXPECT_EQ(all_drops(after), 0u);
}

TEST(PipelineFaults, ControlRingFull) {
  // A packet for a neighbour not resolved yet waits with the control thread: not with its ring
  // full.
  const auto in = input(kEnterWan, ipv4_packet(kPeer, kLanOther, 1, 56, 64, false));
  harness().fill_control_ring();
  const auto full = run(in);
  EXPECT_EQ(drops(full, DropReason::kControlRingFull), 1u);
  EXPECT_EQ(full.held, 0u);
  const auto after = run(in);
  EXPECT_EQ(after.held, 1u);
  EXPECT_EQ(all_drops(after), 0u);
}

}  // namespace
}  // namespace espgw::fuzz
