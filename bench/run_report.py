"""bench/run's report: the markdown of its section of bench/RESULTS.md, from a run's figures.

bench/run measures and hands its figures to report(), then publish(); `bench/run --render JSON`
writes the report again from the figures a run saved (RESULTS-dataplane.json) with render(). Here
too: each row's summary over its windows (median, spread), the targets (SECGW_RATIO: espgw's
Mpps per core over ipsec-secgw's), the number formats, and what the Machine and Method sections
say.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys

import results_md
import run_lanes
from run_rows import ALGS, IMIX_MEAN, PACKETS, SIZES, TARGET_ALG, scaling_key

SECGW_RATIO = {"64": 1.4, "imix": 1.4, "1400": 1.15}


def size_bytes(size):
    return IMIX_MEAN if size == "imix" else float(size)


def summary(ws, field="mpps"):
    vals = sorted(w[field] for w in ws if w.get(field) == w.get(field))
    if not vals:
        return None
    med = statistics.median(vals)
    if len(vals) >= 4:
        q = statistics.quantiles(vals, n=4)
        spread = (q[2] - q[0]) / 2 / med if med else 0
    else:
        spread = (vals[-1] - vals[0]) / 2 / med if med else 0
    return {"med": med, "spread": spread, "n": len(vals)}


def med(results, key, field="mpps"):
    s = summary(results.get(key, []), field)
    return s["med"] if s else None


def cpu_model():
    info = {}
    for line in open("/proc/cpuinfo"):
        if ":" in line:
            k, v = line.split(":", 1)
            info.setdefault(k.strip(), v.strip())
    return info.get("model name", "unknown"), "hypervisor" in info.get("flags", "")


def fmt(x, p=2):
    return "–" if x is None or x != x else ("%." + str(p) + "f") % x


def fmt_s(s, p=2):
    if s is None:
        return "–"
    return ("%." + str(p) + "f ±%.0f%%") % (s["med"], 100 * s["spread"])


def analysis(R, raw, mems):
    """Where each row's cycles go: the harness alone, the raw cipher, the rest (espgw's and
    ipsec-secgw's own work), and what a target leaves for espgw's own work."""
    S = lambda k, f="cycles": summary(R.get(k, []), f)
    out = ["| memory | dir | size | harness | raw cipher | espgw | espgw's own | ipsec-secgw | "
           "ipsec-secgw's own | espgw/secgw | espgw/secgw if espgw's own were 0 | "
           "espgw's own the target allows |", "|" + "---|" * 12]
    for mem in mems:
        for d in ("encrypt", "decrypt"):
            for size in SIZES:
                h = S(("harness", "forward", "-", size, "-", mem, "pcap"))
                e = S(("espgw", d, TARGET_ALG, size, "esp", mem, "pcap"))
                g = S(("secgw", d, TARGET_ALG, size, "esp", mem, "pcap"))
                rc = raw.get((d, TARGET_ALG, size))
                if not (h and e and g and rc):
                    continue
                h, e, g = h["med"], e["med"], g["med"]
                allow = g / SECGW_RATIO[size] - h - rc
                out.append("| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | "
                           "%.0f |" % (mem, d, size, h, rc, e, e - h - rc, g, g - h - rc, g / e,
                                       g / (h + rc), allow))
    return "\n".join(out)


def report(b, args, mems, raw, raw_cmd, dpdk_version, started, elapsed, load_before, load_after,
           scale_md, tsc_hz, argv):
    """bench/run's section: b holds the windows by row key (results), the failed rows (notes) and
    the measured commit; argv is the run's command line, tsc_hz the TSC rate of its cycles."""
    R = b.results
    S = lambda k, f="mpps": summary(R.get(k, []), f)
    lines = []
    targets = []

    def gbps(mpps, size):
        return mpps * size_bytes(size) * 8 / 1000 if mpps else None

    for mem in mems:
        lines.append("\n### %s\n" % ("With hugepages (2 MiB)" if mem == "huge" else
                                     "Without hugepages (`--no-huge -m 512`)"))
        lines.append("| dir | algorithm | size | NAT-T | espgw Mpps/core | wall Mpps | Gbps | "
                     "cycles/pkt | ipsec-secgw Mpps/core | cycles/pkt | espgw/secgw | "
                     "crypto-perf Mops | espgw/ceiling | raw cycles | espgw copy-free Mpps | "
                     "cycles/pkt |")
        lines.append("|" + "---|" * 16)
        for d in ("encrypt", "decrypt"):
            for alg in ALGS:
                for size in SIZES:
                    for natt in ("esp", "natt"):
                        e = S(("espgw", d, alg, size, natt, mem, "pcap"))
                        if e is None:
                            continue
                        ew = S(("espgw", d, alg, size, natt, mem, "pcap"), "wall_mpps")
                        ec = S(("espgw", d, alg, size, natt, mem, "pcap"), "cycles")
                        s = S(("secgw", d, alg, size, "esp", mem, "pcap"))
                        sc = S(("secgw", d, alg, size, "esp", mem, "pcap"), "cycles")
                        cp = None
                        for m in mems:
                            cp = cp or S(("cryptoperf", d, alg, size, "-", m, "-"))
                        cf = S(("espgw", d, alg, size, natt, mem, "copyfree"))
                        cfc = S(("espgw", d, alg, size, natt, mem, "copyfree"), "cycles")
                        rc = raw.get((d, alg, size))
                        ratio = e["med"] / s["med"] if s and s["med"] else None
                        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                                     " %s | %s | %s | %s |" % (
                                         d, alg, size, "on" if natt == "natt" else "off",
                                         fmt_s(e), fmt(ew["med"] if ew else None),
                                         fmt(gbps(e["med"], size), 1), fmt(ec["med"] if ec else None, 0),
                                         fmt_s(s), fmt(sc["med"] if sc else None, 0),
                                         fmt(ratio) + ("" if natt == "esp" or not s else "*"),
                                         fmt(cp["med"] if cp else None),
                                         fmt(e["med"] / cp["med"] if cp and cp["med"] else None),
                                         fmt(rc, 0), fmt_s(cf), fmt(cfc["med"] if cfc else None, 0)))
                        if natt == "esp" and ratio is not None:
                            targets.append(("espgw/ipsec-secgw Mpps per core, %s %s %s B, %s" % (
                                d, alg, size, mem), ">= %.2f" % SECGW_RATIO[size], ratio,
                                ratio >= SECGW_RATIO[size]))
        for src in ("pcap", "copyfree"):
            cells = []
            for size in SIZES:
                f = S(("espgw", "forward", "-", size, "-", mem, src))
                fc = S(("espgw", "forward", "-", size, "-", mem, src), "cycles")
                cells.append("%s B: %s Mpps/core, %s cycles/pkt" % (
                    size, fmt_s(f), fmt(fc["med"] if fc else None, 0)))
            lines.append("\nespgw plain forwarding (no tunnel), %s source: %s." % (
                "net_pcap" if src == "pcap" else "copy-free", "; ".join(cells)))
        cells = []
        for size in SIZES:
            f = S(("harness", "forward", "-", size, "-", mem, "pcap"))
            fc = S(("harness", "forward", "-", size, "-", mem, "pcap"), "cycles")
            cells.append("%s B: %s Mpps/core, %s cycles/pkt" % (
                size, fmt_s(f), fmt(fc["med"] if fc else None, 0)))
        lines.append("\nThe harness alone (`dpdk-testpmd --forward-mode=io`, net_pcap source into "
                     "net_null, one forwarding lcore): %s." % "; ".join(cells))
        # Crypto share at 1400 B AES-128-GCM.
        rc_key = {"encrypt": raw.get(("encrypt", TARGET_ALG, "1400")),
                  "decrypt": raw.get(("decrypt", TARGET_ALG, "1400"))}
        for d, src in (("encrypt", "pcap"), ("decrypt", "pcap"), ("encrypt", "copyfree")):
            ec = med(R, ("espgw", d, TARGET_ALG, "1400", "esp", mem, src), "cycles")
            fc = med(R, ("espgw", "forward", "-", "1400", "-", mem, src), "cycles")
            rc = rc_key[d]
            if ec and fc and rc:
                share = (ec - fc) / rc
                targets.append(("crypto share (espgw − forwarding cycles) / raw, %s 1400 B "
                                "AES-128-GCM, %s source, %s" % (d, "net_pcap" if src == "pcap"
                                                                 else "copy-free", mem),
                                "<= 1.25", share, share <= 1.25))
        for alg in ALGS:
            for size in SIZES:
                for natt in ("esp", "natt"):
                    e = med(R, ("espgw", "encrypt", alg, size, natt, mem, "pcap"))
                    dd = med(R, ("espgw", "decrypt", alg, size, natt, mem, "pcap"))
                    if e and dd:
                        targets.append(("decrypt/encrypt Mpps per core, %s %s B NAT-T %s, %s" % (
                            alg, size, "on" if natt == "natt" else "off", mem), ">= 0.85", dd / e,
                            dd / e >= 0.85))

    scaling = ""
    if args.workers:
        rows = ["| workers | dir | size | Mpps (wall, all workers) | Mpps per worker core | "
                "x workers | cycles/pkt |", "|---|---|---|---|---|---|---|"]
        for nw in args.workers.split(","):
            for d in ("encrypt", "decrypt", "harness"):
                for size in ("64", "1400"):
                    k = scaling_key(d, size, nw)
                    w, c, cy = S(k, "wall_mpps"), S(k), S(k, "cycles")
                    rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                        nw, "harness alone (testpmd io)" if d == "harness" else d, size, fmt_s(w),
                        fmt_s(c), fmt(c["med"] * int(nw) if c else None),
                        fmt(cy["med"] if cy else None, 0)))
        # The per-core cost of a second worker, and what the harness alone pays for a second
        # queue and core, measured the same way.
        net = []
        for size in ("64", "1400"):
            cy = {(d, nw): med(R, scaling_key(d, size, nw), "cycles")
                  for d in ("encrypt", "harness") for nw in ("1", "2")}
            if all(cy.values()):
                e = cy[("encrypt", "2")] - cy[("encrypt", "1")]
                h = cy[("harness", "2")] - cy[("harness", "1")]
                net.append("%s B: espgw %+.0f cycles a packet (%+.0f%%), the harness alone %+.0f, "
                           "espgw without the harness's share %+.0f (%+.0f%%)" % (
                               size, e, 100 * e / cy[("encrypt", "1")], h, e - h,
                               100 * (e - h) / cy[("encrypt", "1")]))
        if net:
            rows.append("\nA second worker, per packet against one (medians): " + "; ".join(net) +
                        ". The harness's own rows are `dpdk-testpmd --forward-mode=io` between the "
                        "same net_pcap source and net_null sink with a queue and a forwarding core "
                        "per worker, the lcores placed as espgw's.")
        scaling = ("\n## Workers (AES-128-GCM, hugepages, net_pcap source)\n\nThis machine has 2 "
                   "vCPUs, shared with other developers: with 2 workers, worker 1 shares CPU 0 "
                   "with the main lcore (the control thread, mostly asleep in poll()) and each "
                   "worker polls its own net_pcap queue (each copies its packets); both workers "
                   "share one outbound SA (one atomic add per burst on its sequence number). "
                   "Decryption over several workers is in the lanes section: an inbound SA has "
                   "one writer (docs/lanes.md), so one SA on two queues is not run here. "
                   "Mpps per worker core divides by the CPU "
                   "time both workers got; wall Mpps shows how little of the two CPUs they got "
                   "here. This shows the per-core cost with two workers, not how far espgw "
                   "scales on a larger machine.\n\n" + "\n".join(rows) + "\n")

    tl = ["| target | limit | measured | result |", "|---|---|---|---|"]
    for name, limit, val, ok in targets:
        tl.append("| %s | %s | %s | %s |" % (name, limit, fmt(val, 3),
                                            "**pass**" if ok else "**FAIL**"))
    passed = sum(1 for t in targets if t[3])

    commit = getattr(b, "commit", None) or "unknown"
    model, virt = cpu_model()
    steal = [w["steal"] for ws in R.values() for w in ws if "steal" in w]
    share = [w["cpu_share"] for ws in R.values() for w in ws if "cpu_share" in w]
    cmd = "bench/run " + " ".join(shlex.quote(a) for a in argv)
    notes = "".join("- %s\n" % n for n in b.notes) or "- none\n"
    return f"""# Dataplane benchmarks

Written by `bench/run` on {started.strftime('%Y-%m-%d %H:%M UTC')} at commit {commit}, in
{elapsed:.0f} s. Regenerate with `{cmd.strip()}` (as root, after `meson setup build`; it runs
`ninja -C build` first). The ESP engine's micro-benchmarks are the `bench/esp_micro` section above.

## Machine
- CPU: {model}, {os.cpu_count()} {"vCPUs (virtual machine)" if virt else "cores"}; TSC
  {tsc_hz / 1e6:.0f} MHz (cycles below are TSC cycles; the core clock may differ)
- Kernel: {platform.system()} {platform.release()}; DPDK {dpdk_version} (Debian), built for corei7
- Load average before: {" ".join(load_before)}; after: {" ".join(load_after)} (2 vCPUs shared with
  other developers' builds and tests)
- Worker threads got a median {100 * statistics.median(share) if share else 0:.0f}% of a CPU
  during the windows (rates per core divide by the CPU time they got); steal time: median
  {100 * statistics.median(steal) if steal else 0:.1f}% of a CPU

## Method
- One worker lcore (lcore 1; main lcore 0). Source: `net_pcap` `rx_pcap=FILE,infinite_rx=1` on the
  receiving port (copies each packet into a new mbuf), or espgw's copy-free `bench_source` (encrypt
  and forwarding: recycled mbufs, first cache line rewritten in the worker's RX burst). Sink:
  `net_null,no-rx=1`. Same pcaps for espgw and ipsec-secgw: {PACKETS} packets over {PACKETS} flows,
  IPv4/UDP inner packets of 64 B, IMIX (7:4:1 of 64/570/1518 B, mean {IMIX_MEAN:.1f} B) and
  1400 B; ESP pcaps encrypted by scapy (bench/pcapgen); MTU 1600 on both ports.
- espgw: static SAs, replay window 0 (an endless pcap repeats its sequence numbers; ipsec-secgw's
  default is no replay window either). ipsec-secgw: built from Debian's dpdk-doc at bench time,
  patched to ask for no RX checksum offload (net_pcap has none; see build_secgw()),
  `-l 1 -- -p 0x3 -P -u 0x2 --config (0,0,1),(1,0,1) --mtu 1600` (its main lcore polls), tunnel-mode SAs with the same
  keys on `crypto_aesni_gcm` (GCM) or `crypto_aesni_mb` (CBC + HMAC-SHA2-256), lookaside-none.
  ipsec-secgw has no NAT-T without inline or lookaside-protocol offload, so NAT-T rows (*) compare
  with its plain-ESP figure.
- Each process: {args.warmup} s warm-up, then {args.windows} windows of {args.window} s; AES-128-GCM
  rows run {args.reps} processes each, espgw and ipsec-secgw alternating. A figure is the median over
  all windows; ± is half the interquartile range (or half the range, under 4 windows) over the
  median. Mpps/core = packets out of the sink port / CPU time of the worker thread (schedstat);
  wall Mpps = packets / wall time; Gbps = Mpps/core x inner IP bytes; cycles/pkt = worker CPU time
  x TSC rate (x espgw's busy share) / packets.
- Ceiling: `dpdk-test-crypto-perf --ptest throughput --burst-sz 32` on the same PMD and ESP payload
  sizes (CPU time of its worker thread; IMIX as 58/33/9 %); raw cycles: intel-ipsec-mb alone from
  `{raw_cmd or 'esp_bench (not built)'}`.

## Targets ({passed} of {len(targets)} pass)
{chr(10).join(tl)}

## Where the cycles go (AES-128-GCM, NAT-T off, TSC cycles per packet)
"Harness" is testpmd's io forwarding between the same ports (net_pcap's copy into a new mbuf,
net_null's free, the poll loop); "raw cipher" is intel-ipsec-mb alone on the same sizes; "own" is
the rest: for espgw classify, route, ESP framing, sequence numbers, counters, neighbour and TX; for
ipsec-secgw its SP/SA lookups, the cryptodev's enqueue and dequeue and its own framing. The last
column is what espgw's own work may cost for the ratio target to hold.

{analysis(R, raw, mems)}

## Results
{chr(10).join(lines)}
{scaling}
{scale_md}
## Rows that failed or were not run
{notes}"""


def publish(md, args):
    """Prints the report and, without --no-write, puts it in its section of args.out."""
    print(md)
    if not args.no_write:
        results_md.write_section(args.out, "run", md)
        print("bench: wrote its section of " + args.out, file=sys.stderr, flush=True)


def lanes_markdown(st):
    """The lanes section (bench/run_lanes.py) from a run's saved state; None without lane rows."""
    R = {tuple(k): v for k, v in st["results"]}
    mems = [k[5] for k in R if k[0] == "lanes"]
    if not mems:
        return None
    mem = mems[0]
    ws = [w for k, v in R.items() if k[0] == "lanes" for w in v]
    share = [w["cpu_share"] for w in ws]
    steal = [w["steal"] for w in ws]
    started = datetime.datetime.fromisoformat(st["started"])
    cmd = "bench/run " + " ".join(shlex.quote(a) for a in st["argv"])
    how = ("Written by `%s` on %s at commit %s (as root; DPDK %s, %s, TSC %.0f MHz). Load "
           "average before: %s; after: %s. The two workers got a median %.0f%% of a CPU each "
           "during the windows; steal time %.1f%% of a CPU. A figure is the median over every "
           "window of its rows; ± is half the interquartile range over the median.%s" % (
               cmd.strip(), started.strftime("%Y-%m-%d %H:%M UTC"), st.get("commit") or "unknown",
               st["dpdk_version"], "2 MiB hugepages" if mem == "huge" else "`--no-huge -m 512`",
               st["tsc_hz"] / 1e6, " ".join(st["load_before"]), " ".join(st["load_after"]),
               100 * statistics.median(share) if share else 0,
               100 * statistics.median(steal) if steal else 0,
               " espgw: `--espgw` names the binary, a copy of the build's taken before the run "
               "(others rebuild the shared build folder)." if "--espgw" in st["argv"] else ""))
    argv = st["argv"]
    per_proc = 3 if "--quick" in argv else 3 if "--windows" not in argv else int(
        argv[argv.index("--windows") + 1])
    return run_lanes.report(R, summary, fmt, fmt_s, mem, st.get("lane_splits", {}),
                            {k: v for k, v in (st.get("lane_choice") or {}).items()},
                            st.get("lane_choice_cmd"), how, per_proc)


def publish_lanes(st, args):
    """Prints the lanes section and, without --no-write, puts it in its section of args.out."""
    md = lanes_markdown(st)
    if md is None:
        return
    print(md)
    if not args.no_write:
        results_md.write_section(args.out, "lanes", md, writer="bench/run (its lane rows)")
        print("bench: wrote the lanes section of " + args.out, file=sys.stderr, flush=True)


def render(args):
    """The report from a run's saved figures (the code that writes it may have changed)."""
    st = json.load(open(args.render))

    class Saved:
        results = {tuple(k): v for k, v in st["results"]}
        notes = st["notes"]
        commit = st.get("commit")  # of the measured code, not of the code rendering it
    saved = argparse.Namespace(**vars(args))
    parsed = argparse.Namespace(workers="", reps=2, windows=3, window=0.25, warmup=0.3)
    for i, a in enumerate(st["argv"]):
        for name in ("workers", "reps", "windows", "window", "warmup"):
            if a == "--" + name:
                setattr(parsed, name, type(getattr(parsed, name))(st["argv"][i + 1]))
    for name in ("workers", "reps", "windows", "window", "warmup"):
        setattr(saved, name, getattr(parsed, name))
    md = report(Saved, saved, st["mems"], {tuple(k): v for k, v in st["raw"]}, st["raw_cmd"],
                st["dpdk_version"], datetime.datetime.fromisoformat(st["started"]),
                st["elapsed"], st["load_before"], st["load_after"], st["scale_md"], st["tsc_hz"],
                st["argv"])
    if not any(a == "--lanes-only" for a in st["argv"]):
        publish(md, args)
    publish_lanes(st, args)
