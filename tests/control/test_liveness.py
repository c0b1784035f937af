#!/usr/bin/env python3
"""liveness events: a tunnel that sends but hears nothing asks charon for a DPD at once
(dataplane/control/liveness.h, docs/ike-ha.md "Failover as shipped").

The lan port reads an endless flood (net_pcap infinite_rx) to 172.70.1.20, 172.80.1.20 and
172.90.1.20; the wan port receives nothing. One transaction adds tunnel "west" (an `ike:`
section with dpd_delay_s 3, an outbound and an inbound SA) for 172.70.0.0/16, "nodpd" (`ike:`
with dpd_delay_s 0) for 172.80.0.0/16 and "south" (static SAs) for 172.90.0.0/16: all three
encrypt the flood and receive nothing.

Proves: west raises a liveness event naming its outbound SA, no sooner than 2 s after it came
up (the quiet counts from then) and within a few seconds; under the same quiet the next one
comes only after dpd_delay_s (3 s), not on every check; its `liveness_checks` counts them; nodpd
(no DPD configured) and south (no IKE) never raise one; with its outbound SA gone west sends
nothing and raises no liveness event more.

Run by meson: test_liveness.py ESPGW ESPGWCTL.
"""

import time
import unittest

from control import ctl_harness as h
from labkit.control import tunnel_if_id

ESPGW, ESPGWCTL = h.main_args()

KEYS = {name: h.test_key(name, 20)
        for name in ("west out", "west in", "nodpd out", "nodpd in", "south out", "south in")}
QUIET_S = 2.0       # kLivenessQuietMs
DPD_DELAY_S = 3     # west's dpd_delay_s
EVENT_TIMEOUT_S = 20


def sa(spi, key):
    return {"spi": spi, "algorithm": "aes128gcm16", "key": "0x" + KEYS[key]}


def ike_tunnel(name, remote, cidr, dpd_delay):
    return {"name": name, "local": "198.51.100.1", "remote": remote,
            "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": [cidr], "nat_t": True,
            "ike": {"psk_ref": f"{name}-psk", "dpd_delay_s": dpd_delay}}


SOUTH = {"name": "south", "local": "198.51.100.1", "remote": "203.0.113.4",
         "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["172.90.0.0/16"], "nat_t": True,
         "static_sa": {"outbound": sa(0x3001, "south out"), "inbound": sa(0x4001, "south in")}}


class Liveness(h.FloodTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "live", list(KEYS.values())
    DESTINATIONS = ("172.70.1.20", "172.80.1.20", "172.90.1.20")
    COPIES = 16

    def sa_packets(self, spi):
        return self.ok({"cmd": "sa-query", "direction": "out", "spi": spi})["packets"]

    def next_liveness(self, events, timeout=EVENT_TIMEOUT_S):
        e = events.next(timeout)
        self.assertIsNotNone(e, f"no liveness event in {timeout} s")
        self.assertEqual(e.get("event"), "liveness", e)  # and no other event
        return e

    def test_liveness(self):
        events = h.Events(self.gw.socket)
        self.addCleanup(events.close)
        self.ok({"cmd": "apply", "ops": [
            {"op": "tunnel-add", "tunnel": ike_tunnel("west", "203.0.113.3", "172.70.0.0/16",
                                                      DPD_DELAY_S)},
            {"op": "sa-add", "tunnel": "west", "direction": "out", "sa": sa(0x5001, "west out")},
            {"op": "sa-add", "tunnel": "west", "direction": "in", "sa": sa(0x6001, "west in")},
            {"op": "tunnel-add", "tunnel": ike_tunnel("nodpd", "203.0.113.5", "172.80.0.0/16", 0)},
            {"op": "sa-add", "tunnel": "nodpd", "direction": "out", "sa": sa(0x5002, "nodpd out")},
            {"op": "sa-add", "tunnel": "nodpd", "direction": "in", "sa": sa(0x6002, "nodpd in")},
            {"op": "tunnel-add", "tunnel": SOUTH}]})
        up_at = time.monotonic()

        first = self.next_liveness(events)
        first_at = time.monotonic()
        self.assertGreaterEqual(first_at - up_at, QUIET_S - 0.1)
        self.assertEqual({k: v for k, v in first.items() if k != "quiet_ms"},
                         {"event": "liveness", "tunnel": "west", "if_id": tunnel_if_id("west"),
                          "spi": "0x00005001"})
        self.assertGreaterEqual(first["quiet_ms"], QUIET_S * 1000)
        # All three carry the flood the whole time.
        for spi in (0x5001, 0x5002, 0x3001):
            self.assertGreater(self.sa_packets(spi), 0, hex(spi))

        # The quiet goes on: the next check only after dpd_delay_s, and it is west's again.
        second = self.next_liveness(events)
        second_at = time.monotonic()
        self.assertEqual(second["tunnel"], "west")
        self.assertGreaterEqual(second_at - first_at, DPD_DELAY_S - 0.2)
        self.assertGreaterEqual(second["quiet_ms"], first["quiet_ms"] + (DPD_DELAY_S - 0.2) * 1000)
        tunnels = self.tunnels()
        self.assertEqual(tunnels["west"]["liveness_checks"], 2)
        self.assertEqual(tunnels["nodpd"]["liveness_checks"], 0)
        self.assertEqual(tunnels["south"]["liveness_checks"], 0)

        # West down (no outbound SA): it sends nothing, so nothing to check, however long the
        # quiet (one more dpd_delay_s and then some).
        # (The flood into it raises acquires now: west has an ike section.)
        self.ok({"cmd": "sa-del", "direction": "out", "spi": 0x5001})
        with self.assertRaises(AssertionError):
            events.next_event("liveness", DPD_DELAY_S + 1.5)
        self.assertEqual(self.tunnels()["west"]["liveness_checks"], 2)
        shown = self.gw.ctl_json("show", "tunnels")["tunnels"]
        self.assertEqual(next(t for t in shown if t["name"] == "west")["liveness_checks"], 2)


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
