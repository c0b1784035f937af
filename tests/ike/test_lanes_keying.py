#!/usr/bin/env python3
"""Lanes keyed by IKE with stock charon 5.9.8, end to end (docs/lanes.md, docs/espgw-ike.md).

    test_lanes_keying.py BUILD PLUGIN

Two regions from `espgwctl mesh --lanes 4`, each gateway the full stack under scripts/espgw-up
unmodified, nothing set by hand (the lab: lanes_lab.py, without a per-flow cap). region-one
starts IKE (the generator's rule), region-two traps. What it proves, each within a bounded wait:

  1. Bring-up: each charon has 4 ESTABLISHED IKE_SAs and 4 INSTALLED CHILD_SAs for the tunnel,
     one per lane connection (`to-X`, `to-X#1`..`#3`); each espgw holds 4 inbound and 4
     outbound SAs of origin ike, lanes 0 to 3, and lane k's outbound SPI on one gateway is lane
     k's inbound SPI on the other; espgw-ike's status lists the 4 lanes under the tunnel, each
     ESTABLISHED. A ping passes. The time from region-one's stack being up to
     every lane in both espgws is printed (figure bring_up_s).
  2. `swanctl --rekey --child to-region-two#2` on region-one changes lane 2's SPIs on both
     gateways, and no other lane's.
  3. `swanctl --terminate --ike to-region-two#3` on region-two (the responder) takes lane 3 down
     on both sides while lanes 0 to 2 keep their SPIs; lane 3 comes back alone, by charon's own
     recovery as espgw-ike configures it (the initiator's keyingtries 0 and DPD restart; the
     figure lane3_back_s), with the other lanes' SPIs still unchanged. A ping passes.
  4. espgw-up on each gateway stops cleanly (exit 0).
Exit 77 where it cannot run.
"""

import sys
import time

import lanes_lab
from ike_lab import say, wait_for
from labkit import traffic
from labkit.proc import check, verdict

LANES = 4
BRING_UP_S = 60
LANE_BACK_S = 120  # charon's DPD and retry as the generated config sets them, with margin


class KeyingLab(lanes_lab.LanesLab):
    """LanesLab that notes when its wait for the lanes starts (region-one's stack is up: it
    has loaded and initiated every lane) and when it ends."""

    waited_from = waited_to = None

    def established(self):
        if self.waited_from is None:
            self.waited_from = time.monotonic()
        ok = super().established()
        if ok:
            self.waited_to = time.monotonic()
        return ok


def lane_names(g):
    return [g.tunnel] + [f"{g.tunnel}#{k}" for k in range(1, LANES)]


def espgw_lanes(g):
    """{(direction, lane): spi} of the tunnel's IKE SAs in espgw; None where a (direction, lane)
    has more or fewer than one SA."""
    seen = {}
    for s in g.ctl("sas")["sas"]:
        if s["tunnel"] == g.tunnel and s.get("origin") == "ike":
            seen.setdefault((s["direction"], s.get("lane", 0)), []).append(s["spi"])
    if sorted(seen) != sorted((d, k) for d in ("in", "out") for k in range(LANES)):
        return None
    if any(len(v) != 1 for v in seen.values()):
        return None
    return {key: v[0] for key, v in seen.items()}


def mirrored(lab):
    """Both espgws' lanes, each lane's SPIs mirrored by the peer: (gw1's, gw2's) or None."""
    a, b = espgw_lanes(lab.gw1), espgw_lanes(lab.gw2)
    if a is None or b is None:
        return None
    for k in range(LANES):
        if a[("out", k)] != b[("in", k)] or a[("in", k)] != b[("out", k)]:
            return None
    return a, b


def charon_lanes(g):
    """Per lane connection of the tunnel: (ESTABLISHED IKE_SAs, INSTALLED CHILD_SAs)."""
    return {n: (sum(1 for s in g.ike_sas(n) if s.get("state") == "ESTABLISHED"),
                len(g.installed(n))) for n in lane_names(g)}


def all_charon_lanes(lab):
    got = {g.name: charon_lanes(g) for g in lab.gateways}
    return got if all(v == (1, 1) for c in got.values() for v in c.values()) else None


def lane_spis(spis, k):
    return spis[("in", k)], spis[("out", k)]


def main():
    a = lanes_lab.main_args(__doc__)
    figures, failures = {}, []
    lab = KeyingLab(a.build, a.plugin, LANES)
    with lab:
        try:
            run(lab, figures, failures)
        except Exception:
            lab.dump_logs()
            raise
        errors = lab.stop_daemons()
        check(not errors, f"espgw-up on each gateway stopped with exit 0 ({errors})", failures)
    return verdict(figures, failures)


def run(lab, figures, failures):
    gw1, gw2 = lab.gw1, lab.gw2
    say(f"1. {LANES} lanes come up from `espgwctl mesh --lanes {LANES}` under espgw-up")
    lab.up()
    figures["bring_up_s"] = round(lab.waited_to - lab.waited_from, 2)
    say(f"every lane in both espgws {figures['bring_up_s']} s after region-one's stack was up")
    got = wait_for("4 ESTABLISHED IKE_SAs and 4 INSTALLED CHILD_SAs per charon",
                   lambda: all_charon_lanes(lab), BRING_UP_S, 0.2)
    check(bool(got), f"each charon: one ESTABLISHED IKE_SA and one INSTALLED CHILD_SA per lane "
          f"({got})", failures)
    before = wait_for("each lane's SPIs mirrored by the peer", lambda: mirrored(lab),
                      BRING_UP_S, 0.2)
    one, two = before
    check(True, f"each espgw: {LANES} inbound and {LANES} outbound SAs of origin ike, lanes "
          f"0-{LANES - 1}, each lane mirrored ({one})", failures)
    def ike_status_lanes():
        got = {}
        for g in lab.gateways:
            t = next(t for t in g.ike_status()["tunnels"] if t["name"] == g.tunnel)
            got[g.name] = (t.get("lanes_established"),
                           [(x["name"], x["state"]) for x in t.get("lanes", [])])
        return got if all(v[0] == LANES for v in got.values()) else None
    got = wait_for("espgw-ike's status: every lane ESTABLISHED under its tunnel", ike_status_lanes,
                   30, 0.2)
    check(bool(got), f"espgw-ike's status lists the {LANES} lanes under the tunnel ({got})",
          failures)
    traffic.wait_ping(lab, "h1", lanes_lab.HOST[1])
    check(True, "a ping host 1 -> host 2 passes", failures)

    say("2. swanctl --rekey --child of lane 2 on region-one")
    gw1.swanctl("--rekey", "--child", f"{gw1.tunnel}#2")

    def rekeyed():
        now = mirrored(lab)
        if now is None or lane_spis(now[0], 2) == lane_spis(one, 2):
            return None
        return now
    after = wait_for("lane 2's SPIs changed, mirrored", rekeyed, 30, 0.1)
    kept = [k for k in range(LANES) if k != 2
            and lane_spis(after[0], k) == lane_spis(one, k)
            and lane_spis(after[1], k) == lane_spis(two, k)]
    check(set(lane_spis(after[0], 2)).isdisjoint(lane_spis(one, 2)),
          f"lane 2: both SPIs new on region-one ({lane_spis(one, 2)} -> "
          f"{lane_spis(after[0], 2)}) and mirrored on region-two", failures)
    check(kept == [0, 1, 3], f"lanes 0, 1, 3 kept their SPIs on both gateways (kept: {kept})",
          failures)
    one, two = after

    say("3. region-two terminates lane 3's IKE_SA")
    t0 = time.monotonic()
    gw2.swanctl("--terminate", "--ike", f"{gw2.tunnel}#3", "--timeout", "10")

    def lane3_down():
        a, b = lab.gw1.ctl("sas")["sas"], lab.gw2.ctl("sas")["sas"]
        old = set(lane_spis(one, 3)) | set(lane_spis(two, 3))
        return not any(s["spi"] in old for s in a + b if s.get("origin") == "ike")
    wait_for("lane 3's SAs gone from both espgws", lane3_down, 30, 0.05)
    down_s = time.monotonic() - t0
    others_now = {g.name: {(d, k): s["spi"] for s in g.ctl("sas")["sas"]
                           if s["tunnel"] == g.tunnel and s.get("origin") == "ike"
                           for d, k in [(s["direction"], s.get("lane", 0))] if k != 3}
                  for g in lab.gateways}
    same = all(others_now["gw1"].get(("in", k)) == one[("in", k)]
               and others_now["gw1"].get(("out", k)) == one[("out", k)]
               and others_now["gw2"].get(("in", k)) == two[("in", k)]
               and others_now["gw2"].get(("out", k)) == two[("out", k)] for k in range(3))
    check(same, f"lane 3 down on both gateways after {down_s:.2f} s; lanes 0-2 kept their "
          f"SPIs ({others_now})", failures)

    def back():
        now = mirrored(lab)
        if now is None or set(lane_spis(now[0], 3)) & set(lane_spis(one, 3)):
            return None
        return now
    again = wait_for("lane 3 back on both gateways", back, LANE_BACK_S, 0.1)
    figures["lane3_back_s"] = round(time.monotonic() - t0, 2)
    kept = [k for k in range(3) if lane_spis(again[0], k) == lane_spis(one, k)
            and lane_spis(again[1], k) == lane_spis(two, k)]
    check(kept == [0, 1, 2], f"lane 3 back alone after {figures['lane3_back_s']} s (lanes "
          f"0-2 unchanged: {kept})", failures)
    check(bool(wait_for("one IKE_SA and CHILD_SA per lane again", lambda: all_charon_lanes(lab),
                        30, 0.2)), "each charon: one IKE_SA and one CHILD_SA per lane again",
          failures)
    traffic.wait_ping(lab, "h1", lanes_lab.HOST[1])
    check(True, "a ping host 1 -> host 2 passes", failures)


if __name__ == "__main__":
    sys.exit(main())
