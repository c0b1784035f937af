#pragma once
// Just enough rtnetlink to dress the exception path's kernel interface like the port it stands
// for: addresses, MTU and routes, so charon and other daemons use it as they would a NIC.

#include <optional>
#include <string>

#include "common/ip_address.h"

namespace espgw::dp::netlink {

// Each throws std::runtime_error naming the interface and what failed.
void set_mtu(const std::string& ifname, unsigned mtu);
void set_up(const std::string& ifname);
void add_address(const std::string& ifname, const IpPrefix& address);
void add_route(const std::string& ifname, const IpPrefix& dst, const std::optional<IpAddress>& via);

}  // namespace espgw::dp::netlink
