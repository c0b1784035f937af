#!/usr/bin/python3
"""024_fragment_burst: 26 LAN packets of 2900 bytes (DF clear) into the tunnel; expected: their
156 fragments, each encrypted, in order."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, Raw

out = out_dir(__file__)
sa = find_sa(case_config(__file__), "east", "out")
lan_in, wan_exp, seq = [], [garp(WAN_MAC, WAN_IP)], 1
for n in range(26):
    p = IP(src=HOST_IP, dst=REMOTE_HOST, id=0x100 + n) / UDP(sport=5000 + n, dport=9) / \
        Raw(bytes((n + i) & 0xFF for i in range(2900 - 28)))
    lan_in.append(frame(HOST_MAC, LAN_MAC, p))
    frags = fragments(routed(p), 576)
    check_reassembly(frags, routed(p))
    assert len(frags) == 6
    for f in frags:
        wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(sa, f, seq)))
        seq += 1
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
