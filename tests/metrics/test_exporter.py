#!/usr/bin/env python3
"""espgw-exporter against a real espgw (tests/control/ctl_harness.py: net_pcap ports, a static-SA
tunnel "east", 5 packets pushed into it) and a stand-in for espgw-ike's status socket.

What it proves:
  - Before espgw runs and after it stopped, /metrics answers 200 with espgw_up 0.
  - While it runs, every per-SA (spi, direction, tunnel, algorithm), per-port, per-worker and
    drop counter equals what the control socket's `all` reports; tunnel "east" is up, and down
    once its outbound SA is deleted.
  - Peer "vpn" of tunnels vpn1 and vpn2 (tests/control/peer_config.py): vpn1 active, vpn2 not,
    no moves, since as `all` says; once vpn1's outbound SA is deleted, vpn2 active, one move,
    since no earlier than the deletion.
  - espgw_build_info: the exporter's own version and commit (as its --version says), espgw's
    from its status (as espgw --version says), espgw-ike's from its status.
  - espgw-ike's status becomes espgw_ike_* metrics (state per tunnel, established, CHILD_SAs),
    label values with quotes, backslashes and newlines escaped; without the socket espgw_ike_up 0.
  - Every answer is valid exposition format (prom_parse.py: HELP/TYPE per family, *_total
    counters, escapes, no series twice); no key material appears in any of it.
  - HTTP: HEAD, 404, 405 with Allow, 400 for garbage, 505 for another HTTP version.
  - Lanes: a flooded espgw (ctl_harness.flood) with tunnel "wide" of 4 lanes, an outbound SA per
    lane given by sa-add "lane" over the control socket: espgw_lane_up and the per-direction
    espgw_lane_packets_total / _bytes_total of each lane lie between two `tunnels` answers
    taken around the scrape, packets out > 0 on every lane; lane 2 without its SA is down (0);
    the one-lane tunnel "east" has no lane series; espgw_lane_series_omitted 0.

Run by meson: test_exporter.py ESPGW ESPGWCTL EXPORTER.
"""

import json
import os
import shutil
import socket
import tempfile
import time
import unittest

import re
import subprocess

import prom_parse as pp
from control import ctl_harness as h
from control import peer_config as pc
from labkit.proc import wait_for
from metrics import exporter_kit as kit

ESPGW, ESPGWCTL, EXPORTER = kit.main_args()


def version_of(binary):
    """(version, commit) from BINARY --version ("NAME VERSION (commit COMMIT)")."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.fullmatch(r"\S+ (\S+) \(commit (\S+)\)\n", out)
    assert m, out
    return m.group(1), m.group(2)

IKE_STATUS = {
    "ok": True,
    "espgw_ike": {"version": "9.8.7", "commit": "0123456789ab"},
    "charon": {"connected": True, "socket": "/run/espgw/charon.vici"},
    "tunnels": [
        {"name": "east", "state": "ESTABLISHED", "ike_sas": [
            {"state": "ESTABLISHED", "child_sas": [{"state": "INSTALLED", "expires_in_s": 3240},
                                           {"state": "REKEYED", "expires_in_s": 9000}]}]},
        {"name": "west", "state": 'odd "state"\\with\nnewline', "ike_sas": []},
    ],
    "other_ike_sas": [],
}


class FakeIke(kit.FakeIke):
    """Answers {"cmd": "status"} on a Unix socket as espgw-ike would."""

    def answer(self, request):
        return json.dumps(IKE_STATUS).encode() + b"\n" if request.get("cmd") == "status" else None


class Exporter(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="espgw-exporter-test-")
        cls.control = os.path.join(cls.dir, "run", "espgw.sock")
        cls.ike = os.path.join(cls.dir, "espgw-ike.sock")
        cls.proc, cls.port = kit.start_exporter(EXPORTER, cls.control, cls.ike)
        cls.texts = []

    @classmethod
    def tearDownClass(cls):
        kit.stop_exporter(cls.proc)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def http(self, raw):
        with socket.create_connection(("127.0.0.1", self.port), timeout=15) as s:
            s.sendall(raw)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = dict(l.split(": ", 1) for l in lines[1:])
        return status, headers, body.decode()

    def scrape(self):
        status, headers, body = self.http(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(int(headers["Content-Length"]), len(body.encode()))
        self.texts.append(body)
        return pp.parse(body)

    def test_1_espgw_down(self):
        s = self.scrape()
        self.assertEqual(pp.value(s, "espgw_up"), 0)
        self.assertEqual(pp.value(s, "espgw_ike_up"), 0)
        self.assertEqual(pp.family(s, "espgw_sa_packets_total"), {})
        # Only the exporter's own build, as its --version says.
        version, commit = version_of(EXPORTER)
        self.assertEqual(pp.family(s, "espgw_build_info"),
                         {(("binary", "espgw-exporter"), ("commit", commit),
                           ("version", version)): 1})

    def test_2_espgw_running(self):
        gw = h.Gateway(ESPGW, ESPGWCTL, "exporter", traffic=True, socket_path=self.control)
        pc.add_peer(gw)
        try:
            gw.start()
            gw.wait_packets(h.LAN_PACKETS)
            s = self.scrape()
            all_ = gw.request({"cmd": "all"})
            self.assertEqual(pp.value(s, "espgw_up"), 1)
            self.assertEqual(pp.value(s, "espgw_info", version=all_["status"]["version"],
                                      commit=all_["status"]["commit"],
                                      crypto=all_["status"]["crypto"]), 1)
            # espgw's build as its --version says, beside the exporter's (the same build).
            version, commit = version_of(ESPGW)
            self.assertEqual((all_["status"]["version"], all_["status"]["commit"]),
                             (version, commit))
            self.assertEqual(pp.value(s, "espgw_build_info", binary="espgw", version=version,
                                      commit=commit), 1)
            self.assertEqual(version_of(EXPORTER), (version, commit))
            for sa in all_["sas"]:
                labels = {"spi": sa["spi"], "direction": sa["direction"], "tunnel": sa["tunnel"],
                          "algorithm": sa["algorithm"]}
                self.assertEqual(pp.value(s, "espgw_sa_packets_total", **labels), sa["packets"])
                self.assertEqual(pp.value(s, "espgw_sa_bytes_total", **labels), sa["bytes"])
                for reason, n in sa["drops"].items():
                    self.assertEqual(pp.value(s, "espgw_sa_drops_total", reason=reason, **labels), n)
            out = {"spi": "0x00001001", "direction": "out", "tunnel": "east",
                   "algorithm": "aes128gcm16"}
            self.assertEqual(pp.value(s, "espgw_sa_packets_total", **out), h.LAN_PACKETS)
            self.assertEqual(pp.value(s, "espgw_sa_in_use", **out), 1)
            # Sequence numbers used of the 2^32 (no ESN), as `sas` said when the scrape began.
            sent = next(x for x in all_["sas"] if x["spi"] == out["spi"] and x["direction"] == "out")
            self.assertFalse(sent["esn"])
            self.assertEqual(pp.value(s, "espgw_sa_lifetime_used_ratio", limit="sequence", **out),
                             (sent["next_seq"] - 1) / (2**32 - 1))
            fields = {"rx_packets": "espgw_port_rx_packets_total",
                      "rx_bytes": "espgw_port_rx_bytes_total",
                      "tx_packets": "espgw_port_tx_packets_total",
                      "tx_bytes": "espgw_port_tx_bytes_total",
                      "to_kernel": "espgw_port_to_kernel_packets_total",
                      "from_kernel": "espgw_port_from_kernel_packets_total",
                      "nic_rx_missed": "espgw_port_nic_rx_missed_packets_total"}
            for port, c in all_["ports"].items():
                for key, metric in fields.items():
                    self.assertEqual(pp.value(s, metric, interface=port), c[key], (port, key))
            self.assertEqual(pp.value(s, "espgw_port_rx_packets_total", interface="lan"),
                             h.LAN_PACKETS)
            for reason, n in all_["drops"].items():
                self.assertEqual(pp.value(s, "espgw_drops_total", reason=reason), n, reason)
            for w, c in all_["workers"].items():
                l = {"worker": w, "lcore": str(c["lcore"])}
                self.assertEqual(pp.value(s, "espgw_worker_packets_total", **l), c["packets"])
                ratio = pp.value(s, "espgw_worker_busy_ratio", **l)
                self.assertTrue(0 <= ratio <= 1, ratio)
            self.assertEqual(pp.value(s, "espgw_tunnel_up", tunnel="east"), 1)
            self.assert_peer(s, all_, active="vpn1", moves=0)
            # The IKE side, from the stand-in.
            fake = FakeIke(self.ike)
            fake.start()
            try:
                s = self.scrape()
            finally:
                fake.stop()
            self.assertEqual(pp.value(s, "espgw_ike_up"), 1)
            self.assertEqual(pp.value(s, "espgw_build_info", binary="espgw-ike", version="9.8.7",
                                      commit="0123456789ab"), 1)
            self.assertEqual(pp.value(s, "espgw_ike_charon_connected"), 1)
            self.assertEqual(pp.value(s, "espgw_ike_tunnel_state", tunnel="east",
                                      state="ESTABLISHED"), 1)
            self.assertEqual(pp.value(s, "espgw_ike_tunnel_established", tunnel="east"), 1)
            self.assertEqual(pp.value(s, "espgw_ike_child_sas_installed", tunnel="east"), 1)
            self.assertEqual(pp.value(s, "espgw_ike_child_sa_expires_in_seconds", tunnel="east"),
                             3240)
            self.assertEqual(pp.value(s, "espgw_ike_tunnel_state", tunnel="west",
                                      state='odd "state"\\with\nnewline'), 1)
            self.assertEqual(pp.value(s, "espgw_ike_tunnel_established", tunnel="west"), 0)
            # No outbound SA: the tunnel is down; the peer's traffic moves to vpn2.
            gw.ctl("sa", "del", "out", "0x1001")
            before = int(time.time())
            gw.ctl("sa", "del", "out", hex(pc.SPIS["vpn1"][0]))
            s = self.scrape()
            self.assertEqual(pp.value(s, "espgw_tunnel_up", tunnel="east"), 0)
            self.assert_peer(s, gw.request({"cmd": "all"}), active="vpn2", moves=1)
            self.assertGreaterEqual(pp.value(s, "espgw_peer_active_since_seconds", peer="vpn"),
                                    before)
            self.assertEqual(pp.value(s, "espgw_ike_up"), 0)
        finally:
            gw.close()
            gw.assert_no_key_material(self.texts)
            gw.cleanup()
        s = self.scrape()
        self.assertEqual(pp.value(s, "espgw_up"), 0)

    def test_4_lanes(self):
        lanes = 4
        keys = kit.lane_keys(lanes)
        gw = kit.flooded_gateway(ESPGW, ESPGWCTL, "exporter-lanes", self.control, keys)
        try:
            gw.start()
            r = kit.add_wide(gw, keys)
            self.assertTrue(r.get("ok"), r)

            def wide_lanes():
                return kit.wide_lanes(gw)

            wait_for("packets on every lane",
                     lambda: all(x["packets_out"] > 0 for x in wide_lanes()), 15)
            self.assert_lanes(wide_lanes, ["up"] * lanes)
            self.assertTrue(kit.delete_lane_sa(gw, 2).get("ok"))
            self.assert_lanes(wide_lanes, ["up", "up", "no_sa", "up"])
        finally:
            gw.close()
            gw.assert_no_key_material(self.texts)
            gw.cleanup()

    def assert_lanes(self, wide_lanes, states):
        """The scrape's lane series against `tunnels` answers before and after it."""
        before = wide_lanes()
        s = self.scrape()
        after = wide_lanes()
        self.assertEqual([x["state"] for x in after], states)
        self.assertEqual([x["state"] for x in before], states)
        series = [dict(k) for k in pp.family(s, "espgw_lane_up")]
        self.assertEqual(sorted((x["tunnel"], x["lane"]) for x in series),
                         [("wide", str(k)) for k in range(len(states))])
        self.assertEqual(pp.value(s, "espgw_lane_series_omitted"), 0)
        for b, a in zip(before, after):
            lane = str(a["lane"])
            self.assertEqual(pp.value(s, "espgw_lane_up", tunnel="wide", lane=lane),
                             1 if a["state"] == "up" else 0, lane)
            for d in ("in", "out"):
                for what in ("packets", "bytes"):
                    v = pp.value(s, f"espgw_lane_{what}_total", tunnel="wide", lane=lane,
                                 direction=d)
                    key = f"{what}_{d}"
                    self.assertTrue(b[key] <= v <= a[key], (lane, key, b[key], v, a[key]))

    def assert_peer(self, s, all_, active, moves):
        for t in pc.TUNNELS:
            self.assertEqual(pp.value(s, "espgw_peer_tunnel_active", peer=pc.PEER, tunnel=t),
                             1 if t == active else 0, t)
        self.assertEqual(pp.value(s, "espgw_peer_tunnel_moves_total", peer=pc.PEER), moves)
        peer = next(p for p in all_["peers"] if p["name"] == pc.PEER)
        self.assertEqual(peer["tunnel_in_use"], active)
        self.assertEqual(pp.value(s, "espgw_peer_active_since_seconds", peer=pc.PEER),
                         peer["since_unix"])

    def test_3_http(self):
        status, headers, body = self.http(b"HEAD /metrics HTTP/1.1\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(body, "")
        self.assertGreater(int(headers["Content-Length"]), 0)
        self.assertEqual(self.http(b"GET /nope HTTP/1.1\r\n\r\n")[0], 404)
        status, headers, _ = self.http(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")
        self.assertEqual(self.http(b"garbage\r\n\r\n")[0], 400)
        self.assertEqual(self.http(b"GET /metrics HTTP/2.0\r\n\r\n")[0], 505)
        self.assertEqual(self.http(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")[0], 200)
        self.assertEqual(self.http(b"GET / HTTP/1.1\r\n\r\n")[0], 200)
        self.assertEqual(self.proc.poll(), None, "the exporter is still running")


class Format(unittest.TestCase):
    """The checker itself refuses what the format forbids."""

    def test_refusals(self):
        bad = [
            "x 1\n",  # no HELP/TYPE
            "# HELP x h\n# TYPE x counter\nx 1\n",  # counter without _total
            "# HELP a h\n# TYPE a gauge\na 1\n# HELP b h\n# TYPE b gauge\nb 1\na 2\n",
            '# HELP a h\n# TYPE a gauge\na{l="\\q"} 1\n',
            "# HELP a h\n# TYPE a gauge\na 1\na 2\n",
            "# HELP a h\n# TYPE a gauge\na one\n",
        ]
        for text in bad:
            with self.assertRaises(pp.FormatError, msg=text):
                pp.parse(text)


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
