"""zebra's side of an FPM connection (dplane_fpm_nl, docs/routing.md "FPM from zebra"), for tests
that drive espgw's routing.fpm listener without FRR.

Frames are built as tests/unit/fpm_decoder_test.cpp builds them (and as zebra 8.4 writes them:
tests/routing/fpm_samples.jsonl): a 4-byte FPM header (version 1, type 1 netlink, big-endian
length with the header) around rtnetlink route messages in host byte order.

    c = FpmClient("127.0.0.1", 2620, netns="lab-ns").connect()   # espgw's namespace
    c.send(add("10.9.0.0/16", ["169.254.10.2", "169.254.10.6"]))      # ECMP: RTA_MULTIPATH
    c.send(replace("10.9.0.0/16", ["169.254.10.2"]))                  # DEL + NEW in one frame
    c.send(delete("10.9.0.0/16"))
    c.close()
"""

import ctypes
import ipaddress
import os
import socket
import struct
import threading

RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_MULTIPATH = 9
NLA_F_NESTED = 0x8000  # zebra marks RTA_MULTIPATH nested
RTN_UNICAST = 1
RTPROT_BGP = 186
NEW_FLAGS = 0x501  # NLM_F_REQUEST | NLM_F_REPLACE | NLM_F_CREATE, as zebra sets them
DEL_FLAGS = 0x401  # NLM_F_REQUEST | NLM_F_CREATE
TABLE_MAIN = 254


def _attr(kind, value):
    b = struct.pack("=HH", 4 + len(value), kind) + value
    return b + bytes(-len(b) % 4)


def _nlmsg(kind, flags, body):
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 0, 0) + body


def route_message(kind, prefix, gateways=(), ifindex=0, protocol=RTPROT_BGP):
    """One RTM_NEWROUTE or RTM_DELROUTE; gateways: none (a withdraw), one (RTA_GATEWAY) or
    several (RTA_MULTIPATH, weight 1 each); ifindex: RTA_OIF, or each member's (a list)."""
    net = ipaddress.ip_network(prefix)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    rtm_type = RTN_UNICAST if kind == RTM_NEWROUTE else 0
    attrs = b""
    if net.prefixlen != 0:
        attrs += _attr(RTA_DST, net.network_address.packed)
    attrs += _attr(RTA_PRIORITY, struct.pack("=I", 20))
    gws = [ipaddress.ip_address(g).packed for g in gateways]
    oifs = list(ifindex) if isinstance(ifindex, (list, tuple)) else [ifindex] * len(gws)
    if len(gws) == 1:
        attrs += _attr(RTA_GATEWAY, gws[0])
        if oifs[0]:
            attrs += _attr(RTA_OIF, struct.pack("=I", oifs[0]))
    elif len(gws) > 1:
        hops = b""
        for g, oif in zip(gws, oifs):
            a = _attr(RTA_GATEWAY, g)
            hops += struct.pack("=HBBi", 8 + len(a), 0, 0, oif) + a
        attrs += _attr(RTA_MULTIPATH | NLA_F_NESTED, hops)
    rtmsg = struct.pack("=BBBBBBBBI", family, net.prefixlen, 0, 0, TABLE_MAIN, protocol, 0,
                        rtm_type, 0)
    return _nlmsg(kind, NEW_FLAGS if kind == RTM_NEWROUTE else DEL_FLAGS, rtmsg + attrs)


def frame(*messages):
    body = b"".join(messages)
    return struct.pack("!BBH", 1, 1, 4 + len(body)) + body


def add(prefix, gateways, ifindex=0):
    return frame(route_message(RTM_NEWROUTE, prefix, gateways, ifindex))


def delete(prefix):
    return frame(route_message(RTM_DELROUTE, prefix))


def replace(prefix, gateways, ifindex=0):
    """zebra 8.4's update of a route: RTM_DELROUTE and RTM_NEWROUTE in one frame."""
    return frame(route_message(RTM_DELROUTE, prefix),
                 route_message(RTM_NEWROUTE, prefix, gateways, ifindex))


CLONE_NEWNET = 0x40000000


def connect_in(netns, address, port, timeout):
    """A TCP connection made from inside network namespace `netns` (/run/netns/NAME; None: this
    one). A thread of its own enters the namespace (setns changes only the calling thread's),
    connects and ends; the socket stays in that namespace."""
    if netns is None:
        return socket.create_connection((address, port), timeout)
    out = {}

    def run():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {netns}: {os.strerror(e)}")
            finally:
                os.close(fd)
            out["sock"] = socket.create_connection((address, port), timeout)
        except OSError as e:
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["sock"]


class FpmClient:
    def __init__(self, address, port, netns=None, timeout=5):
        self.address, self.port, self.netns, self.timeout = address, port, netns, timeout
        self.sock = None

    def connect(self):
        self.sock = connect_in(self.netns, self.address, self.port, self.timeout)
        return self

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
