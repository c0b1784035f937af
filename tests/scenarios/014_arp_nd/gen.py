#!/usr/bin/python3
"""014_arp_nd: ARP and ND frames on the LAN; expected: espgw's replies on the LAN (after its
gratuitous ARPs), and what the kernel must see."""
import os

from scenarios.scenlib import *  # noqa: F403
from scapy.all import (ARP, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IPv6, raw)

out = out_dir(__file__)
BCAST = "ff:ff:ff:ff:ff:ff"
H2_MAC, H2_IP = "02:00:00:00:01:30", "172.50.1.30"
lan_in, lan_exp, kernel_exp = [], [garp(LAN_MAC, LAN_IP), garp(LAN_MAC, "172.50.2.1")], []


def arp(op, src_mac, src_ip, dst_ip, dst_mac="00:00:00:00:00:00", eth_dst=BCAST, pad=True):
    f = raw(Ether(src=src_mac, dst=eth_dst) /
            ARP(op=op, hwsrc=src_mac, psrc=src_ip, hwdst=dst_mac, pdst=dst_ip))
    return f + bytes(60 - len(f)) if pad else f


def reply(req_mac, req_ip, our_ip, padded=True):
    """espgw's answer, written over the request: same length, padding and all."""
    return arp(2, LAN_MAC, our_ip, req_ip, dst_mac=req_mac, eth_dst=req_mac, pad=padded)


# 1. who has 172.50.1.1 (ours), from the LAN host: answered; a 42-byte frame stays 42 bytes
lan_in.append(arp(1, HOST_MAC, HOST_IP, LAN_IP, pad=False))
lan_exp.append(reply(HOST_MAC, HOST_IP, LAN_IP, padded=False))
# 2. our second address, from a host not known yet (learned: see expect.json), padded frame
lan_in.append(arp(1, H2_MAC, H2_IP, "172.50.2.1"))
lan_exp.append(reply(H2_MAC, H2_IP, "172.50.2.1"))
# 3. who has 172.50.1.99 (someone else): ignored
lan_in.append(arp(1, HOST_MAC, HOST_IP, "172.50.1.99"))
# 4. who has our WAN address, asked on the LAN: ignored (no proxy ARP)
lan_in.append(arp(1, HOST_MAC, HOST_IP, WAN_IP))
# 5. another host's gratuitous ARP: the kernel's
f = arp(1, "02:00:00:00:01:77", "172.50.1.77", "172.50.1.77")
lan_in.append(f)
kernel_exp.append(f)
# 6. an ARP reply to us: learned, and the kernel's too
f = arp(2, "02:00:00:00:01:20", "172.50.1.20", LAN_IP, dst_mac=LAN_MAC, eth_dst=LAN_MAC)
lan_in.append(f)
kernel_exp.append(f)
# 7. ARP over something other than Ethernet/IPv4 (hardware type 6, IEEE 802): ignored
f = bytearray(arp(1, HOST_MAC, HOST_IP, LAN_IP))
f[15] = 6
lan_in.append(bytes(f))
# 8. a frame too short for an ARP packet (14 + 20 bytes): truncated
lan_in.append(arp(1, HOST_MAC, HOST_IP, LAN_IP, pad=False)[:34])
# 9. IPv6: a neighbour solicitation for our address, to its solicited-node group
ns = IPv6(src=HOST_IP6, dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=LAN_IP6) / \
    ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC)
lan_in.append(frame(HOST_MAC, "33:33:ff:00:00:01", ns))
lan_exp.append(frame(LAN_MAC, HOST_MAC, IPv6(src=LAN_IP6, dst=HOST_IP6, hlim=255) /
                     ICMPv6ND_NA(R=0, S=1, O=1, tgt=LAN_IP6) /
                     ICMPv6NDOptDstLLAddr(lladdr=LAN_MAC)))
# 10. duplicate address detection for our address (source ::): answered to all nodes, not
#     solicited (RFC 4861 7.2.4)
dad = IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=LAN_IP6)
lan_in.append(frame("02:00:00:00:01:55", "33:33:ff:00:00:01", dad))
lan_exp.append(frame(LAN_MAC, "33:33:00:00:00:01", IPv6(src=LAN_IP6, dst="ff02::1", hlim=255) /
                     ICMPv6ND_NA(R=0, S=0, O=1, tgt=LAN_IP6) /
                     ICMPv6NDOptDstLLAddr(lladdr=LAN_MAC)))
# 11. a solicitation for someone else's address: the kernel's (multicast)
ns = IPv6(src=HOST_IP6, dst="ff02::1:ff00:99", hlim=255) / ICMPv6ND_NS(tgt="2001:db8:50::99") / \
    ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC)
lan_in.append(frame(HOST_MAC, "33:33:ff:00:00:99", ns))
kernel_exp.append(frame(HOST_MAC, "33:33:ff:00:00:99", ns))
# 12. an unsolicited advertisement from a neighbour: learned, and the kernel's
na = IPv6(src="2001:db8:50::20", dst="ff02::1", hlim=255) / \
    ICMPv6ND_NA(R=0, S=0, O=1, tgt="2001:db8:50::20") / \
    ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:01:20")
lan_in.append(frame("02:00:00:00:01:20", "33:33:00:00:00:01", na))
kernel_exp.append(frame("02:00:00:00:01:20", "33:33:00:00:00:01", na))

write_pcap(os.path.join(out, "input_lan.pcap"), lan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_lan_kernel.pcap"), kernel_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), [garp(WAN_MAC, WAN_IP)])
