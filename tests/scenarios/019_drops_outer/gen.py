#!/usr/bin/python3
"""019_drops_outer: one frame per way to break the outer layers (see config.yaml), and good
packets beside them; expected: only the good ones forwarded, every drop counted (expect.json)."""
import os
import struct

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, IPv6, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
sa = find_sa(cfg, "east", "in")
lan_exp, wan_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)]


def poke(b, off, value, fmt="!B"):
    b = bytearray(b)
    struct.pack_into(fmt, b, off, value)
    return bytes(b)


def fix_ip_checksum(b):
    b = bytearray(b)
    ihl = (b[0] & 0x0F) * 4
    b[10:12] = b"\0\0"
    struct.pack_into("!H", b, 10, inet_checksum(bytes(b[:ihl])))
    return bytes(b)


good = IP(src="192.0.2.20", dst=HOST_IP, id=1) / UDP(sport=1, dport=2) / Raw(b"good")
good_b = raw(good)
good_esp = IP(src=REMOTE_HOST, dst=HOST_IP, id=2) / UDP(sport=1, dport=2) / Raw(b"good esp")
wan_in = [
    # bad_frame
    bytes.fromhex(WAN_MAC.replace(":", "")) + b"\x02\0\0\0",  # 10 bytes: no Ethernet header
    frame(ROUTER_MAC, WAN_MAC, IP(src="192.0.2.20", dst=HOST_IP) / UDP(sport=1, dport=2) /
          Raw(bytes(3000))),  # larger than the mbuf's data room: arrives chained
    # other_host: unicast to someone else's MAC (a promiscuous port sees these)
    frame(ROUTER_MAC, "02:00:00:00:99:99", good),
    # bad_ip_header
    frame(ROUTER_MAC, WAN_MAC, fix_ip_checksum(poke(good_b, 0, 0x44))),  # IHL 4
    frame(ROUTER_MAC, WAN_MAC, poke(good_b, 0, 0x65)),  # version 6 under ethertype IPv4
    frame(ROUTER_MAC, WAN_MAC, good_b)[:14] + good_b[:16],  # 16 bytes of IPv4 header
    frame(ROUTER_MAC, WAN_MAC, raw(IPv6(src="2001:db8::1", dst=HOST_IP6) / UDP()))[:14]
    + good_b + bytes(20),  # an IPv4 packet under ethertype IPv6
    # ip_length
    frame(ROUTER_MAC, WAN_MAC, fix_ip_checksum(poke(good_b, 2, len(good_b) + 1, "!H"))),
    frame(ROUTER_MAC, WAN_MAC, fix_ip_checksum(poke(good_b, 2, 19, "!H"))),  # total < IHL
    frame(ROUTER_MAC, WAN_MAC, raw(IPv6(src="2001:db8::1", dst=HOST_IP6, plen=100) /
                                   UDP(sport=1, dport=2))),
    # ip_checksum
    frame(ROUTER_MAC, WAN_MAC, poke(good_b, 10, struct.unpack_from("!H", good_b, 10)[0] ^ 1, "!H")),
    # martian: transit with a source that cannot be
    frame(ROUTER_MAC, WAN_MAC, IP(src="0.0.0.0", dst=HOST_IP) / UDP(sport=1, dport=2), 60),
    frame(ROUTER_MAC, WAN_MAC, IP(src="127.0.0.1", dst=HOST_IP) / UDP(sport=1, dport=2), 60),
    frame(ROUTER_MAC, WAN_MAC, IP(src="224.0.0.9", dst=HOST_IP) / UDP(sport=1, dport=2), 60),
    frame(ROUTER_MAC, WAN_MAC, IP(src="192.0.2.20", dst="127.0.0.1") / UDP(sport=1, dport=2), 60),
    frame(ROUTER_MAC, WAN_MAC, IPv6(src="fe80::1", dst=HOST_IP6) / UDP(sport=1, dport=2)),
    frame(ROUTER_MAC, WAN_MAC, IPv6(src="ff02::1", dst=HOST_IP6) / UDP(sport=1, dport=2)),
    # ESP: truncated (4 bytes of ESP; an SPI and sequence number but no room for IV and ICV;
    # two bytes in UDP 4500, which are neither a keepalive nor a marker)
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, proto=50) / Raw(b"\0\0\x20\x01"), 60),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP) / UDP(sport=4500, dport=4500, chksum=0)
          / Raw(struct.pack("!II", 0x2001, 1) + bytes(20))),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP) / UDP(sport=4500, dport=4500, chksum=0)
          / Raw(b"\x20\x01"), 60),
    # ip_length, the engine's: UDP length longer than the packet
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP) /
          UDP(sport=4500, dport=4500, chksum=0, len=200) / Raw(struct.pack("!II", 0x2001, 1) +
                                                               bytes(40))),
    # outer_fragment: ESP in fragments (first with MF, and a later one), NAT-T with MF
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, proto=50, flags="MF") /
          Raw(struct.pack("!II", 0x2001, 1) + bytes(40))),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, proto=50, frag=6) / Raw(bytes(40))),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, flags="MF") /
          UDP(sport=4500, dport=4500, chksum=0, len=500) / Raw(struct.pack("!II", 0x2001, 1) +
                                                               bytes(40))),
    # reserved_spi (1 and 255) and unknown_spi (plain ESP, and in UDP)
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, proto=50) /
          Raw(struct.pack("!II", 1, 1) + bytes(40))),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP) / UDP(sport=4500, dport=4500, chksum=0)
          / Raw(struct.pack("!II", 255, 1) + bytes(40))),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP, proto=50) /
          Raw(struct.pack("!II", 0x2002, 1) + bytes(40))),
    frame(ROUTER_MAC, WAN_MAC, IP(src=PEER_IP, dst=WAN_IP) / UDP(sport=4500, dport=4500, chksum=0)
          / Raw(struct.pack("!II", 0x99999999, 1) + bytes(40))),
    # good packets beside them: plain, and ESP in UDP
    frame(ROUTER_MAC, WAN_MAC, good, 60),
    frame(ROUTER_MAC, WAN_MAC, encap(sa, good_esp, 1)),
]
lan_exp += [frame(LAN_MAC, HOST_MAC, routed(good)), frame(LAN_MAC, HOST_MAC, routed(good_esp))]
lan_in = [
    frame(HOST_MAC, LAN_MAC, IP(src=HOST_IP, dst="192.0.2.20", ttl=5) / UDP(sport=3, dport=4), 60),
    frame(HOST_MAC, LAN_MAC, IP(src="127.0.0.1", dst="192.0.2.20") / UDP(sport=3, dport=4), 60),
]
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, routed(lan_in[0][14:34 + 8])))
write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
