"""Traffic helpers that the labs run inside their namespaces (labkit.lab.Lab.tool).

Each prints "ready" once its socket is bound (the lab waits for that line instead of sleeping) and,
at the end, one JSON line with its result.

  tcp-recv  --bind IP --port P             one connection; bytes and SHA-256 of what arrived
  tcp-send  --to IP --port P --bytes N --seed S
                                           N pseudo-random bytes from seed S; their SHA-256
  udp-seq-recv --bind IP --port P [--timeout T] [--stall S]
                                           sequence-numbered datagrams until the end marker,
                                           which says how many were sent (N); which of 0..N-1
                                           arrived, which twice, which not at all, and when
  udp-seq-send --to IP --port P --rate PPS [--count N] [--size B]
                                           datagrams numbered 0, 1, ..., paced, until N are
                                           sent or SIGTERM/SIGINT; then end markers carrying N
  icmp-echo --to IP --count N --interval S [--size B] [--pattern HEX] [--wait W]
                                           exactly N echo requests, one every S seconds; waits
                                           until each is answered or W seconds after the last
                                           went out (no "ready": it runs to the end)

The receiver keeps the arrival time (CLOCK_MONOTONIC, the same clock in every namespace) of each
datagram, so that a test can say how long an outage lasted and when, not only how many datagrams
it cost:

  gaps      each run of missing sequence numbers: the last datagram before it (`after`, its
            arrival `after_t`), the first one behind it (`before`, `before_t`), how many are
            missing and `seconds` = before_t - after_t: the time between the last datagram over
            the old path and the first over the new one
  stalls    arrival pauses longer than --stall seconds even where nothing was lost
  first_t, last_t
            arrival of the first and the last datagram
"""

import argparse
import array
import hashlib
import ipaddress
import json
import random
import signal
import socket
import struct
import sys
import time

from packets import inet_checksum  # labkit/packets.py: this script's folder is on sys.path

END = 0xFFFFFFFFFFFFFFFF
MAGIC = b"e2eq"


def ready():
    print("ready", flush=True)


def tcp_recv(a):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.bind, a.port))
    srv.listen(1)
    srv.settimeout(a.timeout)
    ready()
    conn, peer = srv.accept()
    conn.settimeout(a.timeout)
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    secs = time.monotonic() - t0
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": secs, "peer": peer[0]}))


def stream(seed, n):
    rng = random.Random(seed)
    left = n
    while left > 0:
        k = min(left, 1 << 20)
        yield rng.randbytes(k)
        left -= k


def tcp_send(a):
    h = hashlib.sha256()
    ready()
    s = socket.create_connection((a.to, a.port), timeout=a.timeout)
    t0 = time.monotonic()
    for chunk in stream(a.seed, a.bytes):
        h.update(chunk)
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    # Wait for the receiver to close: everything was read.
    while s.recv(65536):
        pass
    secs = time.monotonic() - t0
    print(json.dumps({"bytes": a.bytes, "sha256": h.hexdigest(), "seconds": secs}))


def udp_seq_recv(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.bind, a.port))
    seen = bytearray()
    arrival = array.array("d")
    st = {"dups": [], "foreign": 0, "total": 0, "sent": None, "stalls": [], "last": None}

    def take(data):
        now = time.monotonic()
        if len(data) < 12 or data[:4] != MAGIC:
            st["foreign"] += 1
            return
        (seq,) = struct.unpack_from("!Q", data, 4)
        if seq == END:
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

    ready()
    try:
        # Silence this long ends the wait (the sender died, or its end marker was lost).
        s.settimeout(a.timeout)
        while st["sent"] is None:
            take(s.recv(65536))
        # Two CPUs may reorder packets between the veths' backlogs: after the marker, wait for
        # stragglers until all have come or the wire has been silent for a second.
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


def udp_seq_send(a):
    stop = []
    # The handler only raises a flag: a datagram is either sent and counted, or neither.
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.to, a.port))
    pad = b"\0" * max(0, a.size - 12)
    i = 0
    ready()
    t0 = time.monotonic()
    while not stop and (a.count is None or i < a.count):
        # Paced by the clock: datagram i leaves at t0 + i / rate.
        due = t0 + i / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
            continue
        s.send(MAGIC + struct.pack("!Q", i) + pad)
        i += 1
    secs = time.monotonic() - t0
    # End markers carry the count; the receiver still waits for stragglers after them.
    for _ in range(3):
        s.send(MAGIC + struct.pack("!QQ", END, i))
    print(json.dumps({"sent": i, "seconds": secs}), flush=True)


def icmp_echo(a):
    """ping's count without ping's early exit: once one answer has come, iputils ping waits only
    max(2 RTT, interval) after its last echo (20 ms at -i 0.02), so an answer that a loaded
    two-core machine holds back a little longer counts as lost although it arrives. Here every
    echo gets --wait seconds; the answer's payload must be the request's. IPv4 or IPv6 (the
    kernel fills in ICMPv6's checksum, and an ICMPv6 raw socket reads no IP header)."""
    to = ipaddress.ip_address(a.to)
    v6 = to.version == 6
    s = (socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) if v6 else
         socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    request, reply = (128, 129) if v6 else (8, 0)
    ident = random.randrange(1, 0x10000)
    fill = bytes.fromhex(a.pattern) if a.pattern else bytes(range(256))
    payload = (fill * (a.size // len(fill) + 1))[:a.size]
    sent, rtts, corrupt = {}, {}, 0
    t0 = time.monotonic()
    while len(rtts) < a.count:
        now = time.monotonic()
        i = len(sent)
        if i < a.count and now >= t0 + i * a.interval:
            head = struct.pack("!BBHHH", request, 0, 0, ident, i)
            csum = 0 if v6 else inet_checksum(head + payload)
            s.sendto(struct.pack("!BBHHH", request, 0, csum, ident, i) + payload, (a.to, 0))
            sent[i] = now
            continue
        due = t0 + i * a.interval if i < a.count else sent[i - 1] + a.wait
        if now >= due and i == a.count:
            break
        s.settimeout(max(due - now, 1e-4))
        try:
            data, addr = s.recvfrom(65535)
        except (socket.timeout, BlockingIOError):
            continue
        t = time.monotonic()
        ihl = 0 if v6 else (data[0] & 0x0F) * 4
        if len(data) < ihl + 8 or ipaddress.ip_address(addr[0].split("%")[0]) != to:
            continue
        typ, _, _, rid, seq = struct.unpack_from("!BBHHH", data, ihl)
        if typ != reply or rid != ident or seq not in sent or seq in rtts:
            continue
        if data[ihl + 8:] != payload:
            corrupt += 1
            continue
        rtts[seq] = (t - sent[seq]) * 1000
    out = {"sent": len(sent), "received": len(rtts), "corrupt": corrupt}
    if rtts:
        v = list(rtts.values())
        out.update(rtt_min_ms=min(v), rtt_avg_ms=sum(v) / len(v), rtt_max_ms=max(v))
    print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("tcp-recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("tcp-send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--timeout", type=float, default=60)
    r = sub.add_parser("udp-seq-recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--timeout", type=float, default=20)
    r.add_argument("--stall", type=float, default=0.25,
                   help="report arrival pauses longer than this, in seconds")
    s = sub.add_parser("udp-seq-send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int)
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--size", type=int, default=200)
    e = sub.add_parser("icmp-echo")
    e.add_argument("--to", required=True)
    e.add_argument("--count", type=int, required=True)
    e.add_argument("--interval", type=float, required=True)
    e.add_argument("--size", type=int, default=56)
    e.add_argument("--pattern", help="hex bytes that fill the payload")
    e.add_argument("--wait", type=float, default=2, help="seconds for the last echo's answer")
    a = p.parse_args()
    {"tcp-recv": tcp_recv, "tcp-send": tcp_send, "udp-seq-recv": udp_seq_recv,
     "udp-seq-send": udp_seq_send, "icmp-echo": icmp_echo}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
