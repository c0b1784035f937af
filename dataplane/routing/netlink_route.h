#pragma once
// The netlink messages inside one FPM frame: rtnetlink route messages (RTM_NEWROUTE,
// RTM_DELROUTE) become RouteEvents; the rest is skipped and counted (docs/routing.md, "FPM from
// zebra"). Netlink is in host byte order: zebra and espgw run on the same host.
//
// Policy for bad input, per frame (the FPM length around it stays trustworthy):
// - a netlink header shorter than 16 bytes, or an nlmsg_len that is short or overruns the frame:
//   the whole frame is dropped (nothing of it is yielded: a frame is zebra's unit of update, e.g.
//   RTM_DELROUTE + RTM_NEWROUTE for one prefix), counted in bad_netlink_length;
// - a route message that is truncated or inconsistent (rtmsg, an attribute, an address of the
//   wrong size, dst_len over the family's width, host bits set): that message alone is dropped,
//   counted in bad_route_message. The others in the frame still count.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dataplane/routing/fpm_counters.h"
#include "dataplane/routing/route_event.h"

namespace espgw::routing {

struct RouteFilter {
  uint32_t table = 254;  // RT_TABLE_MAIN: zebra's default VRF
};

// Decodes the netlink payload of one frame (after the FPM header) and appends its events to
// `out`. Returns false when the frame was dropped for its netlink framing. On any error, `error`
// receives a line naming the message's offset in the payload and what was wrong. Throws only
// std::bad_alloc.
bool decode_netlink_frame(std::span<const uint8_t> payload, const RouteFilter& filter,
                          FpmCounters& counters, std::vector<RouteEvent>& out, std::string& error);

}  // namespace espgw::routing
