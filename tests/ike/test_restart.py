#!/usr/bin/env python3
"""Each of gw1's daemons killed under load: espgw-up starts it again and traffic comes back.

    test_restart.py BUILD PLUGIN [--rate PPS]

gw1 runs the full stack under scripts/espgw-up (stack_lab.StackLab, names `ha-`): espgw, charon with
kernel-espgw and espgw-ike, supervised, against a stock strongSwan gw2. Two sequence-numbered UDP
streams run A -> B and B -> A (ha_lab.py). One after the other, each daemon is killed with SIGKILL
(no clean-up of its own); espgw-up notices and starts it again at once (the first restart has no
back-off); the test touches nothing else.

 1. espgw (the dataplane). Its SAs are gone from memory; their sequence numbers and replay
    windows are in its state file (docs/sa-state.md, written every 100 ms by default). The plugin
    in charon sees its event connection close, subscribes again as soon as espgw answers (it tries
    every 20 ms) and installs every SA it knows in one transaction; espgw takes up each SA's state
    (outbound after a safe jump), so no rekey is needed: the same CHILD_SA carries on. The outage
    must be ESPGW_OUTAGE_S or less each way, and gw2 must refuse no packet as a replay (its
    charon logs "ESP sequence number verification failed" for each).
 2. charon. The restarted charon's plugin flushes the SAs of the dead one from espgw; espgw-ike
    notices that charon went away, reconnects, loads the tunnel and initiates it; gw2 replaces
    its IKE_SA (INITIAL_CONTACT).
 3. espgw-ike. charon and its SAs are not touched: the restarted espgw-ike finds the tunnel's
    IKE_SA in charon, loads the connection in place and initiates nothing. No datagram is lost.

After each: one CHILD_SA installed on both gateways whose two SAs alone are in espgw (no stale
SA), traffic through it both ways, nothing dropped by espgw from then until the next kill, and
espgw-up counted the restart. Measured per restart and direction, from the receivers' arrival
times: the outage (last datagram before, first after) and the datagrams lost; espgw's drops
during the outage. At the end: no datagram twice, none lost outside the three outages.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import argparse
import json
import os
import sys
import time

import ha_lab
from ike_lab import TUNNEL, LabError, say, wait_for
from labkit.proc import check, on_signals_unwind
from labkit.traffic import check_stream, fmt_gap, stop_streams
from stack_lab import StackLab, stack_skip_reason

PEER_CHILD = "v2"  # StackLab's stock gw2: its IKEv2 connection and child
RECOVER_S = 60
# Each way, after kill -9 of espgw. The target is 0.2 s; espgw's own start (DPDK's EAL, the mbuf
# pools on 4 KiB pages) takes most of 0.5 s in this lab (docs/sa-state.md, "Restart outage").
ESPGW_OUTAGE_S = 1.0
REPLAY_REFUSED = "ESP sequence number verification failed"  # gw2's libipsec, per packet


def current(lab, timeout, not_spi=None):
    """gw1's one installed CHILD_SA (inbound SPI other than not_spi), gw2's mirror of it, and
    espgw holding exactly its two SAs with the outbound one in use; gw1's CHILD_SA."""

    def check_now():
        mine = lab.gw1.installed(TUNNEL)
        if len(mine) != 1 or mine[0]["spi_in"] == not_spi:
            return None
        c = mine[0]
        if not any(t["spi_in"] == c["spi_out"] and t["spi_out"] == c["spi_in"]
                   for t in lab.gw2.installed(PEER_CHILD)):
            return None
        sas = lab.gw1.ctl.sas(TUNNEL)
        if set(sas) != {("in", c["spi_in"]), ("out", c["spi_out"])}:
            return None
        return c if sas[("out", c["spi_out"])]["in_use"] else None

    return wait_for("one CHILD_SA on both gateways, its SAs alone in espgw", check_now, timeout,
                    0.2)


def flowing(lab, child, at_least=200, timeout=30):
    """Both streams cross the CHILD_SA: its inbound and outbound SA in espgw each count
    `at_least` more packets."""
    def count():
        sas = lab.gw1.ctl.sas(TUNNEL)
        i, o = sas.get(("in", child["spi_in"])), sas.get(("out", child["spi_out"]))
        return (i["packets"] if i else 0), (o["packets"] if o else 0)

    base = count()
    wait_for(f"{at_least} packets each way through in 0x{child['spi_in']:08x} out "
             f"0x{child['spi_out']:08x}",
             lambda: all(n >= b + at_least for n, b in zip(count(), base)), timeout, 0.1)


def stale_sas(lab):
    """espgw's IKE SAs that no CHILD_SA of gw1's charon has (any state)."""
    known = set()
    for c in lab.gw1.child_sas(TUNNEL):
        known |= {("in", c["spi_in"]), ("out", c["spi_out"])}
    return sorted(f"{sa['direction']} {sa['spi']}" for sa in lab.gw1.ctl("sas")["sas"]
                  if sa.get("origin") == "ike"
                  and (sa["direction"], int(sa["spi"], 16)) not in known)


def files_under(top):
    return [os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs
            if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))]


def drops(lab):
    return lab.gw1.ctl("counters")["drops"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("plugin")
    ap.add_argument("--rate", type=float, default=2000, help="datagrams per second, each way")
    a = ap.parse_args()
    reason = stack_skip_reason(a.build)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    lab = StackLab(a.build, a.plugin, peer="strongswan", prefix="ha")
    failures = []
    windows = []  # (daemon, kill time, recovered time, espgw's drops in the outage)
    ok = False
    try:
        lab.up()
        lab.configure_gw1()
        lab.start()
        child = current(lab, RECOVER_S)
        say(f"tunnel {TUNNEL} up under espgw-up: in 0x{child['spi_in']:08x} out "
            f"0x{child['spi_out']:08x}; streams at {a.rate:g}/s each way")
        streams = ha_lab.streams(lab, a.rate)
        flowing(lab, child)
        steady = drops(lab)

        for n, daemon in enumerate(("espgw", "charon", "espgw-ike"), 1):
            say(f"step {n}: {daemon} killed (SIGKILL); espgw-up starts it again")
            grown = ha_lab.drops_grown(steady, drops(lab))
            check(not grown, f"espgw dropped nothing before the kill (grown: {grown})", failures)
            old = child
            before = drops(lab) if daemon != "espgw" else {}  # a new espgw counts from zero
            t_kill = time.monotonic()
            pid = lab.gw1.kill(daemon)
            lab.gw1.wait_restarted(daemon, pid, timeout=RECOVER_S)
            if daemon in ("espgw", "espgw-ike"):
                child = current(lab, RECOVER_S)
                why = ("espgw resumed its SAs: no rekey" if daemon == "espgw"
                       else "espgw-ike initiated nothing")
                check(child["spi_in"] == old["spi_in"] and child["spi_out"] == old["spi_out"],
                      f"the CHILD_SA is the one from before ({why})", failures)
            else:
                child = current(lab, RECOVER_S, not_spi=old["spi_in"])
            flowing(lab, child, timeout=RECOVER_S)
            t_ok = time.monotonic()
            steady = drops(lab)
            in_outage = ha_lab.drops_grown(before, steady)
            windows.append((daemon, t_kill, t_ok, in_outage))
            stale = stale_sas(lab)
            check(not stale, f"no stale SA in espgw ({stale})", failures)
            check(True, f"traffic back {t_ok - t_kill:.1f} s after the kill on in "
                        f"0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}; espgw's drops in "
                        f"the outage: {in_outage}", failures)
        grown = ha_lab.drops_grown(steady, drops(lab))
        check(not grown, f"espgw dropped nothing after the last recovery (grown: {grown})",
              failures)
        restarts = lab.gw1.pids()[1]
        check(restarts == {"espgw": 1, "charon": 1, "espgw-ike": 1},
              f"espgw-up restarted each once ({restarts})", failures)

        say("stop the streams and count")
        results = stop_streams(streams)
        figures = {"rate_each_way": a.rate}
        for s, r in zip(streams, results):
            check_stream(r, s.name, failures, allow_missing=True)
            key = s.name.replace(" -> ", "_to_").lower()
            placed = set()
            for daemon, t_kill, t_ok, in_outage in windows:
                gaps = [g for g in r["gaps"] if t_kill - 0.5 <= g.get("after_t", 0) <= t_ok]
                placed |= {g["first_missing"] for g in gaps}
                f = figures.setdefault(daemon, {"espgw_drops_in_outage": in_outage,
                                                "recovered_after_kill_s": round(t_ok - t_kill, 2)})
                f[key] = {"lost": sum(g["missing"] for g in gaps),
                          "outage_s": round(sum(g.get("seconds", 0) for g in gaps), 3),
                          "gaps": [{"lost": g["missing"],
                                    "seconds": round(g.get("seconds", 0), 3),
                                    "after_kill_s": round(g.get("after_t", t_kill) - t_kill, 3)}
                                   for g in gaps]}
                if daemon == "espgw-ike":
                    check(not gaps, f"{s.name}: nothing lost when espgw-ike restarted", failures)
            elsewhere = [g for g in r["gaps"] if g["first_missing"] not in placed]
            check(not elsewhere, f"{s.name}: no datagram lost outside the outages "
                                 f"({[fmt_gap(g) for g in elsewhere[:5]]})", failures)
        for daemon in ("espgw", "charon", "espgw-ike"):
            f = figures[daemon]
            say(f"  {daemon}: A -> B {f['a_to_b']['lost']} lost in {f['a_to_b']['outage_s']} s, "
                f"B -> A {f['b_to_a']['lost']} lost in {f['b_to_a']['outage_s']} s")
        for way in ("a_to_b", "b_to_a"):
            gaps = figures["espgw"][way]["gaps"]
            worst = max((g["seconds"] for g in gaps), default=0)
            check(worst <= ESPGW_OUTAGE_S, f"{way}: the outage after kill -9 of espgw is "
                  f"{worst * 1000:.0f} ms (at most {ESPGW_OUTAGE_S * 1000:.0f} ms)", failures)
        # Every log and file gw1's stack wrote (espgw, espgw-up, charon, espgw-ike, the SA state
        # file) through three restarts: none holds the pre-shared key.
        leaks = [p for p in files_under(lab.gw1.dir) if p != lab.gw1.secrets
                 and lab.psk.encode() in open(p, "rb").read()]
        check(not leaks, f"no file of gw1's holds the pre-shared key ({leaks})", failures)
        refused = lab.gw2.log_text().count(REPLAY_REFUSED)
        check(refused == 0, f"gw2 refused {refused} packet(s) as replays", failures)
        figures["gw2_replays_refused"] = refused
        backoffs = [line.split("espgw-up: ", 1)[-1] for line in
                    lab.gw1.log_text("espgw-up").splitlines() if "starting it again" in line]
        say("  espgw-up: " + "; ".join(backoffs))
        print("figures: " + json.dumps(figures, sort_keys=True))
        ok = not failures
    except (LabError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {e}", file=sys.stderr)
        lab.dump_logs()
    finally:
        lab.down()
    print("PASS" if ok else f"FAILED: {len(failures)} check(s)" if failures else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
