#pragma once
// The worker's stages. Each works on a burst and decides every packet's next step; every drop is
// counted under one reason (drop_reason.h). None allocates from the heap, locks or throws; new
// packets (fragments) come from the worker's mbuf pool.

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/worker/worker.h"

namespace espgw::dp::stages {

// classify.cpp. Reads: Ethernet, IPv4/IPv6 headers. Sends ESP for us to esp_inbound(), other
// traffic for us (IKE, ARP, ICMP, ...) to the kernel, the rest to route(). Drops: bad_frame,
// bad_ip_header, ip_length, ip_checksum.
void classify(Worker& w, const Port& port, rte_mbuf** pkts, uint16_t n) noexcept;
// What the kernel sends out of its interface: IP unicast is routed like our own traffic (so it is
// encrypted where a tunnel covers it), everything else (ARP, ND, multicast) leaves the port as is.
void from_kernel(Worker& w, const Port& port, rte_mbuf** pkts, uint16_t n) noexcept;

// esp.cpp. Inbound: L3 packets for us -> decrypted inner packets appended to `out`; checks the
// inner addresses against the SA's tunnel selectors (selector_mismatch), clamps TCP MSS.
void esp_inbound(Worker& w, Batch& in, Batch& out) noexcept;
// Outbound: inner L3 packets routed into tunnels, pkts[i] into tunnels[i], each tunnel's packets
// next to each other: selector check, MTU (fragment or ICMP), MSS clamp, encrypt (one call into
// the engine for all of them), then to each tunnel's next hop. Drops: tunnel_down,
// selector_mismatch, fragmentation_needed, and the engine's. A tunnel_down burst into a tunnel
// that IKE starts also posts an acquire to the control thread (Worker::acquire).
void esp_outbound(Worker& w, const uint32_t* tunnels, rte_mbuf** pkts, uint16_t n) noexcept;
// Encrypted packets of tunnel `t`: every one to the tunnel's one next hop (its port's neighbour).
void tunnel_output(Worker& w, const TunnelEntry& t, rte_mbuf** m, uint16_t n) noexcept;
// The packets the ESP engine finished that it had left in the crypto lanes (AES-CBC + HMAC,
// EspEngine::encrypt_deferred/decrypt_deferred): decrypted ones as esp_inbound() leaves them,
// then routed; encrypted ones to their tunnel's next hop. Once per poll loop (Worker::run).
void esp_reap(Worker& w) noexcept;

// keepalive.cpp. Worker 0's lane keepalives (docs/lanes.md "Lane liveness"): an ESP dummy
// packet under every lane SA of a tunnel of several lanes (Snapshot::lane_tunnels) that has sent
// nothing for `idle_ns`, silent lanes included, out of the tunnel's next hop. Starts at tunnel
// `cursor` and stops after the tunnel that reaches kKeepaliveBurst packets; returns the tunnel
// to go on from next loop, 0 when it went round all of them. Drops: no_mbuf, and the engine's.
inline constexpr uint32_t kKeepaliveBurst = 32;
uint32_t send_keepalives(Worker& w, uint32_t cursor, uint64_t idle_ns) noexcept;

// route.cpp. L3 packets: TTL/hop limit, longest-prefix match, tunnel or port, egress MTU; decrypted
// packets for our own addresses go to the kernel, those for a route-based tunnel's inside address
// to its TUN device (Worker::to_inside).
// Drops: martian, ttl_exceeded, no_route, unprotected, fragmentation_needed.
void route(Worker& w, Batch& b) noexcept;

// neighbour.cpp
void arp_input(Worker& w, const Port& port, rte_mbuf* m) noexcept;
// ICMPv6 neighbour solicitations/advertisements; true if consumed.
bool nd_input(Worker& w, const Port& port, rte_mbuf* m) noexcept;
// Adds the Ethernet header for `nexthop` and sends, or holds the packet while it resolves.
void l2_output4(Worker& w, uint16_t port, uint32_t nexthop, rte_mbuf* m) noexcept;
void l2_output6(Worker& w, uint16_t port, const uint8_t* nexthop, rte_mbuf* m) noexcept;
// A burst to one IPv4 next hop (a tunnel's): one neighbour lookup, one Ethernet header for all.
void l2_output4_burst(Worker& w, uint16_t port, uint32_t nexthop, rte_mbuf** m,
                      uint16_t n) noexcept;

// icmp.cpp. Turns `m` (an L3 packet) into an ICMP/ICMPv6 error about itself, addressed to its
// source; false (m untouched) where RFC 1812 4.3.2.7 / RFC 4443 2.4 forbid an error or the rate
// limit says no.
bool icmp4_error(Worker& w, rte_mbuf* m, uint8_t type, uint8_t code, uint16_t mtu) noexcept;
bool icmp6_error(Worker& w, rte_mbuf* m, uint8_t type, uint8_t code, uint32_t mtu) noexcept;

// fragment.cpp. Splits an IPv4 packet (DF clear) into fragments of at most `mtu` bytes, new
// mbufs from the worker's pool; frees `m`. Returns how many were written to `out` (0: no mbuf).
uint16_t fragment4(Worker& w, rte_mbuf* m, uint16_t mtu, rte_mbuf** out, uint16_t room) noexcept;

// mss.cpp. Lowers the MSS option of a TCP SYN to `mss`; true if it changed the packet.
bool clamp_mss(uint8_t* ip, uint32_t len, uint16_t mss) noexcept;

}  // namespace espgw::dp::stages
