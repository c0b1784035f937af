#!/usr/bin/env python3
"""BGP, BFD and ECMP between two espgw gateways, end to end (docs/routing.md; the lab: bgp_lab.py).

    test_bgp_lab.py BUILD PLUGIN [--dpd]

Two regions from `espgwctl mesh --bgp --tunnels 2`, each gateway the full stack under an
unmodified scripts/espgw-up, FRR included; two route-based tunnels between them, each with its
BGP session and BFD (the shipped 200 ms x 3).

What it proves:
  1. Routes are learnt both ways: each espgw routes the other region's CIDR over both tunnels
     (origin fpm, two next hops), and `espgwctl bgp` shows both sessions Established with BFD up,
     each receiving the far CIDRs and sending only the region's own (the announce route-map).
  2. ECMP: 64 sequence-numbered UDP flows host 1 -> host 2 spread over both tunnels (gw1's
     per-tunnel counters, each at least a fifth).
  3. A path dies: tunnel 2's ESP is dropped on the router under the flows. BFD takes its session
     down and zebra withdraws the path: gw1's route keeps only tunnel 1 within BOUND_S; the flows
     that lost datagrams are exactly those of one half of the buckets (the dataplane's ECMP hash,
     labkit.lanes.ecmp_bucket: the killed tunnel's), their longest outage is under BOUND_S, and
     the flows of tunnel 1 lose nothing.
  4. The path returns: the route has both tunnels again, tunnel 2 carries packets again, and the
     flows of tunnel 1 lose nothing on the way.
  5. Announce and withdraw, as an operator does it (edit bgp.announce, SIGHUP espgw-up): region
     two stops announcing 172.61.1.0/24; gw1's route is gone and host 1 no longer reaches host 2's
     172.61.1.10; announced again, it is back and reached.
  6. zebra is killed on gw1 under the flows: espgw keeps FRR's routes (routing.fpm.grace_s) and
     forwards on, espgw-up starts zebra again, its FPM connection comes back with a dump, nothing is
     left stale, and no datagram was lost.
With --no-bfd (by hand, not in the suite): the generator's configs with `bfd: false`, so that BGP's
hold time rules as towards AWS; steps 1 to 4 only, the withdraw time is the figure (no bound).
With --bfd-ms N (by hand): BFD at N ms x 3 instead of the shipped 200 ms x 3.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import time

import bgp_lab
import lanes_lab
from ike_lab import say, wait_for
from labkit import lanes as lanes_model
from labkit import traffic
from labkit.proc import check, verdict

FLOWS, RATE = 64, 50
BOUND_S = 1.0  # the bound on a failover with BFD
HOLD_S = 1.0   # traffic on the surviving tunnel before the path returns


def halves(streams):
    """The flows by the parity of their ECMP bucket: with two members every bucket b is on slot
    b % 2 (LaneMap's home rule), whichever tunnel holds which slot."""
    out = ({*()}, {*()})
    for i in range(streams.flows):
        b = lanes_model.ecmp_bucket(streams.src_ip, streams.dst_ip, 17, streams.sport + i,
                                    streams.port)
        out[b % 2].add(i)
    return out


def main():
    def options(ap):
        ap.add_argument("--no-bfd", action="store_true")
        ap.add_argument("--bfd-ms", type=int, help="BFD's interval (x 3), by hand")
    a = lanes_lab.main_args(__doc__, options)
    figures, failures = {}, []
    bgp_lab.BgpLab(a.build, a.plugin, bfd=not a.no_bfd, bfd_ms=a.bfd_ms).run(
        run_lab, a, figures, failures)
    return verdict(figures, failures)


def run_lab(lab, a, figures, failures):
    gw1, gw2 = lab.gw1, lab.gw2
    lab.up()
    figures["bgp_ecmp_up_s"] = round(lab.lanes_up_s, 2)
    say(f"1. routes both ways, ECMP over both tunnels, {lab.lanes_up_s:.1f} s after the stacks")
    for i, g in enumerate(lab.gateways):
        far = bgp_lab.CIDR[1 - i]
        r = lab.route(g, far)
        check(r is not None and r["ecmp"] and lab.paths(g, far) == set(g.tunnels),
              f"{g.name}: {far} from FRR over {sorted(lab.paths(g, far))}", failures)
        view = lab.bgp(g)
        rows = {n["tunnel"]: n for n in view["sessions"]}
        figures[f"bgp_{g.name}"] = {t: {x: n.get(x) for x in (
            "state", "prefixes_received", "prefixes_sent", "bfd")} for t, n in rows.items()}
        want_rcv = 2 if i == 0 else 1
        ok = len(rows) == 2 and all(
            n["state"] == "Established" and n["prefixes_received"] == want_rcv
            and n["prefixes_sent"] == (1 if i == 0 else 2) and n["bfd"] == "up"
            for n in rows.values())
        check(ok, f"{g.name}: espgwctl bgp: both sessions Established, BFD up, "
              f"{want_rcv} prefix(es) in, own CIDRs only out ({figures[f'bgp_{g.name}']})",
              failures)
    traffic.wait_ping(lab, "h1", lanes_lab.HOST[1])

    say(f"2. ECMP: {FLOWS} UDP flows at {RATE}/s each")
    streams = lab.flows(FLOWS, RATE)
    d = lab.carried(gw1, 500)
    total = sum(d.values())
    frac = {t: round(n / total, 3) for t, n in d.items()}
    figures["ecmp_packets"] = d
    figures["ecmp_share"] = frac
    check(all(f >= 0.2 for f in frac.values()), f"both tunnels carry at least a fifth ({frac})",
          failures)

    dead = gw1.tunnels[1]
    say(f"3. {dead} dies: its ESP dropped on the router")
    t0 = time.monotonic()
    lab.kill(dead)
    wait_for(f"gw1's route to {bgp_lab.CIDR[1]} without {dead}",
             lambda: lab.paths(gw1, bgp_lab.CIDR[1]) == {gw1.tunnels[0]}, 10 if lab.bfd else 60,
             0.02)
    figures["withdraw_s"] = round(time.monotonic() - t0, 3)
    if not lab.bfd:
        streams.stop_and_collect()
        return
    wait_for(f"gw2's route to {bgp_lab.CIDR[0]} without its tunnel 2",
             lambda: lab.paths(gw2, bgp_lab.CIDR[0]) == {gw2.tunnels[0]}, 10, 0.02)
    figures["withdraw_gw2_s"] = round(time.monotonic() - t0, 3)
    lab.carried(gw1, RATE * FLOWS // 2, tunnels=gw1.tunnels[:1], timeout=10)

    say(f"4. {dead} returns")
    t_back = time.monotonic()
    lab.kill(dead, on=False)
    wait_for("gw1's route over both tunnels again", lambda: lab.paths(
        gw1, bgp_lab.CIDR[1]) == set(gw1.tunnels), 30, 0.05)
    figures["return_s"] = round(time.monotonic() - t_back, 2)
    lab.carried(gw1, 300, tunnels=[dead], timeout=10)
    got, foreign, _ = streams.stop_and_collect()
    figures["router_dropped"] = lab.dropped()

    lossy = {i for i, r in got.items() if r["missing"]}
    h = halves(streams)
    moved = h[0] if lossy & h[0] else h[1]
    kept = h[1] if moved is h[0] else h[0]
    figures["flows_moved"], figures["flows_kept"] = len(moved), len(kept)
    check(lossy == moved, f"the flows that lost datagrams ({len(lossy)}) are exactly one half of "
          f"the ECMP buckets ({len(moved)} flows): the dead tunnel's", failures)
    kept_lost = sum(got[i]["missing"] for i in kept)
    kept_reord = sum(got[i]["reordered"] for i in kept)
    check(kept_lost == 0 and kept_reord == 0 and all(got[i]["ended"] for i in kept),
          f"the {len(kept)} flows of the surviving tunnel lost {kept_lost}, reordered "
          f"{kept_reord}", failures)
    outage = []
    for i in moved:
        for gap in got[i]["gaps"]:
            if gap["after_t"] is not None and gap["before_t"] is not None and \
                    gap["after_t"] < t_back:
                outage.append(gap["before_t"] - gap["after_t"])
    worst = max(outage, default=0)
    outage.sort()
    figures["outage_ms_max"] = round(worst * 1000)
    figures["outage_ms_median"] = round(outage[len(outage) // 2] * 1000) if outage else None
    check(0 < worst < BOUND_S, f"the moved flows' longest outage {worst * 1000:.0f} ms "
          f"(< {BOUND_S * 1000:.0f} ms)", failures)
    check(foreign == 0, f"nothing foreign arrived ({foreign})", failures)

    say(f"5. region two withdraws {bgp_lab.EXTRA}, then announces it again")
    traffic.wait_ping(lab, "h1", bgp_lab.EXTRA_HOST)
    espgw_pid = gw2.pids()[0]["espgw"]
    t0 = time.monotonic()
    lab.set_announce(gw2, [bgp_lab.CIDR[1]])
    wait_for(f"{bgp_lab.EXTRA} gone from gw1", lambda: lab.route(gw1, bgp_lab.EXTRA) is None,
             30, 0.05)
    figures["withdraw_by_reload_s"] = round(time.monotonic() - t0, 2)
    r = lab.sh("h1", "ping", "-c", "3", "-i", "0.2", "-W", "1", bgp_lab.EXTRA_HOST, check=False)
    check(r.returncode != 0, "host 1 no longer reaches 172.61.1.10", failures)
    t0 = time.monotonic()
    lab.set_announce(gw2, [bgp_lab.CIDR[1], bgp_lab.EXTRA])
    wait_for(f"{bgp_lab.EXTRA} back on gw1 over both tunnels", lambda: lab.paths(
        gw1, bgp_lab.EXTRA) == set(gw1.tunnels), 30, 0.05)
    figures["announce_by_reload_s"] = round(time.monotonic() - t0, 2)
    traffic.wait_ping(lab, "h1", bgp_lab.EXTRA_HOST)
    check(gw2.pids()[0]["espgw"] == espgw_pid, "host 1 reaches 172.61.1.10 again; the reloads "
          "left gw2's espgw running (bgp is FRR's part of the config)", failures)

    say("6. zebra dies on gw1: espgw keeps FRR's routes (grace) and espgw-up restarts zebra")
    streams = lab.flows(FLOWS, RATE)
    lab.carried(gw1, 200)
    fpm0 = gw1.ctl("status")["fpm"]
    old = gw1.kill("zebra")
    wait_for("gw1's FPM connection closed", lambda: not gw1.ctl("status")["fpm"]["connected"],
             10, 0.05)
    held = lab.paths(gw1, bgp_lab.CIDR[1])
    grace = gw1.ctl("status")["fpm"]["grace_left_ms"]
    check(held == set(gw1.tunnels) and grace is not None and grace > 0,
          f"routes kept over both tunnels in the grace period ({grace} ms left)", failures)
    wait_for("espgw-up to start zebra again", lambda: gw1.pids()[0].get("zebra") not in (
        None, old), 30, 0.1)
    wait_for("zebra connected to espgw's FPM port again", lambda: (lambda f: f["connected"] and
             f["connections"] > fpm0["connections"])(gw1.ctl("status")["fpm"]), 30, 0.05)
    wait_for("FRR's routes refreshed (none stale) over both tunnels", lambda: gw1.ctl(
        "status")["fpm"]["stale"] == 0 and lab.paths(gw1, bgp_lab.CIDR[1]) == set(gw1.tunnels),
        30, 0.05)
    lab.carried(gw1, 200)
    got, _, _ = streams.stop_and_collect()
    lost = sum(r["missing"] for r in got.values())
    figures["zebra_restart_lost"] = lost
    figures["zebra_restart_fpm"] = {k: gw1.ctl("status")["fpm"][k] for k in (
        "connections", "swept_stale", "cleared_after_grace")}
    check(lost == 0, f"no datagram lost while zebra restarted ({lost})", failures)


if __name__ == "__main__":
    raise SystemExit(main())
