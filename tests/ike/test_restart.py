#!/usr/bin/env python3
"""Each of gw1's daemons killed under load and started again: traffic comes back by itself.

    test_restart.py ESPGW PLUGIN ESPGW_IKE [--rate PPS]

In the HA lab (ha_lab.py), with two sequence-numbered UDP streams running A -> B and B -> A, the
test plays the supervisor: it kills one daemon with SIGKILL (no clean-up of its own) and starts
it again at once with the same command line, then touches nothing else.

 1. espgw (the dataplane). Its SAs, sequence numbers and replay windows are gone. The plugin in
    charon sees its event connection close, subscribes again once espgw answers, installs every
    SA it knows in one transaction and raises a soft expire for each CHILD_SA: charon rekeys, and
    the re-added outbound SA (sending from sequence number 1 again, which gw2's replay window
    refuses) is replaced.
 2. charon. The restarted charon's plugin flushes the SAs of the dead one from espgw; espgw-ike
    notices that charon went away, reconnects, loads the tunnel and initiates it; gw2 replaces
    its IKE_SA (INITIAL_CONTACT).
 3. espgw-ike. charon and its SAs are not touched: the restarted espgw-ike finds the tunnel's
    IKE_SA in charon, loads the connection in place and initiates nothing. No datagram is lost.

After each: a CHILD_SA installed on both gateways whose SAs alone are in espgw (no stale SA),
traffic through it both ways, and nothing dropped by espgw once it has recovered until the next
kill. Measured per restart and direction, from the receivers' arrival times: the outage (last
datagram before, first after) and the datagrams lost; espgw's drops during the outage.
At the end: no datagram twice, none lost outside the three outages.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import argparse
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ha_lab  # noqa: E402
from ha_lab import LabError, check, say, wait_for  # noqa: E402

TUNNEL = "t1"
RECOVER_S = 60


def flowing(lab, at_least=200, timeout=30):
    """The tunnel's CHILD_SA in espgw carries both streams: its inbound and outbound SA each
    count `at_least` more packets; returns gw1's CHILD_SA."""
    child = lab.clean(TUNNEL, timeout=timeout)

    def count():
        sas = lab.ctl.sas(TUNNEL)
        i, o = sas.get(("in", child["spi_in"])), sas.get(("out", child["spi_out"]))
        return (i["packets"] if i else 0), (o["packets"] if o else 0)

    base = count()
    wait_for(f"{at_least} packets each way through in 0x{child['spi_in']:08x} out "
             f"0x{child['spi_out']:08x}",
             lambda: all(n >= b + at_least for n, b in zip(count(), base)), timeout, 0.1)
    return child


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("espgw")
    ap.add_argument("plugin")
    ap.add_argument("espgw_ike")
    ap.add_argument("--rate", type=float, default=2000, help="datagrams per second, each way")
    a = ap.parse_args()
    reason = ha_lab.skip_reason(a.espgw_ike)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    ha_lab.ike_lab.on_signals_unwind()
    lab = ha_lab.HaLab(os.path.abspath(a.espgw), os.path.abspath(a.plugin),
                       os.path.abspath(a.espgw_ike), tunnels=(TUNNEL,))
    failures = []
    windows = []  # (daemon, kill time, recovered time, espgw's drops in the outage)
    ok = False
    try:
        lab.up()
        child = lab.start()[TUNNEL]
        say(f"tunnel {TUNNEL} up: in 0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}; "
            f"streams at {a.rate:g}/s each way")
        streams = lab.streams(a.rate)
        child = flowing(lab)
        steady = lab.drops()

        def restart(n, daemon, kill_and_start):
            nonlocal child, steady
            say(f"step {n}: {daemon} killed (SIGKILL) and started again")
            grown = lab.drops_grown(steady, lab.drops())
            check(not grown, f"espgw dropped nothing before the kill (grown: {grown})", failures)
            old = child
            t_kill = ha_lab.now()
            before = lab.drops() if daemon != "espgw" else {}
            kill_and_start()
            # A new CHILD_SA unless only espgw-ike restarted, which must leave it alone.
            if daemon == "espgw-ike":
                child = flowing(lab)
                check(child["spi_in"] == old["spi_in"] and child["spi_out"] == old["spi_out"],
                      "the CHILD_SA is the one from before (espgw-ike initiated nothing)",
                      failures)
            else:
                lab.established(TUNNEL, timeout=RECOVER_S, not_spi=old["spi_in"])
                child = flowing(lab, timeout=RECOVER_S)
            t_ok = ha_lab.now()
            after = lab.drops()
            outage_drops = lab.drops_grown(before, after)
            windows.append((daemon, t_kill, t_ok, outage_drops))
            stale = lab.stale_sas()
            check(not stale, f"no stale SA in espgw ({stale})", failures)
            check(True, f"traffic back {t_ok - t_kill:.1f} s after the kill on in "
                        f"0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}; espgw's drops in "
                        f"the outage: {outage_drops}", failures)
            steady = after

        def espgw():
            lab.kill_espgw()
            lab.start_espgw()

        def charon():
            lab.gw1.stop(signal.SIGKILL)
            lab.gw1.start()

        def espgw_ike():
            lab.stop_ike(signal.SIGKILL)
            lab.start_ike()

        restart(1, "espgw", espgw)
        restart(2, "charon", charon)
        restart(3, "espgw-ike", espgw_ike)
        grown = lab.drops_grown(steady, lab.drops())
        check(not grown, f"espgw dropped nothing after the last recovery (grown: {grown})",
              failures)

        say("stop the streams and count")
        results = ha_lab.stop_streams(streams)
        figures = {"rate_each_way": a.rate}
        for s, r in zip(streams, results):
            ha_lab.check_stream(r, s.name, failures, allow_missing=True)
            key = s.name.replace(" -> ", "_to_").lower()
            placed = set()
            for daemon, t_kill, t_ok, drops in windows:
                gaps = [g for g in r["gaps"] if t_kill - 0.5 <= g.get("after_t", 0) <= t_ok]
                placed |= {g["first_missing"] for g in gaps}
                f = figures.setdefault(daemon, {"espgw_drops_in_outage": drops,
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
                                 f"({[ha_lab.fmt_gap(g) for g in elsewhere[:5]]})", failures)
        for daemon in ("espgw", "charon", "espgw-ike"):
            f = figures[daemon]
            say(f"  {daemon}: A -> B {f['a_to_b']['lost']} lost in {f['a_to_b']['outage_s']} s, "
                f"B -> A {f['b_to_a']['lost']} lost in {f['b_to_a']['outage_s']} s")
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
