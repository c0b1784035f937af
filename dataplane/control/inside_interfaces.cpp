#include "dataplane/control/inside_interfaces.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "dataplane/inside/priority.h"
#include "dataplane/port/netlink.h"

namespace espgw::dp {
namespace {

[[noreturn]] void fail(const std::string& tunnel, const std::string& ifname,
                       const std::string& what, int err) {
  throw std::runtime_error("tunnel " + tunnel + ": inside interface " + ifname + ": " + what +
                           ": " + std::strerror(err));
}

// What the kernel sends on its own that has no business in the tunnel: IPv4 multicast and
// broadcast, IPv6 multicast and link-local (MLD, router solicitations).
bool kernel_only(const uint8_t* ip, size_t len) {
  if (len >= 20 && (ip[0] >> 4) == 4) return ip[16] >= 224;
  if (len >= 40 && (ip[0] >> 4) == 6) {
    return ip[24] == 0xff || (ip[24] == 0xfe && (ip[25] & 0xc0) == 0x80);
  }
  return true;  // not IP: nothing route() could take
}

}  // namespace

InsideInterfaces::~InsideInterfaces() {
  for (auto& [id, d] : devices_)
    close(d.fd);
}

InsideInterfaces::Device InsideInterfaces::create(const std::string& tunnel,
                                                  const config::Tunnel& t, uint16_t mtu) {
  Device d;
  d.tunnel = tunnel;
  d.name = t.inside_interface.empty() ? config::inside_interface_name(tunnel) : t.inside_interface;
  d.if_id = config::tunnel_if_id(tunnel);
  d.inside = t.inside;
  d.mtu = mtu;
  d.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (d.fd < 0) fail(tunnel, d.name, "open /dev/net/tun", errno);
  ifreq req{};
  req.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(req.ifr_name, d.name.c_str(), IFNAMSIZ - 1);
  if (ioctl(d.fd, TUNSETIFF, &req) != 0) {
    const int err = errno;
    close(d.fd);
    fail(tunnel, d.name, "create (TUNSETIFF)", err);
  }
  try {
    netlink::set_mtu(d.name, mtu);
    for (const auto& a : t.inside)
      netlink::add_address(d.name, a);
    netlink::set_up(d.name);
  } catch (const std::exception& e) {
    close(d.fd);
    throw std::runtime_error("tunnel " + tunnel + ": " + e.what());
  }
  return d;
}

void InsideInterfaces::sync(const Model& model, const Snapshot& snap, bool strict) {
  std::map<std::string, uint16_t> mtu;
  for (const auto& te : snap.tunnels)
    mtu[te.name] = te.inner_mtu;
  bool changed = false;
  for (auto it = devices_.begin(); it != devices_.end();) {
    auto t = model.tunnels().find(it->second.tunnel);
    if (t != model.tunnels().end() && t->second.route_based() &&
        t->second.inside == it->second.inside) {
      ++it;
      continue;
    }
    std::fprintf(stderr, "espgw: tunnel %s: inside interface %s removed\n",
                 it->second.tunnel.c_str(), it->second.name.c_str());
    close(it->second.fd);
    it = devices_.erase(it);
    changed = true;
  }
  for (const auto& [name, t] : model.tunnels()) {
    if (!t.route_based()) continue;
    const uint32_t id = config::tunnel_if_id(name);
    const uint16_t want = mtu.count(name) ? mtu[name] : 1280;
    if (auto d = devices_.find(id); d != devices_.end()) {
      if (d->second.mtu != want) {
        try {
          netlink::set_mtu(d->second.name, want);
          d->second.mtu = want;
        } catch (const std::exception& e) {
          if (strict) throw;
          std::fprintf(stderr, "espgw: %s\n", e.what());
        }
      }
      continue;
    }
    try {
      Device dev = create(name, t, want);
      std::fprintf(stderr, "espgw: tunnel %s: inside interface %s, MTU %u\n", name.c_str(),
                   dev.name.c_str(), want);
      devices_.emplace(id, std::move(dev));
      changed = true;
    } catch (const std::exception& e) {
      if (strict) throw;
      ++create_failures_;
      std::fprintf(stderr, "espgw: %s\n", e.what());
    }
  }
  if (changed) rebuild_pollfds();
}

void InsideInterfaces::rebuild_pollfds() {
  pollfds_.clear();
  for (const auto& [id, d] : devices_)
    pollfds_.push_back({d.fd, POLLIN, 0});
}

void InsideInterfaces::deliver() {
  std::array<InsidePacket, 64> pkts;
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst_elem(rt_.to_inside, pkts.data(), sizeof(InsidePacket),
                                             pkts.size(), nullptr)) > 0) {
    for (unsigned i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i].mbuf;
      auto d = devices_.find(pkts[i].if_id);
      if (d == devices_.end()) {
        ++unknown_tunnel_;
      } else {
        Counters& c = d->second.counters;
        const ssize_t w = write(d->second.fd, rte_pktmbuf_mtod(m, const void*), m->data_len);
        if (w == static_cast<ssize_t>(m->data_len)) {
          ++c.to_kernel_packets;
          c.to_kernel_bytes += m->data_len;
        } else {
          ++c.to_kernel_errors;
        }
      }
      rte_pktmbuf_free(m);
    }
  }
}

void InsideInterfaces::poll(bool all) {
  size_t i = 0;
  for (auto& [id, d] : devices_) {
    pollfd& p = pollfds_[i++];
    if (!all && (p.revents & POLLIN) == 0) continue;
    p.revents = 0;
    rte_ring* ring = rt_.to_worker[id % rt_.workers];
    for (unsigned k = 0; k < kReadBurst; ++k) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (m == nullptr) {
        // Read it anyway, so that the device's queue does not stall the loop.
        std::array<uint8_t, 2048> scratch;
        if (read(d.fd, scratch.data(), scratch.size()) <= 0) break;
        ++d.counters.from_kernel_dropped;
        continue;
      }
      auto* data = rte_pktmbuf_mtod(m, uint8_t*);
      const ssize_t n = read(d.fd, data, rte_pktmbuf_tailroom(m));
      if (n <= 0) {
        rte_pktmbuf_free(m);
        break;
      }
      if (kernel_only(data, static_cast<size_t>(n))) {
        ++d.counters.from_kernel_ignored;
        rte_pktmbuf_free(m);
        continue;
      }
      // The last kReserve mbufs of the control pool and slots of the worker's ring are kept for
      // BGP and BFD (priority_control()): a flood from the kernel cannot crowd them out.
      if ((rte_mempool_avail_count(pool_) < kReserve || rte_ring_free_count(ring) < kReserve) &&
          !priority_control(data, static_cast<uint32_t>(n))) {
        ++d.counters.from_kernel_dropped;
        rte_pktmbuf_free(m);
        continue;
      }
      m->data_len = static_cast<uint16_t>(n);
      m->pkt_len = static_cast<uint32_t>(n);
      TxRequest req{};
      req.mbuf = m;
      req.route = 1;
      if (rte_ring_sp_enqueue_elem(ring, &req, sizeof req) != 0) {
        ++d.counters.from_kernel_dropped;
        rte_pktmbuf_free(m);
        continue;
      }
      ++d.counters.from_kernel_packets;
      d.counters.from_kernel_bytes += static_cast<uint64_t>(n);
    }
  }
}

const InsideInterfaces::Device* InsideInterfaces::find(const std::string& tunnel) const {
  auto d = devices_.find(config::tunnel_if_id(tunnel));
  return d == devices_.end() ? nullptr : &d->second;
}

}  // namespace espgw::dp
