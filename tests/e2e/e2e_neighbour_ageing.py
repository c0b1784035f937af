#!/usr/bin/env python3
"""Neighbours that age keep traffic flowing: with neighbour_ttl_s 1 each learned next hop is
probed (a unicast ARP request, RFC 4861 7.3.3's PROBE) every second or so, and its answer must
keep it reachable. Found by the soak (docs/reliability.md): the worker told the control thread
only about ARP replies that changed a MAC, so a probe's answer (the same MAC) was never heard;
the entry was forgotten after arp_retries, resolved again from scratch, and the packets meanwhile
overflowed its hold queue: every neighbour_ttl_s (300 s by default), and 3 s after every restart
(remembered neighbours are probed at once, docs/sa-state.md).

A ping flood each way (A -> B and B -> A, 500 a second) for --seconds through the lab's tunnel:
every echo answered, no drop on either gateway (neighbour_hold_full, neighbour_unresolved), and
each gateway's `counters.neighbour_resolution` with `requests` grown by at least one a second (the
probes happened) and `resolved` not grown (no next hop had to be resolved again).

Run by meson: e2e_neighbour_ageing.py --build BUILD
"""

import lab as L
from labkit.proc import check

DATAPLANE = {"neighbour_ttl_s": 1, "arp_retries": 2, "arp_retry_ms": 200}


def main():
    a = L.arguments(lambda ap: ap.add_argument("--seconds", type=float, default=6))
    L.on_signals_unwind()
    failures = []
    with L.Lab(a.build, crypto=a.crypto, dataplane=DATAPLANE) as lab:
        lab.up()
        lab.wait_tunnel()
        # Snapshots, not settle(): with next hops probed every second the ports are never quiet.
        s1 = lab.snapshot()
        n = int(a.seconds * 500)
        pa = lab.spawn("a", "ping", "-q", "-i", "0.002", "-c", str(n), "-W", "1", L.B_IP)
        pb = lab.spawn("b", "ping", "-q", "-i", "0.002", "-c", str(n), "-W", "1", L.A_IP)
        outs = [p.communicate(timeout=a.seconds + 30)[0] for p in (pa, pb)]
        s2 = lab.snapshot()
        for name, out in zip(("A -> B", "B -> A"), outs):
            line = next((ln for ln in out.splitlines() if "packets transmitted" in ln), out)
            check(f"{n} packets transmitted, {n} received" in line, f"ping {name}: {line.strip()}",
                  failures)
        for gw in lab.gateways:
            drops = L.drops_delta(s1[gw.name]["counters"], s2[gw.name]["counters"])
            check(not drops, f"{gw.name}: no drops ({drops})", failures)
            r1 = s1[gw.name]["counters"]["neighbour_resolution"]
            r2 = s2[gw.name]["counters"]["neighbour_resolution"]
            probes = r2["requests"] - r1["requests"]
            check(probes >= a.seconds, f"{gw.name}: {probes} ARP requests while in use (probes)",
                  failures)
            check(r2["resolved"] == r1["resolved"], f"{gw.name}: no next hop resolved again "
                  f"(resolved {r1['resolved']} -> {r2['resolved']})", failures)
    print("PASS" if not failures else f"FAILED: {len(failures)} check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
