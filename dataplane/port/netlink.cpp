#include "dataplane/port/netlink.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace espgw::dp::netlink {
namespace {

[[noreturn]] void fail(const std::string& ifname, const std::string& what, int err) {
  throw std::runtime_error("kernel interface " + ifname + ": " + what + ": " + std::strerror(err));
}

unsigned index_of(const std::string& ifname) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) fail(ifname, "not found", errno);
  return idx;
}

struct Request {
  nlmsghdr hdr;
  union {
    ifaddrmsg addr;
    rtmsg route;
  };
  char attrs[256];
};

// A request that creates something (RTM_NEWADDR, RTM_NEWROUTE) with a `body_len`-byte message
// after the header; the caller fills the message and adds the attributes.
Request new_request(uint16_t type, size_t body_len) {
  Request r{};
  r.hdr.nlmsg_len = NLMSG_LENGTH(body_len);
  r.hdr.nlmsg_type = type;
  r.hdr.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  return r;
}

uint8_t family(const IpAddress& a) {
  return a.is_v4() ? AF_INET : AF_INET6;
}

void add_attr(Request& r, uint16_t type, const void* data, size_t len) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.hdr.nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  r.hdr.nlmsg_len = NLMSG_ALIGN(r.hdr.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

// Sends one request and reads the kernel's acknowledgement. EEXIST counts as success: the
// interface may keep an address from an earlier run.
void transact(const std::string& ifname, const std::string& what, Request& r) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) fail(ifname, what, errno);
  r.hdr.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  int err = 0;
  if (sendto(fd, &r, r.hdr.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    err = errno;
  } else {
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      err = errno;
    } else {
      auto* h = reinterpret_cast<nlmsghdr*>(buf);
      if (NLMSG_OK(h, static_cast<unsigned>(n)) && h->nlmsg_type == NLMSG_ERROR) {
        err = -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      }
    }
  }
  close(fd);
  if (err != 0 && err != EEXIST) fail(ifname, what, err);
}

}  // namespace

void set_mtu(const std::string& ifname, unsigned mtu) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  req.ifr_mtu = static_cast<int>(mtu);
  const int rc = ioctl(fd, SIOCSIFMTU, &req);
  const int err = errno;
  close(fd);
  if (rc != 0) fail(ifname, "set MTU " + std::to_string(mtu), err);
}

void set_up(const std::string& ifname) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  int rc = ioctl(fd, SIOCGIFFLAGS, &req);
  if (rc == 0) {
    req.ifr_flags |= IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &req);
  }
  const int err = errno;
  close(fd);
  if (rc != 0) fail(ifname, "set up", err);
}

LinkState link_state(const std::string& ifname) noexcept {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return LinkState::kUnknown;
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const int rc = ioctl(fd, SIOCGIFFLAGS, &req);
  const int err = errno;
  close(fd);
  if (rc != 0) return err == ENODEV ? LinkState::kGone : LinkState::kUnknown;
  return (req.ifr_flags & IFF_UP) != 0 ? LinkState::kUp : LinkState::kDown;
}

void add_address(const std::string& ifname, const IpPrefix& address) {
  Request r = new_request(RTM_NEWADDR, sizeof(ifaddrmsg));
  r.addr.ifa_family = family(address.address);
  r.addr.ifa_prefixlen = address.length;
  r.addr.ifa_index = index_of(ifname);
  // IPv6: no duplicate address detection, the address is the dataplane's and already unique.
  r.addr.ifa_flags = address.address.is_v6() ? IFA_F_NODAD : 0;
  add_attr(r, IFA_LOCAL, address.address.bytes.data(), address.address.size());
  add_attr(r, IFA_ADDRESS, address.address.bytes.data(), address.address.size());
  transact(ifname, "add address " + address.to_string(), r);
}

void add_route(const std::string& ifname, const IpPrefix& dst,
               const std::optional<IpAddress>& via) {
  Request r = new_request(RTM_NEWROUTE, sizeof(rtmsg));
  r.route.rtm_family = family(dst.address);
  r.route.rtm_dst_len = dst.length;
  r.route.rtm_table = RT_TABLE_MAIN;
  r.route.rtm_protocol = RTPROT_STATIC;
  r.route.rtm_scope = via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  r.route.rtm_type = RTN_UNICAST;
  const unsigned idx = index_of(ifname);
  if (dst.length != 0) add_attr(r, RTA_DST, dst.address.bytes.data(), dst.address.size());
  if (via) add_attr(r, RTA_GATEWAY, via->bytes.data(), via->size());
  add_attr(r, RTA_OIF, &idx, sizeof idx);
  transact(ifname, "add route " + dst.to_string(), r);
}

}  // namespace espgw::dp::netlink
