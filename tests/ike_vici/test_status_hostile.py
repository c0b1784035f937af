#!/usr/bin/env python3
"""espgw-ike's status socket against a hostile local client. It is served by the same
protocol::LineServer as espgw's control socket, with the same limits
(docs/control-protocol.md#limits; tests/control/test_hostile_client.py holds espgw to them).
One espgw-ike, started as test_espgw_ike.py starts it (--config, --foreground, its lab's config
with tunnel t2), with no charon: its VICI socket does not exist, so espgw-ike retries every second
and answers status with charon.connected false. No root, no network namespaces.

Each case ends with a new client's {"cmd": "status"} answered within ANSWER_S, espgw-ike's
resident memory (VmRSS) grown by less than GROWTH_MB since the case began and since espgw-ike
started, and its peak (VmHWM) less than PEAK_MB above what it was at start:

- 2000 idle connections: at most 256 stay open, seen from both ends (ours that read end of file,
  espgw-ike's descriptors); the ones closed are those idle longest; a new client is served;
- a request line that never ends, offered up to 64 MiB: the connection is closed, unanswered, once
  the line passes 16 MiB, after at most LINE_SLACK more;
- a client that sends requests until its socket is full and never reads: espgw-ike stops reading
  from it, serves another client meanwhile, and once it reads it gets every answer whole, in
  order (every 64th request an unknown cmd, whose error answer marks the order).

espgw-ike's status does not report its socket's counters (espgw's status.control_socket has
accepted/evicted/too_large), so each outcome is measured from the outside.

Run by meson: test_status_hostile.py --espgw-ike PATH [unittest args].
"""

import argparse
import json
import os
import resource
import select
import shutil
import socket
import struct
import sys
import tempfile
import time
import types
import unittest

from labkit import proc
from test_espgw_ike import espgw_config  # its lab's config: tunnel t2, IKEv2, PSK

ESPGW_IKE = None  # main() sets it from the command line

MAX_CLIENTS = 256  # protocol::LineServer::kMaxClients
MAX_REQUEST = 16 << 20  # kMaxRequest
LINE_OFFERED = 64 << 20  # what the never-ending line offers
# What it may take past MAX_REQUEST before it closes: one read() (64 KiB) and what the socket
# holds between our send() and its read() (wmem_default, 208 KiB here).
LINE_SLACK = 2 << 20
IDLE = 2000
# Resident memory (VmRSS) after a case, over what it was before and at start: what espgw-ike
# keeps of a hostile client once it is gone or bounded (measured: 2 MiB; glibc may keep a freed
# 16 MiB buffer in its heap).
GROWTH_MB = 24
# Its peak (VmHWM) over its resident memory at start: the 16 MiB line, while the buffer it grew
# out of is copied, all of it touched under meson's MALLOC_PERTURB_ (measured: +23 MiB; +51 MiB
# before the buffer stopped at the limit instead of doubling past it, protocol/line_server.cpp).
PEAK_MB = 32
ANSWER_S = 5  # a well-behaved client's answer, whatever the hostile one does
STALL_S = 1  # the non-reader's socket not writable this long: espgw-ike stopped reading it
START_S = 20
STATUS = b'{"cmd": "status"}\n'
UNKNOWN = b'{"cmd": "nope"}\n'  # answered with an error: marks the order of the answers


def connect(path, timeout):
    """A connection to path: a blocking connect() bounded by SO_SNDTIMEO. (With settimeout()
    Python makes it non-blocking, and AF_UNIX then fails at once, EAGAIN, while the listen queue
    is full.)"""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(timeout), 0))
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def peer_closed(s):
    """True when the other end closed s (end of file or reset), False while it is open and quiet;
    the bytes when it sent something."""
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    return True if data == b"" else data


class StatusSocketHostile(unittest.TestCase):
    figures = {}

    @classmethod
    def setUpClass(cls):
        # Our side of IDLE connections, plus room; espgw-ike inherits the limit, which keeps
        # descriptors from being what stops it (MAX_CLIENTS is).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, IDLE + 512)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.idle = min(IDLE, want - 256)
        cls.work = tempfile.mkdtemp(prefix="ike-hostile-")
        cls.addClassCleanup(shutil.rmtree, cls.work, ignore_errors=True)
        secrets_file = os.path.join(cls.work, "secrets.yaml")
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"psk:\n  t2: hostile-client-test-psk-0123456789\n")
        os.close(fd)
        config = os.path.join(cls.work, "espgw.yaml")
        # No charon ever answers on this VICI socket.
        paths = types.SimpleNamespace(vici_path=lambda side: os.path.join(cls.work, "charon.vici"))
        with open(config, "w") as f:
            f.write(espgw_config(paths, secrets_file, "aes128-sha256-modp2048", with_t1=False))
        cls.path = os.path.join(cls.work, "espgw-ike.sock")  # default: next to the VICI socket
        cls.log = os.path.join(cls.work, "espgw-ike.log")
        # Its own session, SIGTERM from the kernel should this process die (labkit.proc.start).
        cls.ike = proc.start([ESPGW_IKE, "--config", config, "--foreground"], log=cls.log)
        cls.addClassCleanup(cls.stop)

        def answering():
            proc.alive_or_raise(cls.ike, "espgw-ike", cls.log_tail())
            try:
                return cls.ask_status()
            except OSError as e:
                raise proc.LabError(str(e)) from e

        proc.wait_for("espgw-ike's status socket " + cls.path, answering, START_S, retry=True)
        cls.rss_start = proc.status_kib(cls.ike.pid, "VmRSS")
        cls.figures["rss_start_kib"] = cls.rss_start

    @classmethod
    def stop(cls):
        code = proc.stop_process(cls.ike, timeout=10)
        print("espgw-ike exited with %s; figures: %s\n---- its log\n%s" %
              (code, json.dumps(cls.figures, sort_keys=True), cls.log_tail()), flush=True)

    @classmethod
    def log_tail(cls, n=30):
        try:
            with open(cls.log, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    @classmethod
    def fds(cls):
        """espgw-ike's open descriptors."""
        return len(os.listdir("/proc/%d/fd" % cls.ike.pid))

    @classmethod
    def ask_status(cls, timeout=ANSWER_S):
        """A new connection's status request: (the answer's line, seconds it took). OSError
        (TimeoutError) when no whole line came within `timeout`."""
        t0 = time.monotonic()
        with connect(cls.path, timeout) as c:
            c.settimeout(timeout)
            c.sendall(STATUS)
            reply = bytearray()
            while not reply.endswith(b"\n"):
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer to status within %g s" % timeout)
                c.settimeout(left)
                part = c.recv(1 << 16)
                if not part:
                    raise ConnectionError("closed after %d bytes of the answer" % len(reply))
                reply += part
        return bytes(reply), time.monotonic() - t0

    def setUp(self):
        self.rss_case = proc.status_kib(self.ike.pid, "VmRSS")
        self.socket_before = self.socket_counters()

    def socket_counters(self):
        """status.status_socket: what the server's limits did (docs/control-protocol.md#limits)."""
        reply, _ = self.ask_status()
        return json.loads(reply)["status_socket"]

    def counted(self, key):
        """How much status.status_socket's `key` went up since the case began."""
        return self.socket_counters()[key] - self.socket_before[key]

    def served(self, what):
        """A new client answered within ANSWER_S, in full; memory within bounds. Its latency."""
        try:
            reply, took = self.ask_status()
        except OSError as e:
            self.fail("%s: a well-behaved client got no status: %s" % (what, e))
        answer = json.loads(reply)
        self.assertIs(answer.get("ok"), True, answer)
        self.assertEqual([t["name"] for t in answer["tunnels"]], ["t2"], answer)
        self.assertIs(answer["charon"]["connected"], False, answer)
        self.assert_memory(what)
        return took

    def figure(self, **kw):
        self.figures.setdefault(self._testMethodName, {}).update(kw)

    def assert_memory(self, what):
        self.assertIsNone(self.ike.poll(), "%s: espgw-ike exited" % what)
        rss = proc.status_kib(self.ike.pid, "VmRSS")
        peak = proc.status_kib(self.ike.pid, "VmHWM")
        seen = self.figures.get(self._testMethodName, {})
        self.figure(rss_max_kib=max(rss, seen.get("rss_max_kib", 0)), peak_kib=peak)
        for since, base in (("the case began", self.rss_case), ("it started", self.rss_start)):
            self.assertLess((rss - base) / 1024, GROWTH_MB, "%s: espgw-ike's resident memory grew "
                            "%d KiB since %s" % (what, rss - base, since))
        self.assertLess((peak - self.rss_start) / 1024, PEAK_MB, "%s: espgw-ike's peak resident "
                        "memory is %d KiB above its start" % (what, peak - self.rss_start))

    def test_thousands_of_idle_connections(self):
        fds0 = self.fds()
        n = self.idle
        idle = []
        try:
            t0 = time.monotonic()
            for _ in range(n):
                idle.append(connect(self.path, ANSWER_S))  # closed below, whatever happens
            connected_s = time.monotonic() - t0
            # Answered after espgw-ike accepted every earlier connection (one listen queue, in
            # order): each eviction has happened by then.
            took = self.served("%d idle connections" % n)
            states = [peer_closed(s) for s in idle]
            spoken = [i for i, st in enumerate(states) if st not in (True, False)]
            self.assertEqual(spoken, [], "idle connections that were sent something, first: %r" %
                             (states[spoken[0]] if spoken else None))
            still = [i for i, st in enumerate(states) if st is False]
            self.assertLessEqual(len(still), MAX_CLIENTS, "idle connections still open")
            # The status client took one slot and closed; every other slot is still ours.
            self.assertGreaterEqual(len(still), MAX_CLIENTS - 1, "idle connections still open")
            self.assertEqual(still, list(range(n - len(still), n)),
                             "the connections closed are not those idle longest")
            held = self.fds() - fds0
            # One more while espgw-ike happens to be trying charon's socket.
            self.assertLessEqual(held, MAX_CLIENTS + 1, "descriptors espgw-ike holds for clients")
            # Each connection closed to make room is counted; the status clients took slots too.
            self.assertGreaterEqual(self.counted("evicted"), n - len(still) - 1)
            self.assertLessEqual(self.counted("evicted"), n - len(still) + 2)
            self.figure(**{
                "connections": n, "connect_all_s": round(connected_s, 3),
                "status_s": round(took, 3), "still_open": len(still), "fds_held": held})
        finally:
            for s in idle:
                s.close()
        proc.wait_for("espgw-ike letting go of the connections we closed",
                      lambda: self.fds() <= fds0 + 1, ANSWER_S)
        self.served("after the idle connections closed")

    def test_a_request_line_that_never_ends(self):
        line = b"x" * (1 << 20)  # no newline, ever
        sent = 0
        t0 = time.monotonic()
        with connect(self.path, ANSWER_S) as s:
            s.settimeout(ANSWER_S)  # each send(): espgw-ike reads on, or closes
            try:
                while sent < LINE_OFFERED:
                    sent += s.send(line)
            except (BrokenPipeError, ConnectionResetError):
                pass
            except TimeoutError:
                self.fail("espgw-ike stopped reading a %d-byte line without closing it" % sent)
            took = time.monotonic() - t0
            self.assertLess(sent, LINE_OFFERED, "espgw-ike took a line of %d bytes" % sent)
            self.assertGreater(sent, MAX_REQUEST, "espgw-ike closed a line under the limit")
            self.assertLess(sent, MAX_REQUEST + LINE_SLACK,
                            "espgw-ike took %d bytes past the limit before it closed" %
                            (sent - MAX_REQUEST))
            s.settimeout(ANSWER_S)
            try:
                answer = s.recv(4096)
            except ConnectionResetError:
                answer = b""
            self.assertEqual(answer, b"", "the connection was answered, not closed unanswered")
        self.assertEqual(self.counted("too_large"), 1, "the line closed is not counted once")
        status_s = self.served("after a line of %d bytes" % sent)
        self.figure(**{
            "bytes_taken": sent, "past_limit": sent - MAX_REQUEST, "closed_after_s": round(took, 3),
            "status_s": round(status_s, 3)})

    def test_a_client_that_never_reads(self):
        burst = STATUS * 63 + UNKNOWN
        sent = bytearray()  # what went out, for the answers it must get
        pending = burst
        with connect(self.path, ANSWER_S) as s:
            s.setblocking(False)
            # Requests until the socket stays full for STALL_S: espgw-ike no longer reads them.
            deadline = time.monotonic() + 4 * ANSWER_S
            while True:
                if time.monotonic() >= deadline:
                    self.fail("espgw-ike went on reading requests (%d bytes) whose answers were "
                              "never read" % len(sent))
                try:
                    n = s.send(pending)
                    sent += pending[:n]
                    pending = pending[n:] or burst
                    continue
                except BlockingIOError:
                    pass
                _, writable, _ = select.select([], [s], [], STALL_S)
                if not writable:
                    break
            asked = bytes(sent).split(b"\n")[:-1]  # whole lines; a cut one is never answered
            self.assertGreater(len(asked), 0, "not one request went out")
            # Others are served meanwhile; what espgw-ike holds for it stays within bounds.
            took = self.served("a client with %d requests unanswered" % len(asked))
            # It reads now: every request is answered, whole, in order, then end of file.
            s.shutdown(socket.SHUT_WR)
            t0 = time.monotonic()
            got = bytearray()
            while True:
                left = t0 + 4 * ANSWER_S - time.monotonic()
                if left <= 0:
                    self.fail("only %d bytes of answers in %g s" % (len(got), 4 * ANSWER_S))
                if select.select([s], [], [], left)[0]:
                    part = s.recv(1 << 20)
                    if not part:
                        break
                    got += part
            read_s = time.monotonic() - t0
        self.assertTrue(got.endswith(b"\n"), "the last answer is cut: %r" % bytes(got[-80:]))
        lines = bytes(got).split(b"\n")[:-1]
        self.assertEqual(len(lines), len(asked), "answers for %d requests" % len(asked))
        answers = [json.loads(line) for line in lines]
        self.assertEqual([a.get("ok") for a in answers], [r + b"\n" == STATUS for r in asked],
                         "the answers are not those of the requests, in order")
        # The same status each time, but for the socket's own counters.
        statuses = {json.dumps(dict(a, status_socket=None), sort_keys=True)
                    for a in answers if a["ok"]}
        self.assertEqual(len(statuses), 1, "the status answers differ")
        self.assertEqual([t["name"] for t in answers[0]["tunnels"]], ["t2"], answers[0])
        self.served("after the client read its answers")
        self.figure(**{
            "requests": len(asked), "request_bytes": len(sent), "answer_bytes": len(got),
            "status_meanwhile_s": round(took, 3), "read_all_s": round(read_s, 3)})

def main():
    global ESPGW_IKE
    ap = argparse.ArgumentParser()
    ap.add_argument("--espgw-ike", required=True)
    args, rest = ap.parse_known_args()
    ESPGW_IKE = args.espgw_ike
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
