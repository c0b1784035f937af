#!/usr/bin/env python3
"""A change is a transaction: applied whole, or not at all.

Each bad transaction below has two valid ops first (a route and an inbound SA, which would change
the state) and an invalid third one. espgw must answer with an error that names the op (ops[2] and
its type) and the problem, and `show sas`, `show routes`, `show tunnels` and the generation must be
exactly what they were. A valid transaction of several ops applies whole, as one generation.

Run by meson: test_transactions.py ESPGW ESPGWCTL.
"""

import json
import unittest

from control import ctl_harness as h

ESPGW, ESPGWCTL = h.main_args()

GOOD_IN = h.test_key("tx good in", 20)
BAD_LEN = h.test_key("tx bad length", 17)
WEST_OUT = h.test_key("tx west out", 20)
WEST_IN = h.test_key("tx west in", 20)
DUP_KEY = h.test_key("tx duplicate", 20)
CBC_KEY = h.test_key("tx cbc", 16)
CBC_AUTH_SHORT = h.test_key("tx cbc auth", 19)
KEYS = [GOOD_IN, BAD_LEN, WEST_OUT, WEST_IN, DUP_KEY, CBC_KEY, CBC_AUTH_SHORT]

FIRST_TWO = [
    {"op": "route-add", "route": {"prefix": "192.0.2.0/24", "via": "198.51.100.254",
                                  "interface": "wan"}},
    {"op": "sa-add", "tunnel": "east", "direction": "in",
     "sa": {"spi": 0x3001, "algorithm": "aes128gcm16", "key": "0x" + GOOD_IN}},
]


def tunnel(name, remote, remote_cidrs, out_spi=0x5001, in_spi=0x5002):
    return {"name": name, "local": "198.51.100.1", "remote": remote,
            "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": remote_cidrs,
            "static_sa": {
                "outbound": {"spi": out_spi, "algorithm": "aes128gcm16", "key": WEST_OUT},
                "inbound": {"spi": in_spi, "algorithm": "aes128gcm16", "key": WEST_IN}}}


# name: (third op, what the error must say besides "ops[2]")
BAD_THIRD_OPS = {
    "unknown interface": (
        {"op": "route-add", "route": {"prefix": "10.1.0.0/16", "interface": "nope"}},
        ["ops[2] route-add", 'unknown interface "nope"']),
    "duplicate SPI of the running state": (
        {"op": "sa-add", "tunnel": "east", "direction": "in",
         "sa": {"spi": 0x2001, "algorithm": "aes128gcm16", "key": DUP_KEY}},
        ["ops[2] sa-add", "inbound SA 0x00002001 exists"]),
    "duplicate SPI of the same transaction": (
        {"op": "sa-add", "tunnel": "east", "direction": "inbound",
         "sa": {"spi": 0x3001, "algorithm": "aes128gcm16", "key": DUP_KEY}},
        ["ops[2] sa-add", "inbound SA 0x00003001 exists"]),
    "bad key length": (
        {"op": "sa-add", "tunnel": "east", "direction": "in",
         "sa": {"spi": 0x3002, "algorithm": "aes128gcm16", "key": BAD_LEN}},
        ["ops[2] sa-add", "needs a 16-byte key", "got 17 bytes"]),
    "bad integrity key length": (
        {"op": "sa-add", "tunnel": "east", "direction": "in",
         "sa": {"spi": 0x3002, "algorithm": "aes128-sha1", "key": CBC_KEY,
                "auth_key": CBC_AUTH_SHORT}},
        ["ops[2] sa-add", "needs a 20-byte auth_key", "got 19 bytes"]),
    "a route into a missing tunnel": (
        {"op": "route-add", "route": {"prefix": "10.2.0.0/16", "interface": "tunnel-missing"}},
        ["ops[2] route-add", 'unknown interface "tunnel-missing"']),
    "an SA into a missing tunnel": (
        {"op": "sa-add", "tunnel": "missing", "direction": "in",
         "sa": {"spi": 0x3003, "algorithm": "aes128gcm16", "key": DUP_KEY}},
        ["ops[2] sa-add", 'no tunnel "missing"']),
    "a tunnel whose remote has no route": (
        {"op": "tunnel-add", "tunnel": tunnel("west", "100.64.0.9", ["10.7.0.0/16"])},
        ["ops[2] tunnel-add", "no route to the peer", "100.64.0.9"]),
    "a tunnel whose remote CIDR is another tunnel's": (
        {"op": "tunnel-add", "tunnel": tunnel("west", "192.0.2.5", ["172.60.0.0/16"])},
        ["172.60.0.0/16", "duplicates", "tunnel east"]),
    "malformed op: not an object": (
        "route-add 10.3.0.0/16 dev wan",
        ["ops[2]", 'each op needs an "op" string']),
    "malformed op: a route that is not a map": (
        {"op": "route-add", "route": '{"prefix": "10.3.0.0/16", "interface": '},
        ["ops[2] route-add", "expected a map"]),
    "malformed op: a prefix of the wrong type": (
        {"op": "route-del", "prefix": ["10.3.0.0/16"]},
        ["ops[2] route-del", '"prefix" must be a string, got array']),
    "unknown op": (
        {"op": "route-flap", "prefix": "10.3.0.0/16"},
        ["ops[2]", 'unknown op "route-flap"', "expected one of: route-add"]),
    "unknown key in a route": (
        {"op": "route-add", "route": {"prefix": "10.4.0.0/16", "interface": "wan",
                                      "metric": 10}},
        ["ops[2] route-add", 'unknown key "metric"']),
    "deleting what does not exist": (
        {"op": "sa-del", "direction": "out", "spi": 0x7777},
        ["ops[2] sa-del", "outbound SA 0x00007777 does not exist"]),
    "an SPI beyond 32 bits": (
        {"op": "sa-del", "direction": "in", "spi": 0x100002001},
        ["ops[2] sa-del", "32-bit"]),
    "a route-del that strands a tunnel": (
        {"op": "route-del", "prefix": "203.0.113.0/24"},
        ["tunnel east", "no route to its remote address 203.0.113.2"]),
}


class Transactions(h.GatewayTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "tx", KEYS

    def assert_refused(self, ops, must_say):
        before = self.gw.state()
        path = self.gw.write("ops.json", json.dumps(ops))
        r = self.gw.ctl("apply", path, expect=1)
        self.assertEqual(r.stdout, "")
        for text in must_say + ["nothing was changed"]:
            self.assertIn(text, r.stderr)
        # The same through the socket directly, and with --json.
        resp = self.gw.request({"cmd": "apply", "ops": ops})
        self.assertFalse(resp["ok"])
        self.assertEqual("espgwctl: " + resp["error"] + "\n", r.stderr)
        j = self.gw.ctl("--json", "apply", path, expect=1).json()
        self.assertEqual(j, resp)
        self.assertEqual(self.gw.state(), before)

    def test_bad_third_op_changes_nothing(self):
        for name, (third, must_say) in BAD_THIRD_OPS.items():
            with self.subTest(name):
                self.assert_refused(FIRST_TWO + [third], must_say)

    def test_request_that_is_not_json(self):
        before = self.gw.state()
        good = json.dumps({"cmd": "apply", "ops": FIRST_TWO + [
            {"op": "sa-add", "tunnel": "east", "direction": "in",
             "sa": {"spi": 0x3005, "algorithm": "aes128gcm16", "key": "0x" + DUP_KEY}}]})
        # Cut inside the third op's key: the answer must not quote what was read last.
        cut = good[:good.index(DUP_KEY) + 20]
        resp = json.loads(self.gw.raw(cut))
        self.assertFalse(resp["ok"])
        self.assertRegex(resp["error"], r"^bad request: not valid JSON \(syntax error at byte \d+")
        for line in ("{", "[]", '{"ops": []}', '{"cmd": 7}', "\x00\x01garbage"):
            resp = json.loads(self.gw.raw(line))
            self.assertFalse(resp["ok"], line)
        self.assertFalse(json.loads(self.gw.raw('{"cmd": "apply", "ops": {}}'))["ok"])
        resp = self.gw.request({"cmd": "frobnicate"})
        self.assertFalse(resp["ok"])
        self.assertTrue(resp["error"].startswith('unknown cmd "frobnicate" (expected one of: '
                                                 'status, all, counters, sas, '), resp)
        self.assertEqual(self.gw.state(), before)
        # espgwctl does not send a file that is not JSON.
        path = self.gw.write("broken.json", cut[cut.index("["):])
        r = self.gw.ctl("apply", path, expect=2)
        self.assertIn("not valid JSON", r.stderr)
        self.assertEqual(self.gw.state(), before)

    def test_bad_utf8_in_an_error_keeps_espgw_running(self):
        # config's quote() cuts a value at 80 bytes, here inside a two-byte character.
        before = self.gw.state()
        name = "a" + "\u00e9" * 50
        resp = self.gw.request({"cmd": "apply", "ops": FIRST_TWO + [
            {"op": "route-add", "route": {"prefix": "10.5.0.0/16", "interface": name}}]})
        self.assertFalse(resp["ok"])
        self.assertIn("ops[2] route-add", resp["error"])
        self.assertEqual(self.gw.state(), before)

    def test_replace_may_not_take_another_tunnels_sa(self):
        before = self.gw.state()
        ops = FIRST_TWO + [
            {"op": "tunnel-add", "tunnel": {"name": "west", "local": "198.51.100.1",
                                            "remote": "192.0.2.5", "local_cidrs": ["172.50.0.0/16"],
                                            "remote_cidrs": ["10.7.0.0/16"]}},
            {"op": "sa-replace", "tunnel": "west", "direction": "out",
             "sa": {"spi": 0x1001, "algorithm": "aes128gcm16", "key": DUP_KEY}},
        ]
        r = self.gw.ctl("apply", "-", stdin=json.dumps(ops), expect=1)
        self.assertIn("ops[3] sa-replace: outbound SA 0x00001001 belongs to tunnel east, not west",
                      r.stderr)
        self.assertEqual(self.gw.state(), before)

    def test_sas_with_a_bad_spi_is_an_error(self):
        for spi in ("zz", 0x100001001, -1, [4097]):
            resp = self.gw.request({"cmd": "sas", "spi": spi})
            self.assertEqual(resp, {"ok": False, "error": 'sas: "spi" must be a 32-bit number'})
        self.assertEqual(len(self.gw.request({"cmd": "sas", "spi": "0x1001"})["sas"]), 1)

    def test_empty_transaction(self):
        g = self.gw.state()["generation"]
        r = self.gw.ctl("apply", "-", stdin="[]")
        self.assertEqual(r.stdout, f"ok, 0 ops applied, generation {g + 1}\n")

    def test_valid_transaction_applies_whole(self):
        before = self.gw.state()
        ops = FIRST_TWO + [
            # reachable only through the route of the first op
            {"op": "tunnel-add", "tunnel": tunnel("west", "192.0.2.5", ["10.7.0.0/16"])},
            {"op": "route-replace", "route": {"prefix": "203.0.113.0/24",
                                              "via": "198.51.100.253", "interface": "wan"}},
            {"op": "sa-del", "direction": "in", "spi": "0x2001"},
        ]
        r = self.gw.ctl("apply", self.gw.write("good.json", json.dumps(ops)))
        g = before["generation"] + 1
        self.assertEqual(r.stdout, f"ok, 5 ops applied, generation {g}\n")
        after = self.gw.state()
        self.assertEqual(after["generation"], g)
        routes = {x["prefix"]: x for x in after["routes"]}
        self.assertEqual(routes["192.0.2.0/24"]["via"], "198.51.100.254")
        self.assertEqual(routes["203.0.113.0/24"]["via"], "198.51.100.253")
        self.assertEqual(routes["10.7.0.0/16"], {"prefix": "10.7.0.0/16", "tunnel": "west",
                                                 "origin": "tunnel", "distance": 1,
                                                 "selected": True})
        sas = {(s["direction"], s["spi"]): s for s in after["sas"]}
        self.assertIn(("in", "0x00003001"), sas)
        self.assertNotIn(("in", "0x00002001"), sas)
        self.assertEqual(sas[("out", "0x00005001")]["tunnel"], "west")
        self.assertEqual({t["name"] for t in after["tunnels"]}, {"east", "west"})

        # And back, in one transaction again.
        undo = [
            {"op": "tunnel-del", "name": "west"},
            {"op": "route-del", "prefix": "192.0.2.0/24"},
            {"op": "route-replace", "route": {"prefix": "203.0.113.0/24",
                                              "via": "198.51.100.254", "interface": "wan"}},
            {"op": "sa-del", "direction": "in", "spi": 0x3001},
        ]
        self.gw.ctl("apply", "-", stdin=json.dumps(undo))
        final = self.gw.state()
        self.assertEqual(final["generation"], g + 1)
        self.assertEqual(final["routes"], before["routes"])
        # The tunnels are as before but for their lanes' inbound side: 0x2001 stays deleted.
        inbound = ("spi_in", "worker", "packets_in", "bytes_in")

        def outbound_side(tunnels):
            return [dict(t, lanes=[{k: v for k, v in lane.items() if k not in inbound}
                                   for lane in t["lanes"]]) for t in tunnels]
        self.assertEqual(outbound_side(final["tunnels"]), outbound_side(before["tunnels"]))
        self.assertEqual([lane["spi_in"] for t in final["tunnels"] for lane in t["lanes"]],
                         [None])
        self.assertEqual({(s["direction"], s["spi"]) for s in final["sas"]},
                         {(s["direction"], s["spi"]) for s in before["sas"]} - {("in", "0x00002001")})


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
