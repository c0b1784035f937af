#!/usr/bin/python3
"""021_drops_exception: three pings to the gateway from the LAN (one reaches the kernel), IKE
and an ARP reply to a WAN port without exception path (dropped), an ARP request there (answered).
"""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ARP, ICMP, IP, UDP, Ether, Raw, raw

out = out_dir(__file__)
pings = [frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst=LAN_IP, id=n) / ICMP(id=1, seq=n) /
               Raw(b"x" * 32)) for n in (1, 2, 3)]
arp_req = raw(Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER_IP, pdst=WAN_IP))
arp_rep = raw(Ether(src=ROUTER_MAC, dst=WAN_MAC) /
              ARP(op=2, hwsrc=ROUTER_MAC, psrc=ROUTER_IP, hwdst=WAN_MAC, pdst=WAN_IP))
wan_in = [
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP) / UDP(sport=500, dport=500) /
          Raw(bytes(28))),
    arp_rep,
    arp_req,
]
answer = raw(Ether(src=WAN_MAC, dst=ROUTER_MAC) /
             ARP(op=2, hwsrc=WAN_MAC, psrc=WAN_IP, hwdst=ROUTER_MAC, pdst=ROUTER_IP))
write_pcap(os.path.join(out, "input_lan.pcap"), pings)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_lan_kernel.pcap"), pings[:1])
write_pcap(os.path.join(out, "expected_wan.pcap"), [garp(WAN_MAC, WAN_IP), answer])
