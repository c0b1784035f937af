#!/usr/bin/python3
"""001_encrypt_gcm: writes input_lan.pcap (LAN host -> hosts behind the peer) and the ESP that
espgw must send to the WAN router (expected_wan.pcap); nothing comes back on the LAN."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ICMP, IP, TCP, UDP, Raw

out = out_dir(__file__)
sa = find_sa(case_config(__file__), "east", "out")

inner = [
    # small UDP, DF clear: the outer DF stays clear; short frame padded to 60 bytes on the wire
    IP(src=HOST_IP, dst=REMOTE_HOST, id=1) / UDP(sport=1000, dport=5201) / Raw(b"x"),
    # DSCP EF and ECT(0), DF set: both copied outward
    IP(src=HOST_IP, dst=REMOTE_HOST, id=2, tos=0xB8 | 2, flags="DF") / UDP(sport=1001, dport=5201)
    / Raw(bytes(range(100))),
    # TCP data (not a SYN: no MSS clamping)
    IP(src=HOST_IP, dst="172.60.200.7", id=3, flags="DF") / TCP(sport=40000, dport=443, flags="PA",
                                                                 seq=1000, ack=2000)
    / Raw(b"GET / HTTP/1.1\r\n\r\n"),
    # ICMP echo
    IP(src=HOST_IP, dst=REMOTE_HOST, id=4) / ICMP(id=7, seq=1) / Raw(b"ping" * 14),
    # ECN CE: copied outward too (RFC 6040 4.1 normal mode)
    IP(src=HOST_IP, dst=REMOTE_HOST, id=5, tos=0x03) / UDP(sport=1002, dport=5201)
    / Raw(b"ce" * 20),
    # the largest inner packet of the tunnel: 1446 bytes make a 1500-byte outer packet
    IP(src=HOST_IP, dst=REMOTE_HOST, id=6, flags="DF") / UDP(sport=1003, dport=5201)
    / Raw(bytes(i & 0xFF for i in range(1446 - 28))),
    # 61 bytes: with pad length and next header 63, so one pad byte to GCM's 4-byte alignment
    IP(src=HOST_IP, dst=REMOTE_HOST, id=7) / UDP(sport=1004, dport=5201) / Raw(b"odd" * 11),
]
assert len(inner[5]) == 1446

write_pcap(os.path.join(out, "input_lan.pcap"),
           [frame(HOST_MAC, LAN_MAC, p, pad_to=60) for p in inner])
write_pcap(os.path.join(out, "expected_wan.pcap"),
           [garp(WAN_MAC, WAN_IP)] + [frame(WAN_MAC, ROUTER_MAC, encap(sa, routed(p), seq))
            for seq, p in enumerate(inner, start=1)])
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
