#include "dataplane/port/ports.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "dataplane/port/bench_source.h"
#include "dataplane/port/netlink.h"

namespace espgw::dp {
namespace {

// A fixed, symmetric Toeplitz key (0x6d5a repeated): both directions of a flow hash alike, and
// the spread is the same on every start.
constexpr uint8_t kRssKey[40] = {0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
                                 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
                                 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
                                 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

[[noreturn]] void fail(const std::string& iface, const std::string& device, const std::string& what,
                       int err) {
  std::string msg = "interface " + iface + " (" + device + "): " + what;
  if (err != 0) msg += ": " + std::string(rte_strerror(err < 0 ? -err : err));
  throw std::runtime_error(msg);
}

// Probes a device given as devargs and returns its port id. PCI devices are found by address
// (EAL probed them at start), virtual devices are created here.
uint16_t probe(const std::string& iface, const std::string& devargs) {
  std::string name = devargs.substr(0, devargs.find(','));
  uint16_t port = kNoPort;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) return port;
  const int rc = rte_dev_probe(devargs.c_str());
  if (rc != 0 && rc != -EEXIST) fail(iface, devargs, "cannot probe the device", rc);
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
    // PCI names are canonical with a domain: "00:06.0" is "0000:00:06.0".
    if (rte_eth_dev_get_port_by_name(("0000:" + name).c_str(), &port) != 0) {
      fail(iface, devargs, "no ethernet port after probing \"" + name + "\"", 0);
    }
  }
  return port;
}

void configure(const std::string& iface, const std::string& devargs, uint16_t port, uint16_t queues,
               uint16_t rx_ring, uint16_t tx_ring, uint16_t mtu,
               const std::vector<rte_mempool*>& pools) {
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(port, &info);
  if (rc != 0) fail(iface, devargs, "cannot read device info", rc);
  if (info.max_rx_queues < queues || info.max_tx_queues < queues) {
    fail(iface, devargs,
         "the device has " + std::to_string(info.max_rx_queues) + " RX and " +
             std::to_string(info.max_tx_queues) + " TX queues, " + std::to_string(queues) +
             " workers need " + std::to_string(queues) +
             " of each (net_af_packet: add qpairs=N; net_pcap: one rx_pcap/tx_pcap per queue)",
         0);
  }
  rte_eth_conf conf{};
  if (queues > 1 && info.flow_type_rss_offloads != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(kRssKey);
    conf.rx_adv_conf.rss_conf.rss_key_len = sizeof kRssKey;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
  }
  rc = rte_eth_dev_configure(port, queues, queues, &conf);
  if (rc != 0) fail(iface, devargs, "cannot configure " + std::to_string(queues) + " queues", rc);
  rc = rte_eth_dev_set_mtu(port, mtu);
  if (rc != 0 && rc != -ENOTSUP) fail(iface, devargs, "cannot set MTU " + std::to_string(mtu), rc);
  uint16_t nb_rx = rx_ring;
  uint16_t nb_tx = tx_ring;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rx, &nb_tx);
  const int socket = rte_eth_dev_socket_id(port);
  for (uint16_t q = 0; q < queues; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, nb_rx, socket, nullptr, pools[q]);
    if (rc != 0) fail(iface, devargs, "cannot set up RX queue " + std::to_string(q), rc);
    rc = rte_eth_tx_queue_setup(port, q, nb_tx, socket, nullptr);
    if (rc != 0) fail(iface, devargs, "cannot set up TX queue " + std::to_string(q), rc);
  }
}

std::string mac_text(const rte_ether_addr& mac) {
  char buf[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(buf, sizeof buf, &mac);
  return buf;
}

}  // namespace

std::vector<Port> start_ports(const config::Config& cfg, uint32_t workers,
                              const std::vector<rte_mempool*>& pools) {
  std::vector<Port> ports;
  const auto queues = static_cast<uint16_t>(workers);
  for (const auto& ifc : cfg.interfaces) {
    Port p;
    p.name = ifc.name;
    p.index = static_cast<uint16_t>(ports.size());
    p.mtu = ifc.mtu;
    p.addresses = ifc.addresses;
    const bool bench = is_bench_source(ifc.device);
    p.port_id = probe(ifc.name, bench ? bench_source_device(ifc.name) : ifc.device);
    configure(ifc.name, ifc.device, p.port_id, queues, cfg.dataplane.rx_ring, cfg.dataplane.tx_ring,
              ifc.mtu, pools);
    if (ifc.mac) {
      std::memcpy(p.mac.addr_bytes, ifc.mac->data(), 6);
      const int rc = rte_eth_dev_default_mac_addr_set(p.port_id, &p.mac);
      if (rc == -ENOTSUP) {
        // Virtual devices without a MAC filter (pcap, ring, null): the frames we build carry the
        // configured address all the same.
        std::fprintf(stderr, "espgw: interface %s: the device keeps its own MAC; frames use %s\n",
                     ifc.name.c_str(), mac_text(p.mac).c_str());
      } else if (rc != 0) {
        fail(ifc.name, ifc.device, "cannot set MAC " + mac_text(p.mac), rc);
      }
    } else if (const int rc = rte_eth_macaddr_get(p.port_id, &p.mac); rc != 0) {
      fail(ifc.name, ifc.device, "cannot read the MAC address", rc);
    }
    // Neighbour discovery and gratuitous ARP use multicast and broadcast; not every virtual
    // device implements the switch, which is fine for those that receive everything anyway.
    rte_eth_allmulticast_enable(p.port_id);
    const int rc = rte_eth_dev_start(p.port_id);
    if (rc != 0) fail(ifc.name, ifc.device, "cannot start the port", rc);
    if (bench) attach_bench_source(ifc.device, p.port_id, pools);

    if (ifc.exception.kind != config::ExceptionKind::kNone) {
      std::string devargs;
      if (ifc.exception.kind == config::ExceptionKind::kTap) {
        p.kernel_name =
            ifc.exception.kernel_name.empty() ? "espgw-" + ifc.name : ifc.exception.kernel_name;
        devargs = "net_tap_" + ifc.name + ",iface=" + p.kernel_name + ",mac=" + mac_text(p.mac);
      } else {
        devargs = ifc.exception.device;
      }
      p.exc_port_id = probe(ifc.name + " exception path", devargs);
      configure(ifc.name + " exception path", devargs, p.exc_port_id, queues, cfg.dataplane.rx_ring,
                cfg.dataplane.tx_ring, ifc.mtu, pools);
      const int erc = rte_eth_dev_start(p.exc_port_id);
      if (erc != 0) fail(ifc.name + " exception path", devargs, "cannot start", erc);
      if (ifc.exception.kind == config::ExceptionKind::kTap) dress_kernel_interface(p, cfg);
    }
    ports.push_back(std::move(p));
  }
  return ports;
}

namespace {

// Addresses first: a route's next hop is reached through one of them. What is there already
// counts as done (netlink.cpp's transact()).
void add_addresses_and_routes(const Port& p, const config::Config& cfg) {
  for (const auto& a : p.addresses)
    netlink::add_address(p.kernel_name, a);
  for (const auto& r : cfg.routes) {
    if (r.interface == p.name) netlink::add_route(p.kernel_name, r.prefix, r.via);
  }
}

}  // namespace

void dress_kernel_interface(const Port& p, const config::Config& cfg) {
  netlink::set_mtu(p.kernel_name, p.mtu);
  netlink::set_up(p.kernel_name);
  add_addresses_and_routes(p, cfg);
}

void redress_kernel_interface(const Port& p, const config::Config& cfg) {
  netlink::set_mtu(p.kernel_name, p.mtu);
  add_addresses_and_routes(p, cfg);
}

void stop_ports(std::vector<Port>& ports) noexcept {
  stop_bench_sources();
  for (auto& p : ports) {
    if (p.exc_port_id != kNoPort) {
      rte_eth_dev_stop(p.exc_port_id);
      rte_eth_dev_close(p.exc_port_id);
    }
    rte_eth_dev_stop(p.port_id);
    rte_eth_dev_close(p.port_id);
  }
}

}  // namespace espgw::dp
