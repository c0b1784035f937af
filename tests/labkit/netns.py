"""Network namespaces and veths, every name made from a prefix and a random tag.

A namespace is `<prefix>-<tag>-<name>` ("e2e-3f0a-gw1"); a veth end is `<prefix>-<tag>-<short>`
(15 characters at most), its short name made from the end's key ("gw1_wan" -> "1w", "inet2" ->
"i2", "a" -> "a"). So two labs never meet, and what one lab made is found by its prefix and tag
alone (Lab.sweep_abandoned).

Ends get fixed MACs, so that crafted frames can be addressed without asking anyone.
"""

import json
import os
import re
import signal

from labkit.proc import LabError, run

# IPv4 only (no router solicitations, MLD or DAD chatter on the wires) and loose reverse-path
# checks, except where gateway_port() makes one strict.
NAMESPACE_SYSCTLS = ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                     "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")


def short_name(end):
    """An end's part of a veth name: "gw1_wan" -> "1w", "inet2" -> "i2", "a" -> "a"."""
    m = re.fullmatch(r"gw(\d+)_(\w)\w*", end)
    if m:
        return m.group(1) + m.group(2)
    m = re.fullmatch(r"([a-z])[a-z]*(\d+)", end)
    return m.group(1) + m.group(2) if m else end


class Net:
    """The namespaces and veths of one lab."""

    def __init__(self, prefix, tag, mac_prefix="02:1a:b0:00:00"):
        self.prefix, self.tag = prefix, tag
        self.mac_prefix = mac_prefix
        self.ns = {}  # name -> namespace
        self.dev = {}  # end -> veth name
        self.mac = {}  # end -> MAC
        self.created = []

    def name(self, short):
        return f"{self.prefix}-{self.tag}-{short}"

    def declare(self, *names):
        """Names the namespaces without making them (a lab's constructor knows its topology)."""
        for n in names:
            self.ns[n] = self.name(n)

    def end(self, end):
        """Names a veth end and gives it a MAC (idempotent); its veth name."""
        if end not in self.dev:
            dev = self.name(short_name(end))
            if len(dev) > 15 or dev in self.dev.values():
                raise LabError(f"veth name {dev} for {end}: too long or taken")
            self.dev[end] = dev
            self.mac[end] = f"{self.mac_prefix}:{len(self.mac) + 1:02x}"
        return self.dev[end]

    # ---- commands ----

    def nsexec(self, ns, *cmd):
        return ["ip", "netns", "exec", self.ns[ns], *cmd]

    def sh(self, ns, *cmd, check=True, timeout=60, stdin=None):
        return run(self.nsexec(ns, *cmd), check=check, timeout=timeout, stdin=stdin)

    # ---- making ----

    def add(self, *names):
        """The namespaces, with lo up and NAMESPACE_SYSCTLS."""
        for n in names:
            self.declare(n)
            run(["ip", "netns", "add", self.ns[n]])
            self.created.append(self.ns[n])
            self.sh(n, "ip", "link", "set", "lo", "up")
            self.sh(n, "sysctl", "-qw", *NAMESPACE_SYSCTLS)

    def veth(self, end1, ns1, end2, ns2):
        """A veth pair from namespace ns1 to ns2, checksum offloads off (without that, TCP and UDP
        arrive with bad checksums after af_packet: docs/platform-notes.md)."""
        d1, d2 = self.end(end1), self.end(end2)
        run(["ip", "link", "add", d1, "netns", self.ns[ns1], "address", self.mac[end1], "type",
             "veth", "peer", "name", d2, "netns", self.ns[ns2], "address", self.mac[end2]])
        for end, ns in ((end1, ns1), (end2, ns2)):
            self.sh(ns, "ethtool", "-K", self.dev[end], "tx", "off", "rx", "off")

    def address(self, ns, end, cidr):
        """An address on an end, and the end up."""
        self.sh(ns, "ip", "addr", "add", cidr, "dev", self.dev[end])
        self.sh(ns, "ip", "link", "set", self.dev[end], "up")

    def host(self, ns, end, cidr, gateway):
        """A host: one address, a default route through its gateway."""
        self.address(ns, end, cidr)
        self.sh(ns, "ip", "route", "add", "default", "via", gateway)

    def router(self, ns):
        self.sh(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def neighbour(self, ns, ip, end, via_end):
        """A permanent neighbour: `ip` is at end's MAC, out of via_end."""
        self.sh(ns, "ip", "neigh", "replace", ip, "lladdr", self.mac[end], "nud", "permanent",
                "dev", self.dev[via_end])

    def gateway_port(self, ns, end):
        """One of espgw's wires (net_af_packet): no address, no ARP, and no IP for the gateway
        namespace's kernel, which hears the wire only through espgw's tap.

        af_packet takes a copy of each frame without stealing it: the kernel's own IPv4 receive
        path would still get every frame sent to the port's MAC (which is also the tap's), find
        the destination local (the address is on the tap, in the same namespace) and deliver it a
        second time (IKE reaching charon twice, ESP going up the kernel's UDP path). Linux has no
        switch that turns IPv4 off on one interface; a strict reverse-path check on it does that
        here: the route back to any source leaves through a tap, never through this veth, so the
        kernel drops whatever arrives on it before local delivery or forwarding (counted as
        TcpExtIPReversePathFilter; the kernel takes the larger of conf.all and conf.<dev>).
        `arp off` covers ARP. capture.WireWatch proves it: nothing is taken from the veth."""
        dev = self.dev[end]
        self.sh(ns, "sysctl", "-qw", f"net.ipv4.conf.{dev}.rp_filter=1",
                f"net.ipv6.conf.{dev}.disable_ipv6=1")
        self.sh(ns, "ip", "link", "set", dev, "arp", "off", "up")

    # ---- reading ----

    def link_stats(self, ns, end):
        """The kernel's counters of one veth end."""
        j = json.loads(self.sh(ns, "ip", "-j", "-s", "link", "show", "dev", self.dev[end]).stdout)
        st = j[0]["stats64"]
        return {"rx_packets": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"],
                "tx_packets": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"]}

    # ---- removing ----

    def down(self):
        """Kills what is left in the namespaces (the lab started it: they are its own) and
        deletes them; the errors."""
        errors = []
        for ns in reversed(self.created):
            errors += remove_namespace(ns)
        self.created = []
        return errors


def remove_namespace(ns):
    r = run(["ip", "netns", "pids", ns], check=False)
    for pid in (r.stdout or "").split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    r = run(["ip", "netns", "del", ns], check=False)
    return [f"ip netns del {ns}: {r.stderr.strip()}"] if r.returncode != 0 else []
