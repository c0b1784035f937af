"""Lanes as a lab sees them (docs/lanes.md): which lane an inner flow takes, and many numbered
UDP flows at once (labkit/flow_tools.py) to watch each flow across lane changes.

home_lane() models the dataplane's choice: lane_hash4() (dataplane/lanes/lane_hash.h), CRC32-C
as the SSE4.2 instruction computes it, over the addresses, then the ports, then the protocol;
the bucket is the top 10 bits of that CRC times 0x9e3779b1 (lane_bucket_of), and with every
lane up a bucket's lane is bucket mod lanes (dataplane/lanes/lane_map.h).
"""

import ipaddress
import os
import signal
import struct

from labkit.proc import result

FLOW_TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flow_tools.py")
BUCKETS = 1024
SEED = 0x6C616E65  # "lane"


def crc32c(crc, data):
    """CRC32-C without inversion (rte_hash_crc's)."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def lane_hash4(src, dst, proto, sport, dport):
    """The bucket (0 to 1023) of an unfragmented IPv4 TCP or UDP flow."""
    h = crc32c(SEED, ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed)
    h = crc32c(h, struct.pack("!HH", sport, dport))
    h = crc32c(h, struct.pack("<I", proto))
    return ((h * 0x9E3779B1) & 0xFFFFFFFF) >> 22


def home_lane(lanes, src, dst, proto, sport, dport):
    """The lane of an unfragmented TCP (6) or UDP (17) flow while every lane is up."""
    return lane_hash4(src, dst, proto, sport, dport) % lanes


def spread_ports(lanes, src, dst, proto, dport, count, start=40000):
    """The first run of `count` consecutive source ports from `start` up whose flows fill every
    lane evenly (count a multiple of lanes): iperf3 --cport P -P count uses P..P+count-1."""
    per = count // lanes
    for p in range(start, 60000):
        got = [0] * lanes
        for sp in range(p, p + count):
            got[home_lane(lanes, src, dst, proto, sp, dport)] += 1
        if all(g == per for g in got):
            return p
    raise ValueError(f"no {count} consecutive ports spread evenly over {lanes} lanes")


class FlowStreams:
    """`flows` UDP flows from namespace src (source ports sport..) to dst_ip:port in dst, each at
    `rate` datagrams per second; start(), then stop_and_collect() -> {flow index: report}."""

    def __init__(self, lab, src, src_ip, dst, dst_ip, flows=32, rate=100, port=7000,
                 sport=30000):
        self.lab, self.src, self.src_ip, self.dst, self.dst_ip = lab, src, src_ip, dst, dst_ip
        self.flows, self.rate, self.port, self.sport = flows, rate, port, sport
        self.send = self.recv = None

    def lane_of(self, lanes):
        """{flow index: its home lane}."""
        return {i: home_lane(lanes, self.src_ip, self.dst_ip, 17, self.sport + i, self.port)
                for i in range(self.flows)}

    def start(self, timeout=30):
        self.recv = self.lab.tool(self.dst, "udp-flows-recv", "--bind", self.dst_ip, "--port",
                                  str(self.port), "--flows", str(self.flows), "--timeout",
                                  str(timeout), script=FLOW_TOOLS)
        self.send = self.lab.tool(self.src, "udp-flows-send", "--to", self.dst_ip, "--bind",
                                  self.src_ip, "--port", str(self.port), "--flows",
                                  str(self.flows), "--sport", str(self.sport), "--rate",
                                  str(self.rate), script=FLOW_TOOLS)
        return self

    def stop_and_collect(self, timeout=60):
        self.send.send_signal(signal.SIGTERM)
        sent = result(self.send, "udp-flows-send", 30)
        got = result(self.recv, "udp-flows-recv", timeout)
        return {int(k): v for k, v in got["flows"].items()}, got["foreign"], sent


def flow_crc4(src, dst, proto, sport, dport):
    """The raw CRC32-C of an unfragmented IPv4 TCP or UDP flow (flow_crc4 in lane_hash.h), from
    which both the lane bucket and the ECMP bucket derive."""
    h = crc32c(SEED, ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed)
    h = crc32c(h, struct.pack("!HH", sport, dport))
    return crc32c(h, struct.pack("<I", proto))


def ecmp_bucket(src, dst, proto, sport, dport):
    """The ECMP bucket (0 to 1023) of a flow: ecmp_bucket_of() in lane_hash.h, the top 10 bits of
    the flow's CRC times 0x85ebca6b (another multiplier than the lanes')."""
    return ((flow_crc4(src, dst, proto, sport, dport) * 0x85EBCA6B) & 0xFFFFFFFF) >> 22


class BucketTable:
    """LaneMap's rules (dataplane/lanes/lane_map.h), which an ECMP route's bucket table follows
    too (dataplane/tables/fpm_table.h): bucket b starts on b % members; a member that goes down
    hands each of its buckets to the up member with the fewest (ties: the lowest index); one that
    comes back takes back the buckets whose home it is."""

    def __init__(self, members):
        self.members = members
        self.up = [True] * members
        self.buckets = [b % members for b in range(BUCKETS)]

    def load(self):
        n = [0] * self.members
        for m in self.buckets:
            n[m] += 1
        return n

    def set_up(self, member, up):
        if self.up[member] == up:
            return
        self.up[member] = up
        if up:
            for b in range(member, BUCKETS, self.members):
                self.buckets[b] = member
        self._rehome_stranded()

    def _rehome_stranded(self):
        if not any(self.up):
            return
        n = self.load()
        for b, m in enumerate(self.buckets):
            if self.up[m]:
                continue
            best = min((i for i in range(self.members) if self.up[i]), key=lambda i: (n[i], i))
            self.buckets[b] = best
            n[best] += 1
            n[m] -= 1

    def member_of(self, bucket):
        return self.buckets[bucket]
