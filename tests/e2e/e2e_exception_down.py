#!/usr/bin/env python3
"""The exception path's kernel interfaces set down and up again on a running gw1 (an operator's
`ip link set espgw-wan down`; tests/e2e/lab.py):

  - what is for gw1's kernel meanwhile is refused by the tap and counted, as `exception_down`
    (dataplane/worker/worker.cpp), never lost silently;
  - what goes through the tunnel does not notice;
  - once they are up again, without a restart, espgw has dressed them as at start
    (App::check_kernel_interfaces, dataplane/control/control_loop.cpp): the kernel keeps MAC, MTU
    and IPv4 addresses over a down and up, but drops the routes through the interface and its
    IPv6 addresses. gw1's namespace has IPv6 on here and an IPv6 address on its WAN for that.

Under two UDP streams with sequence numbers through the tunnel (A -> B, B -> A, --rate each) and
two steady pings to gw1's own addresses from the peer side (the router to its WAN address; host B
through the tunnel to its LAN address), both of gw1's exception interfaces go down, LAN first,
for --down-pings echoes each; then WAN comes up, and LAN once the WAN's dressing is back (the
kernel answers B's pings by the default route, which is espgw's). It checks:

  - no datagram of either stream lost or doubled;
  - every echo request not answered is counted: gw1's `exception_down` grew by exactly the pings
    not answered; the unanswered ones of each ping are one run (the time it was down), answered
    again after it; no other drop on either gateway; the ports' `to_kernel` (frames a tap took)
    does not grow while the taps refuse;
  - `status.kernel_interfaces` says down while they are down, and up, dressed, once down and
    once dressed again afterwards;
  - the dressing (MAC, MTU, global addresses incl. IPv6, espgw's routes) after equals before, and
    gw1's kernel reaches the peer gateway again by its default route;
  - the same espgw process all along.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import json
import os
import re

from e2e import lab as L
from labkit.proc import check
from labkit.traffic import Stream, check_stream, stop_streams, wait_ping

PORT_AB = 6000
PORT_BA = 6001
GW1_WAN6 = "2001:db8:100::1/64"
KERNEL = {"wan": "espgw-wan", "lan": "espgw-lan"}
PING_INTERVAL = 0.01
DRESS_TIMEOUT = 5  # s, for espgw to see an interface up and dress it (it looks every 100 ms)


class Lab(L.Lab):
    """The e2e lab with IPv6 on in gw1's namespace (the lab turns it off everywhere) and an IPv6
    address on gw1's WAN."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.gw1.addresses["wan"] = f'{L.GW1_WAN}/24, "{GW1_WAN6}"'

    def up_namespaces(self, *names):
        super().up_namespaces(*names)
        # Before the veths and taps exist: the taps take `default`; the lab's gateway_port()
        # turns it off again on gw1's veths.
        self.sh("gw1", "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                "net.ipv6.conf.default.disable_ipv6=0")


def ip_json(lab, *args):
    out = lab.sh("gw1", "ip", "-j", *args).stdout.strip()
    return json.loads(out) if out else []


def dressing(lab, ifname):
    """The kernel interface as espgw dresses it: its MAC, MTU, addresses of global scope and
    espgw's routes through it (proto static); and whether it is up."""
    link = ip_json(lab, "link", "show", "dev", ifname)[0]
    info = ip_json(lab, "addr", "show", "dev", ifname)[0].get("addr_info", [])
    routes = [f"{r['dst']} via {r.get('gateway', '-')}"
              for family in ("-4", "-6")
              for r in ip_json(lab, family, "route", "show", "dev", ifname, "proto", "static")]
    return {"mac": link["address"], "mtu": link["mtu"],
            "addresses": sorted(f"{a['local']}/{a['prefixlen']}" for a in info
                                if a.get("scope") == "global"),
            "routes": sorted(routes)}, "UP" in link["flags"]


def kernel_status(gw, port):
    return gw.ctl("status").get("kernel_interfaces", {}).get(port, {})


def drops(gw):
    return gw.ctl.counters()["drops"]


def refused_so_far(gw):
    return drops(gw).get("exception_down", 0)


def to_kernel(gw, port):
    return gw.ctl.counters()["ports"][port]["to_kernel"]


def answers(lab, src, dst):
    return lab.sh(src, "ping", "-n", "-c", "1", "-W", "1", dst, check=False).returncode == 0


def soft_wait(what, predicate, timeout, failures):
    """wait_for, but a timeout is one failed check and the test goes on (to say what else)."""
    try:
        L.wait_for(what, predicate, timeout)
        return True
    except L.LabError as e:
        check(False, str(e), failures)
        return False


def ping_result(path, count):
    """What one `ping -n` (without -q) printed: the answered sequence numbers and the runs of
    those not answered."""
    with open(path) as f:
        text = f.read()
    answered = [int(m) for m in re.findall(r"icmp_seq=(\d+) ttl=", text)]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    sent = int(m.group(1)) if m else count
    missing = sorted(set(range(1, sent + 1)) - set(answered))
    runs = []
    for s in missing:
        if runs and runs[-1][1] == s - 1:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    return {"sent": sent, "received": int(m.group(2)) if m else None,
            "answered": len(set(answered)), "duplicates": len(answered) - len(set(answered)),
            "unanswered": len(missing), "runs": runs,
            "last_answered": max(answered) if answered else 0}


def main():
    def more(ap):
        ap.add_argument("--rate", type=float, default=1000, help="datagrams per second, each way")
        ap.add_argument("--down-pings", type=int, default=200,
                        help="echo requests refused per interface before it comes up again")

    a = L.arguments(more)
    L.on_signals_unwind()
    failures = []
    with Lab(a.build, crypto=a.crypto) as lab:
        gw1, gw2 = lab.gw1, lab.gw2
        lab.up()
        lab.wait_tunnel()
        pid = gw1.proc.pid
        wait_ping(lab, "gw1", L.GW2_WAN)  # gw1's kernel to the peer, by espgw's default route

        print("== gw1's kernel interfaces as espgw dressed them", flush=True)
        before = {}
        for port, ifname in KERNEL.items():
            before[port], up = dressing(lab, ifname)
            print(f"  {ifname}: {before[port]}", flush=True)
            check(up, f"{ifname} is up", failures)
            check(before[port]["mac"] == lab.mac[f"gw1_{port}"].lower() and
                  before[port]["mtu"] == 1500, f"{ifname} has the port's MAC and MTU", failures)
        check(GW1_WAN6 in before["wan"]["addresses"] and
              f"{L.GW1_WAN}/24" in before["wan"]["addresses"],
              "espgw-wan has the WAN's IPv4 and IPv6 addresses", failures)
        check(f"default via {L.INET1}" in before["wan"]["routes"],
              "espgw-wan has espgw's default route", failures)

        print(f"== two UDP streams with sequence numbers, {a.rate:g}/s each way", flush=True)
        streams = [Stream(lab, "a", "b", L.B_IP, PORT_AB, a.rate).start(timeout=120),
                   Stream(lab, "b", "a", L.A_IP, PORT_BA, a.rate).start(timeout=120)]
        for gw, spi in ((gw1, lab.spi_b2a), (gw2, lab.spi_a2b)):
            base = gw.ctl.sas()[("in", spi)]["packets"]
            L.wait_for(f"the streams through {gw.name}",
                       lambda gw=gw, spi=spi, base=base:
                       gw.ctl.sas()[("in", spi)]["packets"] >= base + 200, 20)
        s0 = lab.snapshot()

        count = 2 * a.down_pings + 400
        print(f"== pings to gw1: the router to {L.GW1_WAN}, B to {L.GW1_LAN} (through the "
              f"tunnel), {count} each, every {PING_INTERVAL * 1000:g} ms", flush=True)
        logs = {"wan": os.path.join(lab.workdir, "ping-wan.txt"),
                "lan": os.path.join(lab.workdir, "ping-lan.txt")}
        pings = {"wan": lab.spawn("inet", "ping", "-n", "-i", str(PING_INTERVAL), "-c", str(count),
                                  "-W", "2", L.GW1_WAN, log=logs["wan"]),
                 "lan": lab.spawn("b", "ping", "-n", "-i", str(PING_INTERVAL), "-c", str(count),
                                  "-W", "2", L.GW1_LAN, log=logs["lan"])}
        base = {p: to_kernel(gw1, p) for p in KERNEL}
        L.wait_for("100 pings to each of gw1's addresses", lambda: all(
            to_kernel(gw1, p) >= base[p] + 100 for p in KERNEL), 20)

        print("== gw1's espgw-lan and espgw-wan down", flush=True)
        for port in ("lan", "wan"):
            lab.sh("gw1", "ip", "link", "set", KERNEL[port], "down")
        # From the first refusal on, every frame for gw1's kernel is refused: counted as
        # exception_down only, never as to_kernel (which counts what a tap took).
        first = refused_so_far(gw1)
        L.wait_for("a frame refused by a tap that is down",
                   lambda: refused_so_far(gw1) > first, 30)
        base = {p: to_kernel(gw1, p) for p in KERNEL}
        refused_base = refused_so_far(gw1)
        L.wait_for(f"{2 * a.down_pings} echo requests refused while down",
                   lambda: refused_so_far(gw1) >= refused_base + 2 * a.down_pings, 30)
        grown = {p: to_kernel(gw1, p) - base[p] for p in KERNEL}
        check(grown == {p: 0 for p in KERNEL}, f"to_kernel counted none of the "
              f"{refused_so_far(gw1) - refused_base} frames the taps refused meanwhile ({grown})",
              failures)
        for port in KERNEL:  # espgw looks every 100 ms; the wait above took seconds
            k = kernel_status(gw1, port)
            check(k.get("state") == "down" and k.get("went_down") == 1,
                  f"status.kernel_interfaces.{port} while down: {k}", failures)
        down_drops = drops(gw1)
        print(f"  while down: exception_down {down_drops.get('exception_down')}, tx_full "
              f"{down_drops.get('tx_full')}; {KERNEL['wan']}: {dressing(lab, KERNEL['wan'])[0]}",
              flush=True)

        print("== espgw-wan up, then espgw-lan once espgw has dressed espgw-wan again", flush=True)
        after = {}
        for port in ("wan", "lan"):
            lab.sh("gw1", "ip", "link", "set", KERNEL[port], "up")
            soft_wait(f"{KERNEL[port]} dressed as before",
                      lambda port=port: dressing(lab, KERNEL[port])[0] == before[port],
                      DRESS_TIMEOUT, failures)
            after[port], up = dressing(lab, KERNEL[port])
            check(up and after[port] == before[port],
                  f"{KERNEL[port]} up, dressed as before: {after[port]}", failures)

        outs = {}
        for port, p in pings.items():
            p.wait(count * PING_INTERVAL + 60)
            outs[port] = ping_result(logs[port], count)
        print("== after", flush=True)
        for src, dst, what in (("inet", L.GW1_WAN, "the router's ping to gw1's WAN address"),
                               ("b", L.GW1_LAN, "B's ping to gw1's LAN address"),
                               ("gw1", L.GW2_WAN, "gw1's kernel's ping to gw2 (its default "
                                "route)")):
            if soft_wait(f"{what} answered", lambda src=src, dst=dst: answers(lab, src, dst), 10,
                         failures):
                check(True, f"{what} answered", failures)

        ra, rb = stop_streams(streams)
        s1 = lab.settle("the streams to drain")
        for stream, rcv in zip(streams, (ra, rb)):
            check_stream(rcv, stream.name, failures)

        unanswered = 0
        for port, r in outs.items():
            unanswered += r["unanswered"]
            check(r["sent"] == count and r["duplicates"] == 0,
                  f"ping {KERNEL[port]}: {r['sent']} sent, {r['answered']} answered, none twice",
                  failures)
            check(len(r["runs"]) == 1 and r["runs"][0][1] - r["runs"][0][0] + 1 >= a.down_pings,
                  f"ping {KERNEL[port]}: those not answered are one run of at least "
                  f"{a.down_pings} (the time it was down): {r['runs']}", failures)
            check(r["last_answered"] == count,
                  f"ping {KERNEL[port]}: answered again after it, to the last "
                  f"(#{r['last_answered']})", failures)
        d1 = L.drops_delta(s0["gw1"]["counters"], s1["gw1"]["counters"])
        d2 = L.drops_delta(s0["gw2"]["counters"], s1["gw2"]["counters"])
        refused = d1.pop("exception_down", 0)
        check(refused == unanswered and unanswered > 0,
              f"gw1: exception_down grew by {refused} = the {unanswered} echo requests not "
              "answered", failures)
        check(not d1, f"gw1: no other drop ({d1})", failures)
        check(not d2, f"gw2: no drop ({d2})", failures)

        for port, ifname in KERNEL.items():
            k = kernel_status(gw1, port)
            check(k.get("name") == ifname and k.get("state") == "up" and k.get("dressed") is True
                  and k.get("went_down") == 1 and k.get("redressed") == 1 and "error" not in k,
                  f"gw1 status.kernel_interfaces.{port}: {k}", failures)
        check(gw1.alive() and gw1.proc.pid == pid,
              f"the same espgw process all along (pid {pid})", failures)
        codes = [gw.stop() for gw in lab.gateways]
        check(codes == [0, 0], f"both gateways stop cleanly (exit codes {codes})", failures)
        figures = {"pings": {p: {k: outs[p][k] for k in ("sent", "answered", "unanswered", "runs")}
                             for p in outs},
                   "exception_down": refused, "streams": {
                       n: {k: r[k] for k in ("sent", "received", "missing_count")}
                       for n, r in (("a_to_b", ra), ("b_to_a", rb))},
                   "rate_each_way": a.rate}
    return L.verdict(figures, failures)


if __name__ == "__main__":
    L.exit_with(main)
