#!/usr/bin/env python3
"""The per-lane series as a real Prometheus sees them: a flooded espgw (tests/control/ctl_harness.py,
net_pcap ports) with tunnel "wide" of 4 lanes keyed by sa-add "lane" and the one-lane tunnel
"east", espgw-exporter on a free localhost port, and Debian's `prometheus` scraping it every
second into a TSDB of its own in the test's folder (tests/metrics/prom_kit.py; the rest is
tests/metrics/exporter_kit.py's, as in metrics_exporter).

What it proves, through Prometheus's HTTP API only:
  - the exporter is its target, healthy ("up");
  - espgw_lane_up{tunnel="wide"} is 4 series, lanes "0".."3", 1 for each lane whose state in the
    control socket's `tunnels` answers taken around the query is up;
  - each lane's espgw_lane_packets_total{direction="out"}, from a scrape that began after the
    first `tunnels` answer, lies between that answer and one taken after the query;
  - rate(espgw_lane_packets_total[5s]) > 0 for every flooded lane;
  - no espgw_lane_* series for "east" (its espgw_tunnel_up is there); espgw_lane_series_omitted 0;
  - once lane 2's outbound SA is deleted over the control socket, Prometheus reports its
    espgw_lane_up 0, the other lanes' still 1;
  - the shipped alerting rules (metrics/alerts/espgw-rules.yml) load and evaluate without error
    on these series; EspgwLaneDown is quiet while every lane is up, and goes pending (its `for`
    is a minute) for lane 2 once its SA is deleted, for no other lane;
  - no key appears in anything Prometheus answered.

Skipped (77) without root (espgw's DPDK runtime folder) or without a `prometheus` binary.
Run by meson: test_prometheus.py ESPGW ESPGWCTL EXPORTER.
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

from control import ctl_harness as h
from labkit import lab
from labkit.proc import tail, wait_for
from metrics import exporter_kit as kit
from metrics import prom_kit
from metrics.prom_kit import WAIT_S

ESPGW, ESPGWCTL, EXPORTER = kit.main_args()
RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "metrics", "alerts",
                     "espgw-rules.yml")

LANES = 4


class Prometheus(prom_kit.Prometheus):
    def by_lane(self, expr):
        """{lane: value} of a query whose series differ by lane only."""
        return self.by_label(expr, "lane")


class Lanes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="espgw-prometheus-test-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        note = lab.leave_note("prom", f"{os.getpid()}", cls.dir)
        if note:
            cls.addClassCleanup(os.unlink, note)
        control = os.path.join(cls.dir, "run", "espgw.sock")
        cls.keys = kit.lane_keys(LANES)
        cls.gw = kit.flooded_gateway(ESPGW, ESPGWCTL, "prometheus", control, cls.keys)
        cls.addClassCleanup(cls.gw.cleanup)
        cls.addClassCleanup(cls.gw.close)
        exporter, port = kit.start_exporter(EXPORTER, control, os.path.join(cls.dir, "ike.sock"))
        cls.addClassCleanup(kit.stop_exporter, exporter)
        cls.prom = Prometheus(prom_kit.binary(), cls.dir, port, rules=RULES)
        cls.addClassCleanup(cls.prom.stop)
        cls.target = f"127.0.0.1:{port}"
        cls.gw.start()
        r = kit.add_wide(cls.gw, cls.keys)
        assert r.get("ok"), r
        wait_for("packets on every lane",
                 lambda: all(x["packets_out"] > 0 for x in kit.wide_lanes(cls.gw)), 15)
        cls.prom.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        cls.gw.close()
        cls.gw.assert_no_key_material(cls.prom.texts + [tail(cls.prom.log, 1000)])

    def lanes(self):
        return kit.wide_lanes(self.gw)

    def test_lanes(self):
        p = self.prom
        t0 = time.monotonic()

        target = p.wait_target_up()
        self.assertEqual(target["labels"]["instance"], self.target)
        self.assertEqual(target["lastError"], "")
        print(f"target up after {time.monotonic() - t0:.1f} s", flush=True)

        # States and counters per lane, against `tunnels` answers around a scrape.
        before = self.lanes()
        since = time.time()

        def scraped_since():
            stamps = [v for _, v in p.query('timestamp(espgw_lane_up{tunnel="wide"})')]
            return len(stamps) == LANES and min(stamps) > since
        wait_for("a scrape after the first tunnels answer", scraped_since, WAIT_S)
        up = p.by_lane('espgw_lane_up{tunnel="wide"}')
        out = p.by_lane('espgw_lane_packets_total{tunnel="wide",direction="out"}')
        after = self.lanes()
        lanes = [str(k) for k in range(LANES)]
        self.assertEqual(sorted(up), lanes)
        self.assertEqual(sorted(out), lanes)
        self.assertEqual([x["state"] for x in before], ["up"] * LANES)
        self.assertEqual([x["state"] for x in after], ["up"] * LANES)
        for b, a in zip(before, after):
            lane = str(a["lane"])
            self.assertEqual(up[lane], 1 if a["state"] == "up" else 0, lane)
            self.assertTrue(b["packets_out"] <= out[lane] <= a["packets_out"],
                            (lane, b["packets_out"], out[lane], a["packets_out"]))
        # Every flooded lane moves, as Prometheus computes it over a few scrapes.
        rate = 'rate(espgw_lane_packets_total{tunnel="wide",direction="out"}[5s])'

        def moving():
            r = p.by_lane(rate)
            return len(r) == LANES and all(v > 0 for v in r.values()) and r
        rates = wait_for("a rate on every lane", moving, WAIT_S)
        print("packets/s per lane: " + ", ".join(f"{k}: {rates[k]:.0f}" for k in sorted(rates)),
              flush=True)

        # The one-lane tunnel adds no lane series; none is left out.
        self.assertEqual(p.query('espgw_tunnel_up{tunnel="east"}')[0][1], 1)
        self.assertEqual(p.query('{__name__=~"espgw_lane_.*",tunnel="east"}'), [])
        self.assertEqual(p.query('{__name__=~"espgw_lane_.*",tunnel=~".+",tunnel!="wide"}'), [])
        self.assertEqual([v for _, v in p.query("espgw_lane_series_omitted")], [0])

        # The shipped rules: all loaded, evaluated on these series without error, no lane alert.
        def evaluated():
            rules = p.rules()
            return rules and all(not r.get("lastEvaluation", "0001").startswith("0001") for r in rules) and rules
        rules = wait_for("the rules evaluated", evaluated, WAIT_S)
        self.assertEqual(len(rules), 12, [r["name"] for r in rules])
        for r in rules:
            self.assertEqual((r["health"], r.get("lastError", "")), ("ok", ""), r["name"])
        self.assertEqual(p.alerts("EspgwLaneDown"), [])

        # Lane 2 loses its SA: Prometheus sees it down, the others still up.
        r = kit.delete_lane_sa(self.gw, 2)
        self.assertTrue(r.get("ok"), r)
        self.assertEqual([x["state"] for x in self.lanes()], ["up", "up", "no_sa", "up"])
        t1 = time.monotonic()
        wait_for("lane 2 down in prometheus",
                 lambda: p.by_lane('espgw_lane_up{tunnel="wide"}').get("2") == 0, WAIT_S)
        print(f"lane 2 down in prometheus after {time.monotonic() - t1:.1f} s", flush=True)
        self.assertEqual(p.by_lane('espgw_lane_up{tunnel="wide"}'),
                         {"0": 1, "1": 1, "2": 0, "3": 1})
        # EspgwLaneDown for lane 2 alone: pending, since its `for` (a minute) has not passed.
        alerts = wait_for("EspgwLaneDown pending", lambda: p.alerts("EspgwLaneDown"), WAIT_S)
        self.assertEqual([(a["tunnel"], a["lane"], a["severity"], state) for a, state in alerts],
                         [("wide", "2", "warning", "pending")])


if __name__ == "__main__":
    h.skip_unless_runnable()
    if prom_kit.binary() is None:
        print(f"SKIP: {prom_kit.MISSING}")
        sys.exit(77)
    unittest.main(verbosity=2)
