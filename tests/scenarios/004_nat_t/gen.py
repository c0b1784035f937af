#!/usr/bin/python3
"""004_nat_t: LAN packets into both NAT-T tunnels (expected: ESP in UDP on the WAN) and ESP in
UDP from both peers (expected: the inner packets on the LAN)."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
lan_in, wan_in = [], []
lan_exp, wan_exp = [(garp(LAN_MAC, LAN_IP), None)], [(garp(WAN_MAC, WAN_IP), None)]
for name, remote in (("aws", "172.60.1.20"), ("alt", "172.70.1.20")):
    out_sa, in_sa = find_sa(cfg, name, "out"), find_sa(cfg, name, "in")
    for seq in (1, 2, 3):
        up = IP(src=HOST_IP, dst=remote, id=seq, flags="DF" if seq == 2 else 0) / \
            UDP(sport=4000 + seq, dport=53) / Raw(b"q" * (seq * 33))
        lan_in.append(frame(HOST_MAC, LAN_MAC, up))
        wan_exp.append((frame(WAN_MAC, ROUTER_MAC, encap(out_sa, routed(up), seq)), out_sa))
        downp = IP(src=remote, dst=HOST_IP, id=50 + seq) / UDP(sport=53, dport=4000 + seq) / \
            Raw(b"a" * (seq * 47))
        wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(in_sa, downp, seq)))
        lan_exp.append((frame(LAN_MAC, HOST_MAC, routed(downp)), in_sa))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lanes_last(lan_exp))
write_pcap(os.path.join(out, "expected_wan.pcap"), lanes_last(wan_exp))
