"""A small client of DPDK's telemetry socket (/var/run/dpdk/PREFIX/dpdk_telemetry.v2,
SOCK_SEQPACKET), and a TestCase base with one espgw and that client, for the tests that compare
espgw's /espgw/* commands with the control socket."""

import json
import os
import socket

from control import ctl_harness


class TelemetryClient:
    def __init__(self, prefix):
        self.path = os.path.join("/var/run/dpdk", prefix, "dpdk_telemetry.v2")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(30)
        self.sock.connect(self.path)
        hello = json.loads(self.sock.recv(4096))
        self.max_len = hello["max_output_len"]
        self.texts = []  # every answer, for the key check

    def query(self, cmd):
        self.sock.send(cmd.encode())
        text = self.sock.recv(self.max_len).decode()
        self.texts.append(text)
        return json.loads(text)[cmd.split(",")[0]]

    def close(self):
        self.sock.close()


class GatewayCase(ctl_harness.GatewayTest):
    """A GatewayTest with a client of its espgw's telemetry, cls.tel, opened once espgw has handled
    its PACKETS; no key may appear in any answer of it either."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tel = TelemetryClient(cls.gw.prefix)
        cls.addClassCleanup(cls.tel.close)

    @classmethod
    def seen(cls):
        return cls.tel.texts
