#!/usr/bin/python3
"""007_forward: transit packets between the LAN, the WAN and the DMZ; expected: the same packets
one hop later on the egress port."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ICMP, IP, TCP, UDP, IPOption_RR, IPv6, Raw

out = out_dir(__file__)
DMZ_MAC, DMZ_HOST_MAC = "02:00:00:00:03:01", "02:00:00:00:03:05"
lan_in, wan_in = [], []
lan_exp, wan_exp, dmz_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)], \
    [garp(DMZ_MAC, "10.9.0.1")]

# LAN -> internet, via the WAN router
for p in (IP(src=HOST_IP, dst="192.0.2.80", id=1) / TCP(sport=33000, dport=80, flags="S"),
          IP(src=HOST_IP, dst="192.0.2.53", id=2, ttl=2, tos=0x28) / UDP(sport=33001, dport=53)
          / Raw(b"\x12\x34" + bytes(30)),  # TTL 2 leaves with 1: not expired yet
          IP(src=HOST_IP, dst="192.0.2.1", id=3, options=[IPOption_RR(routers=["0.0.0.0"] * 2)])
          / ICMP(id=1, seq=1),  # IP options: IHL 8, kept as they are
          IPv6(src=HOST_IP6, dst="2001:db8:abcd::1", hlim=64, fl=7) / UDP(sport=33002, dport=123)
          / Raw(bytes(48))):
    lan_in.append(frame(HOST_MAC, LAN_MAC, p, pad_to=60))
    wan_exp.append(frame(WAN_MAC, ROUTER_MAC, routed(p)))
# LAN -> DMZ host, directly connected
p = IP(src=HOST_IP, dst="10.9.0.5", id=4, flags="DF") / UDP(sport=33003, dport=514) / Raw(b"log")
lan_in.append(frame(HOST_MAC, LAN_MAC, p, pad_to=60))
dmz_exp.append(frame(DMZ_MAC, DMZ_HOST_MAC, routed(p)))
# internet -> LAN host, both families; a full-size frame too
for p in (IP(src="192.0.2.80", dst=HOST_IP, id=5, ttl=57) / TCP(sport=80, dport=33000, flags="SA"),
          IP(src="192.0.2.81", dst=HOST_IP, id=6) / UDP(sport=443, dport=33004)
          / Raw(bytes(i & 0xFF for i in range(1472))),
          IPv6(src="2001:db8:abcd::1", dst=HOST_IP6, hlim=255) / UDP(sport=123, dport=33002)
          / Raw(bytes(48))):
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, p, pad_to=60))
    lan_exp.append(frame(LAN_MAC, HOST_MAC, routed(p)))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
write_pcap(os.path.join(out, "expected_dmz.pcap"), dmz_exp)
