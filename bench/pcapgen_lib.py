"""bench/pcapgen: writes test traffic for an espgw tunnel as a pcap, from the espgw config that runs it.

  clear: what the VPC side sends into the gateway: Ethernet to the LAN port's MAC, IPv4/UDP from the
         tunnel's local_cidrs to its remote_cidrs (these get encrypted)
  esp:   what the peer sends to the gateway's WAN port: the same kind of inner packets, from
         remote_cidrs to local_cidrs, encrypted with the tunnel's static inbound SA (ESP, or
         ESP-in-UDP when the tunnel has nat_t), sequence numbers 1, 2, 3, ...

Sizes are inner IP packet sizes: a number, or `imix` (7:4:1 of 64/570/1518 B, interleaved), the
sizes bench/run measures. Flows differ in inner source address and UDP ports, so RSS on a real NIC
spreads the clear side (the ESP side is one outer flow per SA; NAT-T ports are fixed by the SA).

  bench/pcapgen --config gw1.yaml --tunnel vpc-b --side clear --size 64 --flows 1024 -o lan64.pcap
  bench/pcapgen --config gw2.yaml --tunnel vpc-a --side esp --size imix --count 1200 -o wan.pcap

The MACs come from the config's interfaces (`mac:`); give --dst-mac where the config leaves the
device's own, and --src-mac for the sender (default 02:00:00:00:00:fe). Needs Debian's scapy
(/usr/bin/python3, python3-scapy) and python3-yaml. Used by bench/run and for pktgen-dpdk
(docs/load-testing.md).
"""

import argparse
import ipaddress
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the tests' lab kit: bench scripts run by hand

from labkit import packets  # noqa: E402  (an espgw config's SAs in scapy, as the tests use)
from scapy.compat import raw  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

IMIX = [64, 570, 64, 570, 64, 64, 1518, 64, 570, 64, 570, 64]  # 7 x 64, 4 x 570, 1 x 1518


def sizes_of(spec, count):
    pattern = IMIX if spec == "imix" else [int(spec)]
    return [pattern[i % len(pattern)] for i in range(count)]


def hosts(prefixes, n):
    """n addresses spread over the first IPv4 prefix of a list (skipping .0 and the broadcast)."""
    for p in prefixes:
        net = ipaddress.ip_network(p, strict=False)
        if net.version == 4:
            span = max(1, net.num_addresses - 2)
            base = int(net.network_address) + (1 if net.num_addresses > 2 else 0)
            return [str(ipaddress.IPv4Address(base + (i * 7919) % span)) for i in range(n)]
    sys.exit("pcapgen: no IPv4 prefix in %s" % prefixes)


def inner(src, dst, sport, dport, size):
    if size < 28:
        sys.exit("pcapgen: an IPv4/UDP packet has at least 28 bytes, asked for %d" % size)
    return IP(src=src, dst=dst, ttl=64, id=sport & 0xFFFF) / UDP(sport=sport, dport=dport) / Raw(
        b"\x00" * (size - 28))


def interface_mac(cfg, pred):
    for ifc in cfg.get("interfaces", []):
        for a in ifc.get("addresses", []):
            if pred(ipaddress.ip_interface(a)):
                return ifc.get("mac")
    return None


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


def generate(cfg, tunnel_name, side, size, flows, count, src_mac=None, dst_mac=None):
    """The frames (bytes) of one pcap."""
    tunnel = next((t for t in cfg.get("tunnels", []) if t["name"] == tunnel_name), None)
    if tunnel is None:
        sys.exit("pcapgen: no tunnel %r in the config" % tunnel_name)
    local_cidrs, remote_cidrs = tunnel["local_cidrs"], tunnel["remote_cidrs"]
    src_mac = src_mac or "02:00:00:00:00:fe"
    if side == "clear":
        srcs, dsts = hosts(local_cidrs, flows), hosts(remote_cidrs, 16)
        dst_mac = dst_mac or interface_mac(cfg, lambda a: any(
            a.ip in ipaddress.ip_network(c, strict=False) for c in local_cidrs))
    else:
        if "static_sa" not in tunnel:
            sys.exit("pcapgen: tunnel %r has no static_sa: ESP needs its keys" % tunnel_name)
        srcs, dsts = hosts(remote_cidrs, flows), hosts(local_cidrs, 16)
        local = ipaddress.ip_address(tunnel["local"])
        dst_mac = dst_mac or interface_mac(cfg, lambda a: a.ip == local)
        sa = packets.Sa(tunnel, "in")
    if dst_mac is None:
        sys.exit("pcapgen: the config gives no MAC for the receiving interface: use --dst-mac")
    frames = []
    for i, n in enumerate(sizes_of(size, count)):
        f = i % flows
        pkt = inner(srcs[f], dsts[f % len(dsts)], 1024 + f, 5001 + f % 16, n)
        if side == "esp":
            # Tunnel mode, NAT-T as the SA says (packets.encap: the scenario tests' ESP builder).
            pkt = IP(packets.encap(sa, pkt, i + 1))
        frames.append(raw(Ether(dst=dst_mac, src=src_mac) / pkt))
    return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="espgw config (YAML)")
    ap.add_argument("--tunnel", required=True)
    ap.add_argument("--side", choices=["clear", "esp"], required=True)
    ap.add_argument("--size", default="64", help="inner IP packet size in bytes, or imix")
    ap.add_argument("--flows", type=int, default=256)
    ap.add_argument("--count", type=int, default=0, help="packets (default: flows, rounded up "
                    "to a whole IMIX pattern)")
    ap.add_argument("--src-mac")
    ap.add_argument("--dst-mac")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    count = args.count or args.flows
    if args.size == "imix" and not args.count:
        count = -(-count // len(IMIX)) * len(IMIX)
    frames = generate(packets.load_config(args.config), args.tunnel, args.side, args.size,
                      args.flows, count, args.src_mac, args.dst_mac)
    write_pcap(args.out, frames)
    print("%s: %d frames, %d to %d bytes" % (args.out, len(frames), min(map(len, frames)),
                                            max(map(len, frames))))


