#!/usr/bin/env python3
"""acquire events: traffic into a tunnel that IKE starts and that has no SA (docs/ike-bridge.md).

The lan port reads an endless flood (net_pcap infinite_rx) to 172.70.1.20 and 172.80.1.20, which
no route covers at first. With a subscriber connected, one transaction adds tunnel "west" (an
`ike:` section, no SA) for 172.70.0.0/16 and tunnel "south" (static SAs, its outbound one deleted
in the same transaction) for 172.80.0.0/16: from then on both drop the flood as tunnel_down.

Proves: west raises an acquire event with the flood's addresses and its if_id; under the flood
it raises exactly one until an outbound SA brings it up, as long as that takes under the rate
limit's second (at most one more per second otherwise); the tunnel's `acquires` counter matches
the events; south, a static-SA tunnel down the same way, never raises one; once west's outbound
SA is deleted again, the flood raises the next acquire, at least a second after the first.

Run by meson: test_acquire.py ESPGW ESPGWCTL.
"""

import time
import unittest

from control import ctl_harness as h
from labkit.control import tunnel_if_id

ESPGW, ESPGWCTL = h.main_args()

SOUTH_OUT_KEY = h.test_key("south out", 20)
SOUTH_IN_KEY = h.test_key("south in", 20)
WEST_OUT_KEY = h.test_key("west out", 20)
KEYS = [SOUTH_OUT_KEY, SOUTH_IN_KEY, WEST_OUT_KEY]
EVENT_TIMEOUT_S = 20
FLOOD_PACKETS = 2000  # tunnel_down drops that show the flood went on


WEST = {"name": "west", "local": "198.51.100.1", "remote": "203.0.113.3",
        "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["172.70.0.0/16"], "nat_t": True,
        "ike": {"psk_ref": "west-psk"}}
SOUTH = {"name": "south", "local": "198.51.100.1", "remote": "203.0.113.4",
         "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["172.80.0.0/16"], "nat_t": True,
         "static_sa": {"outbound": {"spi": 0x3001, "algorithm": "aes128gcm16",
                                    "key": "0x" + SOUTH_OUT_KEY},
                       "inbound": {"spi": 0x4001, "algorithm": "aes128gcm16",
                                   "key": "0x" + SOUTH_IN_KEY}}}


class Acquire(h.FloodTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "acq", KEYS
    DESTINATIONS = ("172.70.1.20", "172.80.1.20")

    def tunnel(self, name):
        return self.tunnels()[name]

    def tunnel_down(self):
        return self.ok({"cmd": "counters"})["drops"]["tunnel_down"]

    def wait_tunnel_down(self, more):
        """Polls (bounded) until `more` further packets were dropped as tunnel_down."""
        start = self.tunnel_down()
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while self.tunnel_down() < start + more:
            self.assertLess(time.monotonic(), deadline, "the flood stopped")
            time.sleep(0.01)

    def test_acquire(self):
        events = h.Events(self.gw.socket)
        self.addCleanup(events.close)
        # The flood runs (dropped for want of a route) before the tunnels come.
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while self.ok({"cmd": "status"})["packets"] < FLOOD_PACKETS:
            self.assertLess(time.monotonic(), deadline, "no flood")
            time.sleep(0.01)
        self.assertEqual(self.tunnel_down(), 0)

        self.ok({"cmd": "apply", "ops": [{"op": "tunnel-add", "tunnel": WEST},
                                         {"op": "tunnel-add", "tunnel": SOUTH},
                                         {"op": "sa-del", "direction": "out", "spi": 0x3001}]})
        first = events.next_event("acquire", EVENT_TIMEOUT_S)
        first_at = time.monotonic()
        self.assertEqual(first, {"event": "acquire", "tunnel": "west",
                                 "if_id": tunnel_if_id("west"), "src": "172.50.1.10",
                                 "dst": "172.70.1.20"})
        # Both tunnels go on dropping the flood; then west comes up.
        self.wait_tunnel_down(FLOOD_PACKETS)
        self.ok({"cmd": "sa-add", "tunnel": "west", "direction": "out",
                 "sa": {"spi": 0x5001, "algorithm": "aes128gcm16", "key": "0x" + WEST_OUT_KEY}})
        up_after = time.monotonic() - first_at
        # With an outbound SA west raises no more: its counter is final, and every event it
        # counts was sent before the sa-add's answer.
        sent = self.tunnel("west")["acquires"]
        extra = [events.next_event("acquire", EVENT_TIMEOUT_S) for _ in range(sent - 1)]
        self.assertTrue(all(e["tunnel"] == "west" for e in extra), extra)
        if up_after < 0.9:
            self.assertEqual(sent, 1, f"west came up {up_after:.2f} s after its first acquire")
        else:
            self.assertLessEqual(sent, 2 + int(up_after), f"{up_after:.2f} s")

        # Only south drops now, on and on, and raises nothing.
        self.wait_tunnel_down(FLOOD_PACKETS)
        self.assertEqual(self.tunnel("south")["acquires"], 0)
        self.assertEqual(self.tunnel("south")["outbound_spi"], "")
        self.assertEqual(self.tunnel("west")["acquires"], sent)
        self.assertIsNone(events.next(0), "an event after west came up")

        # Down again: the flood raises the next acquire, a second or more after the last one.
        self.ok({"cmd": "sa-del", "direction": "out", "spi": 0x5001})
        again = events.next_event("acquire", EVENT_TIMEOUT_S)
        self.assertEqual(again["tunnel"], "west")
        if up_after < 0.9:
            self.assertGreaterEqual(time.monotonic() - first_at, 0.9)
        self.assertEqual(self.tunnel("west")["acquires"], sent + 1)

        # Counted where operators look: the telemetry and espgwctl read the same tunnel list.
        shown = self.gw.ctl_json("show", "tunnels")["tunnels"]
        self.assertEqual(next(t for t in shown if t["name"] == "south")["acquires"], 0)


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)
