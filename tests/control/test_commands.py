#!/usr/bin/env python3
"""Every espgwctl command's happy path against a real espgw, readable and --json, and its exit
codes: 0 ok, 1 error response, 2 usage, 3 socket unreachable.

Run by meson: test_commands.py ESPGW ESPGWCTL.
"""

import json
import os
import re
import unittest

from control import ctl_harness as h

ESPGW, ESPGWCTL = h.main_args()

# Keys the tests below install; none may ever be printed.
GCM_KEY = h.test_key("cmd gcm", 16)
GCM_SALT = h.test_key("cmd gcm salt", 4)
GCM_KEY_SALT = h.test_key("cmd gcm key salt", 20)
CBC_KEY = h.test_key("cmd cbc", 32)
CBC_AUTH = h.test_key("cmd cbc auth", 32)
FILE_KEY = h.test_key("cmd file", 36)
WEST_OUT = h.test_key("cmd west out", 20)
WEST_IN = h.test_key("cmd west in", 20)
APPLY_KEY = h.test_key("cmd apply", 20)
BAD_KEY = h.test_key("cmd bad", 15)  # one byte short for aes128gcm16
KEYS = [GCM_KEY, GCM_SALT, GCM_KEY_SALT, CBC_KEY, CBC_AUTH, FILE_KEY, WEST_OUT, WEST_IN,
        APPLY_KEY, BAD_KEY]


def west_tunnel(mtu=None):
    t = {"name": "west", "local": "198.51.100.1", "remote": "203.0.113.7",
         "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["10.7.0.0/16"], "nat_t": True,
         "static_sa": {
             "outbound": {"spi": 0x5001, "algorithm": "aes128gcm16", "key": "0x" + WEST_OUT},
             "inbound": {"spi": 0x5002, "algorithm": "aes128gcm16", "key": "0x" + WEST_IN}}}
    if mtu:
        t["mtu"] = mtu
    return t


def spis(sas, direction=None):
    return {s["spi"] for s in sas if direction is None or s["direction"] == direction}


def rows(text):
    """A readable table as lists of cells (split on two or more spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


class Commands(h.GatewayTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "cmd", KEYS
    TRAFFIC, PACKETS = True, h.LAN_PACKETS

    def generation(self):
        return self.gw.ctl_json("status")["generation"]

    # ---- reading ----

    def test_status(self):
        r = self.gw.ctl("status")
        self.assertRegex(r.stdout, r"(?m)^generation\s+\d+$")
        self.assertRegex(r.stdout, r"(?m)^interfaces\s+lan, wan$")
        self.assertRegex(r.stdout, r"(?m)^workers\s+1$")
        self.assertEqual(r.stderr, "")
        j = self.gw.ctl_json("status")
        self.assertTrue(j["ok"])
        self.assertEqual(j["interfaces"], ["lan", "wan"])
        self.assertEqual(j["workers"], 1)
        self.assertGreaterEqual(j["packets"], h.LAN_PACKETS)

    def test_show_ports(self):
        j = self.gw.ctl_json("show", "ports")
        lan = j["ports"]["lan"]
        self.assertEqual(lan["rx_packets"], h.LAN_PACKETS)
        self.assertEqual(lan["rx_bytes"], sum(h.LAN_PACKET_BYTES))
        self.assertEqual(j["ports"]["wan"]["tx_packets"] >= h.LAN_PACKETS, True)
        r = self.gw.ctl("show", "ports")
        t = rows(r.stdout)
        self.assertEqual(t[0][:3], ["INTERFACE", "RX PACKETS", "RX BYTES"])
        lan_row = next(x for x in t if x[0] == "lan")
        self.assertEqual(lan_row[1], str(h.LAN_PACKETS))
        self.assertEqual(lan_row[2], f"{sum(h.LAN_PACKET_BYTES)} B")  # under 1 KiB
        wan_row = next(x for x in t if x[0] == "wan")
        self.assertRegex(wan_row[4], r"^\d+(\.\d)? (B|KiB)$")  # human units

    def test_show_workers(self):
        j = self.gw.ctl_json("show", "workers")
        self.assertEqual(j["workers"]["0"]["packets"], h.LAN_PACKETS)
        r = self.gw.ctl("show", "workers")
        t = rows(r.stdout)
        self.assertEqual(t[0][:4], ["WORKER", "LCORE", "BUSY", "PACKETS"])
        self.assertEqual(t[1][0], "0")
        self.assertRegex(t[1][2], r"^\d+%$")
        self.assertEqual(t[1][3], str(h.LAN_PACKETS))

    def test_show_drops(self):
        drops = self.gw.ctl_json("show", "drops")["drops"]
        self.assertIn("unknown_spi", drops)
        nonzero = {k for k, v in drops.items() if v}
        r = self.gw.ctl("show", "drops")
        if nonzero:
            self.assertEqual({x[0] for x in rows(r.stdout)[1:]}, nonzero)
        else:
            self.assertEqual(r.stdout, "no drops\n")
        r = self.gw.ctl("show", "drops", "--all")
        t = rows(r.stdout)
        self.assertEqual(t[0], ["REASON", "PACKETS"])
        self.assertEqual({x[0] for x in t[1:]}, set(drops))

    def test_show_counters(self):
        j = self.gw.ctl_json("show", "counters")
        self.assertEqual(set(j) - {"ok"}, {"ports", "workers", "drops", "neighbour_resolution"})
        self.assertEqual(set(j["neighbour_resolution"]),
                         {"requests", "resolved", "failed", "released"})
        r = self.gw.ctl("show", "counters")
        for section in ("ports:", "workers:", "drops:"):
            self.assertIn(section + "\n", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^neighbour resolution: requests \d+ resolved \d+ "
                                   r"failed \d+ released \d+$")
        self.assertRegex(r.stdout, r"(?m)^lan\s+5\s")

    def test_show_sas(self):
        sas = self.gw.ctl_json("show", "sas")["sas"]
        self.assertTrue({"0x00001001", "0x00002001"} <= spis(sas))
        out = next(s for s in sas if s["spi"] == "0x00001001")
        self.assertEqual(out["packets"], h.LAN_PACKETS)
        self.assertEqual(out["direction"], "out")
        r = self.gw.ctl("show", "sas")
        t = rows(r.stdout)
        self.assertEqual(t[0][:4], ["SPI", "DIR", "TUNNEL", "ALGORITHM"])
        row = next(x for x in t if x[0] == "0x00001001")
        self.assertEqual(row[1:4], ["out", "east", "aes128gcm16"])
        self.assertIn("in use", row)
        self.assertIn(str(h.LAN_PACKETS), row)

    def test_show_one_sa(self):
        for spi in ("0x1001", "4097", "0x00001001"):
            j = self.gw.ctl_json("show", "sas", spi)
            self.assertEqual([s["spi"] for s in j["sas"]], ["0x00001001"])
        r = self.gw.ctl("show", "sas", "0x1001")
        self.assertRegex(r.stdout, r"(?m)^spi\s+0x00001001$")
        self.assertRegex(r.stdout, rf"(?m)^next_seq\s+{h.LAN_PACKETS + 1}$")
        self.assertRegex(r.stdout, r"(?m)^drops:")
        r = self.gw.ctl("show", "sas", "0x9999", expect=1)
        self.assertIn("no SA with SPI 0x00009999", r.stderr)

    def test_show_tunnels(self):
        t = self.gw.ctl_json("show", "tunnels")["tunnels"]
        east = next(x for x in t if x["name"] == "east")
        self.assertEqual(east["remote"], "203.0.113.2")
        self.assertEqual(east["outbound_spi"], "0x00001001")
        r = self.gw.ctl("show", "tunnels")
        t = rows(r.stdout)
        self.assertEqual(t[0][:3], ["NAME", "LOCAL", "REMOTE"])
        self.assertEqual(next(x for x in t if x[0] == "east")[1:3], ["198.51.100.1", "203.0.113.2"])

    def test_show_routes(self):
        routes = self.gw.ctl_json("show", "routes")["routes"]
        self.assertIn({"prefix": "203.0.113.0/24", "via": "198.51.100.254", "interface": "wan",
                       "origin": "static", "distance": 1, "selected": True}, routes)
        self.assertIn({"prefix": "172.60.0.0/16", "tunnel": "east", "origin": "tunnel",
                       "distance": 1, "selected": True}, routes)
        self.assertIn({"prefix": "172.50.1.1/24", "interface": "lan", "origin": "connected",
                       "distance": 0, "selected": True}, routes)
        t = rows(self.gw.ctl("show", "routes").stdout)
        self.assertEqual(t[0], ["PREFIX", "VIA", "DEV", "ORIGIN", "DIST", "SEL", "BUCKETS"])
        self.assertIn(["203.0.113.0/24", "198.51.100.254", "wan", "static", "1", "yes", "-"], t)
        self.assertIn(["172.60.0.0/16", "-", "tunnel east", "tunnel", "1", "yes", "-"], t)

    def test_show_neighbours(self):
        ns = self.gw.ctl_json("show", "neighbours")["neighbours"]
        self.assertIn({"address": "198.51.100.254", "interface": "wan", "mac": h.ROUTER_MAC,
                       "state": "permanent"}, ns)
        t = rows(self.gw.ctl("show", "neighbours").stdout)
        self.assertEqual(t[0], ["ADDRESS", "INTERFACE", "MAC", "STATE"])
        self.assertIn(["172.50.1.10", "lan", h.HOST_MAC, "permanent"], t)
        self.assertEqual(self.gw.ctl("show", "neighbors").stdout,
                         self.gw.ctl("show", "neighbours").stdout)

    # ---- changing ----

    def assert_changed(self, r, before):
        self.assertEqual(r.stdout, f"ok, generation {before + 1}\n")
        self.assertEqual(r.stderr, "")

    def test_sa_positional(self):
        g = self.generation()
        # GCM with a separate salt, GCM with key || salt, CBC with an integrity key.
        self.assert_changed(self.gw.ctl("sa", "add", "east", "in", "0x3001", "aes128gcm16",
                                        "0x" + GCM_KEY, "0x" + GCM_SALT), g)
        j = self.gw.ctl_json("sa", "add", "east", "in", "0x3002", "aes128gcm16", GCM_KEY_SALT)
        self.assertEqual(j, {"ok": True, "generation": g + 2})
        self.assert_changed(self.gw.ctl("sa", "add", "east", "inbound", "12291", "aes256-sha256",
                                        CBC_KEY, CBC_AUTH), g + 2)
        sas = self.gw.ctl_json("show", "sas")["sas"]
        self.assertTrue({"0x00003001", "0x00003002", "0x00003003"} <= spis(sas, "in"))
        self.assertEqual(next(s for s in sas if s["spi"] == "0x00003003")["algorithm"],
                         "aes256-sha256")
        # replace: the same SPI, a new algorithm
        self.assert_changed(self.gw.ctl("sa", "replace", "east", "in", "0x3003", "aes128gcm16",
                                        GCM_KEY_SALT), g + 3)
        sa = self.gw.ctl_json("show", "sas", "0x3003")["sas"][0]
        self.assertEqual(sa["algorithm"], "aes128gcm16")
        for spi in ("0x3001", "0x3002"):
            self.gw.ctl("sa", "del", "in", spi)
        self.assertEqual(self.gw.ctl_json("sa", "del", "in", "0x3003"),
                         {"ok": True, "generation": g + 7})
        self.assertFalse(spis(self.gw.ctl_json("show", "sas")["sas"]) &
                         {"0x00003001", "0x00003002", "0x00003003"})

    def test_sa_outbound_switches_tunnel(self):
        g = self.generation()
        self.assert_changed(self.gw.ctl("sa", "add", "east", "out", "0x1002", "aes128gcm16",
                                        GCM_KEY_SALT), g)
        east = next(t for t in self.gw.ctl_json("show", "tunnels")["tunnels"]
                    if t["name"] == "east")
        self.assertEqual(east["outbound_spi"], "0x00001002")
        self.assertIn("standby", next(x for x in rows(self.gw.ctl("show", "sas").stdout)
                                      if x[0] == "0x00001001"))
        self.gw.ctl("sa", "del", "out", "0x1002")
        east = next(t for t in self.gw.ctl_json("show", "tunnels")["tunnels"]
                    if t["name"] == "east")
        self.assertEqual(east["outbound_spi"], "0x00001001")

    def test_sa_json_file_and_stdin(self):
        sa = {"spi": 0x3101, "algorithm": "aes256gcm16", "key": FILE_KEY}
        path = self.gw.write("sa.json", json.dumps(sa))
        g = self.generation()
        self.assert_changed(self.gw.ctl("sa", "add", "east", "in", "--sa-json", path), g)
        sa["algorithm"] = "aes256gcm128"  # an alias
        j = self.gw.ctl("--json", "sa", "replace", "east", "in", "--sa-json", "-",
                        stdin=json.dumps(sa)).json()
        self.assertEqual(j, {"ok": True, "generation": g + 2})
        self.assertEqual(self.gw.ctl_json("show", "sas", "0x3101")["sas"][0]["algorithm"],
                         "aes256gcm16")
        self.assert_changed(self.gw.ctl("sa", "del", "in", "12545"), g + 2)

    def test_route_add_replace_del(self):
        g = self.generation()
        self.assert_changed(self.gw.ctl("route", "add", "192.0.2.0/24", "via", "198.51.100.254",
                                        "dev", "wan"), g)
        routes = self.gw.ctl_json("show", "routes")["routes"]
        self.assertIn({"prefix": "192.0.2.0/24", "via": "198.51.100.254", "interface": "wan",
                       "origin": "static", "distance": 1, "selected": True}, routes)
        # replace: directly connected now; "dev" may come first
        self.assertEqual(self.gw.ctl_json("route", "replace", "192.0.2.0/24", "dev", "lan"),
                         {"ok": True, "generation": g + 2})
        routes = self.gw.ctl_json("show", "routes")["routes"]
        self.assertIn({"prefix": "192.0.2.0/24", "interface": "lan", "origin": "static",
                       "distance": 1, "selected": True}, routes)
        self.assert_changed(self.gw.ctl("route", "del", "192.0.2.0/24"), g + 2)
        self.assertNotIn("192.0.2.0/24",
                         {r["prefix"] for r in self.gw.ctl_json("show", "routes")["routes"]})

    def test_tunnel_add_replace_del(self):
        path = self.gw.write("west.json", json.dumps(west_tunnel()))
        g = self.generation()
        self.assert_changed(self.gw.ctl("tunnel", "add", "--json", path), g)
        tunnels = self.gw.ctl_json("show", "tunnels")["tunnels"]
        west = next(t for t in tunnels if t["name"] == "west")
        self.assertEqual(west["outbound_spi"], "0x00005001")
        self.assertTrue({"0x00005001", "0x00005002"} <= spis(self.gw.ctl_json("show", "sas")["sas"]))
        # replace from stdin, with --json both as the tunnel's file and as the output format
        r = self.gw.ctl("--json", "tunnel", "replace", "--json", "-",
                        stdin=json.dumps(west_tunnel(mtu=1300)))
        self.assertEqual(r.json(), {"ok": True, "generation": g + 2})
        west = next(t for t in self.gw.ctl_json("show", "tunnels")["tunnels"]
                    if t["name"] == "west")
        self.assertEqual(west["inner_mtu"], 1300)
        self.assertIn(["west", "198.51.100.1", "203.0.113.7", "wan", "1300"],
                      [x[:5] for x in rows(self.gw.ctl("show", "tunnels").stdout)])
        self.assert_changed(self.gw.ctl("tunnel", "del", "west"), g + 2)
        self.assertNotIn("west", {t["name"] for t in self.gw.ctl_json("show", "tunnels")["tunnels"]})
        self.assertFalse({"0x00005001", "0x00005002"} & spis(self.gw.ctl_json("show", "sas")["sas"]))

    def test_apply_file_and_stdin(self):
        ops = [
            {"op": "route-add", "route": {"prefix": "192.0.2.0/24", "via": "198.51.100.254",
                                          "interface": "wan"}},
            {"op": "sa-add", "tunnel": "east", "direction": "in",
             "sa": {"spi": 0x3201, "algorithm": "aes128gcm16", "key": APPLY_KEY}},
        ]
        path = self.gw.write("ops.json", json.dumps(ops))
        g = self.generation()
        r = self.gw.ctl("apply", path)
        self.assertEqual(r.stdout, f"ok, 2 ops applied, generation {g + 1}\n")
        self.assertIn("0x00003201", spis(self.gw.ctl_json("show", "sas")["sas"]))
        undo = {"ops": [{"op": "route-del", "prefix": "192.0.2.0/24"},
                        {"op": "sa-del", "direction": "in", "spi": "0x3201"}]}
        j = self.gw.ctl("--json", "apply", "-", stdin=json.dumps(undo)).json()
        self.assertEqual(j, {"ok": True, "generation": g + 2})
        self.assertNotIn("0x00003201", spis(self.gw.ctl_json("show", "sas")["sas"]))

    # ---- failing ----

    def test_error_response_exit_1(self):
        g = self.generation()
        r = self.gw.ctl("route", "add", "10.0.0.0/8", "dev", "nope", expect=1)
        self.assertEqual(r.stdout, "")
        self.assertIn('unknown interface "nope"', r.stderr)
        self.assertTrue(r.stderr.startswith("espgwctl: "))
        r = self.gw.ctl("--json", "tunnel", "del", "nosuch", expect=1)
        self.assertFalse(r.json()["ok"])
        self.assertIn("no tunnel", r.json()["error"])
        self.assertIn("no tunnel", r.stderr)
        # A key of the wrong length: the error gives the length, never the key.
        r = self.gw.ctl("sa", "add", "east", "in", "0x3301", "aes128gcm16", BAD_KEY, expect=1)
        self.assertIn("needs a 16-byte key", r.stderr)
        self.assertIn("got 15 bytes", r.stderr)
        self.assertEqual(self.generation(), g)

    def test_usage_exit_2(self):
        for args in (["frobnicate"], ["show"], ["show", "sas", "0xzz"], ["show", "sa"],
                     ["route", "add", "10.0.0.0/8"], ["route", "add", "10.0.0.0/8", "via", "x"],
                     ["sa", "del", "sideways", "0x1001"], ["tunnel", "add"],
                     ["apply", os.path.join(self.gw.dir, "missing.json")], ["--bogus", "status"]):
            r = self.gw.ctl(*args, expect=2)
            self.assertTrue(r.stderr.startswith("espgwctl: "), r)
            self.assertEqual(r.stdout, "")
        r = self.gw.ctl(socket_args=[], expect=2)
        self.assertIn("usage: espgwctl", r.stderr)
        r = self.gw.ctl("--help", socket_args=[])
        self.assertIn("usage: espgwctl", r.stdout)
        # Malformed JSON in a file: line and column, not the text.
        bad = self.gw.write("bad.json", '[{"op": "sa-add",\n  "sa": {"key": "' + BAD_KEY + '}]')
        r = self.gw.ctl("apply", bad, expect=2)
        self.assertRegex(r.stderr, r"bad\.json:2:\d+: not valid JSON")
        # Too many words after a key: the usage message does not repeat them.
        r = self.gw.ctl("sa", "add", "east", "in", "0x3301", "aes128gcm16", GCM_KEY, GCM_SALT,
                        CBC_AUTH, "extra", expect=2)
        self.assertIn("usage: espgwctl sa add TUNNEL", r.stderr)
        r = self.gw.ctl("-s", "a", "-c", "b", "status", socket_args=[], expect=2)
        self.assertIn("not both", r.stderr)

    def test_unreachable_exit_3(self):
        missing = os.path.join(self.gw.dir, "nothing-here.sock")
        r = self.gw.ctl("status", socket_args=["-s", missing], expect=3)
        self.assertIn(f"cannot connect to {missing}: No such file or directory", r.stderr)
        # The socket path from a config file (-c), the same one espgw was started with.
        r = self.gw.ctl("status", socket_args=["-c", self.gw.config_path])
        self.assertRegex(r.stdout, r"(?m)^generation\s+\d+$")


class Stop(unittest.TestCase):
    def run_stop(self, *args):
        with h.Gateway(ESPGW, ESPGWCTL, "stop") as gw:
            r = gw.ctl(*args)
            self.assertEqual(gw.wait_exit(), 0)
            self.assertIn("espgw: stopped after", gw.output())
            self.assertFalse(os.path.exists(gw.socket))
            gw.close()
            gw.assert_no_key_material()
            return r

    def test_stop(self):
        self.assertEqual(self.run_stop("stop").stdout, "espgw is stopping\n")

    def test_stop_json(self):
        self.assertEqual(json.loads(self.run_stop("--json", "stop").stdout), {"ok": True})


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
