"""Lane liveness between two espgw gateways (docs/lanes.md "Lane liveness", tests/e2e/lab.py).

The lab's tunnel gets two lanes on both gateways (lanes: 2, peer_kind: espgw): lane 0 keeps the
static SAs of the config, lane 1 gets its own SA pair by `sa-add ... "lane": 1`. Lane 1 sends its
ESP from UDP source port 4501 (dataplane.lane_port_base), lane 0 from 4500.

  1. With no user traffic, every lane's keepalives (ESP dummy packets) rise on both gateways, out
     and in, and both lanes carry 512 buckets.
  2. The router drops UDP from port 4501 (nft, both directions): lane 1 is blackholed, lane 0 is
     not. Within lane_dead_ms (400 ms) plus the watch's period both gateways hand lane 1's
     buckets to lane 0 (1024 / 0), lane 0 keeps its own; a ping A -> B then loses nothing (every
     flow is on lane 0). Measured: the time from the nft rule to the bucket change, per gateway.
  3. The drop is removed: lane 1 is heard again and its 512 buckets come home on both gateways.
     Measured likewise.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import time

from e2e import lab as L
from labkit.proc import check

LANE1_PORT = 4501
TABLE = "lanetest"
# lane_dead_ms + the watch's period, plus slack: measured from nft's return, lane 1's last packet
# still arrives up to ~0.55 s later in this lab (the watch logs 0.40-0.42 s of quiet at its
# decision, while the change is seen 0.93-0.98 s after the rule), not explained yet.
BOUND_S = 2.0


def with_lanes(gw):
    """The lab's config for `gw`, with the tunnel of two lanes."""
    plain = gw.write_config

    def write():
        plain()
        with open(gw.config) as f:
            text = f.read()
        with open(gw.config, "w") as f:
            f.write(text.replace("    nat_t: true\n",
                                 "    nat_t: true\n    lanes: 2\n    peer_kind: espgw\n", 1))
    gw.write_config = write


def lanes(gw):
    t = gw.ctl("tunnels")["tunnels"][0]
    return t, [x["buckets"] for x in t["lanes"]]


def keepalives(gw):
    return {(s["direction"], s["lane"]): s["keepalives"] for s in gw.ctl("sas")["sas"]}


def watch_buckets(lab, want, timeout):
    """Polls both gateways until each shows `want` buckets per lane; seconds until each did."""
    t0 = time.monotonic()
    seen = {}
    while len(seen) < len(lab.gateways):
        for gw in lab.gateways:
            if gw.name not in seen and lanes(gw)[1] == want:
                seen[gw.name] = time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise L.LabError(f"buckets {want} not reached in {timeout} s: "
                             f"{[lanes(gw)[1] for gw in lab.gateways]}")
        time.sleep(0.005)
    return seen


def main():
    a = L.arguments()
    L.on_signals_unwind()
    failures = []
    figures = {}
    with L.Lab(a.build, crypto=a.crypto) as lab:
        gw1, gw2 = lab.gw1, lab.gw2
        for gw in lab.gateways:
            with_lanes(gw)
        lab.up()
        a2b = (lab.spi_a2b + 1, L.new_key())
        b2a = (lab.spi_b2a + 1, L.new_key())
        for gw, out, inb in ((gw1, a2b, b2a), (gw2, b2a, a2b)):
            gw.ctl.apply(*({"op": "sa-add", "tunnel": gw.tunnel["name"], "direction": d,
                            "lane": 1, "sa": L.sa_json(*sa)} for d, sa in (("in", inb),
                                                                          ("out", out))))
        lab.wait_tunnel()

        print("== 1. keepalives with no user traffic", flush=True)
        before = {gw.name: keepalives(gw) for gw in lab.gateways}
        time.sleep(1.0)  # a measuring window, not a synchronisation: ~10 keepalives per lane
        for gw in lab.gateways:
            now = keepalives(gw)
            rise = {k: now[k] - before[gw.name].get(k, 0) for k in now}
            check(all(v >= 5 for v in rise.values()) and len(rise) == 4,
                  f"{gw.name}: keepalives rise on both lanes, out and in, in 1 s: {rise}",
                  failures)
            check(lanes(gw)[1] == [512, 512], f"{gw.name}: both lanes up, 512 buckets each",
                  failures)

        print(f"== 2. the router drops UDP from port {LANE1_PORT} (lane 1)", flush=True)
        lab.sh("inet", "nft", f"add table inet {TABLE}; "
               f"add chain inet {TABLE} lanedrop {{ type filter hook forward priority 0; }}; "
               f"add rule inet {TABLE} lanedrop udp sport {LANE1_PORT} drop")
        detect = watch_buckets(lab, [1024, 0], 5)
        figures["detection_s"] = detect
        for gw in lab.gateways:
            t, b = lanes(gw)
            check(detect[gw.name] < BOUND_S,
                  f"{gw.name}: lane 1's buckets moved {detect[gw.name]:.3f} s after the drop "
                  f"(bound {BOUND_S} s)", failures)
            check(t["lanes"][1]["outbound_spi"] != "" and t["lanes_silenced"] == 1,
                  f"{gw.name}: lane 1 keeps its SA and is silent once ({t['lanes_silenced']})",
                  failures)
        r = lab.ping("a", L.B_IP, count=20, interval=0.02)
        check(r["received"] == r["sent"], f"ping A -> B over lane 0 alone: {r}", failures)

        print("== 3. the drop is removed", flush=True)
        lab.sh("inet", "nft", f"delete table inet {TABLE}")
        back = watch_buckets(lab, [512, 512], 5)
        figures["return_s"] = back
        for gw in lab.gateways:
            t, _ = lanes(gw)
            check(back[gw.name] < BOUND_S,
                  f"{gw.name}: lane 1's buckets home {back[gw.name]:.3f} s after the drop went",
                  failures)
            check(t["lanes_revived"] == 1, f"{gw.name}: lane 1 alive again once", failures)
        r = lab.ping("a", L.B_IP, count=20, interval=0.02)
        check(r["received"] == r["sent"], f"ping A -> B over both lanes: {r}", failures)
        for gw in lab.gateways:  # the watch's own account of both changes
            with open(gw.log) as f:
                for line in f:
                    if " lane 1: " in line:
                        print(f"  {gw.name}: {line.strip()}", flush=True)
        codes = [gw.stop() for gw in lab.gateways]
        check(codes == [0, 0], f"both gateways stop cleanly (exit codes {codes})", failures)
    return L.verdict(figures, failures)


if __name__ == "__main__":
    L.exit_with(main)
