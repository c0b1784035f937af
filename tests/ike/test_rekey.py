#!/usr/bin/env python3
"""Rekeys under load lose nothing: CHILD_SA and IKE_SA rekeys by either side, and collisions.

    test_rekey.py ESPGW PLUGIN ESPGW_IKE [--rate PPS] [--long SECONDS]

In the HA lab (ha_lab.py: espgw + charon with kernel-espgw + espgw-ike on gw1, a stock
kernel-libipsec charon on gw2), two sequence-numbered UDP streams run, A -> B and B -> A, at
--rate datagrams per second each, through the whole test. Steps, each under that traffic:

 1. CHILD_SA rekey started by gw1 (VICI `rekey` with the installed CHILD_SA's unique id, see
    ids()): gw1 initiates, espgw switches its outbound SA as charon installs the new one; the
    old SAs leave espgw.
 2. CHILD_SA rekey started by gw2: gw1 is the responder and gets the new outbound SA only once
    gw2 has deleted the old CHILD_SA (charon's call order without KERNEL_POLICY_SPI).
 3. IKE_SA rekey (IKEv2) started by gw1, 4. by gw2: the CHILD_SA moves to the new IKE_SA, its SPIs
    stay, nothing in espgw changes.
 5. CHILD_SA rekey collisions: both charons are told to rekey at the same moment (one thread and
    VICI connection each, released together) until three collisions were seen in the logs
    ("CHILD_SA rekey collision won/lost"), and gw1 has both won and lost one if 10 tries allow
    (the lower nonce loses; in this lab gw1 mostly wins): the loser's redundant CHILD_SA is
    deleted, the winner's SAs carry the traffic.
 6. IKE_SA rekey collisions, the same way ("IKE_SA rekey collision").
After every step: new SPIs in charon and espgw (IKE SPIs for IKE rekeys), espgw holds exactly the
SAs of the one installed CHILD_SA with the new outbound SA in use (the old inbound SA goes after
charon's delete_rekeyed_delay), and traffic crosses the new SAs.

With --long SECONDS (the long run): no commands; gw1's tunnel has child_lifetime_s 60,
rekey_margin_s 30, rekey_fuzz_percent 33 (charon's rekey_time 30 s, rand_time 9.9 s: a rekey every
20-30 s) and ike_lifetime_s 90 (an IKE_SA rekey every 50-60 s), for SECONDS under load; at least
SECONDS / 30 CHILD_SA rekeys must happen.

At the end, in both modes: every datagram of both streams arrived exactly once; espgw dropped
nothing under any reason (replay_old, replay_duplicate, unknown_spi, auth_failed, tunnel_down,
...); no SA is left in espgw that charon does not have; charon on gw1 never failed an SA call.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import argparse
import os
import re
import sys
import time

import ha_lab
from ike_lab import LabError, say, wait_for
from labkit.proc import check, on_signals_unwind
from labkit.traffic import check_stream, kernel_drops, kernel_drops_grown, stop_streams

TUNNEL = "t1"
COLLISIONS = 3
COLLISION_TRIES = 16
BOTH_OUTCOMES_TRIES = 10  # after three collisions, go on this far for gw1 to win and to lose


def sa_call_failures(log):
    """charon's log lines where an SA call failed ("unable to ...", "espgw refused"). Not "unable to
    rekey, CHILD_SA not found": that is charon's own race, a rekey job (swanctl's, or charon's
    schedule) for a CHILD_SA that a collision's other rekey has just replaced (CI saw it once in
    step 5); the SAs themselves are checked against espgw."""
    return [line for line in log.splitlines()
            if re.search(r"unable to|espgw refused", line)
            and "unable to rekey, CHILD_SA not found" not in line]


def flowing(lab, child, at_least=200, timeout=20):
    """Both streams cross the CHILD_SA's SAs in espgw: its inbound and outbound SA each count
    `at_least` more packets."""
    def count():
        sas = lab.ctl.sas(TUNNEL)
        i, o = sas.get(("in", child["spi_in"])), sas.get(("out", child["spi_out"]))
        return (i["packets"] if i else 0), (o["packets"] if o else 0)

    base = count()
    wait_for(f"{at_least} packets each way through in 0x{child['spi_in']:08x} / out "
             f"0x{child['spi_out']:08x}",
             lambda: all(n >= b + at_least for n, b in zip(count(), base)), timeout, 0.1)


def ike_spis(lab, gw):
    """{(spi_i, spi_r)} of the tunnel's IKE_SAs on gw."""
    sas = lab.vici(gw).ike_sas().get(TUNNEL, [])
    return {(s.get("initiator-spi"), s.get("responder-spi")) for s in sas
            if s.get("state") == "ESTABLISHED"}


def ids(lab, gw):
    """(unique id of the tunnel's ESTABLISHED IKE_SA, of its INSTALLED CHILD_SA) on gw.

    Rekeys are asked for by these ids, as charon's own expiry asks for one SA: VICI's `rekey` by
    name (swanctl --rekey --child NAME) rekeys every CHILD_SA of that name, also the one a peer's
    rekey has just created and the peer has not finished. charon 5.9.8 then sends REKEY_SA for
    it, the peer answers NO_CHILD_SA (it has not listed that CHILD_SA yet), and charon deletes it
    locally, without a DELETE, and negotiates another: the peer goes on sending under the SA that
    is gone until the next rekey. Seen here once, as B -> A stopping after a collision."""
    ike_id = child_id = None
    for sa in lab.vici(gw).ike_sas().get(TUNNEL, []):
        if sa.get("state") != "ESTABLISHED":
            continue
        ike_id = sa.get("uniqueid")
        for c in (sa.get("child-sas") or {}).values():
            if c.get("name") == TUNNEL and c.get("state") == "INSTALLED":
                child_id = c.get("uniqueid")
    return ike_id, child_id


def log_count(lab, pattern):
    return sum(len(re.findall(pattern, c.log_text())) for c in lab.charons)


def child_rekey(lab, who, child):
    """A CHILD_SA rekey started by `who` (a list of "gw1"/"gw2": several at once); returns the
    new CHILD_SA once espgw is clean."""
    lab.at_once([(gw, "rekey", {"child-id": ids(lab, gw)[1]}) for gw in who])
    lab.established(TUNNEL, timeout=30, not_spi=child["spi_in"])
    new = lab.clean(TUNNEL)
    flowing(lab, new)
    return new


def ike_rekey(lab, who):
    before = {gw: ike_spis(lab, gw) for gw in ("gw1", "gw2")}
    lab.at_once([(gw, "rekey", {"ike-id": ids(lab, gw)[0]}) for gw in who])

    def rekeyed():
        now = {gw: ike_spis(lab, gw) for gw in ("gw1", "gw2")}
        if any(len(now[gw]) != 1 or now[gw] & before[gw] for gw in now):
            return None
        return now["gw1"]

    return wait_for("one new IKE_SA on both gateways", rekeyed, 30, 0.2)


def short_run(lab, child, failures):
    step = 0

    def announce(text):
        nonlocal step
        step += 1
        say(f"step {step}: {text}")

    announce("CHILD_SA rekey started by gw1 (espgw's side initiates)")
    new = child_rekey(lab, ["gw1"], child)
    check(True, f"in 0x{child['spi_in']:08x} out 0x{child['spi_out']:08x} -> in "
                f"0x{new['spi_in']:08x} out 0x{new['spi_out']:08x}; old SAs gone", failures)
    child = new

    announce("CHILD_SA rekey started by gw2 (espgw's side responds)")
    new = child_rekey(lab, ["gw2"], child)
    check(True, f"in 0x{child['spi_in']:08x} out 0x{child['spi_out']:08x} -> in "
                f"0x{new['spi_in']:08x} out 0x{new['spi_out']:08x}; old SAs gone", failures)
    child = new

    for who in ("gw1", "gw2"):
        announce(f"IKE_SA rekey started by {who}")
        spis = ike_rekey(lab, [who])
        same = lab.clean(TUNNEL)
        check(same["spi_in"] == child["spi_in"] and same["spi_out"] == child["spi_out"],
              f"new IKE_SA {sorted(spis)}; the CHILD_SA kept its SPIs", failures)
        flowing(lab, same)

    announce(f"CHILD_SA rekey collisions: both sides at once, until {COLLISIONS} are seen")
    seen = tries = 0
    outcomes = {"won": 0, "lost": 0}  # gw1's
    while tries < COLLISION_TRIES and (seen < COLLISIONS or (
            not all(outcomes.values()) and tries < BOTH_OUTCOMES_TRIES)):
        tries += 1
        before = {o: len(re.findall(f"CHILD_SA rekey collision {o}", lab.gw1.log_text()))
                  for o in outcomes}
        child = child_rekey(lab, ["gw1", "gw2"], child)
        hit = [o for o in outcomes
               if len(re.findall(f"CHILD_SA rekey collision {o}", lab.gw1.log_text())) > before[o]]
        for o in hit:
            outcomes[o] += 1
        seen += 1 if hit else 0
        say(f"  try {tries}: {'collision, gw1 ' + hit[0] if hit else 'no collision'}; now in "
            f"0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}")
    check(seen >= COLLISIONS, f"{seen} CHILD_SA rekey collisions in {tries} tries (gw1 won "
                              f"{outcomes['won']}, lost {outcomes['lost']}), each ending with one "
                              "CHILD_SA whose SAs alone are in espgw", failures)
    if not all(outcomes.values()):
        say("  (gw1 did not both win and lose a collision in this run: the nonces decide)")

    announce("IKE_SA rekey collisions: both sides at once")
    seen = tries = 0
    while seen < 2 and tries < COLLISION_TRIES:
        tries += 1
        before = log_count(lab, r"IKE_SA rekey collision (won|lost)")
        ike_rekey(lab, ["gw1", "gw2"])
        hit = log_count(lab, r"IKE_SA rekey collision (won|lost)") - before
        seen += 1 if hit else 0
        child = lab.clean(TUNNEL)
        flowing(lab, child)
        say(f"  try {tries}: {'collision' if hit else 'no collision'}")
    check(seen >= 2, f"{seen} IKE_SA rekey collisions in {tries} tries; the CHILD_SA carries on",
          failures)
    return child


def long_run(lab, child, seconds, failures):
    say(f"long run: {seconds} s under load, CHILD_SA rekeys every 20-30 s, IKE_SA every 50-60 s")
    seen = [child["spi_in"]]
    ike_seen = set(ike_spis(lab, "gw1"))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c = lab.child("gw1", TUNNEL)
        if c and c["spi_in"] not in seen:
            seen.append(c["spi_in"])
            say(f"  {time.monotonic() - end + seconds:5.1f} s: CHILD_SA now in "
                f"0x{c['spi_in']:08x} out 0x{c['spi_out']:08x}")
        ike_seen |= ike_spis(lab, "gw1")
        if not lab.espgw.alive():
            raise LabError("espgw exited")
        time.sleep(0.5)
    rekeys = len(seen) - 1
    check(rekeys >= int(seconds // 30),
          f"{rekeys} CHILD_SA rekeys and {len(ike_seen) - 1} IKE_SA rekeys in {seconds} s",
          failures)
    # The timed rekeys go on (every 20-30 s): one may replace the CHILD_SA just found while it is
    # checked (CI once saw it 0.1 s after), and then its successor must carry the streams.
    for _ in range(3):
        child = lab.clean(TUNNEL, timeout=40)
        try:
            flowing(lab, child)
            return child
        except LabError:
            now = lab.child("gw1", TUNNEL)
            if now is not None and now["spi_in"] == child["spi_in"]:
                raise
            say(f"  a rekey replaced in 0x{child['spi_in']:08x} while it was checked: again")
    raise LabError("three rekeys in a row replaced the CHILD_SA being checked")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("espgw")
    ap.add_argument("plugin")
    ap.add_argument("espgw_ike")
    ap.add_argument("--rate", type=float, default=2000, help="datagrams per second, each way")
    ap.add_argument("--long", type=int, default=0, help="the long run: seconds of timed rekeys")
    a = ap.parse_args()
    reason = ha_lab.skip_reason(a.espgw_ike)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    ike = ""
    if a.long:
        ike = """child_lifetime_s: 60
                 ike_lifetime_s: 90
                 rekey_margin_s: 30
                 rekey_fuzz_percent: 33"""
    lab = ha_lab.HaLab(os.path.abspath(a.espgw), os.path.abspath(a.plugin),
                       os.path.abspath(a.espgw_ike), tunnels=(TUNNEL,), ike=ike)
    failures = []
    ok = False
    try:
        lab.up()
        child = lab.start()[TUNNEL]
        say(f"tunnel {TUNNEL} up: in 0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}; "
            f"streams at {a.rate:g}/s each way")
        streams = ha_lab.streams(lab, a.rate)
        flowing(lab, child)
        drops0 = lab.drops()
        kernel0 = kernel_drops(lab, ("a", "gw1", "gw2", "b"))
        failed0 = len(sa_call_failures(lab.gw1.log_text()))

        if a.long:
            child = long_run(lab, child, a.long, failures)
        else:
            child = short_run(lab, child, failures)

        say("stop the streams and count")
        results = stop_streams(streams)
        for s, r in zip(streams, results):
            check_stream(r, s.name, failures)
        grown = ha_lab.drops_grown(drops0, lab.drops())
        check(not grown, f"espgw dropped nothing under any reason (grown: {grown})", failures)
        # Where the kernels of the lab dropped (gw2's charon reads ESP in UDP from a socket):
        # reported, to place a loss; not a check of espgw.
        say(f"kernel drops in the lab: {kernel_drops_grown(kernel0, kernel_drops(lab, ('a', 'gw1', 'gw2', 'b'))) or 'none'}")
        stale = lab.stale_sas()
        check(not stale, f"no SA in espgw that charon does not have ({stale})", failures)
        bad = sa_call_failures(lab.gw1.log_text())[failed0:]
        check(not bad, "charon on gw1 never failed an SA call" + (f": {bad[:5]}" if bad else ""),
              failures)
        say("figures: " + ", ".join(
            f"{s.name} {r['sent']} sent, {r['missing_count']} lost, {r['duplicate_count']} twice"
            for s, r in zip(streams, results)))
        ok = not failures
    except (LabError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {e}", file=sys.stderr)
        lab.dump_logs()
    finally:
        lab.down()
    if failures:
        print(f"FAILED: {len(failures)} check(s)")
    else:
        print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
