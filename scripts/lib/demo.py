"""./scripts/demo: the two-gateway lab (tests/e2e/lab.py) with progress, traffic and a summary.

    host A 172.50.1.10 -- gw1 (espgw) == internet == gw2 (espgw) -- host B 172.60.1.20

Starts both gateways, shows the tunnel up, pings across both ways, runs iperf3 both ways, prints
the per-SA counters and the throughput as a table, and removes everything it made, also on
Ctrl-C and on errors. Run by scripts/demo after it has installed packages and built.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import lab as L  # noqa: E402

BOLD = "\033[1m" if sys.stdout.isatty() else ""
PLAIN = "\033[0m" if sys.stdout.isatty() else ""


def say(msg):
    print(f"{BOLD}==> {msg}{PLAIN}", flush=True)


def table(headers, rows):
    cols = list(zip(headers, *rows))
    widths = [max(len(str(c)) for c in col) for col in cols]
    num = [all(isinstance(c, (int, float)) for c in col[1:]) for col in cols]

    def line(cells):
        return "  ".join(str(c).rjust(w) if n else str(c).ljust(w)
                         for c, w, n in zip(cells, widths, num)).rstrip()

    print("  " + line(headers))
    print("  " + "  ".join("-" * w for w in widths))
    for r in rows:
        print("  " + line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--pings", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 run length, each way")
    ap.add_argument("--crypto", default="ipsec-mb", choices=("ipsec-mb", "openssl"))
    a = ap.parse_args()
    why = L.skip_reason()
    if why:
        print(f"error: the lab {why}", file=sys.stderr)
        return 1
    L.on_signals_unwind()
    with L.Lab(a.build, crypto=a.crypto, say=say) as lab:
        say("starting the lab: host A - gw1 - internet - gw2 - host B (Ctrl-C tears it down)")
        lab.up()
        st = lab.gw1.ctl("status")
        print(f"    crypto backend: {st['crypto']}")
        for gw in lab.gateways:
            t = gw.ctl("tunnels")["tunnels"][0]
            print(f"    {gw.name}: tunnel {t['name']} {t['local']} -> {t['remote']}, "
                  f"{', '.join(t['local_cidrs'])} <-> {', '.join(t['remote_cidrs'])}, "
                  f"ESP in UDP 4500, outbound SPI {t['outbound_spi']}, inner MTU "
                  f"{t['inner_mtu']}, MSS {t['mss']}")
        say("waiting for the tunnel to carry traffic (ARP on both sides, first ping)")
        lab.wait_tunnel()
        say("tunnel up")

        say(f"ping A -> B and B -> A, {a.pings} each")
        pings = {"A -> B": lab.ping("a", L.B_IP, a.pings, 0.05),
                 "B -> A": lab.ping("b", L.A_IP, a.pings, 0.05)}
        for name, p in pings.items():
            rtt = (f"rtt min/avg/max {p['rtt_min_ms']:.3f}/{p['rtt_avg_ms']:.3f}/"
                   f"{p['rtt_max_ms']:.3f} ms" if "rtt_avg_ms" in p else "no answer")
            print(f"    {name}: {p['received']}/{p['sent']} answered, {rtt}")

        say(f"iperf3 A -> B and B -> A, TCP, {a.seconds} s each")
        iperf = {"A -> B": lab.iperf3("a", "b", L.B_IP, a.seconds),
                 "B -> A": lab.iperf3("a", "b", L.B_IP, a.seconds, reverse=True)}
        for name, r in iperf.items():
            print(f"    {name}: {r['received_bps'] / 1e9:.2f} Gbit/s, "
                  f"{r['retransmits']} retransmissions")
        snap = lab.settle("the traffic to drain")

        say("summary")
        rows = []
        for gw in lab.gateways:
            for (direction, spi), sa in sorted(snap[gw.name]["sas"].items()):
                rows.append((gw.name, sa["tunnel"], direction, sa["spi"], sa["algorithm"],
                             sa["packets"], sa["bytes"], sum(sa["drops"].values())))
        print("  per-SA counters (control socket):")
        table(("gateway", "tunnel", "dir", "SPI", "algorithm", "packets", "bytes", "drops"), rows)
        print()
        rows = []
        for gw in lab.gateways:
            for port, c in sorted(snap[gw.name]["counters"]["ports"].items()):
                rows.append((gw.name, port, c["rx_packets"], c["tx_packets"], c["to_kernel"],
                             c["from_kernel"]))
        print("  ports:")
        table(("gateway", "port", "rx", "tx", "to kernel", "from kernel"), rows)
        drops = {gw.name: {r: n for r, n in snap[gw.name]["counters"]["drops"].items() if n}
                 for gw in lab.gateways}
        print("  drops, all reasons: " + ", ".join(f"{g} {sum(d.values())} {d or ''}".strip()
                                                  for g, d in drops.items()))
        print()
        rows = []
        for name, p in pings.items():
            rows.append((f"ping {name}", f"{p['received']}/{p['sent']}",
                         f"{p.get('rtt_avg_ms', float('nan')):.3f} ms avg RTT"))
        for name, r in iperf.items():
            rows.append((f"iperf3 {name}", f"{r['received_bps'] / 1e9:.2f} Gbit/s",
                         f"{r['retransmits']} retransmissions"))
        print("  traffic:")
        table(("test", "result", "detail"), rows)
        print()
        say("tearing down")
        codes = [gw.stop() for gw in lab.gateways]
    ok = codes == [0, 0] and all(p["received"] == p["sent"] for p in pings.values())
    say("lab removed" + ("" if ok else f" (espgw exit codes {codes}; see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, L.Interrupted):
        print("\ninterrupted: the lab was torn down", file=sys.stderr)
        sys.exit(130)
    except (L.LabError, subprocess.SubprocessError) as e:
        print(f"error: {e}\n(the lab was torn down)", file=sys.stderr)
        sys.exit(1)
