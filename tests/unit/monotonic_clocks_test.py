#!/usr/bin/env python3
"""Lifetimes, timers and rate limits run on monotonic clocks (issue "Hardening": the wall clock
jumping backwards or forwards must not move them): the only wall-clock reads in espgw's daemons,
its charon plugin and its libraries are the ones listed in ALLOWED, each of which only stamps
what a person reads. Any other read of the wall clock (std::chrono::system_clock, CLOCK_REALTIME,
gettimeofday, time(), localtime) fails this test; a new one that is really for display goes into
ALLOWED with its reason.

What runs on which clock: docs/reliability.md "Clocks".

Run by meson: monotonic_clocks_test.py SOURCE_ROOT
"""

import os
import re
import sys

DIRS = ["common", "config", "protocol", "dataplane", "ike-bridge", "metrics", "frr"]
WALL = re.compile(r"\bsystem_clock\b|\bCLOCK_REALTIME\b|\bgettimeofday\s*\(|(?<![\w.>:])time\s*\(\s*"
                  r"(NULL|nullptr|0|&)|\bstd::time\s*\(|\blocaltime(_r)?\s*\(|\bctime\s*\(")
ALLOWED = {
    # PeerClock: when a peer's tunnel changed, shown as a date in `peers`; durations (the
    # failback hold) come from its steady half.
    "dataplane/control/peer_state.cpp": 1,
    # espgw-ike's --foreground log lines: a timestamp for the reader.
    "ike-bridge/espgw_ike/log.cpp": 1,
}


def main():
    root = sys.argv[1]
    found = {}
    lines = []
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for name in files:
                if not name.endswith((".c", ".h", ".cpp")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        code = re.sub(r'"(\\.|[^"\\])*"', '""', line).split("//")[0]
                        if WALL.search(code):
                            found[rel] = found.get(rel, 0) + 1
                            lines.append(f"{rel}:{n}: {line.strip()}")
    bad = [l for l in lines if found[l.split(":")[0]] != ALLOWED.get(l.split(":")[0])]
    gone = [p for p in ALLOWED if p not in found]
    print(f"{len(lines)} wall-clock reads, {len(bad)} not allowed, {len(gone)} allowed ones gone")
    for l in bad:
        print("WALL CLOCK:", l)
    for p in gone:
        print("NO LONGER THERE (take it out of ALLOWED):", p)
    return 1 if bad or gone else 0


if __name__ == "__main__":
    sys.exit(main())
