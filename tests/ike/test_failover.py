#!/usr/bin/env python3
"""Two tunnels to one peer: DPD takes a dead one down and the traffic moves to the other.

    test_failover.py ESPGW PLUGIN ESPGW_IKE --failback {true,false} [--reconnect {gw1,gw2}]
                     [--rate PPS]

In the HA lab (ha_lab.py) gw2 has two outside addresses, 198.51.100.2 and .3, and one charon, as an
AWS VPN connection has two tunnel endpoints. espgw's config has tunnels t1 (to .2) and t2 (to .3)
with the same CIDRs, grouped by `peers: [{name: gw2, tunnels: [t1, t2], failback: ...}]`, DPD as
AWS sets it (espgw-ike's defaults: dpd_delay 10 s, dpd_action restart; gw2: dpd_delay 10 s,
action clear) and charon's retransmissions set so that a silent peer is dead about 30 s after its
last packet (ha_lab.py's docstring). Two sequence-numbered UDP streams run throughout.

 1. Both tunnels up; A -> B crosses t1 only (espgw routes the peer's CIDRs into its first tunnel
    that is up). gw2 sends B -> A under its newest outbound SA (libipsec picks by reqid, newest
    first), so gw2 rekeys t1's CHILD_SA once to put B -> A on t1 as well.
 2. The path to 198.51.100.2 dies (gw2 blackholes the address both ways). Nothing crosses t1;
    charon's DPD declares the peer dead and deletes t1's CHILD_SA (dpd_action restart: it tries
    again at once, and keeps trying); espgw's peer has only t2 up and routes A -> B there. gw2's
    own DPD moves B -> A to t2.
    Measured: the failover time of each stream (arrival of the last datagram over t1 to the first
    over t2, at the receiver) and the datagrams lost in between; t1's SAs are gone from espgw.
 3. The path comes back; gw1's charon establishes t1 again.
    failback: true: A -> B returns to t1, losing nothing (both tunnels are up).
    failback: false: A -> B stays on t2 while t2 is up.
--reconnect gw2 swaps the DPD actions (gw1 clear, gw2 restart with keyingtries 0): gw2
establishes t1 again and espgw's side answers. charon then installs both SAs before its IKE_AUTH
answer has reached gw2, and gw2 its inbound SA only once it has: espgw must not move A -> B to t1
before gw2 has shown it holds the SAs (by sending under them) or the failback hold has passed.
At the end: no datagram twice; A -> B lost datagrams only in the failover (one gap); espgw dropped
nothing; espgw's log names each move of the traffic; no SA in espgw that charon does not have.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import argparse
import json
import os
import sys
import time

import ha_lab
from ike_lab import GW2_WAN, LabError, say, wait_for
from labkit.proc import check, on_signals_unwind
from labkit.traffic import check_stream, stop_streams

PREFERRED, BACKUP = "t1", "t2"
DEAD_WITHIN_S = 90   # DPD needs ~30 s; generous for a loaded 2-CPU machine
BACK_WITHIN_S = 60   # the restarted IKE_SA retransmits at most 7.7 s apart
HOLD_S = 8           # failback: false must stay this long on the backup


def in_packets(lab, tunnel):
    return sum(sa["packets"] for (d, _), sa in lab.ctl.sas(tunnel).items() if d == "in")


def carrier(lab, counter, at_least=100, timeout=20):
    """The one tunnel whose `counter` (out_packets or in_packets) grows by `at_least` while the
    other's does not grow at all; waits for such a moment."""
    def which():
        base = {t: counter(lab, t) for t in lab.tunnels}
        wait_for("traffic", lambda: any(counter(lab, t) >= base[t] + at_least
                                        for t in lab.tunnels), timeout, 0.05)
        grown = [t for t in lab.tunnels if counter(lab, t) > base[t]]
        return grown[0] if len(grown) == 1 else None

    return wait_for(f"one tunnel alone to carry {counter.__name__}", which, timeout * 2, 0)


def out_packets(lab, tunnel):
    return lab.out_packets(tunnel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("espgw")
    ap.add_argument("plugin")
    ap.add_argument("espgw_ike")
    ap.add_argument("--failback", choices=("true", "false"), required=True)
    ap.add_argument("--rate", type=float, default=1000, help="datagrams per second, each way")
    ap.add_argument("--reconnect", choices=("gw1", "gw2"), default="gw1",
                    help="whose DPD action is restart (the other's: clear)")
    a = ap.parse_args()
    reason = ha_lab.skip_reason(a.espgw_ike)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    failback = a.failback == "true"
    lab = ha_lab.HaLab(os.path.abspath(a.espgw), os.path.abspath(a.plugin),
                       os.path.abspath(a.espgw_ike), tunnels=(PREFERRED, BACKUP),
                       failback=failback,
                       ike="dpd_action: clear" if a.reconnect == "gw2" else "",
                       dpd="restart" if a.reconnect == "gw2" else "clear",
                       peer_conn="keyingtries = 0" if a.reconnect == "gw2" else "")
    failures = []
    figures = {"failback": failback, "rate_each_way": a.rate}
    ok = False
    try:
        lab.up()
        say(f"step 1: tunnels {PREFERRED} (to {GW2_WAN}) and {BACKUP} (to "
            f"{ha_lab.GW2_WAN2}) in peer gw2, failback: {a.failback}")
        if failback:
            lab.start()
        else:
            # Without failback the first tunnel up keeps the traffic: bring t1 up first, so that
            # staying on t2 later is the choice failback: false makes, not the order of start-up.
            lab.cut_path(ha_lab.GW2_WAN2)
            lab.start_espgw()
            lab.gw2.start()
            lab.gw2.load()
            lab.gw1.start()
            lab.start_ike()
            lab.established(PREFERRED)
            wait_for(f"A -> B on {PREFERRED}", lambda: lab.ctl.sas(PREFERRED), 10)
            lab.restore_path(ha_lab.GW2_WAN2)
            lab.established(BACKUP)
        # gw2 sends under its newest outbound SA: make that t1's.
        old = lab.child("gw1", PREFERRED)
        lab.vici("gw2").request("rekey", {"child": PREFERRED})
        lab.established(PREFERRED, not_spi=old["spi_in"])
        lab.clean(PREFERRED)
        streams = ha_lab.streams(lab, a.rate)
        ab, ba = carrier(lab, out_packets), carrier(lab, in_packets)
        check(ab == PREFERRED, f"A -> B crosses {ab}", failures)
        check(ba == PREFERRED, f"B -> A crosses {ba}", failures)
        drops0 = lab.drops()

        say(f"step 2: the path to {GW2_WAN} dies")
        log_mark = os.path.getsize(lab.espgw.log)
        t_cut = time.monotonic()
        lab.cut_path(GW2_WAN)

        def failed_over():
            if lab.child("gw1", PREFERRED) is not None or lab.ctl.sas(PREFERRED):
                return None
            return carrier(lab, out_packets) == BACKUP

        wait_for(f"charon's DPD to take {PREFERRED} down and A -> B to cross {BACKUP}",
                 failed_over, DEAD_WITHIN_S, 0.5)
        t_dead = time.monotonic()
        say(f"  {PREFERRED} down in espgw {t_dead - t_cut:.1f} s after the cut; A -> B on "
            f"{BACKUP}")
        wait_for(f"gw2's DPD to move B -> A to {BACKUP}",
                 lambda: carrier(lab, in_packets) == BACKUP, DEAD_WITHIN_S, 0.5)
        check(not lab.stale_sas(), f"no stale SA in espgw after the failover ({lab.stale_sas()})",
              failures)

        say(f"step 3: the path to {GW2_WAN} comes back")
        t_back = time.monotonic()
        lab.restore_path(GW2_WAN)
        c = lab.established(PREFERRED, timeout=BACK_WITHIN_S)
        t_up = time.monotonic()
        say(f"  {PREFERRED} established again {t_up - t_back:.1f} s after the path came back: "
            f"in 0x{c['spi_in']:08x} out 0x{c['spi_out']:08x}")
        if failback:
            wait_for(f"A -> B back on {PREFERRED}",
                     lambda: carrier(lab, out_packets) == PREFERRED, 20, 0.1)
            check(True, f"failback: A -> B returned to {PREFERRED}", failures)
        else:
            base = lab.out_packets(PREFERRED)
            deadline = time.monotonic() + HOLD_S
            while time.monotonic() < deadline:
                if carrier(lab, out_packets) != BACKUP:
                    break
            sent_t1 = lab.out_packets(PREFERRED) - base
            check(sent_t1 == 0 and carrier(lab, out_packets) == BACKUP,
                  f"no failback: A -> B stayed on {BACKUP} for {HOLD_S} s after {PREFERRED} "
                  f"came back ({sent_t1} packets sent on {PREFERRED})", failures)
        ba_after = carrier(lab, in_packets)
        say(f"  B -> A crosses {ba_after} (gw2's choice: its newest SA)")

        results = stop_streams(streams)
        drops = ha_lab.drops_grown(drops0, lab.drops())
        for s, r in zip(streams, results):
            check_stream(r, s.name, failures, allow_missing=True)
        rab, rba = results
        # The failover is the gap that spans the cut.
        for name, r in (("a_to_b", rab), ("b_to_a", rba)):
            fo = [g for g in r["gaps"] if g.get("after_t", 0) <= t_dead and
                  g.get("before_t", 1e18) >= t_cut]
            others = [g for g in r["gaps"] if g not in fo]
            figures[name] = {
                "failover_s": round(fo[0]["seconds"], 3) if fo and "seconds" in fo[0] else None,
                "failover_lost": sum(g["missing"] for g in fo),
                "last_before_cut_s": round(t_cut - fo[0]["after_t"], 3) if fo else None,
                "first_after_cut_s": round(fo[0]["before_t"] - t_cut, 3) if fo else None,
                "other_gaps": [{"lost": g["missing"], "seconds": round(g.get("seconds", 0), 3),
                                "at_s_after_path_back": round(g.get("after_t", 0) - t_back, 3)}
                               for g in others],
                "sent": r["sent"], "lost": r["missing_count"],
            }
            say(f"  {name}: " + json.dumps(figures[name]))
        fo_ab = figures["a_to_b"]
        check(len(rab["gaps"]) == 1 and fo_ab["failover_lost"] > 0,
              f"A -> B lost datagrams in the failover only: {fo_ab['failover_lost']} in "
              f"{fo_ab['failover_s']} s; none on the way back", failures)
        # gw2, the responder of t1's new IKE_SA, sends under its new outbound SA as soon as it has
        # answered IKE_AUTH; what reaches espgw before gw1's charon has installed the inbound SA
        # is dropped as unknown_spi: the peer's loss on the way back, not espgw's.
        early = drops.pop("unknown_spi", 0)
        back_lost = sum(g["lost"] for g in figures["b_to_a"]["other_gaps"])
        figures["b_to_a"]["lost_on_the_way_back"] = back_lost
        check(early == back_lost,
              f"B -> A: {back_lost} datagrams lost on the way back, each one gw2 sent under t1's "
              f"new SA before gw1 had installed it (unknown_spi in espgw: {early})", failures)
        check(not drops, f"espgw dropped nothing else (grown: {drops})", failures)
        with open(lab.espgw.log) as f:
            f.seek(log_mark)
            moves = [line.split("espgw: ", 1)[1].strip() for line in f
                     if "espgw: peer gw2: " in line]
        want = [f"peer gw2: traffic goes into tunnel {BACKUP} (was {PREFERRED})"]
        if failback:
            want.append(f"peer gw2: traffic goes into tunnel {PREFERRED} (was {BACKUP})")
        check(moves == want, f"espgw's log names each move: {moves}", failures)
        stale = lab.stale_sas()
        check(not stale, f"no SA in espgw that charon does not have ({stale})", failures)
        figures["t1_down_after_cut_s"] = round(t_dead - t_cut, 1)
        figures["t1_back_after_restore_s"] = round(t_up - t_back, 1)
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
