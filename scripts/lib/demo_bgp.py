"""./scripts/demo --bgp: two regions over BGP, with BFD and ECMP over two tunnels (docs/routing.md).

    host 1 172.50.1.10 - gw1 (region-one) - router - gw2 (region-two) - host 2 172.60.1.10

The configs come from `espgwctl mesh --bgp --tunnels 2`; each gateway runs under espgw-up,
which starts espgw, charon, espgw-ike and FRR's zebra, bfdd and bgpd (tests/ike/bgp_lab.py). The
demo shows the BGP sessions (`espgwctl bgp`), the route each gateway learnt over both tunnels
(`espgwctl show routes`), spreads UDP flows over the two tunnels, then drops one tunnel's ESP on
the router and times how long BFD and zebra take to move its flows, and lets it back.
"""

import os
import subprocess
import time

import bgp_lab
import lanes_lab
from ike_lab import wait_for
from labkit import traffic
from labkit.charon import in_mount_namespace

FLOWS, RATE = 32, 50


def espgwctl(lab, g, *args):
    """An espgwctl command on a gateway (its namespace and /run), its output."""
    argv = in_mount_namespace(lab.nsexec(g.ns), g.run_dir, None,
                              [os.path.join(lab.build, "dataplane", "espgwctl"), *args])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return (r.stdout or r.stderr).rstrip()


def show(title, text):
    print(f"  {title}")
    for line in text.splitlines():
        print(f"    {line}")
    print()


def run(a, say):
    """The demo; returns the exit code."""
    lab = bgp_lab.BgpLab(a.build, a.plugin)
    return lab.run(steps, say)


def steps(lab, say):
    say("lab: host 1 - gw1 (region-one) - router - gw2 (region-two) - host 2; configs from "
        "`espgwctl mesh --bgp --tunnels 2`; espgw-up starts espgw, charon, espgw-ike, zebra, bfdd "
        "and bgpd on each gateway (Ctrl-C tears it down)")
    t0 = time.monotonic()
    lab.up()
    say(f"BGP up over both tunnels, each region's CIDR learnt by the other: "
        f"{time.monotonic() - t0:.1f} s after the lab started")
    gw1 = lab.gw1
    show("gw1: espgwctl bgp", espgwctl(lab, gw1, "bgp", "-c", gw1.config))
    show("gw1: espgwctl show routes", espgwctl(lab, gw1, "-s", gw1.socket, "show", "routes"))
    traffic.wait_ping(lab, "h1", lanes_lab.HOST[1])

    say(f"{FLOWS} UDP flows host 1 -> host 2: ECMP spreads them over the two tunnels")
    streams = lab.flows(FLOWS, RATE)
    for t, n in lab.carried(gw1, 300).items():
        print(f"    {t}: {n} packets")
    dead = gw1.tunnels[1]
    say(f"the router drops {dead}'s ESP: BFD (200 ms x 3) ends its BGP session")
    t0 = time.monotonic()
    lab.kill(dead)
    wait_for(f"gw1's route without {dead}", lambda: lab.paths(
        gw1, bgp_lab.CIDR[1]) == {gw1.tunnels[0]}, 10, 0.02)
    moved = time.monotonic() - t0
    print(f"    gw1 routes {bgp_lab.CIDR[1]} into {gw1.tunnels[0]} only, {moved:.2f} s later")
    lab.kill(dead, on=False)
    t0 = time.monotonic()
    wait_for("the route over both tunnels again", lambda: lab.paths(
        gw1, bgp_lab.CIDR[1]) == set(gw1.tunnels), 30, 0.05)
    back = time.monotonic() - t0
    print(f"    {dead} back in the route {back:.1f} s after the router let it through")
    got, _, _ = streams.stop_and_collect()
    lost = {i: r["missing"] for i, r in got.items() if r["missing"]}
    gaps = [g["before_t"] - g["after_t"] for r in got.values() for g in r["gaps"]
            if g["after_t"] is not None and g["before_t"] is not None]
    say("summary")
    rows = [("BGP + ECMP up", f"{lab.lanes_up_s:.1f} s", "after the stacks were ready"),
            ("a tunnel's path dies", f"{moved:.2f} s", "until its route was withdrawn (BFD)"),
            ("flows that lost datagrams", f"{len(lost)}/{FLOWS}", "only the dead tunnel's"),
            ("their longest outage", f"{max(gaps, default=0) * 1000:.0f} ms", ""),
            ("the path back", f"{back:.1f} s", "until ECMP used it again")]
    width = max(len(r[0]) for r in rows)
    for name, value, detail in rows:
        print(f"    {name.ljust(width)}  {value.rjust(8)}  {detail}")
    say("tearing down: espgw-up stops FRR, espgw-ike, charon and espgw on each gateway")
    codes = [g.stop() for g in lab.gateways]
    return 0 if all(c == 0 for c in codes) and 0 < len(lost) < FLOWS else 1
