#!/usr/bin/env python3
"""The soak (docs/reliability.md "Soak"; not in CI, scripts/soak runs it): the full stack as users
run it, for --minutes under load and trouble, with what it costs counted.

    soak.py BUILD PLUGIN [--minutes N] [--rate PPS] [--sample-s S] [--json FILE]

gw1 runs espgw, charon with kernel-espgw and espgw-ike under scripts/espgw-up (stack_lab.StackLab,
names `sk-`) against a stock strongSwan gw2; one tunnel whose CHILD_SA is rekeyed every 20-30 s
and its IKE_SA every 50-60 s (child_lifetime_s 60, ike_lifetime_s 90, rekey_margin_s 30,
rekey_fuzz_percent 33, as ike_rekey_long). Two sequence-numbered UDP streams, A -> B and B -> A,
run all along. On top, on a schedule:

- every 45 s, a runtime change through the control socket: a static route added, and removed at
  the next turn (espgwctl's `route-add`/`route-del`); every 4 minutes a SIGHUP to espgw-up with
  the tunnel's ike section changed (dpd_delay_s between 10 and 11 s): espgw-ike reloads it and
  renegotiates the tunnel (what that loses is counted apart: "reloads");
- every 3 minutes, 20 s of malformed frames from host A into gw1's LAN port (tests/e2e/
  soak_traffic.py --side lan: IP header junk, TTL 1, martian and out-of-selector sources), each
  built for exactly one drop reason, which must count exactly that much more;
- at 30%, 55% and 80% of the run, kill -9 of espgw, charon, espgw-ike in turn (espgw-up starts
  each again).

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
import sys
import time

import ha_lab
from ike_lab import A_IP, B_IP, TUNNEL, LabError, say
from labkit.proc import check, on_signals_unwind, result
from labkit.traffic import check_stream, stop_streams
from stack_lab import StackLab, stack_skip_reason
from test_restart import current, flowing

HERE = os.path.dirname(os.path.abspath(__file__))
SOAK_TRAFFIC = os.path.join(HERE, "..", "e2e", "soak_traffic.py")
DAEMONS = ("espgw", "charon", "espgw-ike")
KILL_AT = (0.30, 0.55, 0.80)  # of the run, in the order of DAEMONS
CHANGE_EVERY_S = 45
HUP_EVERY_S = 240
FLOOD_EVERY_S = 180
FLOOD_S = 20
RECOVER_S = 60
GROWTH_MB = 16  # resident memory a daemon may gain over its last life
# A changed ike section renegotiates the tunnel (docs/espgw-ike.md "Reloading: SIGHUP"): the new CHILD_SA
# takes over within this long of the SIGHUP. What is lost in it is counted on its own.
RELOAD_S = 10
REKEYS = """
      child_lifetime_s: 60
      ike_lifetime_s: 90
      rekey_margin_s: 30
      rekey_fuzz_percent: 33"""
SPARE_ROUTE = "192.0.2.0/24"  # added and removed at runtime; routed out of the LAN


def proc_figures(pid):
    """(VmRSS in KiB, open descriptors) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None


class Soak:
    def __init__(self, lab, minutes, sample_s):
        self.lab = lab
        self.seconds = minutes * 60
        self.sample_s = sample_s
        self.samples = []  # {"t": s, "pids": {...}, "<daemon>": [rss_kib, fds], "drops": {...}}
        self.events = []  # (t, what)
        self.kills = []  # (daemon, t_kill, t_recovered)
        self.reloads = []  # (t_hup, t_hup + RELOAD_S): the tunnel is renegotiated
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
        return self.lab.gw1.ctl("counters")["drops"]

    def sample(self):
        pids = self.lab.gw1.pids()[0]
        s = {"t": round(self.now(), 1), "pids": pids}
        for d in DAEMONS:
            s[d] = proc_figures(pids[d]) if pids.get(d) else None
        try:
            s["drops"] = {k: v for k, v in self.drops().items() if v}
            self.spis_in |= {spi for d, spi in self.lab.gw1.ctl.sas(TUNNEL) if d == "in"}
        except (LabError, OSError, ValueError):
            s["drops"] = None  # espgw restarting
        self.samples.append(s)

    def change_route(self):
        g = self.lab.gw1.ctl
        if self.route_on:
            g("route-del", prefix=SPARE_ROUTE)
        else:
            g("route-add", route={"prefix": SPARE_ROUTE, "via": "172.50.1.254", "interface": "lan"})
        self.route_on = not self.route_on
        self.event(f"runtime change: route {SPARE_ROUTE} {'added' if self.route_on else 'removed'}")

    def hup(self):
        self.dpd = 21 - self.dpd  # 10 <-> 11
        self.lab.configure_gw1(extra_ike=REKEYS + f"\n      dpd_delay_s: {self.dpd}")
        t = self.now()
        self.lab.gw1.hup()
        self.reloads.append((t, t + RELOAD_S))
        self.event(f"SIGHUP to espgw-up: dpd_delay_s {self.dpd}")

    def flood(self):
        """FLOOD_S of malformed frames from host A; espgw's drops must grow by what it sent."""
        lab = self.lab
        before = self.drops()
        self.event(f"malformed flood from host A for {FLOOD_S} s")
        p = lab.tool("a", "--side", "lan", "--iface", lab.dev["a"], "--src-mac", lab.mac["a"],
                     "--dst-mac", lab.mac["gw1_lan"], "--peer-ip", A_IP, "--inner-src", A_IP,
                     "--inner-dst", B_IP, "--seconds", str(FLOOD_S), "--junk-per-round", "20",
                     script=SOAK_TRAFFIC)
        sent = result(p, "soak_traffic.py --side lan", FLOOD_S + 30)
        after = self.drops()
        counted = {r: after.get(r, 0) - before.get(r, 0) for r in sent["expected"]}
        self.floods.append({"at_s": round(self.now(), 1), "expected": sent["expected"],
                            "counted": counted})
        check(all(counted[r] == n for r, n in sent["expected"].items()),
              f"flood at {self.now():.0f} s: espgw counted {counted} for {sent['expected']}",
              self.failures)

    def kill(self, daemon):
        gw1 = self.lab.gw1
        self.event(f"kill -9 {daemon}")
        t = self.now()
        old = current(self.lab, RECOVER_S)
        pid = gw1.kill(daemon)
        gw1.wait_restarted(daemon, pid, timeout=RECOVER_S)
        child = current(self.lab, RECOVER_S,
                        not_spi=old["spi_in"] if daemon == "charon" else None)
        flowing(self.lab, child, timeout=RECOVER_S)
        self.kills.append((daemon, t, self.now()))
        self.event(f"{daemon} back ({self.now() - t:.1f} s)")

    def run(self):
        next_sample = next_change = 0.0
        next_hup = HUP_EVERY_S
        next_flood = FLOOD_EVERY_S / 2
        kills = [(at * self.seconds, d) for at, d in zip(KILL_AT, DAEMONS)]
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
        for d in DAEMONS:
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("plugin")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=1000, help="datagrams per second, each way")
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    reason = stack_skip_reason(a.build)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    lab = StackLab(a.build, a.plugin, peer="strongswan", prefix="sk")
    ok = False
    soak = None
    try:
        lab.up()
        lab.configure_gw1(extra_ike=REKEYS + "\n      dpd_delay_s: 10")
        lab.start()
        child = current(lab, RECOVER_S)
        streams = ha_lab.streams(lab, a.rate)
        flowing(lab, child)
        soak = Soak(lab, a.minutes, a.sample_s)
        soak.event(f"tunnel up under espgw-up; streams at {a.rate:g}/s each way; "
                   f"{a.minutes:g} minutes")
        soak.run()
        results = stop_streams(streams)
        failures = soak.failures
        figures = {"minutes": a.minutes, "rate_each_way": a.rate, "flows": {},
                   "kills": [{"daemon": d, "at_s": round(t, 1), "back_after_s": round(u - t, 1)}
                             for d, t, u in soak.kills],
                   "floods": soak.floods, "events": len(soak.events)}
        for s, r in zip(streams, results):
            check_stream(r, s.name, failures, allow_missing=True)
            def within(g, windows):
                return any(t - 0.5 <= g.get("after_t", -1) - soak.t0 <= u for t, u in windows)

            in_kills = [g for g in r["gaps"] if within(g, [(t, u) for _, t, u in soak.kills])]
            in_reloads = [g for g in r["gaps"] if g not in in_kills and within(g, soak.reloads)]
            elsewhere = [g for g in r["gaps"] if g not in in_kills and g not in in_reloads]
            figures["flows"][s.name] = {
                "sent": r["sent"], "received": r["sent"] - r["missing_count"],
                "lost": sum(g["missing"] for g in r["gaps"]),
                "lost_in_kills": sum(g["missing"] for g in in_kills),
                "lost_in_reloads": [g["missing"] for g in in_reloads],
                "reload_gaps_ms": [round(g.get("seconds", 0) * 1000, 1) for g in in_reloads],
                "lost_elsewhere": sum(g["missing"] for g in elsewhere)}
            check(not elsewhere, f"{s.name}: {len(elsewhere)} gap(s) outside the kills and reloads "
                                 f"({elsewhere[:3]})", failures)
        last_drops = next((s["drops"] for s in reversed(soak.samples) if s["drops"]), {})
        figures["drops_last_life"] = last_drops
        figures["daemons"] = soak.growth()
        figures["child_sas_seen"] = len(soak.spis_in)
        figures["samples"] = [{"t": s["t"], **{d: s[d] for d in DAEMONS}} for s in soak.samples]
        text = json.dumps(figures, sort_keys=True)
        print("figures: " + text)
        if a.json:
            with open(a.json, "w") as f:
                f.write(text + "\n")
        for name, f in figures["flows"].items():
            say(f"  {name}: sent {f['sent']}, received {f['received']}, lost {f['lost']} "
                f"({f['lost_in_kills']} in the kills, {f['lost_in_reloads']} in the reloads, "
                f"{f['lost_elsewhere']} elsewhere)")
        for d, g in figures["daemons"].items():
            say(f"  {d}: RSS {g['rss_kib'][0]} -> {g['rss_kib'][1]} KiB, fds {g['fds'][0]} -> "
                f"{g['fds'][1]} ({g['from_s']:.0f} s to {g['to_s']:.0f} s)")
        ok = not failures
    except (LabError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {e}", file=sys.stderr)
        lab.dump_logs()
    finally:
        lab.down()
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
