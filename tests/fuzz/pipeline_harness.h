#pragma once
// The fuzz harness of the worker pipeline: whole frames through classify -> ESP inbound -> route
// -> fragment/ICMP -> ESP outbound -> neighbour -> TX, as a worker runs them, over the tables of a
// small gateway (pipeline_harness.cpp, kConfig): a WAN and a LAN port, each with an exception
// device, an IPv4 tunnel (AES-GCM) and an IPv6 one (AES-CBC + HMAC, through the crypto lanes),
// static routes, and neighbours resolved for some next hops and not others (those packets are
// held for the control thread). The ports are DPDK net_ring devices in one EAL (--no-huge): what
// the worker sends comes back out of their rings and is checked.
//
// Input, byte 0 (control):
//   bits 0-1  where the frame enters: 0 WAN, 1 LAN (a port's RX), 2 WAN's, 3 LAN's exception
//             device (from the kernel)
//   bit 2     crafted: the rest is sealed as ESP into the WAN (see below)
//   bit 3     the frame twice in one burst
//   bit 4     the whole input twice (the second meets the first's replay state)
//   bit 5     raw frames get an Ethernet header to the port's MAC (IPv4 or IPv6 by the first
//             nibble) in front of the rest
// Crafted: bytes 1-8 the sequence number (big-endian), byte 9: bit 0 the IPv6 tunnel, bit 1
// corrupt the ICV; the rest is the inner packet, sealed with a valid ICV under the tunnel's
// inbound SA, with RFC 4303 padding and next header 4 or 41 by its first nibble.
//
// After every input (Worker::run()'s loop turn ended, every ring drained): no mbuf is left out
// of the pool, every frame that went in has an outcome (sent, to the kernel, held, or dropped
// under a reason), and every IP frame a port sends carries the port's MAC and a well-formed IP
// header no longer than the frame or the port's MTU. A broken one aborts, so libFuzzer reports it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/common/drop_reason.h"

namespace espgw::fuzz {

inline constexpr uint8_t kEnterMask = 0x03;
inline constexpr uint8_t kEnterWan = 0;
inline constexpr uint8_t kEnterLan = 1;
inline constexpr uint8_t kEnterWanKernel = 2;
inline constexpr uint8_t kEnterLanKernel = 3;
inline constexpr uint8_t kPipeCrafted = 0x04;
inline constexpr uint8_t kPipeDuplicate = 0x08;
inline constexpr uint8_t kPipeTwice = 0x10;
inline constexpr uint8_t kPipeAddEthernet = 0x20;

inline constexpr uint8_t kCraftV6Tunnel = 0x01;
inline constexpr uint8_t kCraftCorruptIcv = 0x02;
inline constexpr size_t kPipeCraftedHeader = 10;

// An IPv4 packet (addresses host order) with `payload` bytes after the header: an echo request
// for ICMP, a SYN with an MSS option for TCP, port 500 for UDP.
std::vector<uint8_t> ipv4_packet(uint32_t src, uint32_t dst, uint8_t proto, size_t payload,
                                 uint8_t ttl, bool df);

class PipelineHarness {
 public:
  // Starts EAL (once per process) and builds the tables; exits the process if it cannot.
  PipelineHarness();
  ~PipelineHarness();
  void run(const uint8_t* data, size_t size);

  // What the last turn of run() came to (the fault tests read it).
  struct Outcome {
    uint64_t sent[2][2] = {};  // [0 WAN, 1 LAN][0 the port, 1 its kernel interface]
    uint64_t held = 0;         // to the control thread (a neighbour to resolve, an inside address)
    std::array<uint64_t, kDropReasonCount> drops{};  // by reason, this turn
  };
  const Outcome& last() const;

  // Injected faults (docs/reliability.md), for the next run() only: the port's TX ring (0 WAN,
  // 1 LAN) full before the burst; the worker's ring to the control thread full.
  void fill_tx_ring(unsigned port);
  void fill_control_ring();
  // Until give_back_mbufs(): every free mbuf of the worker's pool but `leave` taken out.
  void take_mbufs(size_t leave);
  void give_back_mbufs();
  // A deterministic seed corpus reaching each stage: forwarded, encrypted, decrypted, held,
  // fragmented, ICMP errors, ARP and ND, IKE to the kernel, the kernel's own frames.
  std::vector<std::vector<uint8_t>> seeds();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace espgw::fuzz
