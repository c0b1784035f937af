#!/usr/bin/env python3
"""espgw-exporter's HTTP server (metrics/http_server.h) under a hostile local client, with the real
exporter binary and no espgw (espgw_up 0 is still an HTTP 200 answer). Each case starts a fresh
exporter; while the hostile client is at it, scrapes by another client each answer 200 within
SCRAPE_S, and each outcome is counted in espgw_exporter_http_connections_total{outcome}:

- 2000 idle connections, all held: 20 scrapes answered in time, the exporter's resident memory
  grown by less than GROWTH_MIB and at most MAX_CONNECTIONS + SPARE_FDS descriptors open; the
  oldest idle connection was closed (evicted) to make room for newer ones;
- a client sending 1 GiB of request head without a blank line: answered 431 or closed after far
  less than that (too_large), resident memory as above;
- a client that sends GET /metrics with a small receive buffer and never reads a large answer
  (a stand-in espgw-ike reports some 2,000 long-named tunnels for that one request): others are
  served while it is held, and the exporter closes it DEADLINE_S after its answer began (timeout);
- a slowloris client sending one byte every 100 ms: closed by the DEADLINE_S deadline with 408 or
  a close (timeout), scrapes served meanwhile.

Run by meson: test_exporter_hostile.py ESPGW ESPGWCTL EXPORTER (espgw is not started).
"""

import json
import os
import resource
import select
import shutil
import socket
import tempfile
import threading
import time
import unittest

import prom_parse as pp
from labkit.control import send_until_closed
from labkit.proc import open_fds, status_kib, wait_for
from metrics import exporter_kit as kit

ESPGW, ESPGWCTL, EXPORTER = kit.main_args()
MAX_CONNECTIONS = 64  # kMaxConnections, metrics/http_server.h
SPARE_FDS = 8  # the exporter's own: stdio, the listening socket, a scrape's sockets
DEADLINE_S = 5  # kIoTimeoutMs, metrics/http_server.cpp
IDLE = 2000
SCRAPES = 20
SCRAPE_S = 1.0
GROWTH_MIB = 16
HTTP = "espgw_exporter_http_connections_total"


def big_tunnels(name_len):
    """Tunnels of names name_len long whose series (3 a tunnel) come to one and a half times the
    most a TCP send buffer grows to (tcp_wmem's maximum): more than the socket buffers hold."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
    except (OSError, IndexError, ValueError):
        wmem_max = 4 << 20
    return wmem_max * 3 // 2 // (3 * name_len) + 1


BIG_NAME = 1000
BIG_TUNNELS = big_tunnels(BIG_NAME)  # 2098 with Linux's default 4 MiB: about 6 MiB of series


def status_mib(pid, field):
    """A memory figure of /proc/PID/status (VmRSS, VmHWM) in MiB."""
    return status_kib(pid, field) / 1024


def rss_mib(pid):
    return status_mib(pid, "VmRSS")


class FakeIke(kit.FakeIke):
    """espgw-ike's status socket: a small status, or once after arm() a large one."""

    def __init__(self, path):
        super().__init__(path)
        self.big = threading.Event()  # armed: the next answer is the large one
        self.big_sent = threading.Event()
        self.sending_big = False
        tunnels = [{"name": f"{i:06d}-" + "t" * BIG_NAME, "state": "ESTABLISHED",
                    "ike_sas": [{"child_sas": [{"state": "INSTALLED", "expires_in_s": 3000}]}]}
                   for i in range(BIG_TUNNELS)]
        self.big_status = json.dumps({"ok": True, "tunnels": tunnels}).encode() + b"\n"

    def arm(self):
        self.big_sent.clear()
        self.big.set()

    def answer(self, request):
        self.sending_big = self.big.is_set()
        self.big.clear()
        return self.big_status if self.sending_big else b'{"ok": true, "tunnels": []}\n'

    def answered(self):
        if self.sending_big:
            self.big_sent.set()


class ExporterHostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, IDLE + 1000)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        cls.idle = min(IDLE, want - 200)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="espgw-exporter-hostile-")
        self.control = os.path.join(self.dir, "no-espgw.sock")  # nothing there: espgw_up 0
        self.ike = os.path.join(self.dir, "espgw-ike.sock")
        self.proc, self.port = kit.start_exporter(EXPORTER, self.control, self.ike)
        self.pid = self.proc.pid
        self.figures = {}

    def tearDown(self):
        kit.stop_exporter(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
        print(f"\n  {self._testMethodName}: {json.dumps(self.figures, sort_keys=True)}",
              flush=True)

    def get(self, timeout):
        """GET /metrics on a new connection: (status, body, seconds), or None when the whole
        exchange (connect, request, answer to its end) took longer than `timeout`."""
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while True:
                    left = t0 + timeout - time.monotonic()
                    if left <= 0:
                        return None
                    s.settimeout(left)
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    data += chunk
        except (socket.timeout, TimeoutError):
            return None
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), body.decode(), time.monotonic() - t0

    def scrape(self, what, timeout=SCRAPE_S):
        """A scrape that must answer 200 within `timeout`: (series, seconds)."""
        got = self.get(timeout)
        self.assertIsNotNone(got, f"no answer to a scrape within {timeout:g} s {what}")
        status, body, took = got
        self.assertEqual(status, 200, body)
        return pp.parse(body), took

    def counters(self, timeout=10):
        s, _ = self.scrape("for the counters", timeout)
        out = {k[0][1]: v for k, v in pp.family(s, HTTP).items()}
        out["accepted"] = pp.value(s, "espgw_exporter_http_connections_accepted_total")
        out["open"] = pp.value(s, "espgw_exporter_http_connections_open")
        return out

    def scrapes(self, what, n=SCRAPES):
        """n successive scrapes, each within SCRAPE_S; their latencies."""
        times = []
        for i in range(n):
            _, took = self.scrape(f"(scrape {i + 1} of {n}, {what})")
            times.append(took)
        return times

    def latency_figures(self, name, times):
        self.figures[name] = {"n": len(times), "max_ms": round(max(times) * 1000, 1),
                              "median_ms": round(sorted(times)[len(times) // 2] * 1000, 1)}

    def test_idle_connections(self):
        before = self.counters()
        rss0 = rss_mib(self.pid)
        idle = []
        refused = None
        try:
            for i in range(self.idle):
                try:
                    idle.append(socket.create_connection(("127.0.0.1", self.port), timeout=2))
                except (socket.timeout, TimeoutError):
                    refused = i  # not accepted for 2 s: the exporter is stuck
                    break
            held = len(idle)
            times = self.scrapes(f"while {held} idle connections are held")
            fds = open_fds(self.pid)
            grown = rss_mib(self.pid) - rss0
            self.assertIsNone(refused, f"connection {refused} not accepted within 2 s")
            self.assertEqual(held, self.idle)
            self.latency_figures("scrapes", times)
            self.figures.update(idle=held, fds=fds, rss_before_mib=round(rss0, 1),
                                rss_growth_mib=round(grown, 2))
            self.assertLess(grown, GROWTH_MIB, f"resident memory grew {grown:.1f} MiB")
            self.assertLessEqual(fds, MAX_CONNECTIONS + SPARE_FDS)
            # The oldest idle connection was closed, unanswered.
            idle[0].settimeout(5)
            self.assertEqual(idle[0].recv(10), b"")
            after = self.counters()
        finally:
            for s in idle:
                s.close()
        self.figures["counters"] = after
        self.assertGreater(after["evicted"], before["evicted"])
        # Each idle connection beyond the capacity was evicted, or timed out on a slow machine.
        self.assertGreaterEqual(after["evicted"] + after["timeout"] - before["evicted"]
                                - before["timeout"], self.idle - MAX_CONNECTIONS)
        self.assertGreaterEqual(after["accepted"] - before["accepted"], self.idle)
        self.assertLessEqual(after["open"], MAX_CONNECTIONS)

    def test_a_head_of_1_gib(self):
        before = self.counters()
        rss0 = rss_mib(self.pid)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sent = send_until_closed(s)
        answer = b""
        try:
            answer = s.recv(100)
        except ConnectionResetError:
            pass
        finally:
            s.close()
        grown = rss_mib(self.pid) - rss0
        after = self.counters()
        self.figures.update(sent_mib=round(sent / (1 << 20), 1), answer=answer[:12].decode(),
                            rss_growth_mib=round(grown, 2), counters=after)
        self.assertLess(sent, 64 << 20, "the exporter kept taking the head")
        self.assertIn(answer[:12], (b"", b"HTTP/1.1 431"))
        self.assertLess(grown, GROWTH_MIB, f"resident memory grew {grown:.1f} MiB")
        self.assertEqual(after["too_large"], before["too_large"] + 1)
        self.scrapes("after the 1 GiB head")

    def test_a_client_that_never_reads(self):
        ike = FakeIke(self.ike).start()
        try:
            before = self.counters()
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            try:
                s.connect(("127.0.0.1", self.port))
                ike.arm()
                t0 = time.monotonic()
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(ike.big_sent.wait(10), "the exporter did not ask espgw-ike")
                # Its answer is made in the handler, synchronously (metrics/http_server.h): the
                # first scrape after it may wait for that; the hold starts once it is made.
                held = self.counters()
                made_s = time.monotonic() - t0
                self.assertEqual(held["timeout"], before["timeout"])
                self.assertEqual(held["open"], 2)  # it, and this scrape
                times = self.scrapes("while a client does not read its answer")
                self.assertLess(time.monotonic() - t0, DEADLINE_S, "too slow to hold it")
                self.latency_figures("scrapes", times)
                after = wait_for("the exporter to close the client that does not read",
                                 lambda: (lambda c: c if c["timeout"] > before["timeout"]
                                          else None)(self.counters()), DEADLINE_S + 10,
                                 interval=0.2)
                closed_s = time.monotonic() - t0
                # What it had taken before the close, then end of file or a reset.
                got = 0
                try:
                    while True:
                        chunk = s.recv(1 << 20)
                        if not chunk:
                            break
                        got += len(chunk)
                except ConnectionResetError:
                    pass
            finally:
                s.close()
            self.figures.update(answer_made_s=round(made_s, 2), closed_after_s=round(closed_s, 2),
                                received_mib=round(got / (1 << 20), 2), counters=after,
                                rss_peak_mib=round(status_mib(self.pid, "VmHWM"), 1))
            self.assertEqual(after["timeout"], before["timeout"] + 1)
            self.assertGreaterEqual(after["answered"], before["answered"] + SCRAPES + 1)
            self.assertEqual(after["closed_by_client"], before["closed_by_client"])
            self.assertLess(got, BIG_TUNNELS * BIG_NAME * 3, "it took the whole answer")
        finally:
            ike.stop()

    def test_slowloris(self):
        before = self.counters()
        result = {}

        def slow():
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            t0 = time.monotonic()
            request = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 1000
            answer = b""
            try:
                for i in range(len(request)):
                    s.send(request[i:i + 1])
                    # One byte per 100 ms, until the exporter answers or closes.
                    if select.select([s], [], [], 0.1)[0]:
                        while True:
                            chunk = s.recv(4096)
                            if not chunk:
                                break
                            answer += chunk
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                s.close()
            result.update(closed_s=time.monotonic() - t0, answer=answer)

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        times = []
        deadline = time.monotonic() + DEADLINE_S + 10
        while t.is_alive() and time.monotonic() < deadline:
            _, took = self.scrape("while a slowloris client sends")
            times.append(took)
            t.join(0.1)
        t.join(1)
        self.assertFalse(t.is_alive(), "the slowloris client was never closed")
        after = self.counters()
        self.latency_figures("scrapes", times)
        self.figures.update(closed_after_s=round(result["closed_s"], 2),
                            answer=result["answer"][:12].decode(), counters=after)
        self.assertGreaterEqual(result["closed_s"], DEADLINE_S - 0.5)
        self.assertLess(result["closed_s"], DEADLINE_S + 2)
        self.assertIn(result["answer"][:12], (b"", b"HTTP/1.1 408"))
        self.assertEqual(after["timeout"], before["timeout"] + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
