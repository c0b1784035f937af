#!/usr/bin/python3
"""008_no_route: packets to unrouted destinations (dropped, nothing sent), and one to a routed
destination (forwarded) so that the drops are not just a broken port."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, IPv6, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
lan_in = [
    frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst="192.0.2.1") / UDP(sport=1, dport=2), 60),
    frame(HOST_MAC, LAN_MAC, IPv6(src=HOST_IP6, dst="2001:db8:abcd::1") / UDP(sport=1, dport=2)),
    frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst="10.0.0.1") / UDP(sport=1, dport=2), 60),
]
routed_pkt = IP(src=HOST_IP, dst="203.0.113.77", id=9) / UDP(sport=1, dport=2) / Raw(b"ok")
lan_in.append(frame(HOST_MAC, LAN_MAC, routed_pkt, 60))
wan_in = [
    frame(ROUTER_MAC, WAN_MAC, IP(src="192.0.2.1", dst="192.0.2.99") / UDP(sport=1, dport=2), 60),
    frame(ROUTER_MAC, WAN_MAC, encap(find_sa(cfg, "east", "in"),
                                     IP(src="172.60.1.20", dst="172.50.9.9")
                                     / UDP(sport=1, dport=2),
                                     1)),
]
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"),
           [garp(WAN_MAC, WAN_IP), frame(WAN_MAC, ROUTER_MAC, routed(routed_pkt))])
