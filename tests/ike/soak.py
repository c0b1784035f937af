#!/usr/bin/env python3
"""The soak (docs/reliability.md "Soak"; not in CI, scripts/soak runs it): the full stack as users
run it, for --minutes under load and trouble, with what it costs counted.

    soak.py BUILD PLUGIN [--lab mesh|strongswan] [--lanes L] [--flows F] [--minutes N]
            [--rate PPS] [--sample-s S] [--json FILE]

Two labs, each gateway under an unmodified scripts/espgw-up:

- mesh (the default): two regions from `espgwctl mesh --bgp --tunnels 2 --lanes L` (bgp_lab.py,
  names `skm`): two route-based tunnels between two espgw gateways, each of L lanes (its own
  IKE_SA, CHILD_SA and outer flow), a BGP session with BFD over each, ECMP over both. The
  daemons of gw1 are espgw, charon, espgw-ike, zebra, bfdd and bgpd. F sequence-numbered UDP
  flows each way (host 1 -> host 2 and back), PPS datagrams a second each way in all, spread by
  their ports over the tunnels and lanes.
- strongswan: one tunnel from gw1 (espgw, charon, espgw-ike) to a stock strongSwan gw2
  (stack_lab.StackLab, names `sk-`); two sequence-numbered UDP streams, A -> B and B -> A.

In both, region one's (gw1's) CHILD_SAs are rekeyed every 20-30 s and its IKE_SAs every 50-60 s
(child_lifetime_s 60, ike_lifetime_s 90, rekey_margin_s 30, rekey_fuzz_percent 33, as
ike_rekey_long). On top, on a schedule:

- every 45 s, a runtime change through the control socket: a static route added, and removed at
  the next turn (espgwctl's `route-add`/`route-del`); every 4 minutes a SIGHUP to gw1's espgw-up
  with a tunnel's ike section changed (dpd_delay_s between 10 and 11 s): espgw-ike reloads it and
  renegotiates the tunnel (what that loses is counted apart: "reloads");
- every 3 minutes, 20 s of malformed frames from the host behind gw1 into gw1's LAN port (tests/
  e2e/soak_traffic.py --side lan: IP header junk, TTL 1, martian and, on the policy-based
  tunnel, out-of-selector sources), each built for exactly one drop reason, which must count
  exactly that much more;
- kill -9 of each of gw1's daemons in turn, spread from 30% to 80% of the run (espgw-up starts
  each again); the kill lasts until everything is whole again and carries traffic.

Every --sample-s: each daemon's resident memory (VmRSS) and open descriptors, and espgw's drops by
reason. At the end, per stream: sent, received, lost (in the kills, the reloads and elsewhere); drops
by reason; each daemon's memory and descriptors, first and last sample of its last life. Fails
(exit 1) on a datagram lost outside the kills and reloads, a malformed flood's drops that do not add
up, a descriptor count that grew in a daemon's last life, or resident memory that grew by more
than GROWTH_MB in it.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import argparse
import json
import os
import re
import sys
import time

import bgp_lab
import ha_lab
import lanes_lab
from ike_lab import A_IP, B_IP, TUNNEL, LabError, say, wait_for
from labkit.lanes import FlowStreams
from labkit.proc import check, on_signals_unwind, open_fds, result, status_kib
from labkit.traffic import check_stream, stop_streams
from stack_lab import StackLab, stack_skip_reason
from test_restart import current, flowing

HERE = os.path.dirname(os.path.abspath(__file__))
SOAK_TRAFFIC = os.path.join(HERE, "..", "e2e", "soak_traffic.py")
KILLS_FROM, KILLS_TO = 0.30, 0.80  # of the run: the first and the last kill
CHANGE_EVERY_S = 45
HUP_EVERY_S = 240
FLOOD_EVERY_S = 180
FLOOD_S = 20
RECOVER_S = 90
GROWTH_MB = 16  # resident memory a daemon may gain over its last life
# A changed ike section renegotiates the tunnel (docs/espgw-ike.md "Reloading: SIGHUP"): what is
# lost from the SIGHUP until this long after everything is whole again is counted on its own.
RELOAD_S = 10
# What a kill costs may come after everything is whole again (a BFD session that a restarted
# zebra takes down seconds later): what is lost until this long after is the kill's.
SETTLE_S = 15
REKEYS = """
      child_lifetime_s: 60
      ike_lifetime_s: 90
      rekey_margin_s: 30
      rekey_fuzz_percent: 33"""
SPARE_ROUTE = "192.0.2.0/24"  # added and removed at runtime; routed out of the LAN
LAN_ROUTER = "172.50.1.254"  # gw1's LAN in both labs


def proc_figures(pid):
    """(VmRSS in KiB, open descriptors) of a process, or None when it is gone."""
    try:
        return status_kib(pid), open_fds(pid)
    except (OSError, AssertionError, ValueError):
        return None


class StrongswanRig:
    """One tunnel from gw1 to a stock strongSwan gw2 (see the module's comment)."""

    daemons = ("espgw", "charon", "espgw-ike")

    def __init__(self, a):
        self.lab = StackLab(a.build, a.plugin, peer="strongswan", prefix="sk")
        self.gw = self.lab.gw1
        self.rate = a.rate
        self.streams = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.lab.down()

    def up(self):
        lab = self.lab
        lab.up()
        self.configure(10)
        lab.start()
        child = current(lab, RECOVER_S)
        self.t_streams = time.monotonic()
        self.streams = ha_lab.streams(lab, self.rate)
        flowing(lab, child)
        return f"one tunnel to a stock strongSwan; streams at {self.rate:g}/s each way"

    def configure(self, dpd):
        self.lab.configure_gw1(extra_ike=REKEYS + f"\n      dpd_delay_s: {dpd}")

    def inbound_spis(self):
        return {spi for d, spi in self.gw.ctl.sas(TUNNEL) if d == "in"}

    def flood_args(self):
        lab = self.lab
        return "a", ["--iface", lab.dev["a"], "--src-mac", lab.mac["a"], "--dst-mac",
                     lab.mac["gw1_lan"], "--peer-ip", A_IP, "--inner-src", A_IP, "--inner-dst",
                     B_IP]

    def state(self):
        return current(self.lab, RECOVER_S)

    def _back(self, not_spi):
        """The tunnel's CHILD_SA (not the one of SPI not_spi, where given) carries traffic."""
        flowing(self.lab, current(self.lab, RECOVER_S, not_spi=not_spi), timeout=RECOVER_S)

    def recover(self, daemon, old):
        self._back(old["spi_in"] if daemon == "charon" else None)

    def reloaded(self, old):
        """After a SIGHUP: the tunnel renegotiated."""
        self._back(old["spi_in"])

    def collect(self, failures):
        """[{"name", "sent", "missing", "gaps": [(t, missing)]}] per stream."""
        out = []
        for s, r in zip(self.streams, stop_streams(self.streams)):
            check_stream(r, s.name, failures, allow_missing=True)
            out.append({"name": s.name, "way": s.name, "sent": r["sent"],
                        "missing": r["missing_count"],
                        "gaps": [(g.get("after_t", -1), g["missing"]) for g in r["gaps"]]})
        return out

    def dump_logs(self):
        self.lab.dump_logs()


class MeshLab(bgp_lab.BgpLab):
    """bgp_lab's two tunnels of `lanes` lanes each; region one rekeys every 20-30 s, and its
    first tunnel has dpd_delay_s (what a SIGHUP changes)."""

    prefix = "skm"
    mac_prefix = "02:1a:ce:00:02"

    def after_mesh(self):
        with open(self.gw1.config) as f:
            text = f.read()
        # Region one starts every tunnel: its `ike` sections end with `start_action: start`.
        text, n = re.subn(r"(?m)^(      start_action: start.*)$", lambda m: m.group(1) + REKEYS,
                          text)
        if n != len(self.gw1.tunnels):
            raise LabError(f"{n} tunnels that start IKE in {self.gw1.config}, not "
                           f"{len(self.gw1.tunnels)}")
        text = text.replace(REKEYS, REKEYS + "\n      dpd_delay_s: 10", 1)
        with open(self.gw1.config, "w") as f:
            f.write(text)


class MeshRig:
    """Two espgw gateways, two tunnels of lanes with BGP and ECMP (see the module's comment)."""

    daemons = ("espgw", "charon", "espgw-ike", "zebra", "bfdd", "bgpd")

    def __init__(self, a):
        self.lab = MeshLab(a.build, a.plugin, lanes=a.lanes)
        self.gw = self.lab.gw1
        self.lanes, self.flows, self.rate = a.lanes, a.flows, a.rate
        self.streams = ()

    def __enter__(self):
        self.lab.__enter__()
        return self

    def __exit__(self, *exc):
        self.lab.__exit__(*exc)

    def up(self):
        lab = self.lab
        lab.up()
        self.state()
        per_flow = self.rate / self.flows
        # A long silence is a kill (charon's takes the BGP sessions with it): the receivers wait.
        self.t_streams = time.monotonic()
        self.streams = (
            FlowStreams(lab, "h1", lanes_lab.HOST[0], "h2", lanes_lab.HOST[1], self.flows,
                        per_flow).start(timeout=RECOVER_S),
            FlowStreams(lab, "h2", lanes_lab.HOST[1], "h1", lanes_lab.HOST[0], self.flows,
                        per_flow, port=7001, sport=31000).start(timeout=RECOVER_S))
        self.carried()
        return (f"two tunnels of {self.lanes} lanes each between two espgw gateways, BGP and "
                f"ECMP; {self.flows} flows each way, {self.rate:g} datagrams/s each way")

    def configure(self, dpd):
        g = self.gw
        with open(g.config) as f:
            text = f.read()
        with open(g.config, "w") as f:
            f.write(re.sub(r"dpd_delay_s: \d+", f"dpd_delay_s: {dpd}", text, count=1))

    def outbound_spis(self, only=None):
        """{(gateway, tunnel, lane): outbound SPI} of both gateways (only: those tunnels), or
        None while a tunnel lacks a lane or a lane its outbound SA (self.why says which)."""
        spis = {}
        for g in self.lab.gateways:
            rows = {t["name"]: t.get("lanes") or [] for t in g.ctl("tunnels")["tunnels"]}
            for i, t in enumerate(g.tunnels):
                if only is not None and i not in only:
                    continue
                lanes = rows.get(t, [])
                if len(lanes) != self.lanes or not all(r.get("outbound_spi") for r in lanes):
                    self.why = f"{g.name} {t}: lanes {lanes}"
                    return None
                spis |= {(g.name, t, r["lane"]): r["outbound_spi"] for r in lanes}
        return spis

    def whole(self, renewed=None, only=None):
        """Every lane of every tunnel keyed on both gateways (with renewed, the old outbound
        SPIs of those tunnels all replaced), and both BGP paths in espgw on both."""
        spis = self.outbound_spis()
        if spis is None:
            return None
        if not self.lab.established():
            self.why = "BGP paths: " + "; ".join(
                f"{g.name}: {sorted(self.lab.paths(g, bgp_lab.CIDR[1 - i]))}"
                for i, g in enumerate(self.lab.gateways))
            return None
        # (gateway, tunnel) pairs that must have renewed; from spis, not a second query.
        asked = None if only is None else {(g.name, t) for g in self.lab.gateways
                                           for i, t in enumerate(g.tunnels) if i in only}
        stale = renewed and {k for k, v in renewed.items()
                             if spis.get(k) == v and (asked is None or k[:2] in asked)}
        if stale:
            self.why = f"not renegotiated: {sorted(stale)}"
            return None
        return spis

    def wait_whole(self, what, renewed=None, only=None):
        self.why = ""
        try:
            return wait_for(what, lambda: self.whole(renewed, only), RECOVER_S, 0.2)
        except LabError as e:
            raise LabError(f"{e} (last: {self.why})") from None

    def state(self):
        return self.wait_whole("every lane keyed and both BGP paths up on both gateways")

    def carried(self):
        """Both directions through every tunnel again."""
        for g in self.lab.gateways:
            self.lab.carried(g, 100, timeout=RECOVER_S)

    def recover(self, daemon, old):
        self.wait_whole(f"whole again after {daemon}'s kill", old if daemon == "charon" else None)
        self.carried()

    def reloaded(self, old):
        """After a SIGHUP: the first tunnel's lanes renegotiated."""
        self.wait_whole("the reloaded tunnel's lanes renegotiated", old, only={0})
        self.carried()

    def inbound_spis(self):
        return {s["spi"] for s in self.gw.ctl("sas")["sas"] if s["direction"] == "in"}

    def flood_args(self):
        lab, host = self.lab, lanes_lab.HOST
        return "h1", ["--iface", lab.dev["h1"], "--src-mac", lab.mac["h1"], "--dst-mac",
                      lab.mac["gw1_lan"], "--peer-ip", host[0], "--inner-src", host[0],
                      "--inner-dst", host[1], "--route-based"]

    def collect(self, failures):
        out = []
        for s in self.streams:
            got, foreign, sent = s.stop_and_collect(timeout=RECOVER_S)
            name = f"{s.src} -> {s.dst}"
            check(foreign == 0, f"{name}: nothing foreign arrived ({foreign})", failures)
            for i in range(s.flows):
                r = got.get(i)
                if r is None:
                    check(False, f"{name} flow {i}: nothing arrived", failures)
                    continue
                check(r["ended"] and r["sent"] == sent["sent_per_flow"] and not r["duplicates"],
                      f"{name} flow {i}: {r['sent']} sent, end marker received, none twice "
                      f"({r['duplicates']})", failures)
                gaps = [(g["after_t"] if g["after_t"] is not None else g["before_t"] or -1,
                         g["missing"]) for g in r["gaps"]]
                out.append({"name": f"{name} #{i}", "way": name, "sent": r["sent"],
                            "missing": r["missing"],
                            "gaps": gaps, "reordered": r["reordered"]})
        return out

    def dump_logs(self):
        self.lab.dump_logs()


class Soak:
    def __init__(self, rig, minutes, sample_s):
        self.rig, self.gw = rig, rig.gw
        self.seconds = minutes * 60
        self.sample_s = sample_s
        self.samples = []  # {"t": s, "pids": {...}, "<daemon>": [rss_kib, fds], "drops": {...}}
        self.events = []  # (t, what)
        self.kills = []  # (daemon, t_kill, t_recovered)
        self.start = (0.0, 0.0)  # the streams' start, until they crossed every tunnel
        self.reloads = []  # (t_hup, t_whole + RELOAD_S): a tunnel renegotiated
        self.floods = []  # {"expected": {...}, "counted": {...}}
        self.failures = []
        self.t0 = time.monotonic()
        self.route_on = False
        self.dpd = 10
        self.spis_in = set()  # every inbound SPI seen: the CHILD_SA rekeys

    def now(self):
        return time.monotonic() - self.t0

    def event(self, what):
        self.events.append((round(self.now(), 1), what))
        say(f"[{self.now():7.1f} s] {what}")

    def drops(self):
        return self.gw.ctl("counters")["drops"]

    def sample(self):
        pids = self.gw.pids()[0]
        s = {"t": round(self.now(), 1), "pids": pids}
        for d in self.rig.daemons:
            s[d] = proc_figures(pids[d]) if pids.get(d) else None
        try:
            s["drops"] = {k: v for k, v in self.drops().items() if v}
            self.spis_in |= self.rig.inbound_spis()
        except (LabError, OSError, ValueError):
            s["drops"] = None  # espgw restarting
        self.samples.append(s)

    def change_route(self):
        g = self.gw.ctl
        if self.route_on:
            g("route-del", prefix=SPARE_ROUTE)
        else:
            g("route-add", route={"prefix": SPARE_ROUTE, "via": LAN_ROUTER, "interface": "lan"})
        self.route_on = not self.route_on
        self.event(f"runtime change: route {SPARE_ROUTE} {'added' if self.route_on else 'removed'}")

    def hup(self):
        old = self.rig.state()
        self.dpd = 21 - self.dpd  # 10 <-> 11
        self.rig.configure(self.dpd)
        t = self.now()
        self.gw.hup()
        self.event(f"SIGHUP to espgw-up: dpd_delay_s {self.dpd}")
        self.rig.reloaded(old)
        self.reloads.append((t, self.now() + RELOAD_S))
        self.event(f"reloaded tunnel renegotiated ({self.now() - t:.1f} s)")

    def flood(self):
        """FLOOD_S of malformed frames from the host behind gw1; espgw's drops must grow by
        what it sent."""
        before = self.drops()
        self.event(f"malformed flood into gw1's LAN port for {FLOOD_S} s")
        host, args = self.rig.flood_args()
        p = self.rig.lab.tool(host, "--side", "lan", *args, "--seconds", str(FLOOD_S),
                              "--junk-per-round", "20", script=SOAK_TRAFFIC)
        sent = result(p, "soak_traffic.py --side lan", FLOOD_S + 30)
        after = self.drops()
        counted = {r: after.get(r, 0) - before.get(r, 0) for r in sent["expected"]}
        self.floods.append({"at_s": round(self.now(), 1), "expected": sent["expected"],
                            "counted": counted})
        check(all(counted[r] == n for r, n in sent["expected"].items()),
              f"flood at {self.now():.0f} s: espgw counted {counted} for {sent['expected']}",
              self.failures)

    def kill(self, daemon):
        self.event(f"kill -9 {daemon}")
        t = self.now()
        old = self.rig.state()
        pid = self.gw.kill(daemon)
        self.gw.wait_restarted(daemon, pid, timeout=RECOVER_S)
        self.rig.recover(daemon, old)
        if daemon == "espgw":
            # Ops over the control socket are not kept across a restart (docs/control-
            # protocol.md "What a restart keeps"): the runtime route is gone.
            left = [r for r in self.gw.ctl("routes")["routes"] if r["prefix"] == SPARE_ROUTE]
            check(not left, f"espgw restarted without the runtime route {SPARE_ROUTE} "
                  f"({'it was there' if self.route_on else 'it was not there'} before)",
                  self.failures)
            self.route_on = False
        self.kills.append((daemon, t, self.now()))
        self.event(f"{daemon} back ({self.now() - t:.1f} s)")

    def kill_plan(self):
        n = len(self.rig.daemons)
        return [((KILLS_FROM + (KILLS_TO - KILLS_FROM) * i / max(1, n - 1)) * self.seconds, d)
                for i, d in enumerate(self.rig.daemons)]

    def run(self):
        next_sample = next_change = 0.0
        next_hup = HUP_EVERY_S
        next_flood = FLOOD_EVERY_S / 2
        kills = self.kill_plan()
        while self.now() < self.seconds:
            t = self.now()
            if kills and t >= kills[0][0]:
                self.kill(kills.pop(0)[1])
            elif t >= next_flood and (not kills or kills[0][0] - t > FLOOD_S + 10):
                self.flood()
                next_flood = t + FLOOD_EVERY_S
            elif t >= next_change:
                self.change_route()
                next_change = t + CHANGE_EVERY_S
            elif t >= next_hup:
                self.hup()
                next_hup = t + HUP_EVERY_S
            if self.now() >= next_sample:
                self.sample()
                next_sample = self.now() + self.sample_s
            # The schedule's next moment; nothing waits on another process here.
            time.sleep(max(0.0, min(next_sample, next_change, next_hup, next_flood,
                                    kills[0][0] if kills else self.seconds,
                                    self.seconds) - self.now()))
        self.sample()

    def growth(self):
        """Per daemon: first and last (rss_kib, fds) of its last life, from a minute after it
        started (what it builds at start is not growth)."""
        out = {}
        for d in self.rig.daemons:
            last_pid = self.samples[-1]["pids"].get(d)
            life = [s for s in self.samples if s["pids"].get(d) == last_pid and s[d]]
            settled = [s for s in life if s["t"] >= life[0]["t"] + 60] or life
            if not settled:
                continue
            first, last = settled[0][d], settled[-1][d]
            out[d] = {"from_s": settled[0]["t"], "to_s": settled[-1]["t"],
                      "rss_kib": [first[0], last[0]], "fds": [first[1], last[1]],
                      "rss_max_kib": max(s[d][0] for s in life)}
            check(last[1] <= first[1], f"{d}: descriptors {first[1]} -> {last[1]}", self.failures)
            check((last[0] - first[0]) / 1024 < GROWTH_MB,
                  f"{d}: resident memory {first[0]} -> {last[0]} KiB", self.failures)
        return out

    def windows(self):
        """(label, from, to) in seconds of the run: where losses are expected."""
        return ([("start", *self.start)]
                + [(f"kill {d}", t, u + SETTLE_S) for d, t, u in self.kills]
                + [("reload", t, u) for t, u in self.reloads])

    def losses(self, streams):
        """Per stream: sent, received and lost, the losses placed at the start, in the kills,
        the reloads or elsewhere (a loss not placed, as beyond the receiver's 50 gaps, is
        elsewhere); and per kill, what each direction lost in it."""
        windows = self.windows()
        out, per_kill = {}, {}
        for s in streams:
            placed = {}
            for t, n in s["gaps"]:
                label = next((w for w, a, b in windows if a - 0.5 <= t - self.t0 <= b),
                             "elsewhere")
                placed[label] = placed.get(label, 0) + n
                if label.startswith("kill "):
                    way = per_kill.setdefault(label[5:], {})
                    way[s["way"]] = way.get(s["way"], 0) + n
            kills = sum(n for w, n in placed.items() if w.startswith("kill "))
            elsewhere = s["missing"] - kills - placed.get("start", 0) - placed.get("reload", 0)
            out[s["name"]] = {"sent": s["sent"], "received": s["sent"] - s["missing"],
                              "lost": s["missing"], "lost_at_start": placed.get("start", 0),
                              "lost_in_kills": kills, "lost_in_reloads": placed.get("reload", 0),
                              "lost_elsewhere": elsewhere}
            if "reordered" in s:
                out[s["name"]]["reordered"] = s["reordered"]
            check(elsewhere == 0, f"{s['name']}: {elsewhere} lost outside the start, the kills "
                  f"and the reloads ({[(round(t - self.t0, 1), n) for t, n in s['gaps'][:8]]})",
                  self.failures)
        return out, per_kill


def report(figures, flows):
    """Per direction: sent, received and lost (with few streams, per stream too)."""
    for name, f in flows.items() if len(flows) <= 4 else ():
        say(f"  {name}: sent {f['sent']}, received {f['received']}, lost {f['lost']} "
            f"({f['lost_in_kills']} in the kills, {f['lost_in_reloads']} in the reloads, "
            f"{f['lost_elsewhere']} elsewhere)")
    sums = {}
    for name, f in flows.items():
        way = name.split(" #")[0]
        acc = sums.setdefault(way, dict.fromkeys(("sent", "received", "lost", "lost_at_start",
                                                  "lost_in_kills", "lost_in_reloads",
                                                  "lost_elsewhere"), 0))
        for k in acc:
            acc[k] += f[k]
    figures["directions"] = sums
    for way, f in sums.items():
        say(f"  {way} in all: sent {f['sent']}, received {f['received']}, lost {f['lost']} "
            f"({f['lost_at_start']} at the start, {f['lost_in_kills']} in the kills, "
            f"{f['lost_in_reloads']} in the reloads, {f['lost_elsewhere']} elsewhere)")
    for d, ways in figures["per_kill"].items():
        say(f"  kill -9 {d}: lost {ways}")
    for d, g in figures["daemons"].items():
        say(f"  {d}: RSS {g['rss_kib'][0]} -> {g['rss_kib'][1]} KiB, fds {g['fds'][0]} -> "
            f"{g['fds'][1]} ({g['from_s']:.0f} s to {g['to_s']:.0f} s)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("plugin")
    ap.add_argument("--lab", choices=("mesh", "strongswan"), default="mesh")
    ap.add_argument("--lanes", type=int, default=2, help="mesh: lanes per tunnel (2 or more)")
    ap.add_argument("--flows", type=int, default=16, help="mesh: UDP flows each way")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=1000, help="datagrams per second, each way")
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    if a.lab == "mesh" and a.lanes < 2:
        ap.error("--lanes: 2 or more (the strongswan lab has a tunnel of one lane)")
    reason = lanes_lab.check_lab(a.build) if a.lab == "mesh" else stack_skip_reason(a.build)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    rig = (MeshRig if a.lab == "mesh" else StrongswanRig)(a)
    ok = False
    with rig:
        try:
            what = rig.up()
            soak = Soak(rig, a.minutes, a.sample_s)
            soak.start = (rig.t_streams - soak.t0, 0.0)
            soak.event(f"{what}; {a.minutes:g} minutes")
            soak.run()
            streams = rig.collect(soak.failures)
            figures = {"lab": a.lab, "minutes": a.minutes, "rate_each_way": a.rate,
                       "kills": [{"daemon": d, "at_s": round(t, 1),
                                  "back_after_s": round(u - t, 1)} for d, t, u in soak.kills],
                       "reloads": [{"at_s": round(t, 1), "window_s": round(u - t, 1)}
                                   for t, u in soak.reloads],
                       "floods": soak.floods, "events": len(soak.events)}
            if a.lab == "mesh":
                figures.update(lanes=a.lanes, flows_each_way=a.flows, tunnels=2)
            figures["flows"], figures["per_kill"] = soak.losses(streams)
            figures["drops_last_life"] = next(
                (s["drops"] for s in reversed(soak.samples) if s["drops"]), {})
            figures["daemons"] = soak.growth()
            figures["child_sas_seen"] = len(soak.spis_in)
            figures["samples"] = [{"t": s["t"], **{d: s[d] for d in rig.daemons}}
                                  for s in soak.samples]
            report(figures, figures["flows"])
            text = json.dumps(figures, sort_keys=True)
            print("figures: " + text)
            if a.json:
                with open(a.json, "w") as f:
                    f.write(text + "\n")
            for f in soak.failures:
                say(f"  FAILED: {f}")
            ok = not soak.failures
        except (LabError, Exception) as e:  # noqa: BLE001
            print(f"FAIL: {e}", file=sys.stderr)
            rig.dump_logs()
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
