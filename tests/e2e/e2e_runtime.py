"""Runtime changes under traffic, with no packet lost (tests/e2e/lab.py).

Two UDP streams with sequence numbers (A -> B and B -> A, --rate datagrams per second each) run
while the control sockets of both gateways change what the workers use:

  1. rekey, make-before-break, one op at a time: each side installs the new inbound SA, then the
     new outbound SA switches the tunnel over; once every packet sent under the old outbound SA
     has been decrypted by the old inbound SA (counted, not timed), both old SAs are deleted;
  2. routes: a more specific route to the peer's address added and deleted (the tunnel's egress
     is looked up again each time), the default route replaced, an unrelated route added and
     deleted;
  3. tunnel-replace with the tunnel's current static SAs and a new MSS, as re-applying an
     unchanged config file would (the SAs keep their state); then one that also changes the TTL,
     which would restart the outbound SA's sequence numbers under the same keys: refused, and
     nothing changes;
  4. rekey through tunnel-replace with a new static SA pair (the config-file way), after the new
     inbound SAs were added on both sides; the old SAs deleted once drained.

Each step waits until traffic has crossed the new state (SA counters grow) before the next.

What it proves: every sequence number of both streams arrives exactly once; neither gateway drops
anything under any reason; the packets decrypted by all of a gateway's inbound SAs during the run
(deleted ones included, read at deletion) equal the datagrams its host received plus the
streams' end markers.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import secrets

from e2e import lab as L
from labkit.proc import check
from labkit.traffic import Stream, check_stream, stop_streams

PORT_AB = 6000
PORT_BA = 6001
END_MARKERS = 3  # tools.py udp-seq-send sends three


class Ledger:
    """Packets per gateway and direction over all SAs, those deleted during the run included."""

    def __init__(self, lab):
        self.lab = lab
        self.retired = {"gw1": {"in": 0, "out": 0}, "gw2": {"in": 0, "out": 0}}
        self.start = self.totals()

    def retire(self, gw, direction, spi):
        sa = gw.ctl.sas()[(direction, spi)]
        gw.ctl.apply({"op": "sa-del", "direction": direction, "spi": spi})
        self.retired[gw.name][direction] += sa["packets"]
        return sa["packets"]

    def totals(self):
        out = {}
        for gw in self.lab.gateways:
            sums = {"in": 0, "out": 0}
            for (direction, _), sa in gw.ctl.sas().items():
                sums[direction] += sa["packets"]
            out[gw.name] = {d: sums[d] + getattr(self, "retired", {}).get(gw.name, {}).get(d, 0)
                            for d in sums}
        return out

    def during_run(self):
        now = self.totals()
        return {g: {d: now[g][d] - self.start[g][d] for d in now[g]} for g in now}


def packets_in(gw, spi):
    sa = gw.ctl.sas().get(("in", spi))
    return sa["packets"] if sa else 0


def wait_flowing(lab, spis, at_least, what):
    """Both streams have crossed the current state: each inbound SA in `spis` ({gw: spi}) has
    decrypted `at_least` more packets than now."""
    for gw in lab.gateways:
        gw.check_alive()
    base = {gw.name: packets_in(gw, spis[gw.name]) for gw in lab.gateways}
    for gw in lab.gateways:
        L.wait_for(f"{at_least} packets through {gw.name}'s inbound SA 0x{spis[gw.name]:08x} "
                   f"({what})",
                   lambda gw=gw: packets_in(gw, spis[gw.name]) >= base[gw.name] + at_least, 20)


def drain(lab, sender, receiver, spi):
    """Every packet the sender's old outbound SA encrypted has been decrypted by the receiver's
    old inbound SA. Called after the switch, when the old SA sends no more (publish waits for
    every worker to leave the old tables)."""
    final = sender.ctl.sas()[("out", spi)]["packets"]
    L.wait_for(f"{receiver.name}'s old inbound SA 0x{spi:08x} to decrypt all {final} packets "
               f"{sender.name} sent under it", lambda: packets_in(receiver, spi) >= final, 20)
    got = packets_in(receiver, spi)
    if got != final:
        raise L.LabError(f"0x{spi:08x}: {sender.name} sent {final}, {receiver.name} decrypted "
                         f"{got}")
    return final


def new_sa():
    return secrets.randbelow(0xFFFF0000) + 0x1000, L.new_key()


def sa_op(op, tunnel, direction, sa):
    return {"op": op, "tunnel": tunnel, "direction": direction, "sa": L.sa_json(*sa)}


def tunnel_json(gw, out_sa, in_sa, mss=None):
    t = gw.tunnel
    j = {"name": t["name"], "local": t["local"], "remote": t["remote"],
         "local_cidrs": [t["local_cidrs"]], "remote_cidrs": [t["remote_cidrs"]], "nat_t": True,
         "static_sa": {"outbound": L.sa_json(*out_sa), "inbound": L.sa_json(*in_sa)}}
    if mss:
        j["mss"] = mss
    return j


def main():
    def more(ap):
        ap.add_argument("--rate", type=float, default=2000, help="datagrams per second, each way")

    a = L.arguments(more)
    L.on_signals_unwind()
    failures = []
    with L.Lab(a.build, crypto=a.crypto) as lab:
        gw1, gw2 = lab.gw1, lab.gw2
        lab.up()
        lab.wait_tunnel()
        s0 = lab.settle("the warm-up ping to drain")
        ledger = Ledger(lab)
        a2b = (lab.spi_a2b, lab.key_a2b)  # gw1 out, gw2 in
        b2a = (lab.spi_b2a, lab.key_b2a)  # gw2 out, gw1 in
        t1, t2 = gw1.tunnel["name"], gw2.tunnel["name"]
        gens = {}

        print(f"== two UDP streams with sequence numbers, {a.rate:g}/s each way", flush=True)
        streams = [Stream(lab, "a", "b", L.B_IP, PORT_AB, a.rate).start(timeout=20),
                   Stream(lab, "b", "a", L.A_IP, PORT_BA, a.rate).start(timeout=20)]
        wait_flowing(lab, {"gw1": b2a[0], "gw2": a2b[0]}, 200, "the streams before any change")

        print("== 1. rekey, make-before-break, one op at a time", flush=True)
        n_a2b, n_b2a = new_sa(), new_sa()
        gw2.ctl.apply(sa_op("sa-add", t2, "in", n_a2b))
        gw1.ctl.apply(sa_op("sa-add", t1, "in", n_b2a))
        gw1.ctl.apply(sa_op("sa-add", t1, "out", n_a2b))
        gw2.ctl.apply(sa_op("sa-add", t2, "out", n_b2a))
        for gw, spi in ((gw1, n_a2b[0]), (gw2, n_b2a[0])):
            tun = gw.ctl("tunnels")["tunnels"][0]
            check(tun["outbound_spi"] == f"0x{spi:08x}",
                  f"{gw.name}: the tunnel sends under the new SA {tun['outbound_spi']}", failures)
        wait_flowing(lab, {"gw1": n_b2a[0], "gw2": n_a2b[0]}, 200, "the new SAs")
        d1 = drain(lab, gw1, gw2, a2b[0])
        d2 = drain(lab, gw2, gw1, b2a[0])
        ledger.retire(gw1, "out", a2b[0])
        ledger.retire(gw2, "in", a2b[0])
        ledger.retire(gw2, "out", b2a[0])
        ledger.retire(gw1, "in", b2a[0])
        print(f"  old SAs drained ({d1} and {d2} packets) and deleted", flush=True)
        a2b, b2a = n_a2b, n_b2a
        flowing = {"gw1": b2a[0], "gw2": a2b[0]}
        wait_flowing(lab, flowing, 200, "after deleting the old SAs")
        check(len(gw1.ctl.sas()) == 2 and len(gw2.ctl.sas()) == 2,
              "each gateway holds exactly its two new SAs", failures)

        print("== 2. routes under traffic", flush=True)
        more_specific = {"prefix": "203.0.113.0/24", "via": L.INET1, "interface": "wan"}
        gw1.ctl.apply({"op": "route-add", "route": more_specific})
        wait_flowing(lab, flowing, 200, "route-add 203.0.113.0/24 on gw1")
        gw1.ctl.apply({"op": "route-del", "prefix": "203.0.113.0/24"})
        wait_flowing(lab, flowing, 200, "route-del 203.0.113.0/24 on gw1")
        gw2.ctl.apply({"op": "route-replace",
                       "route": {"prefix": "0.0.0.0/0", "via": L.INET2, "interface": "wan"}})
        wait_flowing(lab, flowing, 200, "route-replace 0.0.0.0/0 on gw2")
        gw2.ctl.apply({"op": "route-add",
                       "route": {"prefix": "10.99.0.0/16", "via": L.INET2, "interface": "wan"}})
        routes = [r["prefix"] for r in gw2.ctl("routes")["routes"]]
        check("10.99.0.0/16" in routes, "gw2 lists the added route", failures)
        gw2.ctl.apply({"op": "route-del", "prefix": "10.99.0.0/16"})
        wait_flowing(lab, flowing, 200, "route-add and route-del 10.99.0.0/16 on gw2")

        print("== 3. tunnel-replace with the current SAs and a new MSS", flush=True)
        gw1.ctl.apply({"op": "tunnel-replace", "tunnel": tunnel_json(gw1, a2b, b2a, mss=1300)})
        gw2.ctl.apply({"op": "tunnel-replace", "tunnel": tunnel_json(gw2, b2a, a2b, mss=1300)})
        for gw in lab.gateways:
            mss = gw.ctl("tunnels")["tunnels"][0]["mss"]
            check(mss == 1300, f"{gw.name}: tunnel MSS now {mss}", failures)
        wait_flowing(lab, flowing, 200, "tunnel-replace with the same SAs")
        changed = tunnel_json(gw1, a2b, b2a, mss=1200) | {"ttl": 32}
        try:
            gw1.ctl.apply({"op": "tunnel-replace", "tunnel": changed})
            refused = ""
        except L.LabError as e:
            refused = str(e)
        check("restart at sequence number 1" in refused and "nothing was changed" in refused,
              "tunnel-replace with another TTL under the same outbound SA is refused "
              f"({refused.split(': ', 2)[-1][:60]}...)", failures)
        mss = gw1.ctl("tunnels")["tunnels"][0]["mss"]
        check(mss == 1300, f"gw1: the refused change left the tunnel as it was (MSS {mss})",
              failures)
        wait_flowing(lab, flowing, 200, "the refused tunnel-replace")

        print("== 4. rekey through tunnel-replace with a new SA pair", flush=True)
        n_a2b, n_b2a = new_sa(), new_sa()
        gw2.ctl.apply(sa_op("sa-add", t2, "in", n_a2b))
        gw1.ctl.apply(sa_op("sa-add", t1, "in", n_b2a))
        gw1.ctl.apply({"op": "tunnel-replace", "tunnel": tunnel_json(gw1, n_a2b, n_b2a)})
        gw2.ctl.apply({"op": "tunnel-replace", "tunnel": tunnel_json(gw2, n_b2a, n_a2b)})
        wait_flowing(lab, {"gw1": n_b2a[0], "gw2": n_a2b[0]}, 200, "the SAs of tunnel-replace")
        d1 = drain(lab, gw1, gw2, a2b[0])
        d2 = drain(lab, gw2, gw1, b2a[0])
        ledger.retire(gw1, "out", a2b[0])
        ledger.retire(gw2, "in", a2b[0])
        ledger.retire(gw2, "out", b2a[0])
        ledger.retire(gw1, "in", b2a[0])
        print(f"  old SAs drained ({d1} and {d2} packets) and deleted", flush=True)
        a2b, b2a = n_a2b, n_b2a
        wait_flowing(lab, {"gw1": b2a[0], "gw2": a2b[0]}, 200, "the final state")
        for gw in lab.gateways:
            gens[gw.name] = gw.ctl("status")["generation"]

        print("== stop the streams and count", flush=True)
        ra, rb = stop_streams(streams)
        s1 = lab.settle("the streams to drain")
        for stream, rcv in zip(streams, (ra, rb)):
            check_stream(rcv, stream.name, failures)
        for gw in lab.gateways:
            drops = L.drops_delta(s0[gw.name]["counters"], s1[gw.name]["counters"])
            check(not drops, f"{gw.name}: no drops under any reason ({drops})", failures)
        run = ledger.during_run()
        for gw, rcv in (("gw2", ra), ("gw1", rb)):
            exp = rcv["received"] + END_MARKERS
            check(run[gw]["in"] == exp, f"{gw}: its inbound SAs decrypted {run[gw]['in']} "
                  f"packets = {rcv['received']} datagrams + {END_MARKERS} end markers", failures)
        check(run["gw1"]["out"] == run["gw2"]["in"] and run["gw2"]["out"] == run["gw1"]["in"],
              f"SA totals mirror: gw1 out {run['gw1']['out']} = gw2 in {run['gw2']['in']}, "
              f"gw2 out {run['gw2']['out']} = gw1 in {run['gw1']['in']}", failures)
        print(f"  table generations at the end: {gens}", flush=True)
        codes = [gw.stop() for gw in lab.gateways]
        check(codes == [0, 0], f"both gateways stop cleanly (exit codes {codes})", failures)
        figures = {"a_to_b": {k: ra[k] for k in ("sent", "received", "missing_count",
                                                 "duplicate_count")},
                   "b_to_a": {k: rb[k] for k in ("sent", "received", "missing_count",
                                                 "duplicate_count")},
                   "rate_each_way": a.rate, "generations": gens}
    return L.verdict(figures, failures)


if __name__ == "__main__":
    L.exit_with(main)
