#pragma once
// The options of an ESP SA that both the config and the dataplane name: which way it carries
// traffic, what its outer header does with DF and ECN, how large its replay window may be. The
// dataplane's SA (dataplane/esp/sa.h) holds them; config/config.h reads them from a tunnel.

#include <cstdint>

namespace espgw::esp {

enum class Direction : uint8_t { kInbound, kOutbound };
// Outer DF bit (IPv4 outer): copy the inner packet's (IPv6 inner counts as DF), set, or clear.
enum class DfMode : uint8_t { kCopy, kSet, kClear };
// RFC 6040 4.1: normal mode copies inner ECN to the outer header; compatibility mode sends
// not-ECT. Decapsulation always follows RFC 6040 4.2.
enum class EcnMode : uint8_t { kNormal, kCompatibility };

// The largest anti-replay window, in packets (dataplane/esp/replay_window.h).
inline constexpr uint32_t kMaxReplayWindow = 65536;

}  // namespace espgw::esp
