#!/usr/bin/env python3
"""The commands charon's kernel-espgw plugin sends (docs/ike-bridge.md), against a real espgw:
spi-alloc, sa-add by if_id with an ike object, sa-query, if-last-use, sa-flush by origin,
subscribe. The plugin's own test (tests/ike) drives them through charon; this one checks espgw's
side of each, its refusals included, without strongSwan.

Run by meson: test_ike_protocol.py ESPGW ESPGWCTL.
"""

import unittest

from control import ctl_harness as h
from labkit.control import tunnel_if_id

ESPGW, ESPGWCTL = h.main_args()

IKE_IN_KEY = h.test_key("ike in", 20)
IKE_OUT_KEY = h.test_key("ike out", 36)
KEYS = [IKE_IN_KEY, IKE_OUT_KEY]


EAST = tunnel_if_id("east")

IKE = {"local": "198.51.100.1", "remote": "203.0.113.2", "nat_t": True, "local_port": 4500,
       "remote_port": 4501, "esn": False, "replay_window": 256, "soft_bytes": 1000,
       "hard_bytes": 2000, "soft_packets": 0, "hard_packets": 0, "copy_df": True,
       "copy_ecn": True, "copy_dscp": False, "reqid": 7, "src_ts": ["172.60.0.0/16"],
       "dst_ts": ["172.50.0.0/16"]}


def sa_add(spi, key, direction="in", if_id=EAST, algorithm="aes128gcm16", ike=None):
    return {"cmd": "sa-add", "if_id": if_id, "direction": direction,
            "sa": {"spi": spi, "algorithm": algorithm, "key": "0x" + key},
            "ike": IKE if ike is None else ike}


class IkeProtocol(h.GatewayTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "ike", KEYS
    TRAFFIC, PACKETS = True, h.LAN_PACKETS

    def tearDown(self):
        self.gw.request({"cmd": "sa-flush", "origin": "ike"})

    def ok(self, req):
        resp = self.gw.request(req)
        self.assertTrue(resp.get("ok"), resp)
        return resp

    def refused(self, req, text):
        before = self.gw.request({"cmd": "sas"})["sas"]
        resp = self.gw.request(req)
        self.assertFalse(resp.get("ok"), resp)
        self.assertIn(text, resp["error"])
        self.assertEqual(self.gw.request({"cmd": "sas"})["sas"], before)
        return resp

    def sa(self, direction, spi):
        return next((s for s in self.gw.request({"cmd": "sas"})["sas"]
                     if s["direction"] == direction and int(s["spi"], 16) == spi), None)

    def test_spi_alloc(self):
        got = {int(self.ok({"cmd": "spi-alloc"})["spi"], 16) for _ in range(20)}
        self.assertEqual(len(got), 20)
        self.assertTrue(all(0x100 <= s <= 0xFFFFFFFF for s in got), got)
        # 0x2001 is east's static inbound SA: never handed out (checked by chance only here).
        self.assertNotIn(0x2001, got)

    def test_sa_add_by_if_id(self):
        spi = int(self.ok({"cmd": "spi-alloc"})["spi"], 16)
        self.ok(sa_add(spi, IKE_IN_KEY))
        self.ok(sa_add(0x7001, IKE_OUT_KEY, direction="out", algorithm="aes256gcm16"))
        sa_in, sa_out = self.sa("in", spi), self.sa("out", 0x7001)
        self.assertEqual((sa_in["tunnel"], sa_in["origin"], sa_in["algorithm"]),
                         ("east", "ike", "aes128gcm16"))
        self.assertEqual(sa_in["replay_window"], 256)
        # The lifetimes set, in `sas` (espgw-exporter's espgw_sa_lifetime_used_ratio); none unset.
        for sa in (sa_in, sa_out):
            self.assertEqual((sa.get("soft_bytes"), sa.get("hard_bytes")), (1000, 2000))
            self.assertNotIn("soft_packets", sa)
            self.assertNotIn("hard_packets", sa)
        self.assertEqual((sa_out["origin"], sa_out["algorithm"], sa_out["in_use"]),
                         ("ike", "aes256gcm16", True))
        self.assertEqual(self.sa("out", 0x1001)["origin"], "config")
        q = self.ok({"cmd": "sa-query", "direction": "in", "spi": f"0x{spi:08x}"})
        self.assertEqual((q["bytes"], q["packets"]), (0, 0))
        self.assertNotIn("last_use_s", q)
        self.ok({"cmd": "sa-del", "direction": "in", "spi": f"0x{spi:08x}"})
        self.assertIsNone(self.sa("in", spi))

    def test_if_id_must_be_32_bits(self):
        # EAST + 2^32 used to be truncated onto EAST.
        self.refused(sa_add(0x7002, IKE_IN_KEY, if_id=EAST + (1 << 32)), "32-bit")
        self.refused(sa_add(0x7002, IKE_IN_KEY, if_id=-1), "32-bit")
        self.refused(sa_add(0x7002, IKE_IN_KEY, if_id=str(EAST)), "32-bit")
        resp = self.gw.request({"cmd": "if-last-use", "if_id": EAST + (1 << 32),
                                "direction": "out"})
        self.assertFalse(resp["ok"])
        self.assertIn("32-bit", resp["error"])

    def test_unknown_if_id(self):
        other = tunnel_if_id("west")
        self.refused(sa_add(0x7003, IKE_IN_KEY, if_id=other), f"no tunnel with if_id {other}")

    def test_bad_ike_object(self):
        self.refused(sa_add(0x7004, IKE_IN_KEY, ike={"local": "nope"}), "ike.local")
        self.refused(sa_add(0x7004, IKE_IN_KEY, ike={"frobnicate": 1}), "unknown key")
        self.refused(sa_add(0x7004, IKE_IN_KEY, ike=dict(IKE, src_ts=["10.0.0.1/8"])),
                     "not a prefix")

    def test_sa_spi_must_be_a_number(self):
        req = sa_add(0x7005, IKE_IN_KEY)
        req["sa"]["spi"] = "0x7005"
        self.refused(req, "spi")

    def test_sa_flush_by_origin(self):
        self.ok(sa_add(0x7006, IKE_IN_KEY))
        self.ok(sa_add(0x7007, IKE_OUT_KEY, direction="out", algorithm="aes256gcm16"))
        self.ok({"cmd": "sa-flush", "origin": "ike"})
        left = self.gw.request({"cmd": "sas"})["sas"]
        self.assertEqual({(s["direction"], s["spi"], s["origin"]) for s in left},
                         {("in", "0x00002001", "config"), ("out", "0x00001001", "config")})
        tunnel = next(t for t in self.gw.request({"cmd": "tunnels"})["tunnels"]
                      if t["name"] == "east")
        self.assertEqual(tunnel["outbound_spi"], "0x00001001")  # back to the remaining SA
        self.refused({"cmd": "sa-flush", "origin": "everything"}, "origin")

    def test_sa_update_moves_a_live_sa(self):
        self.ok(sa_add(0x5101, IKE_OUT_KEY, direction="out", algorithm="aes256gcm16"))
        before = self.sa("out", 0x5101)
        resp = self.ok({"cmd": "sa-update", "direction": "out", "spi": "0x5101",
                        "remote": "203.0.113.9", "nat_t": True, "local_port": 4500,
                        "remote_port": 62001})
        self.assertIn("generation", resp)
        after = self.sa("out", 0x5101)
        self.assertEqual(after["remote"], "203.0.113.9")
        self.assertEqual(after["next_seq"], before["next_seq"])
        self.assertTrue(after["in_use"])
        tunnel = next(t for t in self.gw.request({"cmd": "tunnels"})["tunnels"]
                      if t["name"] == "east")
        self.assertEqual(tunnel["remote"], "203.0.113.9")

    def test_sa_update_refusals_change_nothing(self):
        self.ok(sa_add(0x5102, IKE_OUT_KEY, direction="out", algorithm="aes256gcm16"))
        gen = self.gw.request({"cmd": "status"})["generation"]
        self.refused({"cmd": "sa-update", "direction": "out", "spi": "0x5103",
                      "remote": "203.0.113.9"}, "no such SA")
        self.refused({"cmd": "sa-update", "direction": "out", "spi": "0x5102",
                      "remote": "2001:db8::9"}, "differ in family")
        self.refused({"cmd": "sa-update", "direction": "out", "spi": "0x5102",
                      "colour": "red"}, "unknown key")
        self.refused({"cmd": "sa-update", "direction": "out", "spi": "0x5102",
                      "remote": "not-an-address"}, "must be an IP address")
        self.assertEqual(self.gw.request({"cmd": "status"})["generation"], gen)

    def test_if_last_use(self):
        # The LAN packets went out through east's static SA.
        out = self.ok({"cmd": "if-last-use", "if_id": EAST, "direction": "out"})
        self.assertIn("last_use_s", out)
        self.assertLess(out["last_use_s"], 600)
        self.assertNotIn("last_use_s", self.ok({"cmd": "if-last-use", "if_id": EAST,
                                                "direction": "in"}))
        resp = self.gw.request({"cmd": "if-last-use", "if_id": tunnel_if_id("west"),
                                "direction": "in"})
        self.assertFalse(resp["ok"])

    def test_subscribe(self):
        self.ok({"cmd": "subscribe"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
