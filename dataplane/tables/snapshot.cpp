#include "dataplane/tables/snapshot.h"

#include <algorithm>
#include <cstring>

namespace espgw::dp {

Snapshot::~Snapshot() {
  if (lpm6 != nullptr) rte_lpm6_free(lpm6);
}

bool TunnelEntry::in6(const std::vector<IpPrefix>& set, const uint8_t* a) noexcept {
  for (const auto& p : set) {
    if (!p.address.is_v6()) continue;
    IpAddress x;
    x.family = IpFamily::kV6;
    std::memcpy(x.bytes.data(), a, 16);
    if (p.contains(x)) return true;
  }
  return false;
}

uint16_t Snapshot::local_port6(const uint8_t* addr) const noexcept {
  for (const auto& [a, port] : local6) {
    if (std::memcmp(a.data(), addr, 16) == 0) return port;
  }
  return kNoPort;
}

uint32_t Snapshot::inside_if_id6(const uint8_t* addr) const noexcept {
  for (const auto& [a, id] : inside6) {
    if (std::memcmp(a.data(), addr, 16) == 0) return id;
  }
  return 0;
}

const NextHop* Snapshot::lookup4(uint32_t host_order) const noexcept {
  const uint32_t nh = lpm4->lookup(host_order);
  if (nh == Dir24_8::kMiss) return default4 == UINT32_MAX ? nullptr : &nexthops[default4];
  return &nexthops[nh];
}

void Snapshot::lookup4_bulk(uint32_t* host_order, const NextHop** out, unsigned n) const noexcept {
  uint32_t nh[64];
  const NextHop* fallback = default4 == UINT32_MAX ? nullptr : &nexthops[default4];
  for (unsigned base = 0; base < n; base += 64) {
    const unsigned k = std::min(64u, n - base);
    lpm4->lookup_bulk(host_order + base, nh, k);
    for (unsigned i = 0; i < k; ++i)
      out[base + i] = nh[i] == Dir24_8::kMiss ? fallback : &nexthops[nh[i]];
  }
}

const NextHop* Snapshot::lookup6(const uint8_t* addr) const noexcept {
  uint32_t nh;
  if (lpm6 == nullptr || rte_lpm6_lookup(lpm6, addr, &nh) != 0) {
    return default6 == UINT32_MAX ? nullptr : &nexthops[default6];
  }
  return &nexthops[nh];
}

bool Snapshot::port_address4(uint16_t port, uint32_t* host_order) const noexcept {
  if (port >= ports.size()) return false;
  for (const auto& p : ports[port].addresses) {
    if (p.address.is_v4()) {
      *host_order = p.address.v4_host();
      return true;
    }
  }
  return false;
}

bool Snapshot::port_address6(uint16_t port, uint8_t* out) const noexcept {
  if (port >= ports.size()) return false;
  for (const auto& p : ports[port].addresses) {
    if (p.address.is_v6()) {
      std::memcpy(out, p.address.bytes.data(), 16);
      return true;
    }
  }
  return false;
}

}  // namespace espgw::dp
