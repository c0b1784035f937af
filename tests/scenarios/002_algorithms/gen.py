#!/usr/bin/python3
"""002_algorithms: for each tunnel (one per algorithm), a LAN packet to the tunnel's remote CIDR
(expected: ESP on the WAN) and an ESP packet from the tunnel's peer (expected: the inner packet
on the LAN). Inner packets of different lengths, so each algorithm pads differently."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
lan_in, wan_in, lan_exp, wan_exp = [], [], [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)]
for i, t in enumerate(cfg["tunnels"]):
    remote_host = f"172.{60 + i}.1.20"
    up = IP(src=HOST_IP, dst=remote_host, id=100 + i) / UDP(sport=2000 + i, dport=5201) \
        / Raw(bytes(range(17 * i + 3)))
    lan_in.append(frame(HOST_MAC, LAN_MAC, up, pad_to=60))
    wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(Sa(t, "out"), routed(up), 1)))
    down = IP(src=remote_host, dst=HOST_IP, id=200 + i, ttl=60) / UDP(sport=5201, dport=2000 + i) \
        / Raw(bytes(range(255, 255 - (13 * i + 1), -1)))
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(Sa(t, "in"), down, 1)))
    lan_exp.append(frame(LAN_MAC, HOST_MAC, routed(down)))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
