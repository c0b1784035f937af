#pragma once
// Bringing up the configured interfaces: probe each DPDK device (PCI such as ENA or virtio, or a
// virtual device: net_af_packet, net_af_xdp, net_tap, net_pcap, net_ring, net_null), one RX and
// one TX queue per worker with RSS on a fixed key, MTU and MAC, and the exception-path device
// (a net_tap kernel interface carrying the port's MAC and addresses, by default).
//
// Any port that fails to come up stops start-up: start_ports() throws with the interface, the
// device and the reason.

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/tables/snapshot.h"

namespace espgw::dp {

struct Port {
  std::string name;
  uint16_t index = 0;
  uint16_t port_id = kNoPort;      // the DPDK port
  uint16_t exc_port_id = kNoPort;  // the exception-path device, or kNoPort
  std::string kernel_name;         // the tap's kernel interface
  rte_ether_addr mac{};
  uint16_t mtu = 1500;
  std::vector<IpPrefix> addresses;
};

// Largest frame (without FCS) a port carries, from its MTU.
inline uint32_t max_frame(uint16_t mtu) noexcept {
  return mtu + RTE_ETHER_HDR_LEN + 4;
}

std::vector<Port> start_ports(const config::Config& cfg, uint32_t workers,
                              const std::vector<rte_mempool*>& pools);
void stop_ports(std::vector<Port>& ports) noexcept;

// What an exception tap needs after the kernel interface exists: MTU, up, addresses and routes.
void dress_kernel_interface(const Port& port, const config::Config& cfg);
// The same but setting it up, for an interface that was set down and up again: the kernel keeps
// its MAC, MTU and IPv4 addresses but drops the routes through it and (without keep_addr_on_down)
// its IPv6 addresses. Up or down is left to whoever set it (App::check_kernel_interfaces()).
void redress_kernel_interface(const Port& port, const config::Config& cfg);

}  // namespace espgw::dp
