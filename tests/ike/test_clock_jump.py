#!/usr/bin/env python3
"""The wall clock stepped a day forward and two back under traffic and rekeys moves nothing.

    test_clock_jump.py ESPGW PLUGIN ESPGW_IKE [--rate PPS]

docs/reliability.md "Clocks": nothing espgw, the kernel-espgw plugin or espgw-ike decides waits
on the wall clock (the TSC, steady_clock, charon's time_monotonic()). tests/unit/monotonic_clocks
checks that in the source; this test injects the jump into the running daemons.

In the HA lab (ha_lab.py), gw1's espgw, charon and espgw-ike run under libfaketime (Debian's
faketime package), all three reading one offset file: LD_PRELOAD=libfaketime.so.1,
FAKETIME_TIMESTAMP_FILE=<the file>, FAKETIME_NO_CACHE=1 (the file is read on every clock read, so
a new offset takes effect at once) and DONT_FAKE_MONOTONIC=1: only CLOCK_REALTIME (time(),
gettimeofday(), system_clock) moves, as an NTP step or `date -s` moves it; CLOCK_MONOTONIC, _RAW,
BOOTTIME and the TSC stay real. Two more settings keep libfaketime 0.9.10 from changing what it
should not: FAKETIME_FORCE_MONOTONIC_FIX=0 (without it, glibc >= 2.30 gets its "monotonic fix":
a pthread_cond_timedwait() on a CLOCK_MONOTONIC condvar, charon's scheduler and thread pool, is
handed a deadline in the past and returns at once, a busy loop) and NO_FAKE_STAT=1 (file times
stay the file system's, as they do in a real step). gw2, the hosts and the test run on the real
clock.

gw1's tunnel has test_rekey.py --long's lifetimes: child_lifetime_s 60, rekey_margin_s 30,
rekey_fuzz_percent 33 (a CHILD_SA rekey 20-30 s after the last, started by gw1) and
ike_lifetime_s 90 (an IKE_SA rekey 50-60 s in). Two sequence-numbered UDP streams, A -> B and
B -> A, run at --rate datagrams a second each through the whole test. Once they flow:

 1. gw1's wall clock jumps a day forward ("+1d"); the test waits for the next CHILD_SA rekey.
 2. It jumps two days back ("-1d"); the test waits for the next rekey.
 3. It jumps back to the real time ("+0", a day forward); the test waits for the next rekey.

A rekey is new SPIs in both charons and in espgw (ha_lab's established()), then espgw holding
only the new CHILD_SA's SAs and both streams crossing them. Checked:
 - the jumps happened inside the daemons: libfaketime is mapped in gw1's espgw, charon and
   espgw-ike with this offset file (/proc/PID/maps, environ), not in gw2's charon; espgw-ike's
   log line of each period's rekey (its clock is UTC, ISO 8601) and gw1's charon's lines (its
   filelog given a date in time_format here) carry the wall clock of that period: a day ahead,
   a day behind, today, and today before the first jump;
 - each period has exactly one CHILD_SA rekey (one "established" in each charon's log, one
   child-rekey event in espgw-ike's), 20-30 s after the last one by the test's monotonic clock
   (a margin for polling): no burst of rekeys or expiries at a forward jump, no stall at a
   backward one; charon's remaining rekey time of each new CHILD_SA (VICI's rekey-time) is
   within its 30 s;
 - nothing expired hard: no hard expire, delete job or "closing expired" in either charon's
   log; no IKE_SA or CHILD_SA went down (espgw-ike's -updown events); the IKE_SA established
   once, then only rekeyed (one rekey, 50-60 s in, in a run of about 75 s);
 - at the end: every datagram of both streams arrived exactly once; espgw dropped nothing under
   any reason; no SA is left in espgw that charon does not have; charon on gw1 never failed an SA
   call;
 - gw1's charon used under a quarter of the run's time in CPU: libfaketime does not spin it.

Exit 0: pass; 1: fail; 77: cannot run here (not root, no charon, no libfaketime).
"""

import argparse
import calendar
import os
import re
import shutil
import sys
import tempfile
import time

import ha_lab
from ike_lab import LabError, say
from labkit.proc import check, on_signals_unwind, read_text
from labkit.traffic import check_stream, kernel_drops, kernel_drops_grown, stop_streams
from test_rekey import TUNNEL, flowing, sa_call_failures

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
DAY = 86400
# The offsets, in libfaketime's words and in seconds, in the order they are set.
PERIODS = (("+1d", DAY), ("-1d", -DAY), ("+0", 0))
# charon rekeys 30 s minus up to 9.9 s (rekey_fuzz_percent 33 of the 30 s margin) after the last
# rekey. The test sees a rekey when both charons and espgw hold the new SAs, polled every 0.2 s
# on two loaded vCPUs (the first CHILD_SA is seen once lab.start() has checked all three): a few
# seconds either way. A forward jump on the wrong clock rekeys (and expires) at once (the jumps
# come 2-6 s after a rekey), a backward one not for a day.
PACE_S = (17.0, 35.0)
REKEY_WAIT_S = 45
STAMP_SLACK_S = 120  # a daemon's stamp vs the real time plus its offset
IKE = """child_lifetime_s: 60
         ike_lifetime_s: 90
         rekey_margin_s: 30
         rekey_fuzz_percent: 33"""
CHARON_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # gw1's charon's log: the date too (labkit: %H:%M:%S)
# A hard lifetime reached, in charon's log: the plugin's expire ("kernel-espgw: hard expire for
# SA"), charon's kernel handler's job for it (either gateway), its delete.
EXPIRED = r"hard expire|creating delete job|closing expired"
CHARON_CPU_SHARE = 0.25  # of the run's time: charon idles at ~0.5 %, spins at ~60 %


def set_clock(path, offset):
    """libfaketime's offset for gw1's daemons; they read the file at every wall-clock read
    (renamed into place: never read half-written)."""
    with open(path + ".new", "w") as f:
        f.write(offset + "\n")
    os.replace(path + ".new", path)


def faked(pid, clock_file):
    """Whether process pid has libfaketime mapped and reads clock_file."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            mapped = LIBFAKETIME in f.read()
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return False
    return mapped and f"FAKETIME_TIMESTAMP_FILE={clock_file}".encode() in env


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Logs:
    """What the daemons logged since the last mark: espgw-ike's child-rekey events (UTC stamps),
    gw1's charon's lines (local time, CHARON_TIME_FORMAT), gw2's charon's lines."""

    def __init__(self, lab):
        self.lab = lab
        self.mark()

    def texts(self):
        return (read_text(self.lab.ike_log), self.lab.gw1.log_text(), self.lab.gw2.log_text())

    def mark(self):
        self.at = [len(t) for t in self.texts()]

    def since_mark(self):
        return [t[n:] for t, n in zip(self.texts(), self.at)]


def ike_stamps(text, what):
    """[(unix time, line)] of espgw-ike's lines containing `what`: "2026-12-07T14:44:52.123Z"."""
    out = []
    for line in text.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+Z ", line)
        if m and what in line:
            out.append((calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")), line))
    return out


def charon_stamps(text, pattern):
    """[(unix time, line)] of gw1's charon's lines matching `pattern` (local time)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) ", line)
        if m and re.search(pattern, line):
            out.append((time.mktime(time.strptime(m.group(1), CHARON_TIME_FORMAT)), line))
    return out


def new_child_sas(text):
    """How many CHILD_SAs charon's log lines say were established (a rekey's new CHILD_SA is
    "inbound CHILD_SA t1{2} established ..." and then "outbound ...": one)."""
    return len(set(re.findall(r"CHILD_SA \S+\{(\d+)\} established", text)))


def skew_ok(stamps, offset, seen_at):
    """Whether every stamp is the real time `seen_at` (when the test saw the event) plus `offset`,
    give or take STAMP_SLACK_S; and there is one."""
    return bool(stamps) and all(abs(t - seen_at - offset) < STAMP_SLACK_S for t, _ in stamps)


def fmt_utc(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def child_timers(lab, child):
    """(rekey-time, life-time): charon's seconds left on gw1's CHILD_SA `child`, by VICI."""
    for sa in lab.vici("gw1").ike_sas().get(TUNNEL, []):
        for c in (sa.get("child-sas") or {}).values():
            if c.get("spi-in") and int(c["spi-in"], 16) == child["spi_in"]:
                return int(c.get("rekey-time", -1)), int(c.get("life-time", -1))
    return None, None


def proofs(lab, clock_file, failures):
    """libfaketime in gw1's three daemons, with this offset file; not in gw2's charon."""
    pids = {"espgw": lab.espgw.proc.pid, "charon gw1": lab.gw1.proc.pid,
            "espgw-ike": lab.ike_proc.pid}
    for name, pid in pids.items():
        check(faked(pid, clock_file), f"{name} (pid {pid}) runs with libfaketime mapped and "
                                      f"FAKETIME_TIMESTAMP_FILE={clock_file}", failures)
    check(not faked(lab.gw2.proc.pid, clock_file), "gw2's charon runs on the real clock",
          failures)


def period(lab, logs, clock_file, offset_name, offset, child, last_rekey, periods, failures):
    """One period: the clock jumps to `offset_name`, then the next rekey is awaited and checked.
    Returns (the new CHILD_SA, when it was seen)."""
    logs.mark()
    set_clock(clock_file, offset_name)
    jumped = time.monotonic()
    say(f"gw1's wall clock -> {offset_name} ({fmt_utc(time.time() + offset)} UTC), "
        f"{jumped - last_rekey:.1f} s after the last rekey; waiting for the next")
    try:
        new = lab.established(TUNNEL, timeout=REKEY_WAIT_S, not_spi=child["spi_in"])
    except LabError as e:
        check(False, f"{offset_name}: a CHILD_SA rekey within {REKEY_WAIT_S} s of the jump "
                     f"({e})", failures)
        raise
    seen, seen_wall = time.monotonic(), time.time()
    pace = seen - last_rekey
    rekey_left, life_left = child_timers(lab, new)
    new = lab.clean(TUNNEL)
    flowing(lab, new)
    ike_text, gw1_text, gw2_text = logs.since_mark()
    rekeys = {"gw1 charon": new_child_sas(gw1_text), "gw2 charon": new_child_sas(gw2_text),
              "espgw-ike": len(ike_stamps(ike_text, "child-rekey: tunnel " + TUNNEL))}
    periods.append((offset_name, pace, rekeys["gw1 charon"]))
    check(PACE_S[0] <= pace <= PACE_S[1],
          f"{offset_name}: the rekey came {pace:.1f} s after the last (charon's 20-30 s; "
          f"{seen - jumped:.1f} s after the jump): in 0x{child['spi_in']:08x} out "
          f"0x{child['spi_out']:08x} -> in 0x{new['spi_in']:08x} out 0x{new['spi_out']:08x}",
          failures)
    check(all(n == 1 for n in rekeys.values()),
          f"{offset_name}: one CHILD_SA rekey in the period ({rekeys})", failures)
    check(rekey_left is not None and 0 < rekey_left <= 30 and 30 < life_left <= 60,
          f"{offset_name}: charon's new CHILD_SA rekeys in {rekey_left} s, expires in "
          f"{life_left} s (<= 30, <= 60)", failures)
    ike = ike_stamps(ike_text, "child-rekey: tunnel " + TUNNEL)
    check(skew_ok(ike, offset, seen_wall),
          f"{offset_name}: espgw-ike's clock is the real one {offset:+d} s: its child-rekey line "
          f"says {fmt_utc(ike[0][0]) if ike else '(none)'} UTC, the real time "
          f"{fmt_utc(seen_wall)} UTC", failures)
    ch = charon_stamps(gw1_text, r"CHILD_SA \S+\{\d+\} established")
    check(skew_ok(ch, offset, seen_wall),
          f"{offset_name}: gw1's charon's clock is the real one {offset:+d} s: its line of the "
          f"new CHILD_SA says {fmt_utc(ch[0][0]) if ch else '(none)'} UTC", failures)
    for name, text in (("gw1", gw1_text), ("gw2", gw2_text)):
        expired = [line for line in text.splitlines() if re.search(EXPIRED, line)]
        check(not expired, f"{offset_name}: no SA expired on {name}"
                           + (f": {expired[:3]}" if expired else ""), failures)
    return new, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("espgw")
    ap.add_argument("plugin")
    ap.add_argument("espgw_ike")
    ap.add_argument("--rate", type=float, default=500, help="datagrams per second, each way")
    a = ap.parse_args()
    reason = ha_lab.skip_reason(a.espgw_ike)
    if not reason and not os.path.exists(LIBFAKETIME):
        reason = f"{LIBFAKETIME} is missing (Debian's faketime)"
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    clock_dir = tempfile.mkdtemp(prefix="clock-jump-")
    clock_file = os.path.join(clock_dir, "offset")
    set_clock(clock_file, "+0")
    gw1_env = {"LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": clock_file,
               "FAKETIME_NO_CACHE": "1", "DONT_FAKE_MONOTONIC": "1",
               "FAKETIME_FORCE_MONOTONIC_FIX": "0", "NO_FAKE_STAT": "1"}
    lab = ha_lab.HaLab(os.path.abspath(a.espgw), os.path.abspath(a.plugin),
                       os.path.abspath(a.espgw_ike), tunnels=(TUNNEL,), ike=IKE, gw1_env=gw1_env)
    with open(lab.gw1.conf) as f:
        conf = f.read()
    with open(lab.gw1.conf, "w") as f:
        f.write(conf.replace("time_format = %H:%M:%S", f"time_format = {CHARON_TIME_FORMAT}"))
    failures = []
    ok = False
    started = time.monotonic()
    try:
        lab.up()
        child = lab.start()[TUNNEL]
        up_at, up_wall = time.monotonic(), time.time()
        say(f"tunnel {TUNNEL} up: in 0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}; "
            f"streams at {a.rate:g}/s each way")
        charon_cpu0 = cpu_s(lab.gw1.proc.pid)
        proofs(lab, clock_file, failures)
        logs = Logs(lab)
        ike_up = ike_stamps(logs.texts()[0], "child-updown: tunnel " + TUNNEL)
        check(skew_ok(ike_up, 0, up_wall),
              "before the jumps espgw-ike's clock is the real one: its child-updown line says "
              f"{fmt_utc(ike_up[0][0]) if ike_up else '(none)'} UTC, the real time "
              f"{fmt_utc(up_wall)} UTC", failures)
        streams = ha_lab.streams(lab, a.rate)
        flowing(lab, child)
        drops0 = lab.drops()
        kernel0 = kernel_drops(lab, ("a", "gw1", "gw2", "b"))
        failed0 = len(sa_call_failures(lab.gw1.log_text()))
        periods = []

        last = up_at
        for name, offset in PERIODS:
            child, last = period(lab, logs, clock_file, name, offset, child, last, periods,
                                 failures)
            if not lab.espgw.alive():
                raise LabError("espgw exited")

        say("stop the streams and count")
        results = stop_streams(streams)
        for s, r in zip(streams, results):
            check_stream(r, s.name, failures)
        grown = ha_lab.drops_grown(drops0, lab.drops())
        check(not grown, f"espgw dropped nothing under any reason (grown: {grown})", failures)
        # Where the lab's kernels dropped: reported, to place a loss; not a check of espgw.
        kernel = kernel_drops_grown(kernel0, kernel_drops(lab, ("a", "gw1", "gw2", "b")))
        say(f"kernel drops in the lab: {kernel or 'none'}")
        stale = lab.stale_sas()
        check(not stale, f"no SA in espgw that charon does not have ({stale})", failures)
        bad = sa_call_failures(lab.gw1.log_text())[failed0:]
        check(not bad, "charon on gw1 never failed an SA call" + (f": {bad[:5]}" if bad else ""),
              failures)
        # The IKE_SA: rekeyed 50-60 s in (ike_lifetime_s 90), never re-established.
        elapsed = time.monotonic() - up_at
        # A rekey logs "IKE_SA t1[2] rekeyed", a new IKE_SA "IKE_SA t1[2] established".
        log = lab.gw1.log_text()
        ike_rekeys = len(re.findall(r"IKE_SA \S+\[\d+\] rekeyed", log))
        established = len(re.findall(r"IKE_SA \S+\[\d+\] established", log))
        check(ike_rekeys <= elapsed // 50 and (ike_rekeys >= 1 or elapsed < 62)
              and established == 1,
              f"{ike_rekeys} IKE_SA rekeys in {elapsed:.0f} s (one per 50-60 s), the IKE_SA "
              f"established once ({established})", failures)
        # Rekeys are child-rekey and ike-rekey events; an SA torn down is an -updown ... down.
        downs = [line for line in read_text(lab.ike_log).splitlines()
                 if re.search(r"-updown: .* down, ", line)]
        check(not downs, "no IKE_SA or CHILD_SA went down (espgw-ike's events)"
                         + (f": {downs[:3]}" if downs else ""), failures)
        # The lab's own setup: libfaketime's monotonic fix left on spins charon's timed waits
        # (44 s of CPU in 71 s, against 0.4 s); a later libfaketime might again.
        charon_cpu = cpu_s(lab.gw1.proc.pid) - charon_cpu0
        check(charon_cpu < CHARON_CPU_SHARE * elapsed,
              f"gw1's charon used {charon_cpu:.1f} s of CPU in {elapsed:.0f} s (under libfaketime: "
              "no busy loop)", failures)
        say("figures: " + "; ".join(f"{n}: rekey after {p:.1f} s, {c} rekey(s)"
                                    for n, p, c in periods) + "; " + ", ".join(
            f"{s.name} {r['sent']} sent, {r['missing_count']} lost, {r['duplicate_count']} twice"
            for s, r in zip(streams, results)) + f"; espgw drops {grown or 0}; "
            f"{time.monotonic() - started:.0f} s in all")
        ok = not failures
    except (LabError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {e}", file=sys.stderr)
        lab.dump_logs()
    finally:
        lab.down()
        shutil.rmtree(clock_dir, ignore_errors=True)
    if failures:
        print(f"FAILED: {len(failures)} check(s)")
    else:
        print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
