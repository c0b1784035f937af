"""The BGP lab: two regions from `espgwctl mesh --bgp --tunnels 2`, each gateway the full stack
under scripts/espgw-up (espgw, charon, espgw-ike, and FRR's zebra, bfdd and bgpd), joined by a
router (docs/routing.md "The espgw-to-espgw lab").

    host 1 172.50.1.10 - gw1 (region-one) - router - gw2 (region-two) - host 2 172.60.1.10
                         wan 198.51.100.1   .254 | 203.0.113.254   wan 203.0.113.2  (and 172.61.1.10)

The two tunnels between the gateways are route-based, each with its inside /30, a BGP session over
it and BFD. Region one announces 172.50.1.0/24; region two 172.60.1.0/24 and 172.61.1.0/24 (host
2's second network, routed by gw2 through host 2: the regions file's lan_gateway). Each gateway
learns the other's CIDRs over both tunnels, so zebra hands espgw one route with two next hops
(ECMP over the tunnels).

Both tunnels run between the same outer addresses and ports (ESP-in-UDP 4500 <-> 4500), so the
router tells them apart by SPI: kill(tunnel) drops the ESP of that tunnel's SAs, both directions,
as a path that dies would (IKE goes on: DPD would take its 30 s). Nothing is set by hand on the
gateways.
"""

import json
import os
import re

import lanes_lab
from ike_lab import wait_for
from labkit import lanes as lanes_model
from labkit.charon import in_mount_namespace
from labkit.proc import run

TABLE = "bgp_lab"
NAMES = lanes_lab.NAMES
HOST = lanes_lab.HOST
CIDR = ("172.50.1.0/24", "172.60.1.0/24")
EXTRA = "172.61.1.0/24"  # region two's second network, behind host 2
EXTRA_HOST = "172.61.1.10"


def router_nft():
    return f"""table inet {TABLE} {{
  set dead {{ typeof @th,64,32; }}
  chain pass {{
    type filter hook forward priority filter; policy accept;
    udp dport 4500 @th,64,32 @dead counter drop
  }}
}}
"""


class BgpLab(lanes_lab.LanesLab):
    """See the module's comment."""

    prefix = "bgp"
    mac_prefix = "02:1a:ce:00:01"
    mesh_args = ("--bgp", "--tunnels", "2")

    def __init__(self, build, plugin, bfd=True, bfd_ms=None, lanes=1):
        super().__init__(build, plugin, lanes)
        self.bfd, self.bfd_ms = bfd, bfd_ms
        for i, g in enumerate(self.gateways):
            other = NAMES[1 - i]
            g.tunnels = [f"to-{other}", f"to-{other}-2"]

    def router_rules(self):
        return router_nft()

    def after_mesh(self):
        """Measurements by hand: without BFD (as towards AWS) the generator's configs with
        `bfd: false`, so that BGP's hold time (30 s) rules; with bfd_ms, BFD at that interval
        (x 3) instead of the shipped 200 ms."""
        if self.bfd and not self.bfd_ms:
            return
        for g in self.gateways:
            with open(g.config) as f:
                text = f.read()
            if not self.bfd:
                text = text.replace("bfd: true", "bfd: false")
            if self.bfd_ms:
                text = re.sub(r"(?m)^(  announce: .*)$", lambda m: m.group(1) +
                              f"\n  bfd: {{interval_ms: {self.bfd_ms}, multiplier: 3}}", text,
                              count=1)
            with open(g.config, "w") as f:
                f.write(text)

    def vpc_cidrs(self, i):
        return [CIDR[i]] + ([EXTRA] if i == 1 else [])

    def region_extra(self, i):
        return [f"    lan_gateway: {HOST[1]}"] if i == 1 else []

    def up(self):
        super().up()
        self.sh("h2", "ip", "addr", "add", f"{EXTRA_HOST}/32", "dev", "lo")
        return self

    def established_what(self):
        return "both BGP sessions up on both gateways, the far CIDRs in espgw over both tunnels"

    def established(self):
        for i, g in enumerate(self.gateways):
            if self.paths(g, CIDR[1 - i]) != set(g.tunnels):
                return None
        return True

    # ---- what the gateways see ----

    def routes(self, g):
        return g.ctl("routes")["routes"]

    def route(self, g, prefix):
        """espgw's selected `routes` row of a prefix from FRR (origin fpm), or None."""
        for r in self.routes(g):
            if r["prefix"] == prefix and r.get("origin") == "fpm" and r.get("selected"):
                return r
        return None

    def paths(self, g, prefix):
        """The tunnels espgw routes a prefix into (an ECMP route's members that resolved)."""
        r = self.route(g, prefix)
        if r is None:
            return set()
        return {h["tunnel"] for h in r.get("next_hops", []) if h.get("resolved")
                and h.get("tunnel") and h.get("buckets", 1)}

    def in_gateway(self, g, *argv):
        """A command in a gateway's namespace and its mount namespace (its /run, where its
        FRR's sockets are), as an operator on that gateway runs it."""
        return run(in_mount_namespace(self.nsexec(g.ns), g.run_dir, None, list(argv)))

    def bgp(self, g):
        """`espgwctl bgp --json` on a gateway."""
        out = self.in_gateway(g, os.path.join(self.build, "dataplane", "espgwctl"), "bgp",
                              "--json", "-c", g.config)
        return json.loads(out.stdout)

    def tunnel_packets(self, g):
        """{tunnel: packets sent into it} from espgw's `tunnels` report."""
        return {t["name"]: sum(r["packets_out"] for r in t["lanes"])
                for t in g.ctl("tunnels")["tunnels"] if t["name"] in g.tunnels}

    def flows(self, count, rate):
        """`count` sequence-numbered UDP flows host 1 -> host 2 at `rate` datagrams/s each,
        started (labkit.lanes.FlowStreams)."""
        return lanes_model.FlowStreams(self, "h1", HOST[0], "h2", HOST[1], count, rate).start()

    def carried(self, g, packets, tunnels=None, timeout=20):
        """Waits until each of the gateway's tunnels (or those given) has sent `packets` more;
        returns {tunnel: packets sent meanwhile}."""
        tunnels = tunnels or g.tunnels
        before = self.tunnel_packets(g)
        wait_for(f"{packets} more packets into {', '.join(tunnels)} on {g.name}", lambda: all(
            self.tunnel_packets(g)[t] - before[t] >= packets for t in tunnels), timeout, 0.05)
        after = self.tunnel_packets(g)
        return {t: after[t] - before[t] for t in g.tunnels}

    def spis(self, g, tunnel):
        """The SPIs of a tunnel's SAs on a gateway, both directions."""
        return {int(s["spi"], 16) for s in g.ctl("sas")["sas"] if s["tunnel"] == tunnel}

    def set_announce(self, g, prefixes):
        """The operator's way to change what a gateway announces: edit bgp.announce in its
        config and reload espgw-up (SIGHUP)."""
        with open(g.config) as f:
            text = f.read()
        new = re.sub(r"(?m)^(  announce: )\[[^\]]*\]", lambda m: m.group(1) + "[" +
                     ", ".join(prefixes) + "]", text, count=1)
        if new == text:
            raise AssertionError(f"no bgp.announce line in {g.config}")
        with open(g.config, "w") as f:
            f.write(new)
        g.hup()

    # ---- the router ----

    def kill(self, tunnel, on=True):
        """Drop the ESP of one tunnel on the router (gw1's SAs of it, which are gw2's of its
        mirror), both directions; or let it through again."""
        spis = self.spis(self.gw1, tunnel)
        verb = "add" if on else "delete"
        elems = ", ".join(hex(s) for s in sorted(spis))
        self.sh("router", "nft", verb, "element", "inet", TABLE, "dead", f"{{ {elems} }}")
        return spis

    def dropped(self):
        """Packets the router dropped as a dead tunnel's."""
        out = json.loads(self.sh("router", "nft", "-j", "list", "chain", "inet", TABLE,
                                 "pass").stdout)
        for item in out["nftables"]:
            for e in item.get("rule", {}).get("expr", []):
                if "counter" in e:
                    return e["counter"]["packets"]
        return 0
