"""A small client of DPDK's telemetry socket (/var/run/dpdk/PREFIX/dpdk_telemetry.v2,
SOCK_SEQPACKET), and a TestCase base with one espgw and that client, for the tests that compare
espgw's /espgw/* commands with the control socket."""

import json
import os
import socket
import unittest


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


class GatewayCase(unittest.TestCase):
    """Tests of one espgw and its telemetry: setUpClass starts cls.gw (from gateway(), which the
    subclass defines), waits for its `packets`, opens cls.tel; at the end both are closed and no
    key may appear in anything either of them showed."""

    packets = 0

    @classmethod
    def gateway(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.gw = cls.gateway()
        cls.addClassCleanup(cls.gw.cleanup)
        cls.addClassCleanup(cls.gw.close)
        cls.gw.start()
        cls.gw.wait_packets(cls.packets)
        cls.tel = TelemetryClient(cls.gw.prefix)
        cls.addClassCleanup(cls.tel.close)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.gw.assert_no_key_material(cls.tel.texts)
