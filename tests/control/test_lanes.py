#!/usr/bin/env python3
"""Lanes in the dataplane (docs/lanes.md, dataplane/lanes/): a tunnel of four lanes, each with
its own outbound SA given by `sa-add ... "lane": K`, spreads the inner flows over its lanes.

The lan port reads an endless flood (net_pcap infinite_rx) of 64 UDP flows (source ports 1000..1063)
to 172.70.1.20. One transaction adds tunnel "wide" (lanes: 4) with an outbound SA per lane.

Proves: every lane's SA encrypts (the flows spread); `tunnels` shows each lane's SA in use and
256 of the 1024 buckets each; with lane 2's SA gone only its buckets move (the other lanes keep
their 256 and take 256 more between them) and nothing is dropped as tunnel_down; with a new SA
on lane 2 its 256 buckets come back; an SA for a lane the tunnel does not have, 65 lanes, or
lanes without nat_t are refused, naming the problem.

Run by meson: test_lanes.py ESPGW ESPGWCTL.
"""

import os
import struct
import unittest

from control import ctl_harness as h
from labkit.packets import read_pcap
from labkit.proc import wait_for

ESPGW, ESPGWCTL = h.main_args()

LANES = 4
KEYS = {f"lane{k}": h.test_key(f"lane {k} out", 20) for k in range(LANES + 1)}


def crc32c(crc, data):
    """CRC32-C as the SSE4.2 instruction computes it (no inversion): rte_hash_crc's."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def home_lane(sport):
    """The lane of the flood's flow from source port `sport` with every lane up: lane_hash4()
    (dataplane/lanes/lane_hash.h) of 172.50.1.10 -> 172.70.1.20 UDP sport -> 5201, its bucket's
    home lane (bucket mod lanes, dataplane/lanes/lane_map.h)."""
    h = crc32c(0x6C616E65, bytes([172, 50, 1, 10, 172, 70, 1, 20]))
    h = crc32c(h, struct.pack("!HH", sport, 5201))
    h = crc32c(h, struct.pack("<I", 17))
    return (h & 1023) % LANES


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
        # each carries (uneven: 20, 20, 12, 12), within one round of the flood.
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

        # A new SA on lane 2: its buckets come back.
        self.ok({"cmd": "sa-add", "tunnel": "wide", "direction": "out", "lane": 2,
                 "sa": sa(0x7102, f"lane{LANES}")})
        self.assertEqual([x["buckets"] for x in self.lanes()], [256] * LANES)
        self.all_moving([spis[0], spis[1], "0x00007102", spis[3]])

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
