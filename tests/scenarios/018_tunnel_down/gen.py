#!/usr/bin/python3
"""018_tunnel_down: LAN packets into a tunnel without SAs (dropped) and into a working one
(encrypted); ESP from the down tunnel's peer (no SA)."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
to_down = [IP(src=HOST_IP, dst="172.69.1.1", id=n, flags="DF") / UDP(sport=n, dport=53) /
           Raw(b"d" * n) for n in (1, 2, 3)]
to_up = IP(src=HOST_IP, dst=REMOTE_HOST, id=4) / UDP(sport=4, dport=53) / Raw(b"u" * 4)
lan_in = [frame(HOST_MAC, LAN_MAC, p, 60) for p in to_down[:2] + [to_up] + to_down[2:]]
# an ESP packet from the down tunnel's peer, with an SPI nobody installed
esp = raw(IP(src="203.0.113.9", dst=WAN_IP, proto=50) / Raw(bytes.fromhex("00003001 00000001") +
                                                              bytes(40)))
wan_in = [frame(ROUTER_MAC, WAN_MAC, esp)]
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"),
           [garp(WAN_MAC, WAN_IP),
            frame(WAN_MAC, ROUTER_MAC, encap(find_sa(cfg, "up", "out"), routed(to_up), 1))])
