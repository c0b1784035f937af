#!/usr/bin/python3
"""012_mss_clamp: SYNs and other segments into and out of both tunnels, and a forwarded SYN;
expected: the same segments with the MSS clamped where it should be."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, TCP, IPv6

out = out_dir(__file__)
cfg = case_config(__file__)
sas = {n: (find_sa(cfg, n, "out"), find_sa(cfg, n, "in")) for n in ("aws", "derived")}
seqs = {"aws": [0, 0], "derived": [0, 0]}
lan_in, wan_in = [], []
lan_exp, wan_exp = [garp(LAN_MAC, LAN_IP)], [garp(WAN_MAC, WAN_IP)]
# derived: AES-128-CBC/HMAC-SHA256, no NAT-T: inner MTU (1500 - 20 - 8 - 16 - 16) & ~15 - 2
DERIVED_MTU = ((1500 - 60) & ~15) - 2
CLAMP = {"aws": (1379, 1379), "derived": (DERIVED_MTU - 40, DERIVED_MTU - 60)}


def seg(ip, flags="S", mss=1460, opts_before=(), sport=50000, dport=443):
    options = list(opts_before) + ([("MSS", mss)] if mss is not None else []) + \
        [("SAckOK", b""), ("WScale", 7)]
    return ip / TCP(sport=sport, dport=dport, flags=flags, seq=1000, ack=0 if flags == "S" else 1,
                    window=64240, options=options)


def clamped(pkt, mss):
    """The packet with its TCP MSS option set to `mss` and the TCP checksum recomputed."""
    p = (IP if l3(pkt)[0] >> 4 == 4 else IPv6)(l3(pkt))
    p[TCP].options = [("MSS", mss) if o[0] == "MSS" else o for o in p[TCP].options]
    del p[TCP].chksum
    return raw(p)


def up(tunnel, pkt, mss_after=None):
    o, _ = sas[tunnel]
    seqs[tunnel][0] += 1
    lan_in.append(frame(HOST_MAC, LAN_MAC, pkt))
    sent = routed(pkt) if mss_after is None else routed(clamped(pkt, mss_after))
    wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(o, sent, seqs[tunnel][0])))


def down(tunnel, pkt, mss_after=None):
    _, i = sas[tunnel]
    seqs[tunnel][1] += 1
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, encap(i, pkt, seqs[tunnel][1])))
    got = routed(pkt) if mss_after is None else routed(clamped(pkt, mss_after))
    lan_exp.append(frame(LAN_MAC, HOST_MAC, got))


# plain forwarding to the internet: no clamping. (First: route() sends forwarded packets at once
# and each tunnel's packets after them, as one burst per tunnel.)
p = seg(IP(src=HOST_IP, dst="192.0.2.10", id=4), mss=1460)
lan_in.append(frame(HOST_MAC, LAN_MAC, p))
wan_exp.append(frame(WAN_MAC, ROUTER_MAC, routed(p)))
v4 = IP(src=HOST_IP, dst=REMOTE_HOST, id=1, flags="DF")
up("aws", seg(v4), 1379)                                  # SYN 1460 -> 1379
up("aws", seg(v4, mss=1300))                              # lower already: untouched
up("aws", seg(v4, opts_before=[("NOP", None)]), 1379)     # MSS at an odd offset
up("aws", seg(v4, mss=None))                              # no MSS option
up("aws", seg(v4, flags="A"))                             # not a SYN
up("aws", seg(IPv6(src=HOST_IP6, dst="2001:db8:60::20"), mss=1440), 1379)
up("derived", seg(IP(src=HOST_IP, dst="172.61.1.1", id=2), mss=1460), CLAMP["derived"][0])
up("derived", seg(IPv6(src=HOST_IP6, dst="2001:db8:61::1"), mss=1440), CLAMP["derived"][1])
# out of the tunnels: SYN-ACKs from the far side
back = IP(src=REMOTE_HOST, dst=HOST_IP, id=3)
down("aws", seg(back, flags="SA", mss=8960, sport=443, dport=50000), 1379)
down("aws", seg(back, flags="SA", mss=1200, sport=443, dport=50000))
down("aws", seg(back, flags="SA", opts_before=[("NOP", None), ("NOP", None), ("NOP", None)],
                sport=443, dport=50000), 1379)
down("derived", seg(IPv6(src="2001:db8:61::1", dst=HOST_IP6), flags="SA", sport=443,
                    dport=50001), CLAMP["derived"][1])

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
