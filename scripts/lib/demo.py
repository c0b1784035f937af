"""./scripts/demo: two regions joined by espgw with IKE, with progress, traffic and a summary.

    host A 172.50.1.10 -- gw1 (espgw-up) -- NAT (Elastic IP) ==== IKEv2 + ESP in UDP ==== gw2 -- host B 172.60.1.20

Each espgw gateway runs the full stack under scripts/espgw-up: the dataplane on net_af_packet
veths, strongSwan's charon with the kernel-espgw plugin, and espgw-ike loading the tunnel from
the gateway's config (tests/ike/stack_lab.py, StackLab); gw1 is behind a 1:1 NAT as an EC2
instance behind its Elastic IP. gw2 is espgw too (the default) or a stock
strongSwan with kernel-libipsec (--peer strongswan), standing for an AWS VPN endpoint. Shows IKE
negotiating, pings and runs iperf3 both ways, prints `espgwctl ike status`, the per-SA counters
and the throughput, and removes everything it made, also on Ctrl-C and on errors.

It imports the labs from tests/ike and labkit from tests: scripts/demo runs it with
PYTHONPATH=tests:tests/ike.
"""

import argparse
import os
import subprocess
import sys
import time

import ike_lab as L
from labkit import traffic
from labkit.proc import Interrupted, LabError, on_signals_unwind
from stack_lab import StackLab, stack_skip_reason

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


def ping(lab, src, dst, count):
    r = traffic.ping(lab, src, dst, count=count, interval=0.05)
    return {"sent": r["sent"], "received": r["received"],
            "avg_ms": r.get("rtt_avg_ms", float("nan"))}


def lane_rows(s):
    """The tunnel's lanes as espgw's `tunnels` report shows them on a Stack."""
    name = L.TUNNEL if s.name == "gw1" else "to-gw1"
    t = next(t for t in s.ctl("tunnels")["tunnels"] if t["name"] == name)
    return t.get("lanes") or []


def lanes_up(lab, lanes):
    """Every lane with an outbound SA in espgw on both gateways; gw1's lane 0 CHILD_SA."""
    L.wait_for(f"{lanes} lanes with their SAs in espgw on both gateways", lambda: all(
        len(lane_rows(s)) == lanes and all(r.get("outbound_spi") for r in lane_rows(s))
        for s in lab.stacks), 90, 0.2)
    return lab.gw1.installed(L.TUNNEL)[0]


def show_lanes(lab):
    """Per lane: what espgw's `tunnels` report says of it (state, SPIs, ports, packets...)."""
    for s in lab.stacks:
        rows = lane_rows(s)
        keys = []
        for r in rows:
            keys += [k for k in r if k not in keys and not isinstance(r[k], (dict, list))]
        print(f"  {s.name}: lanes (espgw's tunnels report)")
        table(keys, [[r.get(k, "") for k in keys] for r in rows])
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--plugin", required=True, help="the built kernel-espgw plugin")
    ap.add_argument("--peer", default="espgw", choices=("espgw", "strongswan"),
                    help="what gw2 runs (default espgw)")
    ap.add_argument("--pings", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 run length, each way")
    ap.add_argument("--esp", default="aes128gcm16", choices=sorted(L.ESP_CASES),
                    help="the ESP proposal (default aes128gcm16)")
    ap.add_argument("--lanes", type=int, default=1,
                    help="lanes of the tunnel, 1 to 64 (docs/lanes.md; more than 1 needs "
                         "--peer espgw)")
    ap.add_argument("--bgp", action="store_true",
                    help="two regions over BGP with FRR, BFD and ECMP over two tunnels "
                         "(docs/routing.md) instead")
    a = ap.parse_args()
    if a.bgp:
        return bgp_demo(a)
    if a.lanes > 1 and a.peer != "espgw":
        ap.error("--lanes more than 1 needs --peer espgw: lanes run between espgw gateways")
    why = stack_skip_reason(a.build)
    if why:
        print(f"error: the demo cannot run: {why}", file=sys.stderr)
        return 1
    on_signals_unwind()
    started = time.monotonic()
    peer_name = "espgw (full stack)" if a.peer == "espgw" else "strongSwan 5.9.8, kernel-libipsec"
    with StackLab(a.build, a.plugin, peer=a.peer, prefix="demo", nat=True) as lab:
        try:
            code = run_demo(a, lab, peer_name)
        except LabError:
            lab.dump_logs()
            raise
    say(f"lab removed; {time.monotonic() - started:.0f} s in all")
    return code


def bgp_demo(a):
    import demo_bgp  # noqa: PLC0415 - only for --bgp
    import lanes_lab  # noqa: PLC0415

    why = lanes_lab.check_lab(a.build)
    if why:
        print(f"error: the demo cannot run: {why}", file=sys.stderr)
        return 1
    on_signals_unwind()
    started = time.monotonic()
    code = demo_bgp.run(a, say)
    say(f"lab removed; {time.monotonic() - started:.0f} s in all")
    return code


def run_demo(a, lab, peer_name):
    say(f"lab: host A - gw1 (espgw) - internet with gw1's Elastic IP (1:1 NAT) - gw2 "
        f"({peer_name}) - host B (Ctrl-C tears it down)")
    lab.up()
    esp = [f"{a.esp}-modp2048"]
    lab.configure_gw1(esp=esp, lanes=a.lanes)
    if a.peer == "espgw":
        lab.configure_gw2(esp=esp, lanes=a.lanes)
    say("starting each gateway with espgw-up: dataplane, then charon (kernel-espgw), "
        "then espgw-ike")
    lab.start()
    for s in lab.stacks:
        pids = s.pids()[0]
        print(f"    {s.name}: espgw pid {pids['espgw']}, charon pid {pids['charon']}, "
              f"espgw-ike pid {pids['espgw-ike']}")
    print(f"    gw1 {L.GW1_PRIVATE} is {L.GW1_EIP} on the internet (local_id); gw2 {L.GW2_WAN}")
    say("IKE: gw1 initiates (IKEv2, PSK, NAT-T); waiting for the CHILD_SA in espgw")
    t0 = time.monotonic()
    child = lab.established(a.esp, timeout=60) if a.lanes == 1 else lanes_up(lab, a.lanes)
    print(f"    CHILD_SA {L.TUNNEL} installed after {time.monotonic() - t0:.1f} s: "
          f"{child['encr']}-{child['keysize']}{'/' + child['integ'] if child['integ'] else ''}"
          f", SPIs in 0x{child['spi_in']:08x} out 0x{child['spi_out']:08x}, ESP in UDP 4500")
    traffic.wait_ping(lab, "a", L.B_IP)
    say("tunnel up")

    say(f"ping A -> B and B -> A, {a.pings} each")
    pings = {"A -> B": ping(lab, "a", L.B_IP, a.pings), "B -> A": ping(lab, "b", L.A_IP,
                                                                        a.pings)}
    for name, p in pings.items():
        print(f"    {name}: {p['received']}/{p['sent']} answered, avg RTT {p['avg_ms']:.3f} ms")
    say(f"iperf3 A -> B and B -> A, TCP, {a.seconds} s each")
    iperf = {"A -> B": traffic.iperf3(lab, "a", "b", L.B_IP, seconds=a.seconds),
             "B -> A": traffic.iperf3(lab, "a", "b", L.B_IP, seconds=a.seconds, reverse=True)}
    for name, r in iperf.items():
        print(f"    {name}: {r['bps'] / 1e9:.2f} Gbit/s, {r['retransmits']} retransmissions")

    say("summary")
    espgwctl = os.path.join(lab.build, "dataplane", "espgwctl")
    for s in lab.stacks:
        print(f"  {s.name}: espgwctl ike status")
        out = subprocess.run([espgwctl, "-s", s.ike_socket, "ike", "status"],
                             capture_output=True, text=True, timeout=30)
        for line in (out.stdout or out.stderr).rstrip().splitlines():
            print(f"    {line}" if line else "")
        print()
    rows = []
    for s in lab.stacks:
        for (direction, spi), sa in sorted(s.ctl.sas(
                L.TUNNEL if s is lab.gw1 else "to-gw1").items()):
            rows.append((s.name, sa["tunnel"], direction, sa["spi"], sa["algorithm"],
                         sa["origin"], sa["packets"], sa["bytes"],
                         sum(sa["drops"].values())))
    print("  per-SA counters (espgw's control socket):")
    table(("gateway", "tunnel", "dir", "SPI", "algorithm", "origin", "packets", "bytes",
           "drops"), rows)
    print()
    if a.lanes > 1:
        show_lanes(lab)
    rows = [(f"ping {n}", f"{p['received']}/{p['sent']}", f"{p['avg_ms']:.3f} ms avg RTT")
            for n, p in pings.items()]
    rows += [(f"iperf3 {n}", f"{r['bps'] / 1e9:.2f} Gbit/s", f"{r['retransmits']} retransmissions")
             for n, r in iperf.items()]
    print("  traffic:")
    table(("test", "result", "detail"), rows)
    print()
    say("tearing down: espgw-up stops espgw-ike, charon, espgw on each gateway")
    codes = [s.stop() for s in lab.stacks]
    ok = all(c == 0 for c in codes) and all(p["received"] == p["sent"] for p in pings.values())
    if not ok:
        print(f"  espgw-up exit codes {codes}, pings {pings}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: the lab was torn down", file=sys.stderr)
        sys.exit(130)
    except (LabError, subprocess.SubprocessError) as e:
        print(f"error: {e}\n(the lab was torn down)", file=sys.stderr)
        sys.exit(1)
