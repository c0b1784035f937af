#!/usr/bin/python3
"""006_outer_options: LAN packets with various DF, DSCP and ECN into both tunnels (expected: ESP
with the tunnel's outer options) and ESN ESP from both peers (expected: inner packets on the
LAN)."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
lan_in, wan_in = [], []
lan_exp, wan_exp = [(garp(LAN_MAC, LAN_IP), None)], [(garp(WAN_MAC, WAN_IP), None)]

# marked: DSCP 10 whatever the inner DSCP, ECN not-ECT whatever the inner ECN, DF set, TTL 32
# clear: DSCP and ECN copied, DF clear whatever the inner DF
for name, dst, opts in (("marked", "172.60.1.20", dict(tos=10 << 2, df=True, ttl=32)),
                        ("clear", "172.61.1.20", dict(df=False))):
    sa = find_sa(cfg, name, "out")
    for seq, (tos, df) in enumerate(((0x00, False), (0xB8 | 2, True), (0x03, False)), start=1):
        p = IP(src=HOST_IP, dst=dst, id=seq, tos=tos, flags="DF" if df else 0) / \
            UDP(sport=6000 + seq, dport=9) / Raw(b"opt" * (seq * 7))
        lan_in.append(frame(HOST_MAC, LAN_MAC, p))
        wan_exp.append((frame(WAN_MAC, ROUTER_MAC, encap(sa, routed(p), seq, **opts)), sa))
    sa = find_sa(cfg, name, "in")
    for seq in (1, 2):
        p = IP(src=dst, dst=HOST_IP, id=80 + seq) / UDP(sport=9, dport=6000 + seq) / \
            Raw(b"esn" * (seq * 9))
        wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(sa, p, seq)))
        lan_exp.append((frame(LAN_MAC, HOST_MAC, routed(p)), sa))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lanes_last(lan_exp))
write_pcap(os.path.join(out, "expected_wan.pcap"), lanes_last(wan_exp))
