#!/usr/bin/env python3
"""A key pasted into the command line of a daemon is never repeated by it (common/redact.h: the
one rule for repeating input in a message). espgw, espgw-ike and espgw-exporter are each run with
a secret of every shape secret_echo_test.py knows as an unknown option, a bare word, an option's
value after '=', and the value of each option that is checked before start-up (a number, a
backend); each run must be refused (exit status 2, a message saying what was wrong), so that a
program that took the argument cannot pass for one that hid it, and nothing it prints may hold
the secret.

Run by meson: daemon_args_secret_test.py ESPGW ESPGW_IKE ESPGW_EXPORTER
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secret_echo_test import SECRETS  # noqa: E402

NO_CONFIG = "/nonexistent/espgw.yaml"  # options that come after the checked one never start it


def runs(espgw, ike, exporter, s):
    """(what, argv) for each placement of secret s."""
    loose = [s, "--" + s, "--x=" + s]
    for a in loose:
        yield "espgw", [espgw, "--", a]
        yield "espgw-ike", [ike, a]
        yield "espgw-exporter", [exporter, a]
    yield "espgw", [espgw, "--", "--crypto", s, "--config", NO_CONFIG]
    yield "espgw", [espgw, "--", "--max-packets", s, "--config", NO_CONFIG]
    yield "espgw-ike", [ike, "--timeout", s, "--config", NO_CONFIG]
    yield "espgw-ike", [ike, "--charon-log", s, "--config", NO_CONFIG]
    yield "espgw-exporter", [exporter, "--timeout", s]


def main():
    espgw, ike, exporter = sys.argv[1:]
    n = 0
    failures = []
    for s in SECRETS:
        for what, argv in runs(espgw, ike, exporter, s):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            n += 1
            out = r.stdout + r.stderr
            shown = " ".join(argv[1:])
            if r.returncode != 2:
                failures.append(f"{what} {shown}: exit status {r.returncode}, not 2: {out[:200]}")
            if not out.strip():
                failures.append(f"{what} {shown}: refused without a word")
            for form in (s, s.removeprefix("0x").removeprefix("0s")):
                if form in out:
                    failures.append(f"{what} {shown}: the secret in its output: {out[:300]}")
    print(f"{n} runs, {len(failures)} failures")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
