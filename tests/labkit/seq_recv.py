"""The receiving end of tools.py's sequence-numbered UDP stream, with arrival times.

    seq_recv.py udp-seq-recv --bind IP --port P [--timeout T]

Reads what `tools.py udp-seq-send` sends (the same datagrams and end markers) and prints, like
`tools.py udp-seq-recv`, one JSON line: which of 0..N-1 arrived, which twice, which not at all.
On top of that it keeps the arrival time (CLOCK_MONOTONIC, the same clock in every namespace) of
each datagram, so that the HA tests can say how long an outage lasted and when, not only how many
datagrams it cost:

  gaps      each run of missing sequence numbers: the last datagram before it (`after`, its
            arrival `after_t`), the first one behind it (`before`, `before_t`), how many are
            missing and `seconds` = before_t - after_t: the time between the last datagram over
            the old path and the first over the new one
  stalls    arrival pauses longer than --stall seconds even where nothing was lost
  first_t, last_t
            arrival of the first and the last datagram

Prints "ready" once bound, as tools.py's helpers do.
"""

import argparse
import array
import json
import socket
import struct
import sys
import time

import tools  # labkit/tools.py: this script's folder is first on sys.path


def udp_seq_recv(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.bind, a.port))
    seen = bytearray()
    arrival = array.array("d")
    st = {"dups": [], "foreign": 0, "total": 0, "sent": None, "stalls": [], "last": None}

    def take(data):
        now = time.monotonic()
        if len(data) < 12 or data[:4] != tools.MAGIC:
            st["foreign"] += 1
            return
        (seq,) = struct.unpack_from("!Q", data, 4)
        if seq == tools.END:
            if st["sent"] is None:
                (st["sent"],) = struct.unpack_from("!Q", data, 12)
            return
        st["total"] += 1
        if st["last"] is not None and now - st["last"][0] > a.stall and len(st["stalls"]) < 100:
            st["stalls"].append({"after": st["last"][1], "after_t": st["last"][0], "next": seq,
                                 "next_t": now, "seconds": now - st["last"][0]})
        st["last"] = (now, seq)
        if seq >= len(seen):
            grow = seq + 1 - len(seen) + 4096
            seen.extend(bytes(grow))
            arrival.extend([0.0] * grow)
        if seen[seq]:
            st["dups"].append(seq)
        else:
            seen[seq] = 1
            arrival[seq] = now

    def complete():
        n = st["sent"]
        return n is not None and len(seen) >= n and 0 not in seen[:n]

    tools.ready()
    try:
        s.settimeout(a.timeout)
        while st["sent"] is None:
            take(s.recv(65536))
        s.settimeout(1.0)
        while not complete():
            take(s.recv(65536))
    except socket.timeout:
        pass
    sent = st["sent"]
    n = sent if sent is not None else len(seen)
    missing = [i for i in range(n) if i >= len(seen) or not seen[i]]
    gaps = []
    i = 0
    while i < len(missing) and len(gaps) < 100:
        j = i
        while j + 1 < len(missing) and missing[j + 1] == missing[j] + 1:
            j += 1
        lo, hi = missing[i], missing[j]
        gap = {"first_missing": lo, "last_missing": hi, "missing": hi - lo + 1}
        if lo > 0:
            gap.update(after=lo - 1, after_t=arrival[lo - 1])
        if hi + 1 < n:
            gap.update(before=hi + 1, before_t=arrival[hi + 1])
        if "after_t" in gap and "before_t" in gap:
            gap["seconds"] = gap["before_t"] - gap["after_t"]
        gaps.append(gap)
        i = j + 1
    got = [arrival[k] for k in range(min(n, len(seen))) if seen[k]]
    print(json.dumps({"sent": sent, "received": st["total"], "distinct": n - len(missing),
                      "missing": missing[:100], "missing_count": len(missing),
                      "duplicates": st["dups"][:100], "duplicate_count": len(st["dups"]),
                      "beyond_end": sum(seen[n:]), "foreign": st["foreign"],
                      "ended": sent is not None, "gaps": gaps, "stalls": st["stalls"],
                      "first_t": min(got) if got else None, "last_t": max(got) if got else None}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("udp-seq-recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--timeout", type=float, default=20)
    r.add_argument("--stall", type=float, default=0.25,
                   help="report arrival pauses longer than this, in seconds")
    a = p.parse_args()
    udp_seq_recv(a)


if __name__ == "__main__":
    sys.exit(main())
