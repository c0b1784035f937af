#pragma once
// The per-tunnel BGP view that `espgwctl bgp` prints and espgw-exporter exports: each neighbour
// of the config (bgp_peers.h) with what FRR says of its session (docs/routing.md "Reading state
// for operators"). Pure: FRR's JSON in, the view out.

#include <nlohmann/json.hpp>

#include "frr/bgp_peers.h"

namespace espgw::frr {

// One object per configured neighbour, in the config's order:
//   {"tunnel", "neighbour", "remote_asn",
//    "state":  bgpd's state ("Established", "Active", "Connect", "Idle", ...), or "unknown" when
//              bgpd has no such neighbour,
//    "uptime_s": seconds since the session was established (null unless Established),
//    "prefixes_received", "prefixes_sent": summed over the address families that bgpd lists
//              the neighbour under (pfxRcd, pfxSnt),
//    "flaps": connectionsDropped (sessions that went down since bgpd started),
//    "bfd":  "up", "down", "init", "adm-down" from bfdd, or null when bfdd has no session
//            with the neighbour}
// summary: `show bgp summary json` (its ipv4Unicast and ipv6Unicast peers); bfd_peers: `show
// bfd peers json` (a list), or null when bfdd was not asked.
nlohmann::json bgp_view(const BgpPeers& peers, const nlohmann::json& summary,
                        const nlohmann::json& bfd_peers);

}  // namespace espgw::frr
