#!/usr/bin/python3
"""025_peers: LAN packets to two peers' CIDRs; each goes into the tunnel its peer uses."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
to_aws = [IP(src=HOST_IP, dst=REMOTE_HOST, id=n) / UDP(sport=n, dport=53) / Raw(b"a" * n)
          for n in (1, 2)]
to_lab = [IP(src=HOST_IP, dst="172.70.1.20", id=n) / UDP(sport=n, dport=53) / Raw(b"l" * n)
          for n in (3, 4)]
# espgw sends a burst's packets grouped by outbound SA: one tunnel's packets first
lan_in = [frame(HOST_MAC, LAN_MAC, p, 60) for p in to_aws + to_lab]
aws2, lab1 = find_sa(cfg, "aws2", "out"), find_sa(cfg, "lab1", "out")
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"),
           [garp(WAN_MAC, WAN_IP),
            frame(WAN_MAC, ROUTER_MAC, encap(aws2, routed(to_aws[0]), 1)),
            frame(WAN_MAC, ROUTER_MAC, encap(aws2, routed(to_aws[1]), 2)),
            frame(WAN_MAC, ROUTER_MAC, encap(lab1, routed(to_lab[0]), 1)),
            frame(WAN_MAC, ROUTER_MAC, encap(lab1, routed(to_lab[1]), 2))])
