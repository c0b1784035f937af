#include "dataplane/routing/netlink_route.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace espgw::routing {
namespace {

// The kernel's structures, by size: they are read with memcpy (a frame's bytes carry no
// alignment promise) rather than cast.
constexpr size_t kNlmsghdrSize = sizeof(nlmsghdr);    // 16
constexpr size_t kRtmsgSize = sizeof(rtmsg);          // 12
constexpr size_t kRtattrSize = sizeof(rtattr);        // 4
constexpr size_t kRtnexthopSize = sizeof(rtnexthop);  // 8
static_assert(kNlmsghdrSize == 16 && kRtmsgSize == 12 && kRtattrSize == 4 && kRtnexthopSize == 8);

size_t align4(size_t n) noexcept {
  return (n + 3) & ~size_t{3};
}

template <typename T>
T load(std::span<const uint8_t> b, size_t off) noexcept {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

std::string type_name(uint16_t type) {
  switch (type) {
    case RTM_NEWROUTE: return "RTM_NEWROUTE";
    case RTM_DELROUTE: return "RTM_DELROUTE";
    default: return "type " + std::to_string(type);
  }
}

// Calls f(type, value) for each attribute in `b` (padding to 4 bytes between them; the last may
// omit it). Returns false, with `why`, at a truncated attribute or when f does.
template <typename F>
bool walk_attrs(std::span<const uint8_t> b, const char* where, std::string& why, F&& f) {
  size_t off = 0;
  while (off < b.size()) {
    const size_t left = b.size() - off;
    if (left < kRtattrSize) {
      why = std::string(where) + ": " + std::to_string(left) + " byte(s) after the last attribute";
      return false;
    }
    const auto len = load<uint16_t>(b, off);
    const auto type = static_cast<uint16_t>(load<uint16_t>(b, off + 2) & NLA_TYPE_MASK);
    if (len < kRtattrSize || len > left) {
      why = std::string(where) + ": attribute " + std::to_string(type) + " of length " +
            std::to_string(len) + " with " + std::to_string(left) + " byte(s) left";
      return false;
    }
    if (!f(type, b.subspan(off + kRtattrSize, len - kRtattrSize))) return false;
    off += std::min(align4(len), left);
  }
  return true;
}

struct Family {
  IpFamily family;
  size_t size;  // bytes of an address
  const char* name;
};

bool read_address(std::span<const uint8_t> v, const Family& fam, const char* attr,
                  std::optional<IpAddress>& to, std::string& why) {
  if (v.size() != fam.size) {
    why = std::string(attr) + " of " + std::to_string(v.size()) + " bytes in an " + fam.name +
          " route";
    return false;
  }
  IpAddress a;
  a.family = fam.family;
  std::copy(v.begin(), v.end(), a.bytes.begin());
  to = a;
  return true;
}

bool read_u32(std::span<const uint8_t> v, const char* attr, std::optional<uint32_t>& to,
              std::string& why) {
  if (v.size() != 4) {
    why = std::string(attr) + " of " + std::to_string(v.size()) + " bytes (4 expected)";
    return false;
  }
  to = load<uint32_t>(v, 0);
  return true;
}

bool host_bits_clear(const IpAddress& a, unsigned length) noexcept {
  const size_t size = a.size();
  for (size_t i = 0; i < size; ++i) {
    const unsigned first_bit = static_cast<unsigned>(i) * 8;
    uint8_t host_mask = 0xff;
    if (first_bit + 8 <= length)
      host_mask = 0;
    else if (first_bit < length)
      host_mask = static_cast<uint8_t>(0xff >> (length - first_bit));
    if (a.bytes[i] & host_mask) return false;
  }
  return true;
}

// RFC 4291 2.5.6 (fe80::/10) and RFC 3927 (169.254.0.0/16): never forwarded by a router.
bool is_link_local(const IpPrefix& p) noexcept {
  const auto& b = p.address.bytes;
  if (p.address.is_v4()) return p.length >= 16 && b[0] == 169 && b[1] == 254;
  return p.length >= 10 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

enum class Outcome { kYielded, kSkipped, kBad };

struct Attrs {
  std::optional<IpAddress> dst;
  std::optional<IpAddress> gateway;
  std::optional<uint32_t> oif;
  std::optional<uint32_t> priority;
  std::optional<uint32_t> table;
  std::optional<uint32_t> nh_id;
  std::span<const uint8_t> multipath;
  bool has_multipath = false;
  bool unsupported = false;  // RTA_VIA, RTA_ENCAP
};

// RTA_MULTIPATH: a list of rtnexthop, each followed by its own attributes (RTA_GATEWAY).
bool read_multipath(std::span<const uint8_t> b, const Family& fam, std::vector<NextHop>& hops,
                    bool& unsupported, std::string& why) {
  size_t off = 0;
  while (off < b.size()) {
    const size_t left = b.size() - off;
    const std::string where = "RTA_MULTIPATH member " + std::to_string(hops.size());
    if (left < kRtnexthopSize) {
      why = where + ": " + std::to_string(left) + " byte(s), shorter than an rtnexthop";
      return false;
    }
    const auto len = load<uint16_t>(b, off);
    if (len < kRtnexthopSize || len > left) {
      why = where + ": rtnh_len " + std::to_string(len) + " with " + std::to_string(left) +
            " byte(s) left";
      return false;
    }
    NextHop hop;
    hop.weight = static_cast<uint16_t>(b[off + 3] + 1);
    hop.ifindex = static_cast<uint32_t>(load<int32_t>(b, off + 4));
    const bool ok = walk_attrs(b.subspan(off + kRtnexthopSize, len - kRtnexthopSize), where.c_str(),
                               why, [&](uint16_t type, std::span<const uint8_t> v) {
                                 if (type == RTA_GATEWAY) {
                                   if (!read_address(v, fam, "RTA_GATEWAY", hop.gateway, why)) {
                                     why = where + ": " + why;
                                     return false;
                                   }
                                 } else if (type == RTA_VIA || type == RTA_ENCAP) {
                                   unsupported = true;
                                 }
                                 return true;
                               });
    if (!ok) return false;
    if (!hop.gateway && hop.ifindex == 0) {
      why = where + ": neither a gateway nor an interface";
      return false;
    }
    hops.push_back(hop);
    off += std::min(align4(len), left);
  }
  return true;
}

Outcome decode_route(uint16_t type, std::span<const uint8_t> body, const RouteFilter& filter,
                     FpmCounters& c, std::vector<RouteEvent>& out, std::string& why) {
  if (body.size() < kRtmsgSize) {
    why = "rtmsg truncated: " + std::to_string(body.size()) + " of 12 bytes";
    return Outcome::kBad;
  }
  rtmsg rtm;
  std::memcpy(&rtm, body.data(), sizeof rtm);
  Family fam{IpFamily::kV4, 4, "IPv4"};
  if (rtm.rtm_family == AF_INET6) {
    fam = {IpFamily::kV6, 16, "IPv6"};
  } else if (rtm.rtm_family != AF_INET) {
    ++c.skipped_other_family;
    return Outcome::kSkipped;
  }
  if (rtm.rtm_dst_len > fam.size * 8) {
    why = "dst_len " + std::to_string(rtm.rtm_dst_len) + " in an " + fam.name + " route";
    return Outcome::kBad;
  }

  Attrs a;
  const bool ok = walk_attrs(body.subspan(kRtmsgSize), "attributes", why,
                             [&](uint16_t t, std::span<const uint8_t> v) {
                               switch (t) {
                                 case RTA_DST: return read_address(v, fam, "RTA_DST", a.dst, why);
                                 case RTA_GATEWAY:
                                   return read_address(v, fam, "RTA_GATEWAY", a.gateway, why);
                                 case RTA_OIF: return read_u32(v, "RTA_OIF", a.oif, why);
                                 case RTA_PRIORITY:
                                   return read_u32(v, "RTA_PRIORITY", a.priority, why);
                                 case RTA_TABLE: return read_u32(v, "RTA_TABLE", a.table, why);
                                 case RTA_NH_ID: return read_u32(v, "RTA_NH_ID", a.nh_id, why);
                                 case RTA_MULTIPATH:
                                   a.multipath = v;
                                   a.has_multipath = true;
                                   return true;
                                 case RTA_VIA:
                                 case RTA_ENCAP: a.unsupported = true; return true;
                                 default: return true;  // RTA_PREFSRC, RTA_METRICS, ...
                               }
                             });
  if (!ok) return Outcome::kBad;

  RouteEvent ev;
  ev.action = type == RTM_NEWROUTE ? RouteAction::kAdd : RouteAction::kDelete;
  ev.protocol = rtm.rtm_protocol;
  ev.table = a.table.value_or(rtm.rtm_table);
  ev.metric = a.priority.value_or(0);
  ev.prefix.length = rtm.rtm_dst_len;
  if (a.dst) {
    ev.prefix.address = *a.dst;
  } else if (rtm.rtm_dst_len != 0) {
    why = "dst_len " + std::to_string(rtm.rtm_dst_len) + " without RTA_DST";
    return Outcome::kBad;
  } else {
    ev.prefix.address.family = fam.family;  // the default route: all zero
  }
  if (!host_bits_clear(ev.prefix.address, ev.prefix.length)) {
    why = "RTA_DST " + ev.prefix.address.to_string() + " has host bits set beyond /" +
          std::to_string(ev.prefix.length);
    return Outcome::kBad;
  }

  if (a.has_multipath) {
    if (a.gateway || a.oif) {
      why = "RTA_MULTIPATH beside RTA_GATEWAY or RTA_OIF";
      return Outcome::kBad;
    }
    if (!read_multipath(a.multipath, fam, ev.next_hops, a.unsupported, why)) return Outcome::kBad;
  } else if (a.gateway || a.oif) {
    ev.next_hops.push_back(NextHop{a.gateway, a.oif.value_or(0), 1});
  }

  // What espgw does not take (docs/routing.md, "The listener"). A delete passes the next-hop
  // checks: it names a prefix, and removing one that was never taken is harmless.
  if (ev.table != filter.table) {
    ++c.skipped_other_table;
    return Outcome::kSkipped;
  }
  if (rtm.rtm_protocol == RTPROT_KERNEL) {
    ++c.skipped_connected;
    return Outcome::kSkipped;
  }
  if (is_link_local(ev.prefix)) {
    ++c.skipped_link_local;
    return Outcome::kSkipped;
  }
  if (ev.action == RouteAction::kAdd) {
    if (rtm.rtm_type != RTN_UNICAST) {
      ++c.skipped_route_type;
      return Outcome::kSkipped;
    }
    if (a.nh_id) {
      ++c.skipped_nexthop_group_routes;
      return Outcome::kSkipped;
    }
    if (a.unsupported) {
      ++c.skipped_unsupported_next_hop;
      return Outcome::kSkipped;
    }
    if (ev.next_hops.empty()) {
      ++c.skipped_no_next_hop;
      return Outcome::kSkipped;
    }
    ++c.routes_added;
  } else {
    ++c.routes_deleted;
  }
  out.push_back(std::move(ev));
  return Outcome::kYielded;
}

}  // namespace

bool decode_netlink_frame(std::span<const uint8_t> payload, const RouteFilter& filter,
                          FpmCounters& c, std::vector<RouteEvent>& out, std::string& error) {
  // Every nlmsg_len is checked before any message is decoded: a frame whose framing is broken
  // yields nothing, not the half of an update before the break.
  size_t messages = 0;
  for (size_t off = 0; off < payload.size(); ++messages) {
    const size_t left = payload.size() - off;
    const uint32_t len = left >= kNlmsghdrSize ? load<uint32_t>(payload, off) : 0;
    if (left < kNlmsghdrSize || len < kNlmsghdrSize || len > left) {
      ++c.bad_netlink_length;
      error = "netlink message " + std::to_string(messages) + " at frame offset " +
              std::to_string(off) + ": " +
              (left < kNlmsghdrSize ? std::to_string(left) + " byte(s), shorter than nlmsghdr"
                                    : "nlmsg_len " + std::to_string(len) + " with " +
                                          std::to_string(left) + " byte(s) left in the frame") +
              " (frame dropped)";
      return false;
    }
    off += std::min<size_t>(align4(len), left);
  }

  for (size_t off = 0; off < payload.size();) {
    const auto len = load<uint32_t>(payload, off);
    const auto type = load<uint16_t>(payload, off + 4);
    ++c.messages;
    if (type == RTM_NEWROUTE || type == RTM_DELROUTE) {
      std::string why;
      const auto body = payload.subspan(off + kNlmsghdrSize, len - kNlmsghdrSize);
      if (decode_route(type, body, filter, c, out, why) == Outcome::kBad) {
        ++c.bad_route_message;
        error = "netlink message at frame offset " + std::to_string(off) + " (" + type_name(type) +
                "): " + why + " (message dropped)";
      }
    } else if (type == RTM_NEWNEXTHOP || type == RTM_DELNEXTHOP) {
      ++c.skipped_nexthop_messages;
    } else {
      ++c.skipped_unknown_type;
    }
    off += std::min<size_t>(align4(len), payload.size() - off);
  }
  return true;
}

}  // namespace espgw::routing
