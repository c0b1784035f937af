"""The lanes lab: two regions from `espgwctl mesh --lanes N`, each gateway the full stack under
scripts/espgw-up, joined by a router that caps every outer flow as AWS does (docs/lanes.md).

    host 1 172.50.1.10 - gw1 (region-one) - router - gw2 (region-two) - host 2 172.60.1.10
                         wan 198.51.100.1   .254 | 203.0.113.254   wan 203.0.113.2

The router forwards the outer traffic through one nft table (ROUTER_NFT): a per-flow meter on
the outer 5-tuple that drops what a flow sends above `cap` bytes per second (AWS's per-flow cap,
scaled down to what two vCPUs carry), a dynamic set that counts the UDP flows that passed, and a
set of blackholed UDP ports (a lane's outer flow, both directions). Nothing is set by hand on
the gateways: the regions file gives gw2 `workers` and its ports as many `qpairs` (espgw polls one RX queue of
every port per worker) where asked.
"""

import argparse
import json
import os
import sys
import time

import stack_lab
from ike_lab import LabError, say, wait_for
from labkit import lab as labkit_lab
from labkit.proc import on_signals_unwind, run

NAMES = ("region-one", "region-two")
WAN = ("198.51.100.1", "203.0.113.2")
ROUTER = ("198.51.100.254", "203.0.113.254")
LAN = ("172.50.1", "172.60.1")
HOST = tuple(f"{n}.10" for n in LAN)
TABLE = "lanes_lab"


def router_nft(cap):
    meter = (f"    meter cap {{ ip saddr . ip daddr . meta l4proto . th sport . th dport "
             f"limit rate over {cap} bytes/second }} drop\n") if cap else ""
    return f"""table inet {TABLE} {{
  set dead {{ type inet_service; }}
  set flows {{ type ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service;
    flags dynamic; counter; }}
  chain pass {{
    type filter hook forward priority filter; policy accept;
    udp sport @dead drop
    udp dport @dead drop
{meter}    meta l4proto udp add @flows {{ ip saddr . ip daddr . meta l4proto . th sport . th dport }}
  }}
}}
"""


class LanesLab(labkit_lab.Lab):
    """See the module's comment. lanes: the generator's --lanes; cap: bytes per second per outer
    flow (0: none); gw2_workers: region-two's workers, its ports with as many qpairs."""

    prefix = "lanes"
    mac_prefix = "02:1a:ce:00:00"

    def __init__(self, build, plugin, lanes, cap=0, gw2_workers=1):
        super().__init__(say=say)
        self.build, self.plugin = os.path.abspath(build), os.path.abspath(plugin)
        self.lanes, self.cap, self.gw2_workers = lanes, cap, gw2_workers
        self.configs = os.path.join(self.workdir, "configs")
        self.net.declare("h1", "gw1", "router", "gw2", "h2")
        self.gateways = []
        for i, name in enumerate(NAMES):
            # charon as shipped (espgw-up's settings), plus a file log.
            g = stack_lab.Stack(self, f"gw{i + 1}", f"gw{i + 1}", {}, None, None, {},
                                lab_retransmits=False)
            g.region = name
            g.tunnel = f"to-{NAMES[1 - i]}"
            g.config = os.path.join(self.configs, f"{name}.yaml")
            g.vici = os.path.join(g.run_dir, "espgw", "charon.vici")
            g.ike_socket = os.path.join(g.run_dir, "espgw", "espgw-ike.sock")
            self.gateways.append(g)
        self.gw1, self.gw2 = self.gateways
        self.gw2.workers = gw2_workers
        self.stacks = self.gateways

    # ---- bring-up ----

    def up(self):
        net = self.net
        self.up_namespaces(*self.ns)
        net.router("router")
        # ESP in UDP on every lane count: one lane is then one outer UDP flow, as on AWS.
        regions = ["defaults:", "  nat_t: true", "  dataplane: {idle_sleep_us: 20}", "regions:"]
        for i in range(2):
            gw, host, r = f"gw{i + 1}", f"h{i + 1}", f"router{i + 1}"
            wan, lan = f"{gw}_wan", f"{gw}_lan"
            net.veth(wan, gw, r, "router")
            net.veth(lan, gw, host, host)
            net.address("router", r, f"{ROUTER[i]}/24")
            net.neighbour("router", WAN[i], wan, r)
            net.host(host, host, f"{HOST[i]}/24", f"{LAN[i]}.1")
            for end in (wan, lan):
                net.gateway_port(gw, end)
            workers = self.gw2_workers if i == 1 else 1
            qpairs = f",qpairs={workers}" if workers > 1 else ""
            regions += [
                f"  - name: {NAMES[i]}",
                f"    wan_address: {WAN[i]}/24",
                f"    wan_gateway: {ROUTER[i]}",
                f"    wan_device: net_af_packet0,iface={self.dev[wan]},framecnt=4096{qpairs}",
                f"    lan_device: net_af_packet1,iface={self.dev[lan]},framecnt=4096{qpairs}",
                f"    lan_address: {LAN[i]}.1/24",
                "    lan_mtu: 1500",
                f"    vpc_cidrs: [{', '.join(self.vpc_cidrs(i))}]",
                f"    control_socket: {self.gateways[i].socket}",
            ] + ([f"    workers: {workers}"] if workers > 1 else []) + self.region_extra(i)
        self.sh("router", "nft", "-f", "-", stdin=self.router_rules())
        path = os.path.join(self.workdir, "regions.yaml")
        with open(path, "w") as f:
            f.write("\n".join(regions) + "\n")
        lanes = ["--lanes", str(self.lanes)] if self.lanes > 1 else []
        r = run([os.path.join(self.build, "dataplane", "espgwctl"), "mesh", "--regions", path,
                 "-o", self.configs, "--secrets-dir", self.configs, *lanes, *self.mesh_args])
        for line in r.stderr.strip().splitlines():
            say(line)
        self.after_mesh()
        # Responders first: region-one initiates (the generator's rule).
        for g in reversed(self.gateways):
            g.start()
        self.stacks_up = time.monotonic()  # region-one's stack ready: it initiates every lane
        wait_for(self.established_what(), self.established, 90, 0.2)
        self.lanes_up_s = time.monotonic() - self.stacks_up
        return self

    # ---- what a subclass changes (bgp_lab.py) ----

    mesh_args = ()  # more of the generator's options

    def router_rules(self):
        return router_nft(self.cap)

    def after_mesh(self):
        """The generator's configs are written; the gateways not started yet."""

    def vpc_cidrs(self, i):
        return [f"{LAN[i]}.0/24"]

    def region_extra(self, i):
        """More lines of region i in the regions file."""
        return []

    def established_what(self):
        return f"{self.lanes} lane(s) installed in charon and espgw on both gateways"

    def lane_rows(self, g):
        """The tunnel's lanes from espgw's `tunnels` report ([{"lane", "outbound_spi",
        "buckets", ...}]; one row for a one-lane tunnel)."""
        t = next(t for t in g.ctl("tunnels")["tunnels"] if t["name"] == g.tunnel)
        return t.get("lanes") or [{"lane": 0, "outbound_spi": t.get("outbound_spi", ""),
                                   "buckets": 1024}]

    def established(self):
        for g in self.gateways:
            rows = self.lane_rows(g)
            if len(rows) != self.lanes or not all(r.get("outbound_spi") for r in rows):
                return None
        return True

    def spis(self, g):
        """{lane: outbound SPI} of a gateway."""
        return {r["lane"]: r["outbound_spi"] for r in self.lane_rows(g)}

    # ---- the router ----

    def flows(self):
        """{(saddr, daddr, proto, sport, dport): (packets, bytes)} that the router forwarded."""
        out = json.loads(self.sh("router", "nft", "-j", "list", "set", "inet", TABLE,
                                 "flows").stdout)
        flows = {}
        for item in out["nftables"]:
            for e in item.get("set", {}).get("elem", []):
                key = e["elem"]["val"]["concat"]
                c = e["elem"].get("counter", {})
                flows[tuple(key)] = (c.get("packets", 0), c.get("bytes", 0))
        return flows

    def blackhole(self, port, on=True):
        verb = "add" if on else "delete"
        self.sh("router", "nft", verb, "element", "inet", TABLE, "dead", f"{{ {port} }}")

    def run(self, steps, *args):
        """steps(self, *args) in this lab, brought down afterwards; the daemons' logs on an
        exception."""
        with self:
            try:
                return steps(self, *args)
            except Exception:
                self.dump_logs()
                raise

    # ---- teardown ----

    def stop_daemons(self):
        errors = []
        for g in self.gateways:
            try:
                code = g.stop(timeout=60)
                if code:
                    errors.append(f"espgw-up on {g.name} exited with {code}")
            except Exception as e:  # noqa: BLE001 - teardown goes on
                errors.append(f"{g.name}: {e}")
        return errors

    def dump_logs(self):
        for g in self.gateways:
            g.dump_logs()


def check_lab(build):
    """Why the lanes lab cannot run here, or None."""
    why = stack_lab.stack_skip_reason(build, nat=True)
    if why:
        return why
    try:
        run(["nft", "--version"])
    except LabError as e:
        return str(e)
    return None


def main_args(doc, add=None):
    """A lanes test's command line, BUILD PLUGIN plus what `add(parser)` adds; exits 77 (skipped)
    where the lab cannot run, and from here on a signal unwinds the lab."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("plugin")
    if add:
        add(ap)
    a = ap.parse_args()
    why = check_lab(a.build)
    if why:
        print(f"SKIP: {why}")
        sys.exit(77)
    on_signals_unwind()
    return a
