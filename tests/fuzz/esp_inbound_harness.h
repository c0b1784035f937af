#pragma once
// The fuzz harness of the ESP engine's inbound path: a fixed set of inbound SAs (GCM, CBC-HMAC,
// ESN, NAT-T, window 0, window 65536, and one outbound SA under an inbound-looking SPI) and one
// engine per crypto backend. Shared by the libFuzzer target and the seed generator.
//
// Input, byte 0 (control):
//   bit 0  mode: 0 raw (the rest is one outer IP packet), 1 crafted (see below)
//   bit 1  decrypt with OpenSSL instead of intel-ipsec-mb
//   bit 2  the packet twice in one burst
//   bit 3  the burst twice (the second pass meets the first's replay state)
//   bits 4-7  where every SA's replay window starts (kWindowTops)
// Crafted mode: raw fuzz bytes rarely pass an ICV, so the harness seals the fuzzer's bytes as the
// ESP plaintext with a valid ICV (under the other backend), and everything behind verification is
// fuzzed too. Bytes 1-12:
//   1      SA index
//   2-9    sequence number, big-endian 64 bits (the low half goes in the packet)
//   10     outer TOS / traffic class
//   11     flags: 0x01 outer IPv6, 0x02 the other encapsulation, 0x04 corrupt the ICV,
//          0x08 arm the ESN re-synchronisation, 0x10 append RFC 4303 padding and byte 12 as
//          next header (else the plaintext carries its own trailer)
//   12     next header (with 0x10)
//   13-    plaintext

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/esp/esp_engine.h"

namespace espgw::fuzz {

inline constexpr uint8_t kCrafted = 0x01;
inline constexpr uint8_t kOpenSsl = 0x02;
inline constexpr uint8_t kDuplicate = 0x04;
inline constexpr uint8_t kTwice = 0x08;

inline constexpr uint8_t kOuterV6 = 0x01;
inline constexpr uint8_t kOtherEncap = 0x02;
inline constexpr uint8_t kCorruptIcv = 0x04;
inline constexpr uint8_t kArmResync = 0x08;
inline constexpr uint8_t kAddTrailer = 0x10;

inline constexpr size_t kCraftedHeader = 12;

class InboundHarness {
 public:
  InboundHarness();
  ~InboundHarness();
  // Runs one input. Aborts (so that libFuzzer reports it) when an invariant breaks: an accepted
  // packet outside its buffer or with a wrong inner header, counters that do not add up, or a
  // packet the harness sealed correctly failing its ICV.
  void run(const uint8_t* data, size_t size);
  // A deterministic seed corpus: valid packets for every SA in raw mode, and crafted inputs that
  // reach each check behind the ICV.
  std::vector<std::vector<uint8_t>> seeds();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace espgw::fuzz
