"""Many sequence-numbered UDP flows in one sender and one receiver (run inside a namespace by
labkit.lanes.FlowStreams): the helper of the lanes lab, whose flows must differ in their inner
5-tuple (source port) so that they spread over a tunnel's lanes.

  udp-flows-recv --bind IP --port P [--timeout T]
        datagrams of every flow until each flow's end marker (or silence); per flow: how many
        arrived, which sequence numbers are missing (runs, with the arrival times around each
        run), how many arrived twice, how many arrived after a higher one (reordered), and the
        longest pause between two arrivals
  udp-flows-send --to IP --port P --flows N --sport S --rate PPS [--size B]
        N flows from source ports S..S+N-1, each at PPS datagrams per second (sent round robin,
        paced by the clock), until SIGTERM/SIGINT; then three end markers per flow carrying its
        count

Times are CLOCK_MONOTONIC, the same clock in every namespace, so the test can place a flow's
outage against what it did (a lane blackholed at t, back at t').
"""

import argparse
import json
import signal
import socket
import struct
import sys
import time

MAGIC = b"e2ef"
END = 0xFFFFFFFFFFFFFFFF
HEADER = struct.Struct("!4sHQ")  # magic, flow, sequence number


def ready():
    print("ready", flush=True)


class Flow:
    def __init__(self):
        self.arrival = {}  # seq -> first arrival time
        self.sent = None
        self.dups = 0
        self.reordered = 0
        self.highest = -1
        self.last_t = None
        self.longest_pause = 0.0
        self.pause_at = None

    def take(self, seq, now):
        if seq in self.arrival:
            self.dups += 1
            return
        self.arrival[seq] = now
        if seq < self.highest:
            self.reordered += 1
        else:
            self.highest = seq
        if self.last_t is not None and now - self.last_t > self.longest_pause:
            self.longest_pause, self.pause_at = now - self.last_t, self.last_t
        self.last_t = now

    def complete(self):
        return self.sent is not None and len(self.arrival) >= self.sent

    def report(self):
        n = self.sent if self.sent is not None else self.highest + 1
        missing = [i for i in range(n) if i not in self.arrival]
        gaps, i = [], 0
        while i < len(missing) and len(gaps) < 50:
            j = i
            while j + 1 < len(missing) and missing[j + 1] == missing[j] + 1:
                j += 1
            lo, hi = missing[i], missing[j]
            gap = {"first": lo, "last": hi, "missing": hi - lo + 1,
                   "after_t": self.arrival.get(lo - 1), "before_t": self.arrival.get(hi + 1)}
            gaps.append(gap)
            i = j + 1
        return {"sent": self.sent, "received": len(self.arrival), "missing": len(missing),
                "gaps": gaps, "duplicates": self.dups, "reordered": self.reordered,
                "longest_pause": self.longest_pause, "pause_at": self.pause_at,
                "ended": self.sent is not None}


def recv(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.bind, a.port))
    flows, foreign = {}, 0
    ready()
    s.settimeout(a.timeout)
    try:
        while True:
            data = s.recv(65536)
            now = time.monotonic()
            if len(data) < HEADER.size or data[:4] != MAGIC:
                foreign += 1
                continue
            _, flow, seq = HEADER.unpack_from(data)
            f = flows.setdefault(flow, Flow())
            if seq == END:
                if f.sent is None:
                    (f.sent,) = struct.unpack_from("!Q", data, HEADER.size)
                    # After the markers: stragglers for a second of silence at most.
                    s.settimeout(1.0)
            else:
                f.take(seq, now)
            if flows and len(flows) == a.flows and all(x.complete() for x in flows.values()):
                break
    except socket.timeout:
        pass
    print(json.dumps({"foreign": foreign, "flows": {str(k): v.report()
                                                    for k, v in sorted(flows.items())}}))


def send(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    socks = []
    for i in range(a.flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.bind, a.sport + i))
        s.connect((a.to, a.port))
        socks.append(s)
    pad = b"\0" * max(0, a.size - HEADER.size)
    n = 0  # datagrams sent per flow
    ready()
    t0 = time.monotonic()
    while not stop:
        due = t0 + n / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
            continue
        for i, s in enumerate(socks):
            s.send(HEADER.pack(MAGIC, i, n) + pad)
        n += 1
    secs = time.monotonic() - t0
    for _ in range(3):
        for i, s in enumerate(socks):
            try:
                s.send(HEADER.pack(MAGIC, i, END) + struct.pack("!Q", n))
            except ConnectionRefusedError:
                # The receiver, complete after the first markers, closed its socket, and the
                # port unreachable it drew came back before these repeats.
                pass
    print(json.dumps({"sent_per_flow": n, "seconds": secs}), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("udp-flows-recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--flows", type=int, required=True)
    r.add_argument("--timeout", type=float, default=20)
    s = sub.add_parser("udp-flows-send")
    s.add_argument("--to", required=True)
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--flows", type=int, required=True)
    s.add_argument("--sport", type=int, required=True)
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--size", type=int, default=200)
    a = p.parse_args()
    {"udp-flows-recv": recv, "udp-flows-send": send}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
