"""The two-gateway lab in network namespaces, on one machine (built on tests/labkit).

    host A ---- gw1 (espgw) ---- internet ---- gw2 (espgw) ---- host B
    172.50.1.10  lan 172.50.1.1   router        wan 203.0.113.2   172.60.1.20
                 wan 198.51.100.1 .254 | .254   lan 172.60.1.1

Five namespaces joined by veth pairs. Each gateway runs espgw with two net_af_packet ports on its
veths; those veths carry no IP address, answer no ARP and fail the reverse-path check
(labkit.netns.Net.gateway_port), so the gateway namespace's kernel sees the wire only through
espgw's exception path (the `espgw-wan` and `espgw-lan` taps, which hold the ports' MACs and
addresses). The tunnel has static SAs that mirror each other, ESP in UDP 4500 (NAT-T),
AES-128-GCM; keys are drawn afresh for every run.

Names, teardown and the sweep of abandoned runs are labkit.lab.Lab's (prefix `e2e`). This module
holds the topology, the gateways' config and the counter accounting the e2e tests check.

Used by tests/e2e/e2e_*.py. Needs root, iproute2,
procps, ethtool, iputils-ping, iperf3, tcpdump and /usr/bin/python3 with scapy and cryptography.
"""

import argparse
import importlib.util
import json
import os
import secrets
import sys

from labkit import lab as labkit_lab
from labkit import traffic
from labkit.control import new_gcm_key as new_key
from labkit.espgw import Espgw, binary as espgw_binary
# The e2e tests take these from here.
from labkit.proc import (PYTHON, LabError, exit_with,  # noqa: F401
                         on_signals_unwind, result, run, verdict, wait_for, write_secret)

# The addressing plan; tests refer to these names.
A_IP = "172.50.1.10"
B_IP = "172.60.1.20"
GW1_LAN = "172.50.1.1"
GW1_WAN = "198.51.100.1"
GW2_WAN = "203.0.113.2"
GW2_LAN = "172.60.1.1"
INET1 = "198.51.100.254"
INET2 = "203.0.113.254"
NET_A = "172.50.0.0/16"
NET_B = "172.60.0.0/16"


def skip_reason():
    """Why this machine cannot run the lab, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veths, DPDK)"
    reason = labkit_lab.check_tools("ip", "ss", "sysctl", "ethtool", "iperf3", "ping", "tcpdump")
    if reason:
        return reason
    for module, package in (("scapy", "python3-scapy"), ("cryptography", "python3-cryptography")):
        if importlib.util.find_spec(module) is None:
            return f"{sys.executable} has no {module} ({package})"
    return None


def arguments(more=None):
    """An e2e test's command line (--build, --crypto and what `more(parser)` adds), parsed; exits
    77 (meson's skip) where the lab cannot run."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--crypto", default="ipsec-mb")
    if more:
        more(ap)
    a = ap.parse_args()
    why = skip_reason()
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    return a


def sa_json(spi, key):
    return {"spi": spi, "algorithm": "aes128gcm16", "key": "0x" + key.hex()}


class Gateway(Espgw):
    """One espgw in its namespace, with the config this lab writes for it."""

    def __init__(self, lab, name, addresses, route_via, tunnel):
        super().__init__(lab, name, name, espgw_binary(lab.build),
                         os.path.join(lab.workdir, f"{name}.yaml"),
                         os.path.join(lab.workdir, f"{name}.sock"),
                         os.path.join(lab.workdir, f"{name}.log"),
                         stats=os.path.join(lab.workdir, f"{name}.stats.json"))
        self.addresses = addresses  # {"wan": "198.51.100.1/24", ...}
        self.route_via = route_via
        self.tunnel = tunnel  # dict: name, local, remote, local_cidrs, remote_cidrs, out, in

    def port(self, which):
        return self.lab.net.end(f"{self.name}_{which}")

    def write_config(self):
        t = self.tunnel
        out_spi, out_key = t["out"]
        in_spi, in_key = t["in"]
        lab = self.lab
        write_secret(self.config, f"""# espgw lab gateway {self.name}, written by tests/e2e/lab.py for this run only.
# LAB ONLY: fresh random keys, in a file that is deleted when the lab goes down.
dataplane:
  workers: 1
  crypto: {lab.crypto}
  control_socket: {self.socket}
  idle_sleep_us: {lab.idle_sleep_us}
  exception_pps: {lab.exception_pps}{lab.dataplane_extra}
interfaces:
  - name: wan
    device: net_af_packet0,iface={self.port('wan')},framecnt={lab.framecnt}
    addresses: [{self.addresses['wan']}]
  - name: lan
    device: net_af_packet1,iface={self.port('lan')},framecnt={lab.framecnt}
    addresses: [{self.addresses['lan']}]
routes:
  - prefix: 0.0.0.0/0
    via: {self.route_via}
    interface: wan
tunnels:
  - name: {t['name']}
    local: {t['local']}
    remote: {t['remote']}
    local_cidrs: [{t['local_cidrs']}]
    remote_cidrs: [{t['remote_cidrs']}]
    nat_t: true
    static_sa:
      outbound: {{spi: 0x{out_spi:08x}, algorithm: aes128gcm16, key: 0x{out_key.hex()}}}
      inbound: {{spi: 0x{in_spi:08x}, algorithm: aes128gcm16, key: 0x{in_key.hex()}}}
""")

    def final_stats(self):
        with open(self.stats) as f:
            return json.load(f)


class Lab(labkit_lab.Lab):
    prefix = "e2e"
    mac_prefix = "02:e2:e0:00:00"

    def __init__(self, build, *, crypto="ipsec-mb", idle_sleep_us=20, exception_pps=20000,
                 framecnt=4096, say=None, keep_workdir=None, dataplane=None):
        super().__init__(say=say or (lambda msg: print(f"[lab] {msg}", flush=True)),
                         keep_workdir=keep_workdir)
        self.build = os.path.abspath(build)
        self.crypto = crypto
        self.idle_sleep_us = idle_sleep_us
        self.exception_pps = exception_pps
        # More keys of the gateways' dataplane section: {key: value}.
        self.dataplane_extra = "".join(f"\n  {k}: {v}" for k, v in (dataplane or {}).items())
        # af_packet ring frames per queue (the PMD's default is 512). On two shared vCPUs a
        # worker can be off its CPU for milliseconds; a deep ring rides that out. Packets that
        # overflow the ring are counted by the kernel only (DPDK 22.11's PMD reports no imissed).
        self.framecnt = framecnt
        self.net.declare("a", "gw1", "inet", "gw2", "b")
        spi = lambda: secrets.randbelow(0xFFFF0000) + 0x1000  # noqa: E731
        self.spi_a2b, self.spi_b2a = spi(), spi()
        while self.spi_b2a == self.spi_a2b:
            self.spi_b2a = spi()
        self.key_a2b, self.key_b2a = new_key(), new_key()
        self.gw1 = Gateway(
            self, "gw1", {"wan": f"{GW1_WAN}/24", "lan": f"{GW1_LAN}/24"}, INET1,
            {"name": "to-gw2", "local": GW1_WAN, "remote": GW2_WAN, "local_cidrs": NET_A,
             "remote_cidrs": NET_B, "out": (self.spi_a2b, self.key_a2b),
             "in": (self.spi_b2a, self.key_b2a)})  # fmt: skip
        self.gw2 = Gateway(
            self, "gw2", {"wan": f"{GW2_WAN}/24", "lan": f"{GW2_LAN}/24"}, INET2,
            {"name": "to-gw1", "local": GW2_WAN, "remote": GW1_WAN, "local_cidrs": NET_B,
             "remote_cidrs": NET_A, "out": (self.spi_b2a, self.key_b2a),
             "in": (self.spi_a2b, self.key_a2b)})  # fmt: skip
        self.gateways = (self.gw1, self.gw2)

    # ---- bring-up ----

    def up(self):
        net = self.net
        self.up_namespaces("a", "gw1", "inet", "gw2", "b")
        net.veth("a", "a", "gw1_lan", "gw1")
        net.veth("gw1_wan", "gw1", "inet1", "inet")
        net.veth("inet2", "inet", "gw2_wan", "gw2")
        net.veth("gw2_lan", "gw2", "b", "b")
        net.host("a", "a", f"{A_IP}/24", GW1_LAN)
        net.host("b", "b", f"{B_IP}/24", GW2_LAN)
        net.address("inet", "inet1", f"{INET1}/24")
        net.address("inet", "inet2", f"{INET2}/24")
        net.router("inet")
        # The router knows both gateways for good: its WAN wires then carry nothing but the
        # tunnel, and the per-hop accounting (direction_accounting) is exact.
        net.neighbour("inet", GW1_WAN, "gw1_wan", "inet1")
        net.neighbour("inet", GW2_WAN, "gw2_wan", "inet2")
        for gw in self.gateways:
            # Strict reverse-path checks on the veths only: the taps must accept what arrives
            # from the tunnel's remote CIDRs, which the kernel routes elsewhere.
            for end in (f"{gw.name}_wan", f"{gw.name}_lan"):
                net.gateway_port(gw.name, end)
        self.say("namespaces and veths up: A - gw1 - internet - gw2 - B")
        for gw in self.gateways:
            gw.write_config()
            gw.start()
        for gw in self.gateways:
            st = gw.wait_ready()
            self.say(f"espgw {gw.name} running: crypto {st['crypto']}, "
                     f"{st['tunnels']} tunnel, {st['inbound_sas']}+{st['outbound_sas']} SAs")
        return self

    def stop_daemons(self):
        return labkit_lab.teardown((gw.name, gw.stop) for gw in self.gateways)

    def wait_tunnel(self, timeout=30):
        """Both gateways have their tunnel with an outbound SA, and the path carries a ping."""
        for gw in self.gateways:
            tunnels = gw.ctl("tunnels")["tunnels"]
            if not tunnels or not tunnels[0]["outbound_spi"]:
                raise LabError(f"{gw.name}: tunnel has no outbound SA: {tunnels}")
        # The first packets wait for ARP on both sides; one echo answered proves the path.
        traffic.wait_ping(self, "a", B_IP, timeout)

    # ---- traffic (labkit.traffic on this lab) ----

    def ping(self, src, dst, count=20, interval=0.05, size=56, pattern=None):
        return traffic.ping(self, src, dst, count, interval, size, pattern)

    def iperf3(self, client, server, server_ip, seconds=5, reverse=False, port=5201, udp=None):
        return traffic.iperf3(self, client, server, server_ip, seconds, reverse, port, udp)

    def tcp_transfer(self, src, dst, dst_ip, nbytes, port=5300, seed=1):
        return traffic.tcp_transfer(self, src, dst, dst_ip, nbytes, port, seed)

    # ---- counters ----

    def wires(self):
        """Kernel counters of every gateway veth and of the router's, by end name."""
        ends = {"gw1_wan": "gw1", "gw1_lan": "gw1", "gw2_wan": "gw2", "gw2_lan": "gw2",
                "inet1": "inet", "inet2": "inet", "a": "a", "b": "b"}
        return {end: self.net.link_stats(ns, end) for end, ns in ends.items()}

    def snapshot(self):
        """Counters and SAs of both gateways, and the kernel's counters of every veth."""
        snap = {gw.name: {"counters": gw.ctl.counters(), "sas": gw.ctl.sas()}
                for gw in self.gateways}
        snap["wires"] = self.wires()
        return snap

    def settle(self, what="the counters to settle", timeout=10):
        """Waits until no port of either gateway receives or sends for three polls in a row: the
        traffic of a phase has drained. Returns the last snapshot."""
        state = {"last": None, "same": 0}

        def quiet():
            snap = self.snapshot()
            key = json.dumps([snap[g.name]["counters"]["ports"] for g in self.gateways]
                             + [snap["wires"]], sort_keys=True)
            state["same"] = state["same"] + 1 if key == state["last"] else 0
            state["last"] = key
            return snap if state["same"] >= 2 else None

        return wait_for(what, quiet, timeout, 0.05)
def drops_delta(before, after):
    """{reason: n} for every drop reason that grew."""
    out = {}
    for reason, n in after["drops"].items():
        d = n - before["drops"].get(reason, 0)
        if d:
            out[reason] = d
    return out


def sa_packets(snap, gw, direction, spi):
    sa = snap[gw]["sas"].get((direction, spi))
    return sa["packets"] if sa else 0


def port_delta(before, after, gw, port, field):
    return (after[gw]["counters"]["ports"][port][field]
            - before[gw]["counters"]["ports"][port][field])


def wire_delta(before, after, end, field):
    return after["wires"][end][field] - before["wires"][end][field]


def direction_accounting(before, after, src_gw, dst_gw, out_spi):
    """Where the ESP packets of one direction went between two snapshots:
        sent by src_gw's SA == decrypted by dst_gw's SA + dropped there (per-SA reasons)
                               + lost in src_gw's af_packet TX + lost in the router
                               + lost in dst_gw's af_packet RX ring
    The losses come from the kernel's veth counters (the router namespace has static neighbours
    for both gateways, so its WAN wires carry ESP only). `closes` says whether the sum is exact."""
    sent = sa_packets(after, src_gw, "out", out_spi) - sa_packets(before, src_gw, "out", out_spi)
    got = sa_packets(after, dst_gw, "in", out_spi) - sa_packets(before, dst_gw, "in", out_spi)
    sa_b = before[dst_gw]["sas"].get(("in", out_spi), {"drops": {}})
    sa_a = after[dst_gw]["sas"].get(("in", out_spi), {"drops": {}})
    dropped = sum(n - sa_b["drops"].get(r, 0) for r, n in sa_a["drops"].items())
    src_wan, dst_wan = f"{src_gw}_wan", f"{dst_gw}_wan"
    inet_in, inet_out = ("inet1", "inet2") if src_gw == "gw1" else ("inet2", "inet1")
    tx_loss = (port_delta(before, after, src_gw, "wan", "tx_packets")
               - wire_delta(before, after, src_wan, "tx_packets"))
    router_loss = (wire_delta(before, after, inet_in, "rx_packets")
                   - wire_delta(before, after, inet_out, "tx_packets"))
    ring_loss = (wire_delta(before, after, dst_wan, "rx_packets")
                 - port_delta(before, after, dst_gw, "wan", "rx_packets"))
    return {"sent": sent, "decrypted": got, "dropped": dropped, "tx_loss": tx_loss,
            "router_loss": router_loss, "rx_ring_loss": ring_loss,
            "closes": sent == got + dropped + tx_loss + router_loss + ring_loss}


def lan_ring_loss(before, after, gw):
    """Frames the host sent that never reached espgw's LAN port (af_packet RX ring full)."""
    host = "a" if gw == "gw1" else "b"
    return (wire_delta(before, after, host, "tx_packets")
            - port_delta(before, after, gw, "lan", "rx_packets"))


def rx_identity(before, after, gw):
    """Every frame a gateway received was encrypted, decrypted, answered (ARP), handed to the
    kernel or dropped under a reason: (received, accounted for)."""
    cb, ca = before[gw]["counters"], after[gw]["counters"]
    rx = sum(ca["ports"][p]["rx_packets"] - cb["ports"][p]["rx_packets"] for p in ca["ports"])
    to_kernel = sum(ca["ports"][p]["to_kernel"] - cb["ports"][p]["to_kernel"] for p in ca["ports"])
    sas = sum(s["packets"] for s in after[gw]["sas"].values()) - sum(
        s["packets"] for s in before[gw]["sas"].values())
    arp = ca["workers"]["0"]["arp_nd_replies"] - cb["workers"]["0"]["arp_nd_replies"]
    drops = sum(drops_delta(cb, ca).values())
    return rx, sas + arp + to_kernel + drops
