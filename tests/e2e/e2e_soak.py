"""A short soak under mixed valid and malformed traffic (tests/e2e/lab.py, soak_traffic.py).

For --seconds (30 by default) at once:
  - two UDP streams with sequence numbers, A -> B and B -> A, through the tunnel;
  - from the router, at gw2's WAN port: IP header junk, transit junk, forged and mangled ESP
    against the tunnel's real inbound SA, unknown and reserved SPIs, outer fragments, a third
    stream under a "soak" SA installed for the test (its key is ours, so scapy's side can build
    valid packets), replays of that stream, authentic packets with bad contents, and, for the
    exception path (rate limited to 200 packets/s here), floods of UDP 500 plus IKE, NAT-T
    keepalives and other ethertypes;
  - from host A, at gw1's LAN port: IP header junk, TTL 1, martian and out-of-selector sources.

What it proves:
  - neither espgw crashes (both stay up and stop with exit code 0, writing their stats);
  - every malformed frame is counted under the drop reason it was built for, exactly: for each
    gateway and every reason, the counter grew by what the generators sent under it, and no other
    reason grew; the per-SA drop counters of the real and the soak SA agree as well; authentic
    dummy packets (next header 59) are no drop: the soak SA counts each as a keepalive, exactly;
  - the exception path: frames for the kernel = handed to the kernel + dropped by the rate limit
    (exception_rate_limited), exactly, and the limit did drop some; the kernel's tap counted what
    espgw handed it;
  - the valid traffic is untouched: all three streams arrive complete and exactly once (replays
    of the soak stream included), and the soak SA decrypted exactly the stream's packets.
The frames are counted on the wires too: none is lost in an af_packet ring, else the per-reason
accounting could not close (the check says so).

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import os
import secrets
import signal
import time

from e2e import lab as L

HERE = os.path.dirname(os.path.abspath(__file__))
EXCEPTION_PPS = 200
END_MARKERS = 3


from labkit.proc import check  # noqa: E402


def generator(lab, ns, args):
    p = lab.spawn(ns, L.PYTHON, os.path.join(HERE, "soak_traffic.py"), *args)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.wait(10)
        raise L.LabError(f"soak_traffic.py in {ns} did not start: {line}{p.stderr.read()}")
    return p


def reasm_reqds(lab, ns):
    """Fragments the namespace's kernel took in for reassembly (Ip: ReasmReqds)."""
    lines = [ln.split() for ln in lab.sh(ns, "cat", "/proc/net/snmp").stdout.splitlines()
             if ln.startswith("Ip:")]
    return int(lines[1][lines[0].index("ReasmReqds")])


def kernel_rx(lab, ns, ifname):
    out = lab.sh(ns, "cat", f"/sys/class/net/{ifname}/statistics/rx_packets").stdout
    return int(out)


def main():
    def more(ap):
        ap.add_argument("--seconds", type=float, default=30)
        ap.add_argument("--seed", type=int, default=None)

    a = L.arguments(more)
    seed = a.seed if a.seed is not None else secrets.randbelow(1 << 31)
    L.on_signals_unwind()
    failures = []
    with L.Lab(a.build, crypto=a.crypto, exception_pps=EXCEPTION_PPS) as lab:
        gw2 = lab.gw2
        lab.up()
        lab.wait_tunnel()
        soak_spi, soak_key = secrets.randbelow(0xFFFF0000) + 0x1000, L.new_key()
        while soak_spi in (lab.spi_a2b, lab.spi_b2a):
            soak_spi = secrets.randbelow(0xFFFF0000) + 0x1000
        gw2.ctl.apply({"op": "sa-add", "tunnel": gw2.tunnel["name"], "direction": "in",
                       "sa": L.sa_json(soak_spi, soak_key)})
        # gw2's kernel answers UDP 500 and IKE with ICMP: it knows the router, so that no ARP of
        # its own competes with the flood for the exception path's rate.
        lab.sh("gw2", "ip", "neigh", "replace", L.INET2, "lladdr", lab.mac["inet2"], "nud",
               "permanent", "dev", "espgw-wan")
        s0 = lab.settle("the warm-up to drain")
        tap0 = kernel_rx(lab, "gw2", "espgw-wan")
        reasm0 = reasm_reqds(lab, "gw2")

        print(f"== {a.seconds:g} s of valid and malformed traffic (seed {seed})", flush=True)
        recv_ab = lab.tool("b", "udp-seq-recv", "--bind", L.B_IP, "--port", "6000", "--timeout",
                           "60")
        recv_ba = lab.tool("a", "udp-seq-recv", "--bind", L.A_IP, "--port", "6001", "--timeout",
                           "60")
        recv_soak = lab.tool("b", "udp-seq-recv", "--bind", L.B_IP, "--port", "7002",
                             "--timeout", "60")
        send_ab = lab.tool("a", "udp-seq-send", "--to", L.B_IP, "--port", "6000", "--rate", "500")
        send_ba = lab.tool("b", "udp-seq-send", "--to", L.A_IP, "--port", "6001", "--rate", "500")
        wan = generator(lab, "inet", [
            "--side", "wan", "--iface", lab.dev["inet2"], "--src-mac", lab.mac["inet2"],
            "--dst-mac", lab.mac["gw2_wan"], "--gw-ip", L.GW2_WAN, "--peer-ip", L.GW1_WAN,
            "--transit-src", L.INET2, "--inner-src", L.A_IP, "--inner-dst", L.B_IP,
            "--inner-port", "7002", "--lab-spi", hex(lab.spi_a2b), "--other-spi",
            hex(lab.spi_b2a), "--soak-spi", hex(soak_spi), "--soak-key", soak_key.hex(),
            "--seconds", str(a.seconds), "--seed", str(seed)])  # fmt: skip
        lan = generator(lab, "a", [
            "--side", "lan", "--iface", lab.dev["a"], "--src-mac", lab.mac["a"],
            "--dst-mac", lab.mac["gw1_lan"], "--peer-ip", L.A_IP, "--inner-src", L.A_IP,
            "--inner-dst", L.B_IP, "--seconds", str(a.seconds), "--junk-per-round", "20",
            "--seed", str(seed + 1)])  # fmt: skip
        # While it runs: both gateways stay up.
        t0 = time.monotonic()
        while wan.poll() is None or lan.poll() is None:
            for gw in lab.gateways:
                gw.check_alive()
            if time.monotonic() - t0 > a.seconds + 120:
                raise L.LabError("the generators did not finish")
            time.sleep(0.5)
        g_wan = L.result(wan, "soak_traffic.py --side wan", 10)
        g_lan = L.result(lan, "soak_traffic.py --side lan", 10)
        for p in (send_ab, send_ba):
            p.send_signal(signal.SIGTERM)
        streams = {"A -> B": (L.result(send_ab, "udp-seq-send A -> B", 30),
                              L.result(recv_ab, "udp-seq-recv in B", 60)),
                   "B -> A": (L.result(send_ba, "udp-seq-send B -> A", 30),
                              L.result(recv_ba, "udp-seq-recv in A", 60)),
                   "soak SA -> B": ({"sent": g_wan["valid"], "seconds": a.seconds},
                                    L.result(recv_soak, "udp-seq-recv (soak) in B", 60))}
        s1 = lab.settle("the soak traffic to drain")
        tap1 = kernel_rx(lab, "gw2", "espgw-wan")
        reasm1 = reasm_reqds(lab, "gw2")
        # DPDK 22.11's af_packet PMD joins its socket to a fanout group with
        # PACKET_FANOUT_FLAG_DEFRAG: the kernel of the gateway's namespace reassembles IPv4
        # fragments before espgw sees them, and keeps incomplete ones. The outer fragments sent
        # are therefore accounted for there, not under espgw's outer_fragment (which a NIC port
        # would show).
        fragments = g_wan["expected"].pop("outer_fragment", 0)
        for gw in lab.gateways:
            gw.check_alive()
        check(True, "both gateways are still running", failures)

        print("== the wires: nothing lost before espgw saw it", flush=True)
        check(reasm1 - reasm0 == fragments, f"gw2's kernel took {reasm1 - reasm0} of the "
              f"{fragments} outer fragments sent for reassembly (af_packet fanout defrag)",
              failures)
        for gw, port, end in (("gw2", "wan", "gw2_wan"), ("gw1", "lan", "gw1_lan"),
                              ("gw1", "wan", "gw1_wan"), ("gw2", "lan", "gw2_lan")):
            held = fragments if end == "gw2_wan" else 0
            loss = (L.wire_delta(s0, s1, end, "rx_packets")
                    - L.port_delta(s0, s1, gw, port, "rx_packets") - held)
            check(loss == 0, f"{gw} {port}: {L.port_delta(s0, s1, gw, port, 'rx_packets')} "
                  f"frames received{f' + {held} fragments held' if held else ''}, {loss} lost "
                  f"in the af_packet ring", failures)

        print("== every malformed frame under its drop reason", flush=True)
        results = {}
        for gw, gen in (("gw2", g_wan), ("gw1", g_lan)):
            got = L.drops_delta(s0[gw]["counters"], s1[gw]["counters"])
            limited = got.pop("exception_rate_limited", 0)
            exp = gen["expected"]
            for reason in sorted(set(exp) | set(got)):
                check(got.get(reason, 0) == exp.get(reason, 0),
                      f"{gw} {reason}: {got.get(reason, 0)} counted, {exp.get(reason, 0)} sent",
                      failures)
            sent, counted = sum(exp.values()), sum(got.values())
            results[gw] = {"malformed_sent": sent, "drops_counted": counted,
                           "rate_limited": limited}
            check(sent == counted, f"{gw}: {counted} drops counted for {sent} malformed frames "
                  f"({len(exp)} reasons)", failures)
            if gw == "gw1":
                check(limited == 0, f"gw1: exception_rate_limited {limited}", failures)
            else:
                to_kernel = L.port_delta(s0, s1, "gw2", "wan", "to_kernel")
                results[gw]["to_kernel"] = to_kernel
                check(to_kernel + limited == gen["exception"],
                      f"gw2 exception path: {gen['exception']} frames for the kernel = "
                      f"{to_kernel} handed over + {limited} rate limited", failures)
                check(limited > 0, "gw2: the rate limit dropped some of the UDP 500 floods",
                      failures)
                check(tap1 - tap0 == to_kernel, f"gw2's kernel counted {tap1 - tap0} frames on "
                      f"espgw-wan, espgw handed it {to_kernel}", failures)
        sas = s1["gw2"]["sas"]
        for spi in (lab.spi_a2b, soak_spi):
            before = s0["gw2"]["sas"][("in", spi)]["drops"]
            now = sas[("in", spi)]["drops"]
            got = {r: n - before.get(r, 0) for r, n in now.items() if n - before.get(r, 0)}
            exp = g_wan["per_sa"].get(f"0x{spi:08x}", {})
            check(got == exp, f"gw2 SA 0x{spi:08x}: per-SA drops {got} = sent {exp}", failures)
        keepalives = sas[("in", soak_spi)]["keepalives"] - s0["gw2"]["sas"][("in", soak_spi)][
            "keepalives"]
        check(keepalives == g_wan["keepalives"], f"gw2 SA 0x{soak_spi:08x}: {keepalives} dummy "
              f"packets counted as keepalives, {g_wan['keepalives']} sent", failures)

        print("== the valid traffic", flush=True)
        for name, (snd, rcv) in streams.items():
            check(rcv["ended"] and rcv["sent"] == snd["sent"] and rcv["missing_count"] == 0
                  and rcv["duplicate_count"] == 0 and rcv["foreign"] == 0,
                  f"{name}: {snd['sent']} sent, {rcv['distinct']} arrived, "
                  f"{rcv['missing_count']} missing, {rcv['duplicate_count']} twice", failures)
        soak_in = (L.sa_packets(s1, "gw2", "in", soak_spi)
                   - L.sa_packets(s0, "gw2", "in", soak_spi))
        # The SA counts a packet once it is authenticated and decrypted; the selector check
        # after that may still drop it (counted under the SA's drops too), as Linux's XFRM
        # counts before its policy check.
        refused = g_wan["per_sa"].get(f"0x{soak_spi:08x}", {}).get("selector_mismatch", 0)
        check(soak_in == g_wan["valid"] + END_MARKERS + refused,
              f"gw2's soak SA decrypted {soak_in} packets = {g_wan['valid']} of the stream + "
              f"{END_MARKERS} end markers + {refused} refused by the selector check (no replay "
              f"got through)", failures)

        codes = [gw.stop() for gw in lab.gateways]
        check(codes == [0, 0], f"both gateways stop cleanly (exit codes {codes})", failures)
        for gw in lab.gateways:
            stats = gw.final_stats()
            check("drops" in stats, f"{gw.name} wrote its stats at exit", failures)
        figures = {"seconds": a.seconds, "seed": seed, "frames_wan": g_wan["frames"],
                   "outer_fragments_held_by_kernel": fragments,
                   "frames_lan": g_lan["frames"], "gateways": results,
                   "valid": {n: r["distinct"] for n, (_, r) in streams.items()},
                   "by_reason": {"gw2": g_wan["expected"], "gw1": g_lan["expected"]}}
    return L.verdict(figures, failures)


if __name__ == "__main__":
    L.exit_with(main)
