#pragma once
// What the FPM decoder yields: one route added or deleted in zebra's selected table, as the netlink
// message described it (docs/routing.md, "FPM from zebra"). Next hops are not yet resolved to
// tunnels or ports; that is the Model's business.

#include <cstdint>
#include <optional>
#include <vector>

#include "common/ip_address.h"

namespace espgw::routing {

enum class RouteAction : uint8_t { kAdd, kDelete };

struct NextHop {
  std::optional<IpAddress> gateway;  // none: on-link through ifindex
  uint32_t ifindex = 0;              // 0: none given
  // rtnh_hops + 1 for an RTA_MULTIPATH member (zebra writes weight - 1); 1 for a single path.
  uint16_t weight = 1;

  friend bool operator==(const NextHop&, const NextHop&) = default;
};

struct RouteEvent {
  RouteAction action = RouteAction::kAdd;
  IpPrefix prefix;
  // RTA_GATEWAY/RTA_OIF as one hop, or RTA_MULTIPATH's members in order. A withdraw from zebra
  // carries none (it names the prefix only).
  std::vector<NextHop> next_hops;
  uint8_t protocol = 0;  // rtm_protocol: 186 BGP, 196 zebra's static routes (RTPROT_ZSTATIC), ...
  uint32_t table = 0;    // RTA_TABLE when present, else rtm_table
  uint32_t metric = 0;   // RTA_PRIORITY (zebra 8.4 always writes 20); 0 when absent

  friend bool operator==(const RouteEvent&, const RouteEvent&) = default;
};

}  // namespace espgw::routing
