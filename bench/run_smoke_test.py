#!/usr/bin/python3
"""Smoke test of the dataplane harness (bench/run), so that it keeps working between full runs.

Runs bench/run on a few rows with tiny windows and checks what it reports, not how fast:
  - espgw encrypts (net_pcap source into net_null) and decrypts the scapy-made ESP pcaps of
    bench/pcapgen (so those pcaps are valid ESP for the SA espgw is given: a wrong key, SPI or
    framing would leave the sink empty);
  - ipsec-secgw, built from Debian's dpdk-doc into the build folder, forwards the same packets,
    both ways, and the espgw/ipsec-secgw ratio is printed;
  - espgw's copy-free source forwards;
  - the lane rows (bench/run_lanes.py): a 1-lane tunnel is decrypted by worker 0 alone, a 4-lane
    tunnel by both workers (its lanes' outer flows on both RX queues, each lane's SA added by
    `sa-add ... "lane"`: a lane SA that does not decrypt leaves its worker without packets);
  - no row failed to run.
Usage: run_smoke_test.py BUILD_DIR. Exit 0 pass, 1 fail, 77 skipped (not root, no dpdk-doc).
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = (r"^(espgw|secgw)/(encrypt|decrypt)/aes128gcm16/64/esp/nohuge/pcap$"
        r"|^espgw/forward/-/64/-/nohuge/copyfree$"
        r"|^lanes/decrypt/aes128gcm16/64/[14]/nohuge/pcap$")


def main():
    build = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skipped: bench/run needs root")
        return 77
    if not os.path.isdir("/usr/share/dpdk/examples/ipsec-secgw"):
        print("skipped: no dpdk-doc (ipsec-secgw's source)")
        return 77
    argv = [os.path.join(ROOT, "bench", "run"), "--build", build, "--no-build",
            "--no-write", "--quick", "--mem", "nohuge", "--reps", "1", "--windows", "1",
            "--window", "0.1", "--warmup", "0.1", "--only", ROWS]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    sys.stderr.write(r.stderr[-4000:])
    if r.returncode != 0:
        print("bench/run exited with %d\n%s" % (r.returncode, r.stdout[-4000:]))
        return 1
    out = r.stdout
    failures = []
    for d in ("encrypt", "decrypt"):
        # Columns: dir, algorithm, size, NAT-T, espgw Mpps/core, wall Mpps, Gbps, cycles,
        # ipsec-secgw Mpps/core, its cycles, espgw/secgw, ...
        m = re.search(r"^\| %s \| aes128gcm16 \| 64 \| off \| ([0-9.]+) ±[0-9]+%% \|[^|]*\|[^|]*\|"
                      r"[^|]*\| ([0-9.]+) ±[0-9]+%% \|[^|]*\| ([0-9.]+) \|" % d, out, re.M)
        if not m:
            failures.append("no %s row with espgw and ipsec-secgw figures" % d)
            continue
        espgw, secgw, ratio = (float(x) for x in m.groups())
        print("%s: espgw %.2f Mpps/core, ipsec-secgw %.2f, ratio %.2f" % (d, espgw, secgw, ratio))
        if espgw <= 0 or secgw <= 0 or ratio <= 0:
            failures.append("%s: a rate of zero" % d)
    m = re.search(r"copy-free source: 64 B: ([0-9.]+) ±", out)
    if not m or float(m.group(1)) <= 0:
        failures.append("no copy-free forwarding figure")
    for lanes, want in (("1", lambda w0, w1: w0 > 0 and w1 == 0),
                        ("4", lambda w0, w1: w0 > 0 and w1 > 0)):
        # Columns: lanes, size, wall Mpps, x 1 lane, Mpps per worker CPU, cycles, packets split.
        m = re.search(r"^\| %s \| 64 \| ([0-9.]+) ±[0-9]+%% \|[^|]*\|[^|]*\|[^|]*\| "
                      r"([0-9]+)%% / ([0-9]+)%% \|" % lanes, out, re.M)
        if not m:
            failures.append("no lane row for %s lanes" % lanes)
            continue
        rate, w0, w1 = float(m.group(1)), int(m.group(2)), int(m.group(3))
        print("%s lanes: %.2f Mpps, worker 0 / 1: %d%% / %d%%" % (lanes, rate, w0, w1))
        if rate <= 0 or not want(w0, w1):
            failures.append("%s lanes: %.2f Mpps, worker 0 / 1 %d%% / %d%%: want %s" % (
                lanes, rate, w0, w1, "worker 0 alone" if lanes == "1" else "both workers"))
    notes = out.split("## Rows that failed or were not run", 1)[-1]
    for line in notes.splitlines():
        if line.startswith("- ") and line != "- none" and "not run:" not in line:
            failures.append("a row failed: " + line)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
