#pragma once
// Just enough rtnetlink to dress the exception path's kernel interface like the port it stands
// for: addresses, MTU and routes, so charon and other daemons use it as they would a NIC.

#include <cstdint>
#include <optional>
#include <string>

#include "common/ip_address.h"

namespace espgw::dp::netlink {

// Each throws std::runtime_error naming the interface and what failed.
void set_mtu(const std::string& ifname, unsigned mtu);
void set_up(const std::string& ifname);
void add_address(const std::string& ifname, const IpPrefix& address);
void add_route(const std::string& ifname, const IpPrefix& dst, const std::optional<IpAddress>& via);

// An interface's administrative state (IFF_UP): kGone when there is no such interface,
// kUnknown when it cannot be asked (no socket). Does not throw.
enum class LinkState : uint8_t { kUp, kDown, kGone, kUnknown };
LinkState link_state(const std::string& ifname) noexcept;

}  // namespace espgw::dp::netlink
