#!/usr/bin/python3
"""022_neighbour_unresolved: two LAN packets via a next hop that never answers; expected on the
WAN: one ARP request for it, and nothing else."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ARP, IP, UDP, Ether, Raw, raw

out = out_dir(__file__)
lan_in = [frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst="192.0.2.1", id=n) / UDP(sport=n, dport=9)
                / Raw(b"lost"), 60) for n in (1, 2)]
arp_req = raw(Ether(src=WAN_MAC, dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, hwsrc=WAN_MAC, psrc=WAN_IP, hwdst="00:00:00:00:00:00",
                  pdst="198.51.100.50"))
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"), [garp(WAN_MAC, WAN_IP), arp_req])
