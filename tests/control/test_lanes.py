#!/usr/bin/env python3
"""Lanes in the dataplane (docs/lanes.md, dataplane/lanes/): a tunnel of four lanes, each with
its own outbound SA given by `sa-add ... "lane": K`, spreads the inner flows over its lanes.

The lan port reads an endless flood (net_pcap infinite_rx) of 64 UDP flows (source ports 1000..1063)
to 172.70.1.20; the wan port's capture stops growing at FloodTest.FILE_LIMIT. One transaction adds
tunnel "wide" (lanes: 4) with an outbound SA per lane.

Proves: every lane's SA encrypts (the flows spread); `tunnels` shows each lane's SA in use and
256 of the 1024 buckets each; with lane 2's SA gone only its buckets move (the other lanes keep
their 256 and take 256 more between them) and nothing is dropped as tunnel_down; with a new SA
on lane 2 its 256 buckets come back; an SA for a lane the tunnel does not have, 65 lanes, or
lanes without nat_t are refused, naming the problem. The per-lane view: `tunnels` gives each lane
its state, SPIs, outer ports and counters (packets out: the sum of its SAs' in `sas`), and
`espgwctl lanes` shows the same, one row per lane of "wide" and none of the one-lane "east"
(`lanes east`: its one lane), lane 2 as no_sa while it has no SA, and lane 3 as silent once it has
an inbound SA that hears nothing for dataplane.lane_dead_ms.

Run by meson: test_lanes.py ESPGW ESPGWCTL.
"""

import os
import re
import struct
import unittest

from control import ctl_harness as h
from labkit import lanes as lanes_model
from labkit.packets import read_pcap
from labkit.proc import wait_for

ESPGW, ESPGWCTL = h.main_args()

LANES = 4
KEYS = {f"lane{k}": h.test_key(f"lane {k} out", 20) for k in range(LANES + 1)}
KEYS["lane3in"] = h.test_key("lane 3 in", 20)
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def home_lane(sport):
    """The lane of the flood's flow from source port `sport` with every lane up: 172.50.1.10 ->
    172.70.1.20 UDP sport -> 5201 (labkit.lanes models dataplane/lanes/lane_hash.h)."""
    return lanes_model.home_lane(LANES, "172.50.1.10", "172.70.1.20", 17, sport, 5201)


def outer_ports(path, limit=4 << 20):
    """{SPI: {(UDP source port, destination port)}} of the ESP-in-UDP frames in the first `limit`
    bytes of a pcap (the wan port's output, which the flood keeps growing: a cut-off last frame
    is skipped)."""
    with open(path, "rb") as f:
        head = f.read(limit)
    cut = os.path.join(os.path.dirname(path), "wan_out_head.pcap")
    with open(cut, "wb") as f:
        f.write(head)
    out = {}
    for f in read_pcap(cut):
        if len(f) < 14 + 20 + 8 + 4 or f[12:14] != b"\x08\x00" or f[14 + 9] != 17:
            continue
        udp = 14 + (f[14] & 15) * 4
        sport, dport = struct.unpack_from("!HH", f, udp)
        out.setdefault(struct.unpack_from("!I", f, udp + 8)[0], set()).add((sport, dport))
    return out


def sa(spi, key):
    return {"spi": spi, "algorithm": "aes128gcm16", "key": "0x" + KEYS[key]}


def tunnel(**extra):
    t = {"name": "wide", "local": "198.51.100.1", "remote": "203.0.113.7",
         "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["172.70.0.0/16"], "nat_t": True,
         "ike": {"psk_ref": "wide-psk", "dpd_delay_s": 0}, "lanes": LANES, "peer_kind": "espgw"}
    t.update(extra)
    return t


class Lanes(h.FloodTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "lanes", list(KEYS.values())
    DESTINATIONS = ("172.70.1.20",)
    COPIES = 64

    def packets(self):
        return {s["spi"]: s["packets"] for s in self.ok({"cmd": "sas"})["sas"]
                if s["tunnel"] == "wide" and s["direction"] == "out"}

    def lanes(self):
        return self.tunnels()["wide"]["lanes"]

    def all_moving(self, spis):
        before = self.packets()

        def moved():
            now = self.packets()
            return all(now.get(s, 0) > before.get(s, 0) for s in spis)

        wait_for(f"packets under each of {spis}", moved, 15)

    def lanes_table(self, *args):
        """`espgwctl lanes ARGS` as {(tunnel, lane): {header: cell}}."""
        lines = self.gw.ctl("lanes", *args).stdout.splitlines()
        rows = [re.split(r"\s{2,}", line.strip()) for line in lines]
        self.assertTrue(all(len(r) == len(rows[0]) for r in rows), lines)
        return {(r[0], int(r[1])): dict(zip(rows[0], r)) for r in rows[1:]}

    def assert_view(self, states):
        """`tunnels` and `espgwctl lanes` agree on each lane of "wide" (the counters between two
        `tunnels` answers taken around it), and the lanes are in `states`."""
        before = self.lanes()
        table = self.lanes_table()
        after = self.lanes()
        self.assertEqual([x["state"] for x in after], states)
        self.assertEqual(set(table), {("wide", k) for k in range(LANES)}, table)
        for b, a in zip(before, after):
            row = table[("wide", a["lane"])]
            fixed = ("state", "spi_in", "spi_out", "sport", "dport", "worker", "buckets")
            self.assertEqual({k: b[k] for k in fixed}, {k: a[k] for k in fixed})
            ports = "-" if a["sport"] is None else f"{a['sport']}->{a['dport']}"
            self.assertEqual([row["STATE"], row["SPI IN"], row["SPI OUT"], row["PORTS"],
                              row["WORKER"], row["BUCKETS"]],
                             [a["state"], a["spi_in"] or "-", a["spi_out"] or "-", ports,
                              "-" if a["worker"] is None else str(a["worker"]),
                              str(a["buckets"])], row)
            for col, key in (("PACKETS IN", "packets_in"), ("PACKETS OUT", "packets_out")):
                self.assertTrue(b[key] <= int(row[col]) <= a[key], (col, row, b, a))
            for col, key in (("BYTES IN", "bytes_in"), ("BYTES OUT", "bytes_out")):
                value, unit = row[col].split()
                shown = float(value) * UNITS[unit]
                self.assertTrue(b[key] * 0.95 <= shown <= a[key] * 1.05 + 1, (col, row, b, a))
        return after

    def tunnel_down(self):
        return self.ok({"cmd": "counters"})["drops"].get("tunnel_down", 0)

    def test_lanes(self):
        self.ok({"cmd": "apply", "ops": [{"op": "tunnel-add", "tunnel": tunnel()}] + [
            {"op": "sa-add", "tunnel": "wide", "direction": "out", "lane": k,
             "sa": sa(0x7000 + k, f"lane{k}")} for k in range(LANES)]})
        spis = [f"0x{0x7000 + k:08x}" for k in range(LANES)]
        self.all_moving(spis)
        lanes = self.lanes()
        self.assertEqual([(x["lane"], x["outbound_spi"], x["buckets"]) for x in lanes],
                         [(k, spis[k], 256) for k in range(LANES)])
        # Each flow stays on its hash's lane: the lanes' packets follow how many of the 64 flows
        # each carries (uneven: 13, 17, 22, 12), within one round of the flood.
        flows = [0] * LANES
        for i in range(self.COPIES):
            flows[home_lane(1000 + i)] += 1
        counts = self.packets()
        total = sum(counts[s] for s in spis)
        for k in range(LANES):
            self.assertLessEqual(abs(counts[spis[k]] - total * flows[k] / self.COPIES),
                                 self.COPIES, f"lane {k}: {counts}, flows per lane {flows}")
        in_use = {s["spi"]: (s["lane"], s["in_use"]) for s in self.ok({"cmd": "sas"})["sas"]
                  if s["tunnel"] == "wide"}
        self.assertEqual(in_use, {spis[k]: (k, True) for k in range(LANES)})
        # Each lane sends from its own UDP port (dataplane.lane_port_base, default 4501), lane 0
        # from the IKE port, all to the peer's 4500 (docs/lanes.md, Decision point 5).
        ports = outer_ports(os.path.join(self.gw.dir, "wan_out.pcap"))
        self.assertEqual({spi: ports.get(0x7000 + k) for k, spi in enumerate(spis)},
                         {spis[0]: {(4500, 4500)}, **{spis[k]: {(4500 + k, 4500)}
                                                      for k in range(1, LANES)}})
        self.assertEqual({s["spi"]: s["local_port"] for s in self.ok({"cmd": "sas"})["sas"]
                          if s["tunnel"] == "wide"}, {spis[k]: 4500 + k for k in range(LANES)})

        # The per-lane view: every lane up, its own source port, no inbound SA yet; a lane's
        # packets out are its SA's (between two `sas` answers).
        before = self.packets()
        lanes = self.assert_view(["up"] * LANES)
        after = self.packets()
        for k, x in enumerate(lanes):
            self.assertEqual((x["spi_out"], x["outbound_spi"], x["spi_in"], x["worker"]),
                             (spis[k], spis[k], None, None))
            self.assertEqual((x["sport"], x["dport"]), (4500 + k, 4500))
            self.assertTrue(before[spis[k]] <= x["packets_out"] <= after[spis[k]], (x, before))
            self.assertGreater(x["bytes_out"], x["packets_out"] * 64)
            self.assertEqual((x["packets_in"], x["bytes_in"]), (0, 0))
        # The one-lane tunnel "east" is left out unless named: then its one lane.
        east = self.lanes_table("east")
        self.assertEqual(list(east), [("east", 0)])
        self.assertEqual([east[("east", 0)][c] for c in ("STATE", "SPI IN", "SPI OUT", "PORTS",
                                                         "BUCKETS")],
                         ["up", "0x00002001", "0x00001001", "4500->4500", "1024"])
        r = self.gw.ctl("lanes", "nope", expect=1)
        self.assertIn("no tunnel nope", r.stderr)

        # Lane 2 goes: only its buckets move, and nothing falls into tunnel_down.
        down_before = self.tunnel_down()
        self.ok({"cmd": "sa-del", "direction": "out", "spi": 0x7002})
        lanes = {x["lane"]: x for x in self.lanes()}
        self.assertEqual(lanes[2]["buckets"], 0)
        self.assertEqual(lanes[2]["outbound_spi"], "")
        self.assertEqual(sum(lanes[k]["buckets"] for k in (0, 1, 3)), 1024)
        for k in (0, 1, 3):
            self.assertIn(lanes[k]["buckets"], (341, 342), lanes)
        self.all_moving([spis[0], spis[1], spis[3]])
        self.assertEqual(self.tunnel_down(), down_before)
        lanes = self.assert_view(["up", "up", "no_sa", "up"])
        self.assertEqual((lanes[2]["spi_out"], lanes[2]["sport"], lanes[2]["packets_out"]),
                         (None, None, 0))

        # A new SA on lane 2: its buckets come back.
        self.ok({"cmd": "sa-add", "tunnel": "wide", "direction": "out", "lane": 2,
                 "sa": sa(0x7102, f"lane{LANES}")})
        self.assertEqual([x["buckets"] for x in self.lanes()], [256] * LANES)
        self.all_moving([spis[0], spis[1], "0x00007102", spis[3]])

        # Lane 3 gets an inbound SA that hears nothing (the wan port reads nothing): after
        # dataplane.lane_dead_ms (400 ms) it is silent and its buckets ride the other lanes.
        self.ok({"cmd": "sa-add", "tunnel": "wide", "direction": "in", "lane": 3,
                 "sa": sa(0x8003, "lane3in")})
        wait_for("lane 3 silent", lambda: self.lanes()[3]["state"] == "silent", 10)
        lanes = self.assert_view(["up", "up", "up", "silent"])
        self.assertEqual((lanes[3]["spi_in"], lanes[3]["worker"], lanes[3]["buckets"]),
                         ("0x00008003", None, 0))

    def test_refused(self):
        r = self.gw.request({"cmd": "sa-add", "tunnel": "wide", "direction": "out", "lane": LANES,
                             "sa": sa(0x7200, "lane0")})
        if r.get("ok") is False and "no tunnel" in r.get("error", ""):
            self.ok({"cmd": "tunnel-add", "tunnel": tunnel()})
            r = self.gw.request({"cmd": "sa-add", "tunnel": "wide", "direction": "out",
                                 "lane": LANES, "sa": sa(0x7200, "lane0")})
        self.assertFalse(r.get("ok"), r)
        self.assertIn("lane", r["error"])
        for bad, words in ((tunnel(name="many", lanes=65), "lanes"),
                           (tunnel(name="plain", nat_t=False), "nat_t")):
            r = self.gw.request({"cmd": "tunnel-add", "tunnel": bad})
            self.assertFalse(r.get("ok"), r)
            self.assertIn(words, r["error"])


if __name__ == "__main__":
    unittest.main()
