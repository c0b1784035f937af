#!/usr/bin/env python3
"""A hostile local client of the control socket (docs/control-protocol.md#limits), against a real
espgw. Each case ends with an ordinary request answered at once and espgw's resident memory grown
by less than GROWTH_MB, and each outcome counted in status.control_socket:

- thousands of idle connections: at most 256 stay open, the one idle longest is closed for each
  new one (evicted), and a new client is served;
- a 1 GiB request line: the connection is closed once the line passes 16 MiB (too_large), after
  far less than 1 GiB was taken;
- a client that sends requests and never reads the answers: espgw stops reading from it once 1 MiB
  of answers waits, serves the others meanwhile, and answers it in full when it reads;
- a client that leaves mid-transaction: half a request line changes nothing; a whole one whose
  sender closed before the answer is applied whole, once.

Run by meson: test_hostile_client.py ESPGW ESPGWCTL.
"""

import json
import os
import resource
import socket
import time
import unittest

from control import ctl_harness as h
from labkit.control import send_until_closed
from labkit.proc import status_kib

ESPGW, ESPGWCTL = h.main_args()
MAX_CLIENTS = 256  # protocol/line_server.h
GROWTH_MB = 80
if os.environ.get("ESPGW_SANITIZER_RUNTIME"):
    # Under AddressSanitizer (meson test --setup sanitize) freed memory waits in its quarantine
    # (256 MiB by default) before it is reused: the bound is the main build's, plus that.
    GROWTH_MB += 256
ANSWER_S = 5  # an ordinary request, answered while the hostile client is at it


def rss_mb(pid):
    return status_kib(pid) / 1024


class HostileClient(h.GatewayTest):
    ESPGW, ESPGWCTL, NAME = ESPGW, ESPGWCTL, "hostile"

    def setUp(self):
        self.rss0 = rss_mb(self.gw.proc.pid)

    def served(self):
        """A new client's status request answered within ANSWER_S; the control socket's counters."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(ANSWER_S)
        deadline = time.monotonic() + ANSWER_S
        try:
            while True:
                try:
                    s.connect(self.gw.socket)
                    break
                except BlockingIOError:
                    # The listen queue is full of the flood's connections (a socket with a
                    # timeout does not wait for room): espgw takes them in turn; try again.
                    self.assertLess(time.monotonic(), deadline, "no room to connect in time")
                    time.sleep(0.01)
            s.sendall(b'{"cmd": "status"}\n')
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                self.assertTrue(chunk, "espgw closed an ordinary client")
                buf += chunk
        finally:
            s.close()
        resp = json.loads(buf)
        self.assertTrue(resp["ok"], resp)
        grown = rss_mb(self.gw.proc.pid) - self.rss0
        self.assertLess(grown, GROWTH_MB, f"espgw's resident memory grew {grown:.0f} MiB")
        return resp["control_socket"]

    def test_thousands_of_idle_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 4096)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        n = min(2000, want - 100)
        before = self.served()
        idle = []
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.gw.socket)
                idle.append(s)
            after = self.served()
            self.assertLessEqual(after["clients"], MAX_CLIENTS)
            self.assertGreaterEqual(after["evicted"] - before["evicted"], n - MAX_CLIENTS)
            self.assertEqual(after["refused"], before["refused"])
            # The oldest were closed: reading one gives end of file at once.
            idle[0].settimeout(ANSWER_S)
            self.assertEqual(idle[0].recv(10), b"")
        finally:
            for s in idle:
                s.close()

    def test_a_request_of_1_gib(self):
        before = self.served()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(ANSWER_S)
        s.connect(self.gw.socket)
        try:
            sent = send_until_closed(s)
        finally:
            s.close()
        self.assertLess(sent, 64 << 20, "espgw kept taking the line")
        after = self.served()
        self.assertEqual(after["too_large"], before["too_large"] + 1)

    def test_a_client_that_never_reads(self):
        before = self.served()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.gw.socket)
        s.setblocking(False)
        request = b'{"cmd": "status"}\n'
        sent = 0
        deadline = time.monotonic() + ANSWER_S
        # Requests until the socket is full: espgw no longer reads them.
        while time.monotonic() < deadline:
            try:
                sent += s.send(request * 64)
            except BlockingIOError:
                break
        else:
            self.fail(f"espgw read {sent} bytes of requests it could not answer")
        after = self.served()
        self.assertEqual(after["clients"], before["clients"] + 1)
        # Read now: every request sent is answered, in order.
        s.setblocking(True)
        s.settimeout(ANSWER_S * 4)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        s.close()
        answers = buf.count(b"\n")
        self.assertEqual(answers, sent // len(request))
        self.assertTrue(json.loads(buf.split(b"\n", 1)[0])["ok"])

    def test_a_client_that_leaves_mid_transaction(self):
        before = self.gw.request({"cmd": "status"})["generation"]
        routes = len(self.gw.request({"cmd": "routes"})["routes"])
        prefixes = [f"10.{i >> 8}.{i & 255}.0/24" for i in range(20000)]
        line = json.dumps({"cmd": "apply", "ops": [
            {"op": "route-add-many", "prefixes": prefixes, "interface": "wan",
             "via": "198.51.100.254"}]}).encode() + b"\n"
        # Half a request, then gone: nothing is applied.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.gw.socket)
        s.sendall(line[:len(line) // 2])
        s.close()
        # A whole request, gone before its answer: applied whole, once.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.gw.socket)
        s.sendall(line)
        s.close()
        deadline = time.monotonic() + 30
        while self.gw.request({"cmd": "status"})["generation"] == before:
            self.assertLess(time.monotonic(), deadline, "the transaction never applied")
            time.sleep(0.05)  # polling the generation, bounded
        self.assertEqual(self.gw.request({"cmd": "status"})["generation"], before + 1)
        self.assertEqual(len(self.gw.request({"cmd": "routes"})["routes"]), routes + 20000)
        self.served()
        self.assertTrue(self.gw.request({"cmd": "apply", "ops": [
            {"op": "route-del", "prefix": p} for p in prefixes]})["ok"])


if __name__ == "__main__":
    unittest.main()
