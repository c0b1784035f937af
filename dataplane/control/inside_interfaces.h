#pragma once
// Route-based tunnels' inside interfaces (docs/routing.md "Inside interfaces"): one Linux TUN
// device per tunnel with `inside` addresses, owned by the control thread. It carries the inside
// addresses with their prefix (the kernel then has the connected route to the peer's inside
// address through it) and the tunnel's inner MTU, so bgpd and bfdd reach the peer through the
// tunnel:
//   peer -> decrypted by a worker -> route(): our inside address -> InsidePacket ring ->
//     deliver() writes it to the TUN device -> the kernel
//   the kernel -> TUN device -> poll() copies it into an mbuf of the control pool -> a worker
//     (TxRequest::route) -> route() as our own -> encrypted into the tunnel
// A device lives as long as its file descriptor: closing it (tunnel removed, espgw exits or
// dies) removes the interface.

#include <poll.h>
#include <rte_mempool.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "dataplane/tables/model.h"
#include "dataplane/tables/snapshot.h"
#include "dataplane/worker/runtime.h"

namespace espgw::dp {

class InsideInterfaces {
 public:
  struct Counters {
    uint64_t to_kernel_packets = 0;  // written to the device
    uint64_t to_kernel_bytes = 0;
    uint64_t to_kernel_errors = 0;     // write() failed (device queue full, down)
    uint64_t from_kernel_packets = 0;  // read from the device and handed to a worker
    uint64_t from_kernel_bytes = 0;
    // Read but not sent: no mbuf in the control pool, the worker's ring was full, or only the
    // reserve for BGP and BFD was left (kReserve).
    uint64_t from_kernel_dropped = 0;
    // Multicast and link-local the kernel sends by itself (IPv6 MLD, router solicitations):
    // nothing to carry to the peer.
    uint64_t from_kernel_ignored = 0;
  };
  struct Device {
    std::string tunnel;
    std::string name;
    uint32_t if_id = 0;  // config::tunnel_if_id(tunnel)
    int fd = -1;
    std::vector<IpPrefix> inside;
    uint16_t mtu = 0;
    Counters counters;
  };

  InsideInterfaces(Runtime& rt, rte_mempool* pool) : rt_(rt), pool_(pool) {}
  ~InsideInterfaces();
  InsideInterfaces(const InsideInterfaces&) = delete;
  InsideInterfaces& operator=(const InsideInterfaces&) = delete;

  // Makes the devices match the route-based tunnels of `model`: creates the new ones (MTU: the
  // tunnel's inner MTU in `snap`), removes those of tunnels gone or no longer route-based, and
  // follows MTU changes. Throws std::runtime_error naming the tunnel and interface when
  // `strict`; otherwise logs the failure, counts it and goes on (a tunnel added at run time).
  void sync(const Model& model, const Snapshot& snap, bool strict);
  // Writes the workers' InsidePackets to their devices and frees the mbufs.
  void deliver();
  // Reads what the kernel sent on each device with `revents` (or on all, when `all`) and hands
  // it to a worker, at most kReadBurst packets per device a call.
  void poll(bool all);
  // The devices' descriptors to wait on beside the control socket (LineServer::poll's `also`);
  // poll() reads the revents.
  std::vector<pollfd>& pollfds() noexcept { return pollfds_; }

  const Device* find(const std::string& tunnel) const;
  uint64_t create_failures() const noexcept { return create_failures_; }
  uint64_t unknown_tunnel() const noexcept { return unknown_tunnel_; }

  static constexpr unsigned kReadBurst = 64;
  // Control pool mbufs and worker ring slots that only BGP and BFD packets may take.
  static constexpr unsigned kReserve = 256;

 private:
  Device create(const std::string& tunnel, const config::Tunnel& t, uint16_t mtu);
  void rebuild_pollfds();

  Runtime& rt_;
  rte_mempool* pool_;
  std::map<uint32_t, Device> devices_;  // by if_id
  std::vector<pollfd> pollfds_;         // in devices_' order
  uint64_t create_failures_ = 0;
  uint64_t unknown_tunnel_ = 0;  // InsidePackets for a device that is gone (freed)
};

}  // namespace espgw::dp
