#!/usr/bin/python3
"""015_neighbour_resolution: LAN packets for unresolved next hops, then the next hops' answers on
the WAN; expected on the WAN: espgw's ARP request and neighbour solicitation, then the released
packets."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import (ARP, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IP, IPv6, UDP, Raw, raw)

out = out_dir(__file__)
NH1_MAC, NH1 = "02:00:00:00:02:50", "198.51.100.50"
NH2_MAC, NH2 = "02:00:00:00:02:60", "198.51.100.60"
NH6_MAC, NH6 = "02:00:00:00:02:66", "2001:db8:ff::50"


def udp(src, dst, n):
    ip = IP(src=src, dst=dst, id=n) if ":" not in dst else IPv6(src=src, dst=dst)
    return ip / UDP(sport=1000 + n, dport=53) / Raw(b"n" * 20)


# LAN: three packets via NH1 (the first waits, two are dropped: hold_full), one via NH6
to_nh1 = [udp(HOST_IP, f"192.0.2.{n}", n) for n in (1, 2, 3)]
to_nh6 = udp(HOST_IP6, "2001:db8:ab::1", 4)
lan_in = [frame(HOST_MAC, LAN_MAC, p, 60) for p in to_nh1 + [to_nh6]]

# WAN: the answers (ARP replies to us, an unsolicited... solicited NA), then a packet from the
# internet for NH2, whose reply is in the same burst before it
arp_nh1 = raw(Ether(src=NH1_MAC, dst=WAN_MAC) / ARP(op=2, hwsrc=NH1_MAC, psrc=NH1, hwdst=WAN_MAC,
                                                     pdst=WAN_IP))
arp_nh2 = raw(Ether(src=NH2_MAC, dst=WAN_MAC) / ARP(op=2, hwsrc=NH2_MAC, psrc=NH2, hwdst=WAN_MAC,
                                                     pdst=WAN_IP))
na_nh6 = frame(NH6_MAC, WAN_MAC, IPv6(src=NH6, dst=WAN_IP6, hlim=255) /
               ICMPv6ND_NA(R=1, S=1, O=1, tgt=NH6) / ICMPv6NDOptDstLLAddr(lladdr=NH6_MAC))
to_nh2 = udp("192.0.2.200", "192.0.3.1", 5)
wan_in = [arp_nh1, arp_nh2, na_nh6, frame(ROUTER_MAC, WAN_MAC, to_nh2, 60)]

# espgw's questions, from the control thread
arp_req = raw(Ether(src=WAN_MAC, dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, hwsrc=WAN_MAC, psrc=WAN_IP, hwdst="00:00:00:00:00:00", pdst=NH1))
ns = frame(WAN_MAC, "33:33:ff:00:00:50",
           IPv6(src=WAN_IP6, dst="ff02::1:ff00:50", hlim=255) / ICMPv6ND_NS(tgt=NH6) /
           ICMPv6NDOptSrcLLAddr(lladdr=WAN_MAC))
wan_exp = [
    garp(WAN_MAC, WAN_IP),
    # nothing leaves at once; the control thread handles, in the order the worker asked:
    arp_req,  # packet 1 waits for NH1: ask
    ns,  # the IPv6 packet waits for NH6: ask
    frame(WAN_MAC, NH1_MAC, routed(to_nh1[0])),  # NH1 answered: packet 1 goes
    frame(WAN_MAC, NH6_MAC, routed(to_nh6)),  # NH6 answered
    frame(WAN_MAC, NH2_MAC, routed(to_nh2)),  # NH2 had answered before its packet asked
]
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
# ARP replies and neighbour advertisements reach the kernel too (its own cache)
write_pcap(os.path.join(out, "expected_wan_kernel.pcap"), [arp_nh1, arp_nh2, na_nh6])
