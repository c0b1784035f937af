#!/usr/bin/python3
"""013_exception_path: control traffic for the gateway from both ports (expected in the
kernel's captures), transit and ESP beside it (expected forwarded), and what the kernel sends
(expected on the ports: routed, encrypted, or as it is).

Order on a port: the worker polls lan, lan's kernel device, wan, wan's kernel device in turn, a
burst each, and what a burst sends leaves in that order. Within a burst, transit packets are
routed before the decrypted ones, and the kernel's non-IP frames leave before its routed ones."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest,
                       ICMPv6MLReport2, IPv6, Raw)

out = out_dir(__file__)
cfg = case_config(__file__)
sa_in, sa_out = find_sa(cfg, "east", "in"), find_sa(cfg, "east", "out")
IKE = bytes(range(28))  # an IKE header's worth of bytes (the content is the kernel's business)
OTHER_MAC = "02:00:00:00:00:99"  # a destination MAC the kernel wrote, which espgw replaces


def kernel_view(f):
    """The kernel gets a frame as it came, less the Ethernet padding of a short IP frame."""
    if f[12:14] == b"\x08\x00":
        return f[: 14 + int.from_bytes(f[16:18], "big")]
    if f[12:14] == b"\x86\xdd":
        return f[: 54 + int.from_bytes(f[18:20], "big")]
    return f


# ---- what arrives on the LAN port
lan_to_kernel = [
    frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst=LAN_IP, id=8) / ICMP(id=2, seq=1) / Raw(b"gw?"),
          60),
    frame(HOST_MAC, LAN_MAC, IPv6(src=HOST_IP6, dst=LAN_IP6) /
          ICMPv6EchoRequest(id=3, seq=1, data=b"gw6?")),
]
into_tunnel = IP(src=HOST_IP, dst=REMOTE_HOST, id=9) / UDP(sport=10, dport=10) / Raw(b"tunnel")
lan_in = lan_to_kernel + [frame(HOST_MAC, LAN_MAC, into_tunnel, 60)]

# ---- what the LAN's kernel sends: a ping from the gateway's LAN address to a host behind the
# peer (into the tunnel, TTL as it is), and the reply to the LAN host's ping (out of the LAN)
gw_ping = IP(src=LAN_IP, dst=REMOTE_HOST, id=11, ttl=64) / ICMP(id=4, seq=1) / Raw(b"from the gw")
gw_pong = IP(src=LAN_IP, dst=HOST_IP, id=12, ttl=64) / ICMP(type=0, id=2, seq=1) / Raw(b"gw?")
# and a packet with DF too big for the tunnel (inner MTU 1438): the kernel gets the ICMP
# fragmentation needed (PMTUD for its own traffic), from and to our LAN address
gw_big = IP(src=LAN_IP, dst=REMOTE_HOST, id=14, ttl=64, flags="DF") / UDP(sport=7, dport=7) / \
    Raw(bytes(1439 - 28))
lan_kernel_in = [frame(LAN_MAC, OTHER_MAC, gw_ping), frame(LAN_MAC, HOST_MAC, gw_pong),
                 frame(LAN_MAC, OTHER_MAC, gw_big)]

# ---- what arrives on the WAN port
wan_to_kernel = [
    # IKE on UDP 500
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, id=1) / UDP(sport=500, dport=500) /
          Raw(IKE)),
    # IKE on UDP 4500: the non-ESP marker, four zero bytes (RFC 3948 2.2)
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, id=2) / UDP(sport=4500, dport=4500) /
          Raw(b"\0\0\0\0" + IKE)),
    # NAT-T keepalive, one 0xff byte (RFC 3948 2.3), in a padded short frame
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, id=3) /
          UDP(sport=4500, dport=4500, chksum=0) / Raw(b"\xff"), 60),
    # ICMP echo and TCP (SSH) to our WAN address
    frame(ROUTER_MAC, WAN_MAC, IP(src="192.0.2.9", dst=WAN_IP, id=5) / ICMP(id=1, seq=1) /
          Raw(b"ping"), 60),
    frame(ROUTER_MAC, WAN_MAC, IP(src="192.0.2.9", dst=WAN_IP, id=6) /
          TCP(sport=40000, dport=22, flags="S")),
    # broadcast and multicast IPv4, and an ethertype that is neither IP nor ARP (LLDP)
    frame(ROUTER_MAC, "ff:ff:ff:ff:ff:ff", IP(src="198.51.100.77", dst="255.255.255.255") /
          UDP(sport=68, dport=67) / Raw(bytes(20))),
    frame(ROUTER_MAC, "01:00:5e:00:00:05", IP(src="198.51.100.254", dst="224.0.0.5", ttl=1,
                                             proto=89) / Raw(bytes(24)), 60),
    raw(Ether(src=ROUTER_MAC, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(bytes(46))),
]
from_tunnel = IP(src=REMOTE_HOST, dst=HOST_IP, id=4) / UDP(sport=9, dport=9) / Raw(b"esp")
transit = IP(src="192.0.2.9", dst=HOST_IP, id=7) / TCP(sport=40000, dport=22, flags="S")
# a ping through the tunnel to the gateway's LAN address: decrypted, then the LAN kernel's
ping_gw = IP(src=REMOTE_HOST, dst=LAN_IP, id=13) / ICMP(id=6, seq=1) / Raw(b"via the tunnel")
# ESP in UDP 4500 beside the IKE and keepalives: decrypted; transit: forwarded
wan_in = wan_to_kernel[:3] + [frame(ROUTER_MAC, WAN_MAC, encap(sa_in, from_tunnel, 1))] + \
    wan_to_kernel[3:5] + [frame(ROUTER_MAC, WAN_MAC, transit, 60),
                          frame(ROUTER_MAC, WAN_MAC, encap(sa_in, ping_gw, 2))] + wan_to_kernel[5:]

# ---- what the WAN's kernel sends: its IKE reply (routed to the peer via the router), an ARP
# request and IPv6 multicast (MLD) as they are
ike_reply = IP(src=WAN_IP, dst=PEER_IP, id=10, ttl=64) / UDP(sport=500, dport=500) / Raw(IKE[::-1])
kernel_arp = raw(Ether(src=WAN_MAC, dst="ff:ff:ff:ff:ff:ff") /
                 ARP(op=1, hwsrc=WAN_MAC, psrc=WAN_IP, pdst="198.51.100.200"))
kernel_mld = raw(Ether(src=WAN_MAC, dst="33:33:00:00:00:16") /
                 IPv6(src="fe80::1", dst="ff02::16", hlim=1) / ICMPv6MLReport2())
wan_kernel_in = [frame(WAN_MAC, OTHER_MAC, ike_reply), kernel_arp, kernel_mld]

# ---- expected
lan_exp = [
    garp(LAN_MAC, LAN_IP),
    frame(LAN_MAC, HOST_MAC, gw_pong),  # lan kernel burst
    frame(LAN_MAC, HOST_MAC, routed(transit)),  # wan burst: transit first,
    frame(LAN_MAC, HOST_MAC, routed(from_tunnel)),  # then what was decrypted
]
wan_exp = [
    garp(WAN_MAC, WAN_IP),
    frame(WAN_MAC, ROUTER_MAC, encap(sa_out, routed(into_tunnel), 1)),  # lan burst
    frame(WAN_MAC, ROUTER_MAC, encap(sa_out, gw_ping, 2)),  # lan kernel burst, TTL kept
    kernel_arp, kernel_mld,  # wan kernel burst: non-IP first,
    frame(WAN_MAC, ROUTER_MAC, ike_reply),  # then the routed IKE reply, TTL kept
]
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_lan_kernel.pcap"), lan_kernel_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "input_wan_kernel.pcap"), wan_kernel_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
# the decrypted ping reaches the LAN kernel with our MAC as both addresses, TTL as it came
write_pcap(os.path.join(out, "expected_lan_kernel.pcap"),
           [kernel_view(f) for f in lan_to_kernel] +
           [frame(LAN_MAC, LAN_MAC, icmp4_error(LAN_IP, gw_big, 3, 4, mtu=1438)),
            frame(LAN_MAC, LAN_MAC, ping_gw)])
write_pcap(os.path.join(out, "expected_wan_kernel.pcap"), [kernel_view(f) for f in wan_to_kernel])
