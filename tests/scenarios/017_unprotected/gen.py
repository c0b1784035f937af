#!/usr/bin/python3
"""017_unprotected: cleartext from the tunnel's remote CIDRs (dropped), the same through the
tunnel (delivered), cleartext from elsewhere (forwarded)."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, TCP, UDP, IPv6

out = out_dir(__file__)
cfg = case_config(__file__)
lan_exp, wan_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)]
spoofed = IP(src="172.60.1.20", dst=HOST_IP, id=1) / TCP(sport=443, dport=40000, flags="SA")
fine = IP(src="192.0.2.20", dst=HOST_IP, id=2) / TCP(sport=443, dport=40000, flags="SA")
wan_in = [
    frame(ROUTER_MAC, WAN_MAC, spoofed, 60),  # in the clear: unprotected
    frame(ROUTER_MAC, WAN_MAC, IPv6(src="2001:db8:60::20", dst=HOST_IP6) / UDP(sport=1, dport=2)),
    frame(ROUTER_MAC, WAN_MAC, fine, 60),  # not from a protected network: forwarded
    frame(ROUTER_MAC, WAN_MAC, encap(find_sa(cfg, "east", "in"), spoofed, 1)),  # protected: fine
]
# forwarded first, the decrypted one after it (route() takes a burst's decrypted packets last)
lan_exp += [frame(LAN_MAC, HOST_MAC, routed(fine)), frame(LAN_MAC, HOST_MAC, routed(spoofed))]
# from the LAN, a source in the remote CIDR on its way to the internet: unprotected too
lan_in = [frame(HOST_MAC, LAN_MAC, IP(src="172.60.9.9", dst="192.0.2.20") / UDP(sport=1, dport=2),
                60)]
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
