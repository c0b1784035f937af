#!/usr/bin/python3
"""023_no_mbuf: 382 LAN packets held for an unresolved next hop, then one packet that needs
fragments; expected: one ARP request on the WAN, nothing on the DMZ."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ARP, IP, UDP, Ether, Raw, raw

out = out_dir(__file__)
held = [frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst="192.0.2.1", id=n) / UDP(sport=n, dport=9),
              60) for n in range(382)]
# 1000 bytes: two fragments at MTU 576
big = IP(src=HOST_IP, dst="10.9.0.5", id=999) / UDP(sport=1, dport=9) / Raw(bytes(972))
arp_req = raw(Ether(src=WAN_MAC, dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, hwsrc=WAN_MAC, psrc=WAN_IP, hwdst="00:00:00:00:00:00",
                  pdst="198.51.100.50"))
write_pcap(os.path.join(out, "input_lan.pcap"), held + [frame(HOST_MAC, LAN_MAC, big)])
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"), [garp(WAN_MAC, WAN_IP), arp_req])
write_pcap(os.path.join(out, "expected_dmz.pcap"), [garp("02:00:00:00:03:01", "10.9.0.1")])
