#!/usr/bin/python3
"""010_fragmentation_needed: too-big packets with DF (and IPv6) into the tunnel, out of the DMZ
port, and out of the tunnel towards the DMZ; expected: the ICMP errors, and the packets that
just fit, forwarded."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, TCP, UDP, IPv6, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
DMZ_MAC, DMZ_HOST_MAC, DMZ_HOST, DMZ_HOST6 = "02:00:00:00:03:01", "02:00:00:00:03:05", \
    "10.9.0.5", "2001:db8:90::5"
sa_in, sa_out = find_sa(cfg, "east", "in"), find_sa(cfg, "east", "out")
lan_in, wan_in = [], []
lan_exp, wan_exp, dmz_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)], \
    [garp(DMZ_MAC, "10.9.0.1")]


def udp4(src, dst, size, df=True, ident=0):
    p = IP(src=src, dst=dst, id=ident, flags="DF" if df else 0) / UDP(sport=4444, dport=5555)
    return p / Raw(bytes(i & 0xFF for i in range(size - 28)))


def udp6(src, dst, size):
    return IPv6(src=src, dst=dst) / UDP(sport=4444, dport=5555) / \
        Raw(bytes(i & 0xFF for i in range(size - 48)))


# into the tunnel (inner MTU 1400)
p = udp4(HOST_IP, REMOTE_HOST, 1400, ident=1)  # fits exactly: encrypted
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(sa_out, routed(p), 1)))
p = udp4(HOST_IP, REMOTE_HOST, 1401, ident=2)  # one byte too many
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, icmp4_error(LAN_IP, routed(p), 3, 4, mtu=1400)))
p = IP(src=HOST_IP, dst="172.60.3.3", id=3, flags="DF") / TCP(sport=1, dport=2, flags="A") / \
    Raw(bytes(1500 - 40))  # a full-size TCP segment
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, icmp4_error(LAN_IP, routed(p), 3, 4, mtu=1400)))
p = udp6(HOST_IP6, "2001:db8:60::20", 1401)  # IPv6: packet too big, whatever DF
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, icmp6_error(LAN_IP6, routed(p), 2, 0, mtu=1400)))
# out of the DMZ port (MTU 1280)
p = udp4(HOST_IP, DMZ_HOST, 1280, ident=5)  # fits
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
dmz_exp.append(frame(DMZ_MAC, DMZ_HOST_MAC, routed(p)))
p = udp4(HOST_IP, DMZ_HOST, 1281, ident=6)
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, icmp4_error(LAN_IP, routed(p), 3, 4, mtu=1280)))
p = udp6(HOST_IP6, DMZ_HOST6, 1281)
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, icmp6_error(LAN_IP6, routed(p), 2, 0, mtu=1280)))
# from the WAN (internet) to the DMZ: the error leaves by the WAN, from our WAN address
p = udp4("192.0.2.7", DMZ_HOST, 1400, ident=8)
wan_in.append(frame(ROUTER_MAC, WAN_MAC, p))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, icmp4_error(WAN_IP, routed(p), 3, 4, mtu=1280)))
# out of the tunnel to the DMZ: the error goes back into the tunnel, from 172.50.1.1
p = udp4("172.60.1.20", DMZ_HOST, 1300, ident=9)
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(sa_in, p, 1)))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC,
                     encap(sa_out, icmp4_error(LAN_IP, routed(p), 3, 4, mtu=1280), 2)))

p = udp6("2001:db8:60::20", DMZ_HOST6, 1300)
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(sa_in, p, 2)))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC,
                     encap(sa_out, icmp6_error(LAN_IP6, routed(p), 2, 0, mtu=1280), 3)))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
write_pcap(os.path.join(out, "expected_dmz.pcap"), dmz_exp)
