"""What crosses a wire: tcpdump into a pcap, and nft counters of what a kernel takes from a wire.

Capture(lab, ns, end, path).start() returns once tcpdump is capturing; stop(expected) waits until
the pcap holds `expected` packets (tcpdump drops what it has not read yet when interrupted), then
stops it. WireWatch counts, in a namespace, what its kernel takes from given veths to deliver
locally or to forward; check_unheard() fails if it took anything (netns.Net.gateway_port).
"""

import re
import signal
import struct

from labkit.proc import LabError, wait_for


def pcap_count(path):
    """Packets in a pcap file written so far (tcpdump -U writes whole records)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    n, off = 0, 24
    while off + 16 <= len(data):
        (caplen,) = struct.unpack_from("<I", data, off + 8)
        if off + 16 + caplen > len(data):
            break
        n, off = n + 1, off + 16 + caplen
    return n


class Capture:
    def __init__(self, lab, ns, end, path, snaplen=256, expression=("not", "arp")):
        self.lab, self.ns, self.end, self.path = lab, ns, end, path
        self.snaplen, self.expression = snaplen, list(expression)
        self.proc = None

    def start(self):
        self.proc = self.lab.spawn(self.ns, "tcpdump", "-n", "-U", "-s", str(self.snaplen), "-i",
                                   self.lab.dev[self.end], "-w", self.path, *self.expression)
        line = self.proc.stderr.readline()
        if "listening on" not in line:
            raise LabError(f"tcpdump on {self.lab.dev[self.end]} did not start: {line}")
        return self

    def count(self):
        return pcap_count(self.path)

    def stop(self, expected=0, timeout=10):
        """Once `expected` packets are written; tcpdump's closing words (its counts)."""
        wait_for(f"tcpdump to write {expected} packets to {self.path}",
                 lambda: self.count() >= expected, timeout)
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        return err


class WireWatch:
    """nft counters in namespace `ns` of what its kernel takes from the veths `ends`."""

    TABLE = "espgw_wire"

    def __init__(self, lab, ns, ends):
        self.lab, self.ns = lab, ns
        names = ", ".join(f'"{lab.dev[e]}"' for e in ends)
        lab.sh(ns, "nft", "; ".join(
            [f"add table inet {self.TABLE}"]
            + [f"add chain inet {self.TABLE} {h} {{ type filter hook {h} priority 0; }}; "
               f"add rule inet {self.TABLE} {h} iifname {{ {names} }} counter"
               for h in ("input", "forward")]))

    def heard(self):
        out = self.lab.sh(self.ns, "nft", "list", "table", "inet", self.TABLE).stdout
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", out)), out

    def check_unheard(self):
        """LabError unless the kernel took nothing from the veths: all it hears (IKE, ICMP to
        it) came through espgw's taps, once."""
        n, out = self.heard()
        if n:
            raise LabError(f"{self.lab.ns[self.ns]}'s kernel took {n} packet(s) from espgw's "
                           f"veths, not only from the taps (IKE reaches charon twice):\n{out}")
