#!/usr/bin/python3
"""005_ipv6: LAN packets (IPv6 into the IPv4 tunnel; IPv4 and IPv6 into the IPv6 tunnel) and ESP
from both peers; expected: ESP on the WAN, inner packets on the LAN."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, IPv6, ICMPv6EchoRequest, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
v4o, v4i = find_sa(cfg, "v4", "out"), find_sa(cfg, "v4", "in")
v6o, v6i = find_sa(cfg, "v6", "out"), find_sa(cfg, "v6", "in")
lan_in, wan_in = [], []
lan_exp, wan_exp = [(garp(LAN_MAC, LAN_IP), None)], [(garp(WAN_MAC, WAN_IP), None)]


def up(pkt, sa, seq):
    lan_in.append(frame(HOST_MAC, LAN_MAC, pkt))
    wan_exp.append((frame(WAN_MAC, ROUTER_MAC, encap(sa, routed(pkt), seq)), sa))


def down(pkt, sa, seq):
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(sa, pkt, seq)))
    lan_exp.append((frame(LAN_MAC, HOST_MAC, routed(pkt)), sa))


# IPv6 into the IPv4 tunnel: traffic class 0x2a (DSCP 10, ECT(0)) copied, outer DF set
up(IPv6(src=HOST_IP6, dst="2001:db8:60::20", tc=0x2A, fl=0x12345) / UDP(sport=7000, dport=7)
   / Raw(b"six" * 30), v4o, 1)
up(IPv6(src=HOST_IP6, dst="2001:db8:60::21") / ICMPv6EchoRequest(id=1, seq=1, data=b"x" * 56),
   v4o, 2)
# both families into the IPv6 tunnel, NAT-T over IPv6
up(IP(src=HOST_IP, dst="172.80.1.1", id=9, tos=0x10) / UDP(sport=7001, dport=7)
   / Raw(b"four" * 10), v6o, 1)
up(IPv6(src=HOST_IP6, dst="2001:db8:80::1", hlim=2) / UDP(sport=7002, dport=7) / Raw(b"66" * 40),
   v6o, 2)
# and back
down(IPv6(src="2001:db8:60::20", dst=HOST_IP6, hlim=50) / UDP(sport=7, dport=7000)
     / Raw(b"six" * 30), v4i, 1)
down(IP(src="172.80.1.1", dst=HOST_IP, id=10) / UDP(sport=7, dport=7001) / Raw(b"four" * 10),
     v6i, 1)
down(IPv6(src="2001:db8:80::1", dst=HOST_IP6, tc=0xB8) / UDP(sport=7, dport=7002)
     / Raw(b"66" * 40), v6i, 2)
# RFC 6040 4.2 with an IPv6 inner packet: outer CE over ECT(0) makes the inner traffic class CE
p = IPv6(src="2001:db8:60::20", dst=HOST_IP6, tc=0x28 | 2) / UDP(sport=7, dport=7003) / Raw(b"ce")
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(v4i, p, 2, ecn=3)))
lan_exp.append((frame(LAN_MAC, HOST_MAC, routed(set_ecn(p, 3))), v4i))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lanes_last(lan_exp))
write_pcap(os.path.join(out, "expected_wan.pcap"), lanes_last(wan_exp))
