#!/usr/bin/python3
"""009_ttl_expiry: expiring packets from the LAN, from the WAN and out of the tunnel; expected:
ICMP time exceeded back to each sender (into the tunnel for the tunnel's packet), none where RFC
1812 forbids one."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import ICMP, IP, TCP, UDP, IPv6, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
lan_in, wan_in = [], []
lan_exp, wan_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)]


def time_exceeded(src, pkt):
    """Our ICMP time exceeded about `pkt` as it arrived (the TTL ran out before it changed)."""
    return icmp4_error(src, pkt, 11, 0)


# 1. LAN -> internet, TTL 1: error from our LAN address
p = IP(src=HOST_IP, dst="192.0.2.80", ttl=1, id=1) / UDP(sport=33434, dport=33435) / Raw(b"t" * 24)
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, time_exceeded(LAN_IP, p)))
# 2. TTL 0 (no router should send it, but one did): the same
p = IP(src=HOST_IP, dst="192.0.2.80", ttl=0, id=2, flags="DF") / \
    TCP(sport=5000, dport=22, flags="S")
lan_in.append(frame(HOST_MAC, LAN_MAC, p, pad_to=60))
lan_exp.append(frame(LAN_MAC, HOST_MAC, time_exceeded(LAN_IP, p)))
# 3. LAN -> tunnel, TTL 1: expires before encryption; the error comes back on the LAN
p = IP(src=HOST_IP, dst="172.60.1.20", ttl=1, id=3) / UDP(sport=33434, dport=33436)
lan_in.append(frame(HOST_MAC, LAN_MAC, p, pad_to=60))
lan_exp.append(frame(LAN_MAC, HOST_MAC, time_exceeded(LAN_IP, p)))
# 4. a large packet: the quote is cut at 548 bytes
p = IP(src=HOST_IP, dst="192.0.2.80", ttl=1, id=4) / UDP(sport=1, dport=2) / \
    Raw(bytes(i & 0xFF for i in range(1200)))
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, time_exceeded(LAN_IP, p)))
# 5. an ICMP error with TTL 1: dropped without an error about it
p = IP(src=HOST_IP, dst="192.0.2.80", ttl=1, id=5) / ICMP(type=3, code=3) / \
    Raw(raw(IP(src="192.0.2.80", dst=HOST_IP) / UDP(sport=53, dport=1000)))
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
# 6. an ICMP echo with TTL 1 does get one (only errors are exempt)
p = IP(src=HOST_IP, dst="192.0.2.80", ttl=1, id=6) / ICMP(type=8, id=1, seq=1) / Raw(b"echo")
lan_in.append(frame(HOST_MAC, LAN_MAC, p, pad_to=60))
lan_exp.append(frame(LAN_MAC, HOST_MAC, time_exceeded(LAN_IP, p)))
# 7. a non-first fragment with TTL 1: dropped without an error
p = IP(src=HOST_IP, dst="192.0.2.80", ttl=1, id=7, frag=100, proto=17) / Raw(b"f" * 16)
lan_in.append(frame(HOST_MAC, LAN_MAC, p, pad_to=60))
# 8. IPv6, hop limit 1: ICMPv6 time exceeded from our LAN address
p = IPv6(src=HOST_IP6, dst="2001:db8:abcd::1", hlim=1) / UDP(sport=33434, dport=33437) / Raw(b"six")
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
lan_exp.append(frame(LAN_MAC, HOST_MAC, icmp6_error(LAN_IP6, p, 3, 0)))

# 9. internet -> LAN host, TTL 1: error from our WAN address, out of the WAN port
p = IP(src="192.0.2.80", dst=HOST_IP, ttl=1, id=9) / UDP(sport=53, dport=1000) / Raw(b"w" * 10)
wan_in.append(frame(ROUTER_MAC, WAN_MAC, p, pad_to=60))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, time_exceeded(WAN_IP, p)))
# 10. out of the tunnel with inner TTL 1: error from 172.50.1.1 (inside the local selectors),
#     encrypted back to the peer with the outbound SA
p = IP(src="172.60.1.20", dst=HOST_IP, ttl=1, id=10) / UDP(sport=33434, dport=33438) / Raw(b"v")
wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(find_sa(cfg, "east", "in"), p, 1)))
err = time_exceeded(LAN_IP, p)
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(find_sa(cfg, "east", "out"), err, 1)))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
