#pragma once
// What the FPM decoder saw, counted: routes it yielded, what it skipped on purpose
// (docs/routing.md, "The listener": espgw runs zebra with `no fpm use-next-hop-groups` and keeps
// its own connected routes) and what was malformed. The control thread owns them; no atomics.

#include <cstdint>

namespace espgw::routing {

struct FpmCounters {
  uint64_t bytes = 0;     // fed in
  uint64_t frames = 0;    // complete FPM frames with a good header
  uint64_t messages = 0;  // netlink messages in those frames
  uint64_t routes_added = 0;
  uint64_t routes_deleted = 0;

  // Skipped by design; not errors.
  uint64_t skipped_nexthop_group_routes = 0;  // RTA_NH_ID: zebra runs with next-hop groups on
  uint64_t skipped_nexthop_messages = 0;      // RTM_NEWNEXTHOP, RTM_DELNEXTHOP
  uint64_t skipped_connected = 0;             // rtm_protocol 2 (RTPROT_KERNEL): zebra's connected
  uint64_t skipped_link_local = 0;            // inside fe80::/10 or 169.254.0.0/16
  uint64_t skipped_other_table = 0;           // not the table the decoder takes (254)
  uint64_t skipped_other_family = 0;          // neither AF_INET nor AF_INET6 (MPLS LSPs, ...)
  uint64_t skipped_route_type = 0;            // an add that is not RTN_UNICAST (blackhole, ...)
  uint64_t skipped_unsupported_next_hop = 0;  // RTA_VIA (RFC 5549), RTA_ENCAP (labels, VXLAN)
  uint64_t skipped_no_next_hop = 0;           // an add with no gateway, interface or multipath
  uint64_t skipped_unknown_type = 0;          // any other netlink message type

  // Malformed input. The first two end the connection (FpmDecoder::feed returns kClose); a bad
  // netlink length drops its whole frame; a bad route message drops that message only.
  uint64_t bad_fpm_header = 0;          // version not 1 or type not 1 (netlink)
  uint64_t bad_fpm_length = 0;          // shorter than the 4-byte header or over the limit
  uint64_t bad_netlink_length = 0;      // a netlink header short or overrunning its frame
  uint64_t bad_route_message = 0;       // truncated rtmsg or attribute, wrong address size, dst_len
  uint64_t partial_frames_dropped = 0;  // a frame cut short by reset() (the connection closed)

  uint64_t skipped() const noexcept {
    return skipped_nexthop_group_routes + skipped_nexthop_messages + skipped_connected +
           skipped_link_local + skipped_other_table + skipped_other_family + skipped_route_type +
           skipped_unsupported_next_hop + skipped_no_next_hop + skipped_unknown_type;
  }
  uint64_t errors() const noexcept {
    return bad_fpm_header + bad_fpm_length + bad_netlink_length + bad_route_message;
  }

  // f(name, value) for each counter, in declaration order (for reports and telemetry).
  template <typename F>
  void for_each(F&& f) const {
    f("bytes", bytes);
    f("frames", frames);
    f("messages", messages);
    f("routes_added", routes_added);
    f("routes_deleted", routes_deleted);
    f("skipped_nexthop_group_routes", skipped_nexthop_group_routes);
    f("skipped_nexthop_messages", skipped_nexthop_messages);
    f("skipped_connected", skipped_connected);
    f("skipped_link_local", skipped_link_local);
    f("skipped_other_table", skipped_other_table);
    f("skipped_other_family", skipped_other_family);
    f("skipped_route_type", skipped_route_type);
    f("skipped_unsupported_next_hop", skipped_unsupported_next_hop);
    f("skipped_no_next_hop", skipped_no_next_hop);
    f("skipped_unknown_type", skipped_unknown_type);
    f("bad_fpm_header", bad_fpm_header);
    f("bad_fpm_length", bad_fpm_length);
    f("bad_netlink_length", bad_netlink_length);
    f("bad_route_message", bad_route_message);
    f("partial_frames_dropped", partial_frames_dropped);
  }
};

}  // namespace espgw::routing
