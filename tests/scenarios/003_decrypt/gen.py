#!/usr/bin/python3
"""003_decrypt: ESP from two peers (input_wan.pcap); expected_lan.pcap holds the inner packets as
the LAN host must receive them."""
import os
import struct

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ICMP, IP, TCP, UDP, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
gcm = find_sa(cfg, "gcm", "in")
cbc = find_sa(cfg, "cbc", "in")
NOT_ECT, ECT1, ECT0, CE = 0, 1, 2, 3


def down(i, src="172.60.1.20", tos=0, size=40, **kw):
    return IP(src=src, dst=HOST_IP, id=300 + i, ttl=61, tos=tos, **kw) / \
        UDP(sport=5201, dport=3000 + i) / Raw(bytes((i + k) & 0xFF for k in range(size)))


wan_in, lan_exp = [], [(garp(LAN_MAC, LAN_IP), None)]


def case(esp, delivered, sa=gcm):
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, esp))
    if delivered is not None:
        lan_exp.append((frame(LAN_MAC, HOST_MAC, routed(delivered)), sa))


# 1-3: plain delivery, GCM and CBC, TCP and ICMP too
p = down(1, tos=0xB8)
case(encap(gcm, p, 1), p)
p = IP(src="172.61.7.7", dst=HOST_IP, id=2, ttl=50, flags="DF") / TCP(sport=443, dport=40000,
                                                                        flags="A", seq=5, ack=9)
case(encap(cbc, p, 1), p, cbc)
p = IP(src="172.61.7.7", dst=HOST_IP, id=3) / ICMP(type=0, id=7, seq=1) / Raw(b"pong" * 20)
case(encap(cbc, p, 2), p, cbc)
# 4-7: RFC 6040 4.2 decapsulation: the outer ECN field decides the inner one
p = down(4, tos=ECT0)
case(encap(gcm, p, 2, ecn=CE), set_ecn(p, CE))  # CE over ECT(0): CE
p = down(5, tos=ECT1)
case(encap(gcm, p, 3, ecn=CE), set_ecn(p, CE))  # CE over ECT(1): CE
p = down(6, tos=ECT0)
case(encap(gcm, p, 4, ecn=ECT1), set_ecn(p, ECT1))  # ECT(1) over ECT(0): ECT(1)
p = down(7, tos=NOT_ECT)
case(encap(gcm, p, 5, ecn=ECT0), p)  # ECT(0) over not-ECT: unchanged
p = down(8, tos=ECT1)
case(encap(gcm, p, 6, ecn=ECT0), p)  # ECT(0) over ECT(1): unchanged
# 9-11: out of order, inside the 64-packet window: all delivered
for seq in (40, 20, 30):
    p = down(seq)
    case(encap(gcm, p, seq), p)
# 12: TFC padding (RFC 4303 2.7): 100 bytes after the inner packet, then the ESP trailer
p = down(12, size=10)
case(craft(gcm, 41, raw(p) + bytes(100)), p)
# 13: the longest padding, 255 bytes (CBC: 255 + 2 + 30 inner bytes... any multiple of 16)
p = down(13, src="172.61.1.1", size=19)  # 47 bytes + 2 + 255 = 304 = 19 blocks
case(craft(cbc, 3, p, padding=bytes(range(1, 256))), p, cbc)

# 14: an outer IPv4 header with options (Router Alert, RFC 2113): ESP starts after them
p = down(14, src="172.61.2.2")
outer = bytearray(encap(cbc, p, 4))
opts = b"\x94\x04\x00\x00"
outer = bytearray(outer[:20] + opts + outer[20:])
outer[0] = 0x46
struct.pack_into("!H", outer, 2, len(outer))
outer[10:12] = b"\0\0"
struct.pack_into("!H", outer, 10, inet_checksum(bytes(outer[:24])))
case(bytes(outer), p, cbc)

write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lanes_last(lan_exp))
write_pcap(os.path.join(out, "expected_wan.pcap"), [garp(WAN_MAC, WAN_IP)])
