#!/usr/bin/python3
"""011_fragment: large LAN packets with DF clear into the tunnel and to the DMZ; expected: their
fragments (encrypted one by one into the tunnel). The expected fragments are checked here to
reassemble to the forwarded packet."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, IPOption_RR, IPOption_Security, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
DMZ_MAC, DMZ_HOST_MAC = "02:00:00:00:03:01", "02:00:00:00:03:05"
sa = find_sa(cfg, "east", "out")
lan_in = []
wan_exp, dmz_exp = [garp(WAN_MAC, WAN_IP)], [garp(DMZ_MAC, "10.9.0.1")]


def big(dst, size, ident, **kw):
    p = IP(src=HOST_IP, dst=dst, id=ident, **kw) / UDP(sport=7777, dport=8888)
    n = size - len(p)
    return p / Raw(bytes((i * 7) & 0xFF for i in range(n)))


seq = 1
cases = [
    # into the tunnel: 1500 bytes -> 572 + 572 + 396
    (big(REMOTE_HOST, 1500, 0x1111), "tunnel"),
    # options: Security (copied) in every fragment, Record Route (not copied) in the first only
    (big(REMOTE_HOST, 1200, 0x2222,
         options=[IPOption_Security(), IPOption_RR(routers=["0.0.0.0"])]), "tunnel"),
    # already a fragment (offset 1480, MF): its pieces keep MF and continue the offsets
    (IP(raw(IP(src=HOST_IP, dst=REMOTE_HOST, id=0x3333, frag=185, flags="MF", proto=17)
           / Raw(bytes(range(256)) * 4))), "tunnel"),
    # a DF-clear packet that fits exactly: not fragmented
    (big(REMOTE_HOST, 576, 0x4444), "tunnel"),
    # out of the DMZ port (MTU 576): 1500 bytes -> 572 + 572 + 396
    (big("10.9.0.5", 1500, 0x5555), "dmz"),
]
for pkt, where in cases:
    lan_in.append(frame(HOST_MAC, LAN_MAC, pkt))
    fwd = routed(pkt)
    frags = fragments(fwd, 576) if len(fwd) > 576 else [fwd]
    check_reassembly(frags, fwd)
    for f in frags:
        if where == "tunnel":
            wan_exp.append(frame(WAN_MAC, ROUTER_MAC, encap(sa, f, seq)))
            seq += 1
        else:
            dmz_exp.append(frame(DMZ_MAC, DMZ_HOST_MAC, f))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), [garp(LAN_MAC, LAN_IP)])
write_pcap(os.path.join(out, "expected_wan.pcap"), wan_exp)
write_pcap(os.path.join(out, "expected_dmz.pcap"), dmz_exp)
