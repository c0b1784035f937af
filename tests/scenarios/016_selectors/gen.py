#!/usr/bin/python3
"""016_selectors: ESP from both peers with inner addresses inside and outside their selectors,
and LAN packets into the tunnels from inside and outside the local selectors; expected: only the
packets inside get through."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, IPv6, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
a_in, b_in = find_sa(cfg, "a", "in"), find_sa(cfg, "b", "in")
a_out, b_out = find_sa(cfg, "a", "out"), find_sa(cfg, "b", "out")
lan_in, wan_in = [], []
lan_exp, wan_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)]


def udp(src, dst, n):
    ip = IP(src=src, dst=dst, id=n) if ":" not in src else IPv6(src=src, dst=dst)
    return ip / UDP(sport=2000 + n, dport=2000 + n) / Raw(b"s" * 16)


# inbound, tunnel a (remote 172.60/16, local 172.50/16)
ok = udp("172.60.1.20", HOST_IP, 1)
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(a_in, ok, 1)))
lan_exp.append(frame(LAN_MAC, HOST_MAC, routed(ok)))
for seq, bad in enumerate([
        udp("10.66.0.1", HOST_IP, 2),  # source outside remote_cidrs
        udp("172.60.1.20", "10.1.1.1", 3),  # destination outside local_cidrs (yet routable)
        udp("172.61.1.20", HOST_IP, 4),  # source of tunnel b's networks, through tunnel a
        udp("2001:db8:66::1", HOST_IP6, 5),  # IPv6 source outside
], start=2):
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(a_in, bad, seq)))
# inbound, tunnel b (remote 172.61/16, local only 172.50.1/24)
ok = udp("172.61.1.20", HOST_IP, 6)
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(b_in, ok, 1)))
lan_exp.append(frame(LAN_MAC, HOST_MAC, routed(ok)))
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(b_in, udp("172.61.1.20", "172.50.2.2", 7), 2)))

# outbound: sources inside and outside the local selectors
ok = udp(HOST_IP, "172.60.1.20", 8)
lan_in.append(frame(HOST_MAC, LAN_MAC, ok))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(a_out, routed(ok), 1)))
lan_in.append(frame(HOST_MAC, LAN_MAC, udp("10.1.1.1", "172.60.1.20", 9)))  # outside a's
lan_in.append(frame(HOST_MAC, LAN_MAC, udp("172.50.9.9", "172.61.1.20", 10)))  # outside b's /24
lan_in.append(frame(HOST_MAC, LAN_MAC, udp("2001:db8:51::1", "2001:db8:60::20", 11)))
ok = udp("172.50.1.99", "172.61.1.20", 12)
lan_in.append(frame(HOST_MAC, LAN_MAC, ok))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(b_out, routed(ok), 1)))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
