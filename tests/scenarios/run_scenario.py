#!/usr/bin/python3
"""Runs espgw's scenario tests (in the style of yanet's autotest units).

A case is a folder tests/scenarios/NNN_name/ with
  config.yaml     espgw's config; its ports are net_pcap devices. Placeholders: @CASE@ (the case's
                  folder), @OUT@ (this run's scratch folder), @EMPTY@ (an empty pcap).
  gen.py          the scapy script that wrote the pcaps below (deterministic; `--regen` reruns it)
  input_*.pcap    what arrives: rx_pcap=@CASE@/input_X.pcap
  expected_X.pcap for every tx_pcap=@OUT@/X.pcap: what espgw must send there, in order
  expect.json     (optional) counters: drops by reason (every reason not named must be 0), per-SA,
                  per-port, per-worker (summed), tunnel and neighbour values; see check_stats()

The runner starts espgw once per case (one worker, its own --file-prefix, --no-huge) with
--max-packets = the number of input packets, so it stops once every packet is handled and flushed,
and --stats-file. Then it compares every output pcap with its expected pcap, packet by packet
(compare.py):
  - plain frames byte for byte, except the IP ID and header checksum of ICMP errors from the
    gateway (the checksum must still be right);
  - ESP frames (an SPI of the case's static SAs) field by field: Ethernet, outer IPv4/IPv6
    (addresses, DSCP, ECN, DF, TTL, lengths; the IPv4 ID is random and not compared, the header
    checksum must be right), UDP (ports, length, checksum), SPI and sequence number; then both
    are decrypted with scapy and the case's keys, the trailer checked (pad bytes 1, 2, 3, ...,
    pad length, next header) and the inner packets compared as plain packets.
On a mismatch it names the pcap, the packet and the field, with expected and actual values, and
keeps the scratch folder. DPDK's runtime folder is removed whatever happens.

Order on a port is deterministic, and gen.py must write it as espgw sends: the worker polls each
port (in config order) and then its exception device, a burst of up to 32 packets each (a case
with at most 32 input packets per device has them all in one burst); what a burst makes leaves in
this order: frames sent at once while classifying (ARP and ND answers, frames for the kernel,
the kernel's non-IP frames), then routed packets in order (transit before decrypted ones), then
each tunnel's packets (one burst per tunnel), then ICMP errors; AES-CBC + HMAC packets wait in
the crypto lanes and leave after all of the loop's bursts, in their own order (scenlib.lanes_last);
what the control thread sends
(ARP requests, released packets) comes after the bursts. espgw's gratuitous ARPs at start are
matched wherever they are.

With tests/ on PYTHONPATH (meson's test setup sets it; by hand, PYTHONPATH=tests):
  run_scenario.py --espgw build/dataplane/espgw tests/scenarios/001_encrypt_gcm [...]
  run_scenario.py --regen tests/scenarios/*_*/            # rerun the gen.py scripts
  run_scenario.py --check-gen tests/scenarios/*_*/        # committed pcaps == what gen.py writes
  run_scenario.py --coverage dataplane/common/drop_reason.h tests/scenarios
  run_scenario.py --mutants --espgw build/dataplane/espgw tests/scenarios/*_*/  # each can fail
Exit status: 0 passed, 1 failed, 77 (meson's "skipped") without scapy.
"""

import argparse
import filecmp
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from labkit import packets
from labkit.control import Control
from labkit.proc import LabError
from scenarios import scenlib

packets.skip_without_scapy()
from scenarios import compare  # noqa: E402 (scapy, checked above)

HERE = os.path.dirname(os.path.abspath(__file__))

# Drop reasons (dataplane/common/drop_reason.h) that no pcap can produce, and why. --coverage
# checks that every other reason is expected, non-zero, by some case's expect.json.
UNREACHABLE = {
    "dummy": "a dummy packet (next header 59) that passes the ICV and replay checks is a lane "
             "keepalive (docs/lanes.md), counted in the SA's and the worker's keepalives, never as "
             "a drop; 020_drops_esp expects those counts",
    "not_esp": "classify() hands IKE (non-ESP marker), NAT-T keepalives and every protocol but "
               "ESP to the kernel before the engine sees them (013_exception_path shows where "
               "they go); the engine's own check: tests/unit/esp_bad_input_test.cpp",
    "crypto_error": "the crypto library refusing an operation whose lengths the engine has "
                    "checked; no packet content causes it",
    "sa_stopped": "an SA stops after 2^32 - 1 (2^64 - 1 with ESN) packets; static SAs have no "
                  "lifetime and no configurable first sequence number, so it takes 4 billion "
                  "packets (tests/unit/esp_bad_input_test.cpp starts an SA near the end)",
    "seq_overflow": "as sa_stopped: only the 2^32-th packet of an SA (tests/unit covers it)",
    "no_buffer_room": "RX leaves RTE_PKTMBUF_HEADROOM in front and the data room is sized for the "
                      "largest frame plus the ESP trailer; what is encrypted is at most the "
                      "tunnel MTU (bigger is fragmented in new mbufs, or refused), and a frame "
                      "bigger than the data room arrives chained and is dropped as bad_frame "
                      "(tests/unit/esp_bad_input_test.cpp covers the engine's check)",
    "too_big": "an encapsulated packet over 65535 bytes needs an inner packet larger than any "
               "MTU espgw accepts (9216) (tests/unit covers the engine's check)",
    "control_ring_full": "needs 4095 messages queued to the control thread, or 1023 frames to "
                         "a worker, before the other side polls its ring: a race between two "
                         "threads, not something a packet's content decides",
    "inside_ring_full": "as control_ring_full: 4095 packets for route-based tunnels' inside "
                        "interfaces queued before the control thread drains them",
    "tx_full": "net_pcap's TX writes every frame to its file and never refuses one",
    "exception_down": "counted when a tap's kernel interface, set down, refuses a frame; the "
                      "scenarios' exception paths are net_pcap devices (kind: device), which "
                      "never refuse one (tests/e2e/e2e_exception_down.py sets the taps down)",
    "sa_other_worker": "an inbound SA's packets reaching a second worker within 1 s of its owner's "
                       "last one: which worker an outer flow reaches is the NIC's RSS choice, "
                       "not a packet's content (tests/unit/esp_bad_input_test.cpp covers it)",
}

EAL_MEMORY_MB = "256"


def log(msg):
    print(msg, flush=True)


# ---- config and devices -------------------------------------------------------------------------


def devargs_files(devargs):
    """{"rx_pcap": path, "tx_pcap": path, ...} of a net_pcap devargs string."""
    out = {}
    for part in devargs.split(",")[1:]:
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def devices(config):
    """Every DPDK device string of the config: ports, then exception devices."""
    out = []
    for ifc in config["interfaces"]:
        out.append(("port", ifc["name"], ifc["device"]))
        exc = ifc.get("exception")
        if isinstance(exc, dict) and exc.get("kind") == "device":
            out.append(("exception", ifc["name"], exc["device"]))
    return out


def dpdk_runtime_dir(prefix):
    if os.geteuid() == 0:
        return os.path.join("/var/run/dpdk", prefix)
    base = os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk", prefix)


# ---- counters -----------------------------------------------------------------------------------


def field_mismatches(what, have, want):
    """"what.field: expected ..., actual ..." for every field of `want` that `have` lacks or
    holds another value of."""
    return [f"{what}.{k}: expected {v}, actual {have.get(k)}" for k, v in want.items()
            if have.get(k) != v]


def check_stats(stats, expect):
    """expect.json:
      "drops":      {reason: n}; every reason not named must be 0
      "ports":      {port: {counter: n}}
      "workers":    {counter: n}, summed over workers
      "sas":        {"out 0x00001001": {"packets": n, "bytes": n, "drops": {reason: n}, ...}};
                    an SA's "drops", when given, must match exactly
      "tunnels":    {name: {field: value}}
      "neighbours": [{"address": ..., "mac": ..., "state": ..., "interface": ...}], each present
    """
    out = []
    known = set(stats["drops"])
    want_drops = expect.get("drops", {})
    for r in sorted(set(want_drops) - known):
        out.append(f"expect.json: unknown drop reason \"{r}\"")
    for r, n in sorted(stats["drops"].items()):
        if n != want_drops.get(r, 0):
            out.append(f"drops.{r}: expected {want_drops.get(r, 0)}, actual {n}")
    for port, want in expect.get("ports", {}).items():
        have = stats["ports"].get(port)
        if have is None:
            out.append(f"ports.{port}: no such port")
            continue
        out += field_mismatches(f"ports.{port}", have, want)
    for k, v in expect.get("workers", {}).items():
        total = sum(w.get(k, 0) for w in stats["workers"].values())
        if total != v:
            out.append(f"workers.{k}: expected {v}, actual {total}")
    for key, want in expect.get("sas", {}).items():
        direction, spi = key.split()
        spi = f"{int(spi, 0):#010x}"
        have = next((s for s in stats["sas"] if s["direction"] == direction and s["spi"] == spi),
                    None)
        if have is None:
            out.append(f"sas[{key}]: no such SA")
            continue
        out += field_mismatches(f"sas[{key}]", have, want)
    tunnels = {t["name"]: t for t in stats["tunnels"]}
    for name, want in expect.get("tunnels", {}).items():
        have = tunnels.get(name)
        if have is None:
            out.append(f"tunnels.{name}: no such tunnel")
            continue
        out += field_mismatches(f"tunnels.{name}", have, want)
    for want in expect.get("neighbours", []):
        if not any(all(n.get(k) == v for k, v in want.items()) for n in stats["neighbours"]):
            out.append(f"neighbours: none like {want}; have {stats['neighbours']}")
    return out


# ---- one case -----------------------------------------------------------------------------------


def count_frames(path):
    return len(packets.read_pcap(path))


def run_case(case_dir, args):
    case_dir = os.path.abspath(case_dir.rstrip("/"))
    name = os.path.basename(case_dir)
    work = tempfile.mkdtemp(prefix=f"espgw-scen-{name[:3]}-")
    failures = []
    started = time.monotonic()
    prefix = f"scen{name[:3]}_{os.getpid()}"
    runtime = dpdk_runtime_dir(prefix)
    stderr = ""
    try:
        empty = os.path.join(work, "empty.pcap")
        packets.write_pcap(empty, [])
        with open(os.path.join(case_dir, "config.yaml")) as f:
            text = f.read()
        text = text.replace(scenlib.CASE_DIR, case_dir).replace(scenlib.OUT_DIR, work)
        text = text.replace(scenlib.EMPTY, empty)
        cfg_path = os.path.join(work, "config.yaml")
        with open(cfg_path, "w") as f:
            f.write(text)
        config = packets.load_config(cfg_path)
        expect = {}
        expect_path = os.path.join(case_dir, "expect.json")
        if os.path.exists(expect_path):
            with open(expect_path) as f:
                expect = json.load(f)

        n_in = 0
        outputs = []
        for kind, ifc, dev in devices(config):
            files = devargs_files(dev)
            if "rx_pcap" in files:
                n_in += count_frames(files["rx_pcap"])
            if "tx_pcap" in files:
                tx = files["tx_pcap"]
                if os.path.dirname(tx) != work:
                    failures.append(f"config.yaml: {ifc} {kind}: tx_pcap must be @OUT@/NAME.pcap")
                    continue
                mac = None
                if kind == "port":
                    ifc_cfg = next(i for i in config["interfaces"] if i["name"] == ifc)
                    if "mac" in ifc_cfg:
                        mac = bytes.fromhex(ifc_cfg["mac"].replace(":", "").replace("-", ""))
                outputs.append((os.path.basename(tx)[: -len(".pcap")], mac))
        referenced = {f"expected_{o}.pcap" for o, _ in outputs}
        for f in sorted(os.listdir(case_dir)):
            if f.startswith("expected_") and f not in referenced:
                failures.append(f"{f}: no tx_pcap=@OUT@/{f[9:]} in config.yaml (stale?)")
        for o, _ in outputs:
            if not os.path.exists(os.path.join(case_dir, f"expected_{o}.pcap")):
                failures.append(f"expected_{o}.pcap is missing (tx_pcap=@OUT@/{o}.pcap)")
        if n_in == 0:
            failures.append("no input packets: --max-packets needs at least one")
        if failures:
            return report(name, failures, work, stderr, started, args)

        stats_path = os.path.join(work, "stats.json")
        workers = int(config.get("dataplane", {}).get("workers", "1"))
        cmd = [args.espgw, "--no-huge", "-m", EAL_MEMORY_MB, "--file-prefix", prefix, "--no-pci",
               "-l", f"0-{workers}", "--log-level", "*:warning", "--",
               "--config", cfg_path, "--stats-file", stats_path,
               "--control-socket", os.path.join(work, "ctl.sock")]
        stop_when = expect.get("stop_when")
        if stop_when is None:
            cmd += ["--max-packets", str(n_in)]
        if args.crypto:
            cmd += ["--crypto", args.crypto]
        rc, stderr = run_espgw(cmd, stop_when, os.path.join(work, "ctl.sock"), args.timeout)
        if rc != 0:
            failures.append(f"espgw: {rc}" if isinstance(rc, str) else f"espgw exited with {rc}")
            return report(name, failures, work, stderr, started, args)

        ctx = compare.Context(config)
        for o, mac in outputs:
            actual_path = os.path.join(work, f"{o}.pcap")
            if not os.path.exists(actual_path):
                failures.append(f"{o}.pcap: espgw did not write it")
                continue
            expected = packets.read_pcap(os.path.join(case_dir, f"expected_{o}.pcap"))
            failures += compare.compare_pcap(ctx, expected, packets.read_pcap(actual_path),
                                             f"{o}.pcap", mac)
        with open(stats_path) as f:
            stats = json.load(f)
        failures += check_stats(stats, expect)
        return report(name, failures, work, stderr, started, args)
    except Exception as e:  # a broken case is a failed case, with the files kept
        import traceback
        failures.append(f"runner error: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        return report(name, failures, work, stderr, started, args)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def run_espgw(cmd, stop_when, socket_path, timeout):
    """Runs espgw to its end. Normally --max-packets ends it. A case whose counters depend on the
    passing of time (ARP retries) gives "stop_when": {"drops.REASON": n, "ports.wan.tx_packets":
    n, ...} (paths into the control socket's "counters" answer): the runner asks for the counters
    until every one is reached, then stops espgw (a condition, not a sleep: it polls, and gives
    up after `timeout` seconds). A frame counted in tx_packets is in its TX queue, which the
    worker flushes on its way out."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctl = Control(socket_path)
    try:
        if stop_when is not None:
            deadline = time.monotonic() + timeout
            while not stop_condition(ctl, stop_when):
                if proc.poll() is not None or time.monotonic() > deadline:
                    ask(ctl, "stop")
                    out, _ = proc.communicate(timeout=timeout)
                    return f"never reached stop_when {stop_when} in {timeout} s", out
                time.sleep(0.01)  # poll interval of the condition, not a synchronisation
            ask(ctl, "stop")
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        # SIGTERM first: espgw then stops cleanly and writes its stats and pcaps for inspection
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        return f"stopped after {timeout} s (not finished: a packet not counted as handled?)", out


def ask(ctl, cmd):
    """espgw's answer to `cmd` on its control socket, or None (not listening yet, or gone)."""
    try:
        return ctl.request({"cmd": cmd}, timeout=5)
    except (OSError, ValueError, LabError):
        return None


def stop_condition(ctl, stop_when):
    resp = ask(ctl, "counters")
    if not resp:
        return False
    for key, want in stop_when.items():
        value = resp
        for part in key.split("."):
            value = value.get(part, {}) if isinstance(value, dict) else {}
        if not isinstance(value, int) or value < want:
            return False
    return True


def report(name, failures, work, stderr, started, args):
    took = time.monotonic() - started
    if not failures:
        log(f"PASS {name} ({took:.2f} s)")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"  files in {work}")
        return True
    log(f"FAIL {name} ({took:.2f} s)")
    for f in failures[:60]:
        log(f"  {f}")
    if len(failures) > 60:
        log(f"  ... {len(failures) - 60} more")
    if stderr:
        log("  espgw said:")
        for line in stderr.strip().splitlines()[-15:]:
            log(f"    {line}")
    log(f"  files kept in {work} (config.yaml, the actual pcaps, stats.json)")
    return False


# ---- gen.py -------------------------------------------------------------------------------------


def regen(case_dir, out_dir=None):
    """Runs the case's gen.py (in this process: scapy is loaded already), writing to its folder
    or to out_dir."""
    import runpy
    gen = os.path.join(case_dir, "gen.py")
    argv, cwd = sys.argv, os.getcwd()
    try:
        sys.argv = [gen] + ([out_dir] if out_dir else [])
        os.chdir(case_dir)
        runpy.run_path(gen, run_name="__main__")
        return True
    except BaseException as e:  # SystemExit too: a gen.py that fails is a failed check
        import traceback
        log(f"FAIL {os.path.basename(case_dir)}: gen.py: {type(e).__name__}: {e}\n"
            f"{traceback.format_exc()}")
        return False
    finally:
        sys.argv = argv
        os.chdir(cwd)


def check_gen(case_dir):
    """The committed pcaps are what gen.py writes now (and gen.py is deterministic)."""
    name = os.path.basename(case_dir.rstrip("/"))
    with tempfile.TemporaryDirectory(prefix="espgw-gen-") as tmp:
        if not regen(case_dir, tmp):
            return False
        fresh = sorted(f for f in os.listdir(tmp) if f.endswith(".pcap"))
        committed = sorted(f for f in os.listdir(case_dir) if f.endswith(".pcap"))
        bad = []
        if fresh != committed:
            bad.append(f"gen.py writes {fresh}, the folder has {committed}")
        for f in fresh:
            if f in committed and not filecmp.cmp(os.path.join(tmp, f), os.path.join(case_dir, f),
                                                  shallow=False):
                bad.append(f"{f} differs from what gen.py writes (run --regen)")
    for b in bad:
        log(f"FAIL {name}: {b}")
    if not bad:
        log(f"PASS {name}: pcaps match gen.py")
    return not bad


def mutants(case_dir, args):
    """Shows that the case can fail: runs it on copies broken one way each, which must all fail.
      - the last byte of the last packet of each expected pcap that has packets besides our
        gratuitous ARPs (plain frames: one byte of content; ESP: the ICV, so no decryption);
      - one bit of an SA key in config.yaml (inbound if the case sends ESP in, else outbound):
        espgw and the runner both use the broken key, the pcaps were made with the right one;
      - one drop counter in expect.json raised by one.
    Returns the list of mutants that passed (should be empty)."""
    case_dir = os.path.abspath(case_dir.rstrip("/"))
    name = os.path.basename(case_dir)
    survivors, tried = [], 0

    def attempt(label, mutate):
        nonlocal tried
        with tempfile.TemporaryDirectory(prefix=f"espgw-mut-{name[:3]}-") as tmp:
            copy = os.path.join(tmp, name)
            shutil.copytree(case_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
            if not mutate(copy):
                return
            tried += 1
            quiet = argparse.Namespace(**vars(args))
            quiet.keep = False
            import contextlib
            import io
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                passed = run_case(copy, quiet)
            first = next((line.strip() for line in buf.getvalue().splitlines()[1:]), "")
            if passed:
                survivors.append(f"{name}: {label}")
                log(f"  SURVIVED {label}")
            else:
                log(f"  failed as it should: {label}: {first[:110]}")
            for d in os.listdir(tempfile.gettempdir()):
                if d.startswith(f"espgw-scen-{name[:3]}-"):
                    shutil.rmtree(os.path.join(tempfile.gettempdir(), d), ignore_errors=True)

    config = packets.load_config(os.path.join(case_dir, "config.yaml"))
    macs = [bytes.fromhex(i["mac"].replace(":", "")) for i in config["interfaces"] if "mac" in i]
    for f in sorted(os.listdir(case_dir)):
        if not (f.startswith("expected_") and f.endswith(".pcap")):
            continue
        frames = packets.read_pcap(os.path.join(case_dir, f))
        real = [i for i, fr in enumerate(frames)
                if not any(compare.gratuitous_arp(fr, m) for m in macs)]
        if not real:
            continue

        def flip_last(copy, f=f, frames=frames, i=real[-1]):
            b = bytearray(frames[i])
            b[-1] ^= 0x01
            packets.write_pcap(os.path.join(copy, f), frames[:i] + [bytes(b)] + frames[i + 1:])
            return True
        attempt(f"{f} packet {real[-1] + 1}: last byte flipped", flip_last)
        ctx = compare.Context(config)
        esp = [i for i in real if compare.esp_frame(ctx, frames[i])]
        if esp:
            def flip_inner(copy, f=f, frames=frames, i=esp[-1]):
                sa, off = compare.esp_frame(ctx, frames[i])
                pt, inner, _, _, _ = packets.open_esp(sa, frames[i][off:])
                pt = bytearray(pt)
                pt[len(inner) - 1] ^= 0x01
                seq = struct.unpack_from("!I", frames[i], off + 4)[0]
                iv = frames[i][off + 8 : off + 8 + sa.iv_len]
                b = frames[i][:off] + packets.seal_esp(sa, seq, bytes(pt), iv)
                packets.write_pcap(os.path.join(copy, f), frames[:i] + [b] + frames[i + 1:])
                return True
            attempt(f"{f} packet {esp[-1] + 1}: last inner byte flipped, re-encrypted",
                    flip_inner)

    tunnels = [t for t in config.get("tunnels", []) if "static_sa" in t]
    if tunnels:
        sends_esp = any(
            compare.esp_frame(compare.Context(config), fr) for p in os.listdir(case_dir)
            if p.startswith("input_") for fr in packets.read_pcap(os.path.join(case_dir, p)))
        direction = "inbound" if sends_esp else "outbound"
        key = tunnels[0]["static_sa"][direction]["key"]

        def wrong_key(copy, key=key):
            p = os.path.join(copy, "config.yaml")
            with open(p) as fh:
                text = fh.read()
            bad = key[:-1] + ("0" if key[-1] != "0" else "1")
            with open(p, "w") as fh:
                fh.write(text.replace(key, bad, 1))
            return True
        attempt(f"tunnel {tunnels[0]['name']}: {direction} key changed", wrong_key)

    def more_drops(copy):
        p = os.path.join(copy, "expect.json")
        expect = {}
        if os.path.exists(p):
            with open(p) as fh:
                expect = json.load(fh)
        drops = expect.setdefault("drops", {})
        reason = next(iter(drops), "no_route")
        drops[reason] = drops.get(reason, 0) + 1
        with open(p, "w") as fh:
            json.dump(expect, fh)
        return True
    attempt("expect.json: one drop more", more_drops)
    log(f"{'PASS' if not survivors else 'FAIL'} {name}: {tried - len(survivors)} of {tried} "
        f"mutants failed the case")
    return survivors


def coverage(drop_reason_h, root):
    """Every drop reason is either expected (non-zero) by some case or listed in UNREACHABLE."""
    with open(drop_reason_h) as f:
        reasons = re.findall(r'^\s*X\(k\w+, "(\w+)",', f.read(), re.M)
    reasons = [r for r in reasons if r != "none"]
    covered = {}
    for case in sorted(os.listdir(root)):
        p = os.path.join(root, case, "expect.json")
        if os.path.exists(p):
            with open(p) as f:
                for r, n in json.load(f).get("drops", {}).items():
                    if n > 0:
                        covered.setdefault(r, []).append(case)
    ok = True
    for r in reasons:
        if r in covered and r in UNREACHABLE:
            log(f"FAIL {r}: listed as unreachable, but {covered[r]} produce it")
            ok = False
        elif r not in covered and r not in UNREACHABLE:
            log(f"FAIL {r}: no scenario produces it and it is not listed as unreachable")
            ok = False
        elif r in covered:
            log(f"  {r:24} {' '.join(covered[r])}")
        else:
            log(f"  {r:24} unreachable: {UNREACHABLE[r][:70]}...")
    for r in UNREACHABLE:
        if r not in reasons:
            log(f"FAIL {r}: listed as unreachable but not a drop reason")
            ok = False
    log(("PASS" if ok else "FAIL") + f": {len(reasons)} drop reasons, {len(covered)} produced "
        f"by scenarios, {len(UNREACHABLE)} unreachable")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case folders")
    ap.add_argument("--espgw", help="the espgw binary")
    ap.add_argument("--crypto", choices=["ipsec-mb", "openssl"], help="override the backend")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder of passed cases")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per espgw run")
    ap.add_argument("--regen", action="store_true", help="rerun the cases' gen.py")
    ap.add_argument("--check-gen", action="store_true",
                    help="committed pcaps == gen.py output (then run the cases if --espgw)")
    ap.add_argument("--mutants", action="store_true",
                    help="break each case in a few ways and check that it fails every time")
    ap.add_argument("--coverage", metavar="DROP_REASON_H",
                    help="check that every drop reason is produced or listed as unreachable")
    args = ap.parse_args()
    if args.coverage:
        return 0 if coverage(args.coverage, args.cases[0] if args.cases else HERE) else 1
    if not args.cases:
        ap.error("no case folders")
    if args.regen:
        return 0 if all([regen(os.path.abspath(c)) for c in args.cases]) else 1
    if args.check_gen and not args.espgw:
        return 0 if all([check_gen(os.path.abspath(c)) for c in args.cases]) else 1
    if not args.espgw:
        ap.error("--espgw is required")
    if args.check_gen:  # and then run them
        if not all([check_gen(os.path.abspath(c)) for c in args.cases]):
            return 1
    if args.mutants:
        survivors = [m for c in args.cases for m in mutants(c, args)]
        for m in survivors:
            log(f"SURVIVED {m}")
        return 0 if not survivors else 1
    results = [run_case(c, args) for c in args.cases]
    if len(results) > 1:
        log(f"{results.count(True)} of {len(results)} cases passed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
