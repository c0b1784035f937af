#!/usr/bin/env python3
"""DPDK telemetry: espgw registers /espgw/ports, /espgw/workers, /espgw/drops, /espgw/sas[,SPI],
/espgw/tunnels and /espgw/peers, and they report what the control socket reports (the peers of
a config with two tunnels to one peer: test_peers.py).

Queried with DPDK's own client, /usr/bin/dpdk-telemetry.py, where installed, and always with a
small client of the telemetry socket (/var/run/dpdk/PREFIX/dpdk_telemetry.v2, SOCK_SEQPACKET).
The traffic (LAN_PACKETS packets into tunnel "east") has ended before anything is compared, so the
counters stand still; the loop counters of the workers keep going and are left out.

Run by meson: test_telemetry.py ESPGW ESPGWCTL.
"""

import json
import os
import socket
import subprocess
import threading
import time
import unittest

from control import ctl_harness as h
from control.telemetry_client import GatewayCase

ESPGW, ESPGWCTL = h.main_args()
DPDK_TELEMETRY = "/usr/bin/dpdk-telemetry.py"
COMMANDS = ["/espgw/ports", "/espgw/workers", "/espgw/drops", "/espgw/sas", "/espgw/tunnels",
            "/espgw/peers"]
MOVING = {"loops", "busy_loops", "busy_percent", "busy_tsc", "total_tsc"}  # an idle worker still loops


def as_telemetry_sa(sa):
    """An SA of the control socket as /espgw/sas shows it: booleans as 0/1, drops flattened."""
    flat = {k: (int(v) if isinstance(v, bool) else v) for k, v in sa.items() if k != "drops"}
    for reason, n in sa["drops"].items():
        flat["drop_" + reason] = n
    return flat


class Telemetry(GatewayCase):
    ESPGW, ESPGWCTL, NAME = ESPGW, ESPGWCTL, "tel"
    TRAFFIC, PACKETS = True, h.LAN_PACKETS

    def test_lists_espgw_commands(self):
        listed = self.tel.query("/")
        self.assertTrue(set(COMMANDS) <= set(listed), listed)
        self.assertEqual(self.tel.query("/help,/espgw/sas"),
                         {"/espgw/sas": "Per-SA counters. Parameters: SPI (optional, e.g. 0x1000)"})

    def test_ports_match(self):
        ctl = self.gw.ctl_json("show", "ports")["ports"]
        self.assertEqual(ctl["lan"]["rx_packets"], h.LAN_PACKETS)
        self.assertEqual(self.tel.query("/espgw/ports"), ctl)

    def test_workers_match(self):
        strip = lambda ws: {w: {k: v for k, v in c.items() if k not in MOVING}
                            for w, c in ws.items()}
        ctl = self.gw.ctl_json("show", "workers")["workers"]
        tel = self.tel.query("/espgw/workers")
        self.assertEqual(strip(tel), strip(ctl))
        self.assertEqual(tel["0"]["packets"], h.LAN_PACKETS)
        self.assertTrue(MOVING <= set(tel["0"]))

    def test_drops_match(self):
        self.assertEqual(self.tel.query("/espgw/drops"), self.gw.ctl_json("show", "drops")["drops"])

    def test_sas_match(self):
        ctl = self.gw.ctl_json("show", "sas")["sas"]
        tel = self.tel.query("/espgw/sas")
        self.assertEqual(tel, {f"{s['direction']}_{s['spi']}": as_telemetry_sa(s) for s in ctl})
        self.assertEqual(tel["out_0x00001001"]["packets"], h.LAN_PACKETS)
        one = self.tel.query("/espgw/sas,0x1001")
        self.assertEqual(list(one), ["out_0x00001001"])
        self.assertEqual(one["out_0x00001001"], tel["out_0x00001001"])
        self.assertEqual(self.tel.query("/espgw/sas,4097"), one)

    def test_tunnels_match(self):
        ctl = self.gw.ctl_json("show", "tunnels")["tunnels"]
        # Telemetry carries a tunnel's scalars: not its CIDR lists nor its lanes.
        expect = {t["name"]: {k: v for k, v in t.items() if not k.endswith("_cidrs") and k != "lanes"}
                  for t in ctl}
        self.assertEqual(self.tel.query("/espgw/tunnels"), expect)

    def test_follows_changes(self):
        key = h.test_key("tel added", 20)
        self.gw.keys.append(key)
        self.gw.ctl("sa", "add", "east", "in", "0x3001", "aes128gcm16", key)
        self.assertIn("in_0x00003001", self.tel.query("/espgw/sas"))
        self.gw.ctl("sa", "del", "in", "0x3001")
        self.assertNotIn("in_0x00003001", self.tel.query("/espgw/sas"))

    @unittest.skipUnless(os.access(DPDK_TELEMETRY, os.X_OK), "DPDK's dpdk-telemetry.py missing")
    def test_dpdk_telemetry_py(self):
        p = subprocess.run([DPDK_TELEMETRY, "-f", self.gw.prefix],
                           input="".join(c + "\n" for c in ["/"] + COMMANDS),
                           capture_output=True, text=True, timeout=60)
        self.tel.texts += [p.stdout, p.stderr]
        self.assertEqual(p.returncode, 0, p.stderr)
        replies = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        self.assertEqual(len(replies), 1 + len(COMMANDS), p.stdout)
        self.assertTrue(set(COMMANDS) <= set(replies[0]["/"]))
        by_cmd = {list(r)[0]: list(r.values())[0] for r in replies[1:]}
        self.assertEqual(by_cmd["/espgw/ports"], self.gw.ctl_json("show", "ports")["ports"])
        self.assertEqual(by_cmd["/espgw/drops"], self.gw.ctl_json("show", "drops")["drops"])
        self.assertEqual(by_cmd["/espgw/sas"],
                         {f"{s['direction']}_{s['spi']}": as_telemetry_sa(s)
                          for s in self.gw.ctl_json("show", "sas")["sas"]})
        self.assertEqual(set(by_cmd["/espgw/tunnels"]), {"east"})
        self.assertEqual(by_cmd["/espgw/workers"]["0"]["packets"], h.LAN_PACKETS)


class TelemetryAtStop(unittest.TestCase):
    def test_stop_while_telemetry_is_queried(self):
        """Clients that keep asking while espgw stops get answers or a closed socket; espgw still
        exits 0 (its telemetry callbacks once used the App while it was being destroyed)."""
        for attempt in range(3):
            with self.subTest(attempt=attempt), h.Gateway(ESPGW, ESPGWCTL, "telstop") as gw:
                path = os.path.join("/var/run/dpdk", gw.prefix, "dpdk_telemetry.v2")
                done = threading.Event()
                answers = []

                def ask():
                    while not done.is_set():
                        try:
                            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                                s.settimeout(5)
                                s.connect(path)
                                s.recv(4096)
                                while not done.is_set():
                                    s.send(b"/espgw/sas")
                                    if not s.recv(65536):
                                        break
                                    answers.append(1)
                        except OSError:
                            if not os.path.exists(path):
                                return
                threads = [threading.Thread(target=ask) for _ in range(3)]
                for t in threads:
                    t.start()
                try:
                    deadline = time.monotonic() + h.START_TIMEOUT_S
                    while not answers and time.monotonic() < deadline:
                        time.sleep(0.01)  # until the clients are being answered, bounded
                    self.assertTrue(answers, "telemetry never answered")
                    gw.ctl("stop")
                    self.assertEqual(gw.wait_exit(), 0, gw.output())
                finally:
                    done.set()
                    for t in threads:
                        t.join()


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
