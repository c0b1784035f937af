#pragma once
// Resolved next hops (ARP for IPv4, neighbour discovery for IPv6) as workers read them: an
// immutable snapshot published under RCU by the control thread, which owns resolution, retries
// and ageing (control/neighbour_manager.h).

#include <array>
#include <cstdint>
#include <cstring>

#include "dataplane/tables/flat_map.h"

namespace espgw::dp {

struct Neighbour {
  std::array<uint8_t, 6> mac{};
  uint16_t port = 0xffff;
};

struct Ip6Key {
  std::array<uint8_t, 16> bytes{};
  friend bool operator==(const Ip6Key&, const Ip6Key&) = default;
};

struct Ip6Hash {
  size_t operator()(const Ip6Key& k) const noexcept {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, k.bytes.data(), 8);
    std::memcpy(&b, k.bytes.data() + 8, 8);
    return static_cast<size_t>(((a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xC2B2AE3D27D4EB4Full) >> 32);
  }
};

struct NeighbourSnapshot {
  FlatMap<uint32_t, Neighbour, U32Hash> v4;  // host-order address
  FlatMap<Ip6Key, Neighbour, Ip6Hash> v6;
};

}  // namespace espgw::dp
