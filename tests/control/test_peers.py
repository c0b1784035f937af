#!/usr/bin/env python3
"""The tunnel in use of a peer (docs/control-protocol.md#peers): the control socket's `peers`,
`espgwctl show peers` (table and --json), `show sas` and `show routes` marking only the tunnel in
use, and telemetry's /espgw/peers, against a real espgw whose config has peer "vpn" of tunnels
vpn1 (preferred) and vpn2, both with static SAs (peer_config.py).

The lan port reads PACKETS packets to the peer's CIDR at start: the outbound SA of vpn1 carries
them and vpn2's none, which is what the reports must call the tunnel in use. Then, in order:
vpn1's outbound SA deleted (the peer moves to vpn2: moves 1, since renewed), vpn1 back with a new
outbound SA (failback after the hold, from the control loop's check: moves 2), both down (none:
moves 3), vpn2 up again (moves 4).

Run by meson: test_peers.py ESPGW ESPGWCTL.
"""

import datetime
import re
import time
import unittest

from control import ctl_harness as h
from control import peer_config as pc
from control.telemetry_client import GatewayCase

ESPGW, ESPGWCTL = h.main_args()

PACKETS = 5
NEW_VPN1_OUT = 0x6101
NEW_VPN1_KEY = h.test_key("peer vpn1 out again", 20)
VPN2_AGAIN_KEY = h.test_key("peer vpn2 out again", 20)
FAILBACK_TIMEOUT_S = 20  # Model's hold is 1 s (kFailbackHoldMs); the rest is a slow machine


def rows(text):
    """A readable table as lists of cells (split on two or more spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


class Peers(GatewayCase):
    PACKETS = PACKETS

    @classmethod
    def gateway(cls):
        gw = h.Gateway(ESPGW, ESPGWCTL, "peers", keys=[NEW_VPN1_KEY, VPN2_AGAIN_KEY])
        cls.started = int(time.time())
        return pc.add_peer(gw, traffic=PACKETS)

    def peer(self):
        resp = self.gw.request({"cmd": "peers"})
        self.assertTrue(resp["ok"], resp)
        self.assertEqual([p["name"] for p in resp["peers"]], [pc.PEER])
        return resp["peers"][0]

    def assert_peer(self, p, in_use, moves, up):
        self.assertEqual(p["tunnel_in_use"], in_use)
        self.assertEqual(p["moves"], moves)
        self.assertEqual(p["tunnels"], [{"name": t, "up": t in up, "in_use": t == in_use}
                                        for t in pc.TUNNELS])
        self.assertIs(p["failback"], True)
        # since: ISO-8601 UTC of since_unix.
        when = datetime.datetime.fromtimestamp(p["since_unix"], datetime.timezone.utc)
        self.assertEqual(p["since"], when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertLessEqual(p["since_unix"], time.time())
        self.assertGreaterEqual(p["seconds_since"], 0)

    def moved(self, change, want_in_use, want_moves, up):
        """Runs change(); the peer then has want_in_use, since renewed by that change."""
        before = int(time.time())
        change()
        p = self.peer()
        self.assert_peer(p, want_in_use, want_moves, up)
        self.assertGreaterEqual(p["since_unix"], before)
        self.assertLessEqual(p["seconds_since"], 5)
        return p

    def sa_states(self):
        """The STATE column of `show sas` for each outbound SA, by tunnel."""
        t = rows(self.gw.ctl("show", "sas").stdout)
        state = t[0].index("STATE")
        return {r[2]: r[state] for r in t[1:] if r[1] == "out"}

    def peer_routes(self):
        return [r for r in self.gw.ctl_json("show", "routes")["routes"]
                if r["prefix"] == pc.PEER_CIDR]

    def test_1_at_start(self):
        p = self.peer()
        self.assert_peer(p, "vpn1", 0, up={"vpn1", "vpn2"})
        self.assertEqual(p["routed_to"], "vpn1")
        self.assertGreaterEqual(p["since_unix"], self.started - 1)
        # The dataplane agrees: vpn1's outbound SA carried the packets, vpn2's none.
        sas = {s["tunnel"]: s for s in self.gw.ctl_json("show", "sas")["sas"]
               if s["direction"] == "out"}
        self.assertEqual((sas["vpn1"]["packets"], sas["vpn2"]["packets"]), (PACKETS, 0))
        # Both are their tunnel's SA in use (in_use, as before); only vpn1's carries the peer.
        self.assertEqual([(sas[t]["in_use"], sas[t]["peer"], sas[t]["peer_in_use"])
                          for t in pc.TUNNELS], [(True, "vpn", True), (True, "vpn", False)])
        self.assertNotIn("peer", sas["east"])
        self.assertEqual(self.sa_states(), {"east": "in use", "vpn1": "in use", "vpn2": "backup"})
        self.assertEqual(self.peer_routes(), [
            {"prefix": pc.PEER_CIDR, "tunnel": "vpn1", "origin": "tunnel", "peer": "vpn",
             "state": "active", "distance": 1, "selected": True},
            {"prefix": pc.PEER_CIDR, "tunnel": "vpn2", "origin": "tunnel", "peer": "vpn",
             "state": "backup", "distance": 1, "selected": False}])
        t = rows(self.gw.ctl("show", "routes").stdout)
        self.assertIn(["172.60.0.0/16", "-", "tunnel east", "tunnel", "1", "yes", "-"], t)
        self.assertIn([pc.PEER_CIDR, "-", "tunnel vpn1", "tunnel (peer vpn)", "1", "yes", "-"], t)
        self.assertIn([pc.PEER_CIDR, "-", "tunnel vpn2", "backup (peer vpn, not routed)", "1",
                       "no", "-"], t)
        # `all` carries the same peers.
        everything = self.gw.request({"cmd": "all"})["peers"]
        strip = lambda ps: [{k: v for k, v in x.items() if k != "seconds_since"} for x in ps]
        self.assertEqual(strip(everything), strip([p]))

    def test_2_espgwctl_show_peers(self):
        j = self.gw.ctl_json("show", "peers")
        self.assertEqual(j["ok"], True)
        p = j["peers"][0]
        self.assert_peer(p, "vpn1", 0, up={"vpn1", "vpn2"})
        t = rows(self.gw.ctl("show", "peers").stdout)
        self.assertEqual(t[0], ["PEER", "IN USE", "SINCE", "FOR", "MOVES", "FAILBACK", "TUNNELS"])
        self.assertEqual(len(t), 2)
        self.assertEqual(t[1][:3], ["vpn", "vpn1", p["since"]])
        self.assertRegex(t[1][3], r"^\d+(s|m\d\ds)$")
        self.assertEqual(t[1][4:], ["0", "yes", "vpn1 up, vpn2 up"])

    def test_3_telemetry(self):
        tel = self.tel.query("/espgw/peers")
        p = self.peer()
        self.assertEqual(set(tel), {"vpn"})
        got = {k: v for k, v in tel["vpn"].items() if k != "seconds_since"}
        self.assertEqual(got, {"name": "vpn", "tunnel_in_use": "vpn1", "routed_to": "vpn1",
                               "since": p["since"], "since_unix": p["since_unix"], "moves": 0,
                               "failback": 1, "tunnels": "vpn1,vpn2", "up_vpn1": 1,
                               "up_vpn2": 1})

    def test_4_moves(self):
        vpn1_out, _ = pc.SPIS["vpn1"]
        vpn2_out, _ = pc.SPIS["vpn2"]
        # The tunnel in use loses its outbound SA: the peer moves to vpn2 at once.
        self.moved(lambda: self.gw.ctl("sa", "del", "out", hex(vpn1_out)), "vpn2", 1, {"vpn2"})
        self.assertEqual(self.sa_states(), {"east": "in use", "vpn2": "in use"})
        self.assertEqual([(r["tunnel"], r["state"]) for r in self.peer_routes()],
                         [("vpn1", "backup"), ("vpn2", "active")])
        self.assertEqual(rows(self.gw.ctl("show", "peers").stdout)[1][4:],
                         ["1", "yes", "vpn1 down, vpn2 up"])
        self.assertEqual(self.tel.query("/espgw/peers")["vpn"]["tunnel_in_use"], "vpn2")
        self.assertIn("espgw: peer vpn: traffic goes into tunnel vpn2 (was vpn1)",
                      self.gw.output())

        # vpn1 comes back: it takes the traffic back once the failback hold is over (the control
        # loop's check_peers, not a request). Before that vpn2 stays in use.
        sent = time.monotonic()
        before = int(time.time())
        self.gw.ctl("sa", "add", "vpn1", "out", hex(NEW_VPN1_OUT), "aes128gcm16", NEW_VPN1_KEY)
        p = self.peer()
        if time.monotonic() - sent < 0.9:  # both requests inside the hold
            self.assert_peer(p, "vpn2", 1, {"vpn1", "vpn2"})
            self.assertEqual(self.sa_states()["vpn1"], "backup")
        deadline = time.monotonic() + FAILBACK_TIMEOUT_S
        while p["tunnel_in_use"] != "vpn1" and time.monotonic() < deadline:
            time.sleep(0.1)
            p = self.peer()
        self.assert_peer(p, "vpn1", 2, {"vpn1", "vpn2"})
        self.assertGreaterEqual(p["since_unix"], before)
        self.assertEqual(self.sa_states(), {"east": "in use", "vpn1": "in use", "vpn2": "backup"})

        # No tunnel up: none in use (a move), routed into the preferred one, which drops.
        self.moved(lambda: self.gw.request({"cmd": "apply", "ops": [
            {"op": "sa-del", "direction": "out", "spi": NEW_VPN1_OUT},
            {"op": "sa-del", "direction": "out", "spi": vpn2_out}]}), None, 3, set())
        self.assertEqual(self.peer()["routed_to"], "vpn1")
        self.assertEqual(rows(self.gw.ctl("show", "peers").stdout)[1][1], "none")
        self.assertEqual(self.tel.query("/espgw/peers")["vpn"]["tunnel_in_use"], "")
        # vpn2 up again: from none to vpn2 is a move too.
        self.moved(lambda: self.gw.ctl("sa", "add", "vpn2", "out", hex(vpn2_out), "aes128gcm16",
                                       VPN2_AGAIN_KEY), "vpn2", 4, {"vpn2"})
        self.assertEqual([(r["tunnel"], r["state"]) for r in self.peer_routes()],
                         [("vpn1", "backup"), ("vpn2", "active")])


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
