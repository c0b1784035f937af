#!/usr/bin/env python3
"""`espgwctl bgp` and espgw-exporter's BGP series against two real FRR instances (no espgw).

    test_frr_state.py BUILD

r1 (AS 65001, the "gateway" whose espgw config the tools read) and r2 (AS 65002) in two
namespaces, one veth between them with 169.254.44.1/30 <-> .2/30 and fd00:44::1/126 <-> ::2/126:
an IPv4 session with BFD (200 ms x 3) and an IPv6 session, as tunnel t1's inside addresses would
carry them; r2 announces 10.2.0.0/16 and fd00:2::/48, r1 10.1.0.0/16. Tunnel t2 of the config
has a neighbour that FRR does not know.

 1. espgwctl bgp --json: t1's two neighbours Established with an uptime, one prefix received
    and sent each (summed over the address families), BFD up on the IPv4 one (none on IPv6);
    t2's neighbour "unknown"; the table shows the same; `bgp t1` only t1; `bgp t9` exits 1.
 2. espgw-exporter -c CONFIG: espgw_bgp_session_up, _prefixes_received, _prefixes_sent,
    _session_flaps_total and espgw_bfd_up per tunnel and neighbour, as espgwctl says;
    espgw_bgp_frr_up 1, espgw_bgp_scrape_errors_total 0; espgw_up 0 (no espgw).
 3. `clear bgp` on r2: the flap is counted (espgwctl and exporter), the session comes back.
 4. r1's bgpd stopped: espgwctl bgp exits 3 naming "bgpd is not running"; the scrape still
    answers 200 with espgw_bgp_frr_up 0 and espgw_bgp_scrape_errors_total raised, no session
    series. All of r1's FRR stopped: exit 3, "failed to connect to any daemons".

A real Prometheus (tests/metrics/prom_kit.py) scrapes the exporter every second throughout, and
through its HTTP API only shows: the target up; espgw_bgp_session_up 1 for t1's two neighbours
and 0 for t2's; t1's prefixes received and sent as r1's `show bgp summary json` says;
espgw_bfd_up 1 as `show bfd peers json` says (no series for the IPv6 neighbour); the flap as
espgw_bgp_session_flaps_total one higher and increase(...[30s]) >= 1; with bgpd stopped,
espgw_bgp_frr_up 0, no session series, the target still up with no error.

Exit 77 (skip) without FRR or without a prometheus binary.
"""

import json
import os
import signal
import subprocess
import sys
import urllib.request

from frr_kit import Frr, skip_reason
from labkit import proc
from labkit.lab import Lab
from labkit.proc import LabError, begin_test, check, exit_with, verdict
from metrics import prom_kit, prom_parse

V4 = ("169.254.44.1", "169.254.44.2")
V6 = ("fd00:44::1", "fd00:44::2")
BFD = "bfd\n profile espgw\n  detect-multiplier 3\n  receive-interval 200\n" \
      "  transmit-interval 200\n"


def bgpd_conf(asn, remote_asn, router_id, peer4, peer6, net4, net6):
    """Each side sends its own prefixes only (as espgw's route-map espgw-announce does): without
    that eBGP sends the peer's own routes back and pfxSnt counts them."""
    return f"""ip prefix-list own4 seq 5 permit {net4}
ipv6 prefix-list own6 seq 5 permit {net6}
route-map out4 permit 10
 match ip address prefix-list own4
exit
route-map out6 permit 10
 match ipv6 address prefix-list own6
exit
router bgp {asn}
 bgp router-id {router_id}
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 neighbor {peer4} remote-as {remote_asn}
 neighbor {peer4} timers 1 3
 neighbor {peer4} timers connect 1
 neighbor {peer4} bfd profile espgw
 neighbor {peer6} remote-as {remote_asn}
 neighbor {peer6} timers 1 3
 neighbor {peer6} timers connect 1
 address-family ipv4 unicast
  neighbor {peer4} activate
  neighbor {peer4} route-map out4 out
  network {net4}
 exit-address-family
 address-family ipv6 unicast
  neighbor {peer6} activate
  neighbor {peer6} route-map out6 out
  network {net6}
 exit-address-family
"""


def gateway_config(path, instance, workdir):
    """What espgwctl and the exporter read: bgp.frr_instance and the tunnels' neighbours (t1's
    from its inside prefixes, t2's given)."""
    with open(path, "w") as f:
        f.write(f"""dataplane:
  control_socket: {workdir}/no-espgw.sock
bgp:
  asn: 65001
  frr_instance: {instance}
tunnels:
  - name: t1
    inside: [{V4[0]}/30, "{V6[0]}/126"]
    bgp: {{remote_asn: 65002, bfd: true}}
  - name: t2
    inside: [169.254.45.1/30]
    bgp: {{remote_asn: 65002, neighbours: [169.254.45.2]}}
""")


class FrrStateLab(Lab):
    prefix = "frrst"
    mac_prefix = "02:1a:f5:00:00"

    def __init__(self):
        super().__init__()
        self.net.declare("r1", "r2")
        self.frr = {}

    def up(self):
        self.up_namespaces("r1", "r2")
        self.net.veth("a", "r1", "b", "r2")
        for ns, end, i in (("r1", "a", 0), ("r2", "b", 1)):
            self.net.address(ns, end, f"{V4[i]}/30")
            self.sh(ns, "sysctl", "-qw", f"net.ipv6.conf.{self.dev[end]}.disable_ipv6=0")
            self.sh(ns, "ip", "addr", "add", f"{V6[i]}/126", "dev", self.dev[end], "nodad")
        confs = {
            "r1": bgpd_conf(65001, 65002, "10.1.0.1", V4[1], V6[1], "10.1.0.0/16", "fd00:1::/48"),
            "r2": bgpd_conf(65002, 65001, "10.2.0.1", V4[0], V6[0], "10.2.0.0/16", "fd00:2::/48"),
        }
        for ns in ("r1", "r2"):
            self.frr[ns] = Frr(self, self.name(ns), ns,
                               {"zebra": "", "bfdd": BFD, "bgpd": confs[ns]})
            self.frr[ns].start()

    def stop_daemons(self):
        errors = []
        for f in self.frr.values():
            errors += f.stop()
        return errors


class Tools:
    def __init__(self, build, config):
        self.ctl = os.path.join(build, "dataplane", "espgwctl")
        self.config = config
        self.exporter = None
        self.port = None
        self.prom = None
        self.last = None  # the last view of sessions(), for a failure's message

    def bgp(self, *args):
        return subprocess.run([self.ctl, "-c", self.config, "-t", "10", "bgp", *args],
                              capture_output=True, text=True, timeout=30)

    def sessions(self):
        r = self.bgp("--json")
        if r.returncode != 0:
            raise LabError(f"espgwctl bgp --json: exit {r.returncode}: {r.stderr}")
        self.last = {(s["tunnel"], s["neighbour"]): s for s in json.loads(r.stdout)["sessions"]}
        return self.last

    def start_exporter(self, exporter):
        self.exporter = proc.start([exporter, "--listen", "127.0.0.1:0", "-c", self.config,
                                    "--timeout", "5"], pipe=True)
        line = self.exporter.stdout.readline()
        if "listening on http://127.0.0.1:" not in line:
            raise LabError(f"espgw-exporter did not start: {line!r}")
        self.port = int(line.split("127.0.0.1:")[1].split("/")[0])

    def start_prometheus(self, folder):
        os.makedirs(folder)
        self.prom = prom_kit.Prometheus(prom_kit.binary(), folder, self.port, wait_s=15)

    def scrape(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=30) as r:
            if r.status != 200:
                raise LabError(f"scrape: HTTP {r.status}")
            return prom_parse.parse(r.read().decode())

    def stop(self):
        if self.prom is not None:
            self.prom.stop()
        if self.exporter is not None:
            proc.stop_process(self.exporter, timeout=10)
            self.exporter.stdout.close()
            self.exporter.stderr.close()


def established(tools):
    s = tools.sessions()
    t1 = [s.get(("t1", V4[1]), {}), s.get(("t1", V6[1]), {})]
    return all(x.get("state") == "Established" and x.get("prefixes_received") == 1
               and x.get("prefixes_sent") == 1 for x in t1) and t1[0].get("bfd") == "up" and s


def per_session(prom, expr):
    """{(tunnel, neighbour): value} of a query over the BGP series, as Prometheus answers it."""
    rows = prom.query(expr)
    out = {(m.get("tunnel"), m.get("neighbour")): v for m, v in rows}
    if len(out) != len(rows):
        raise LabError(f"{expr}: several series per session: {rows}")
    return out


def vtysh_prefixes(frr):
    """{neighbour: (pfxRcd, pfxSnt)} summed over the address families of `show bgp summary
    json`, read from FRR itself rather than through espgwctl."""
    out = {}
    for family in frr.json("show bgp summary json").values():
        for peer, x in family.get("peers", {}).items():
            rcd, snt = out.get(peer, (0, 0))
            out[peer] = (rcd + x.get("pfxRcd", 0), snt + x.get("pfxSnt", 0))
    return out


def prom_state(lab, prom, target, failures):
    """Prometheus's view of the Established sessions (it has scraped since the exporter began)."""
    t = prom.wait_target_up()
    check(t["labels"]["instance"] == target and t["lastError"] == "",
          f"prometheus: the exporter's target {target} up", failures)
    t1 = {("t1", V4[1]), ("t1", V6[1])}
    want_up = {("t1", V4[1]): 1, ("t1", V6[1]): 1, ("t2", "169.254.45.2"): 0}
    up = proc.wait_for("prometheus: every session's espgw_bgp_session_up", lambda: (
        lambda x: len(x) == len(want_up) and x)(per_session(prom, "espgw_bgp_session_up")),
        prom.wait_s, 0.2)
    check(up == want_up, f"prometheus: espgw_bgp_session_up {up}", failures)
    fib = vtysh_prefixes(lab.frr["r1"])
    rcd = per_session(prom, "espgw_bgp_prefixes_received")
    snt = per_session(prom, "espgw_bgp_prefixes_sent")
    got = {n: (rcd.get((tn, n)), snt.get((tn, n))) for tn, n in t1}
    check(got == {n: fib.get(n) for _, n in t1} and all(v == (1, 1) for v in got.values()),
          f"prometheus: t1's prefixes (received, sent) {got}, vtysh {fib}", failures)
    bfd = {x.get("peer"): x.get("status") for x in lab.frr["r1"].json("show bfd peers json")}
    got = per_session(prom, "espgw_bfd_up")
    check(got == {("t1", V4[1]): 1} and bfd.get(V4[1]) == "up",
          f"prometheus: espgw_bfd_up {got} (vtysh: {bfd})", failures)


def prom_flaps(prom, before):
    """Waits until Prometheus has t1's IPv4 flap counter above `before`: (value, increase)."""
    sel = f'espgw_bgp_session_flaps_total{{tunnel="t1",neighbour="{V4[1]}"}}'

    def raised():
        v = per_session(prom, sel).get(("t1", V4[1]))
        return v is not None and v > before and v
    value = proc.wait_for("prometheus: the flap counted", raised, prom.wait_s, 0.2)
    inc = per_session(prom, f"increase({sel}[30s])").get(("t1", V4[1]))
    return value, inc


def prom_frr_down(prom, target, failures):
    """With r1's bgpd stopped: espgw_bgp_frr_up 0 in Prometheus, the scrape still healthy."""
    proc.wait_for("prometheus: espgw_bgp_frr_up 0", lambda: [
        v for _, v in prom.query("espgw_bgp_frr_up")] == [0], prom.wait_s, 0.2)
    t = prom.targets()
    up = [v for _, v in prom.query(f'up{{instance="{target}"}}')]
    sessions = prom.query("espgw_bgp_session_up")
    errors = [v for _, v in prom.query("espgw_bgp_scrape_errors_total")]
    check(len(t) == 1 and t[0]["health"] == "up" and t[0]["lastError"] == "" and up == [1]
          and sessions == [] and len(errors) == 1 and errors[0] >= 1,
          f"prometheus with bgpd stopped: espgw_bgp_frr_up 0, target up ({t[0]['health']}, "
          f"{t[0]['lastError']!r}, up {up}), no session series ({len(sessions)}), "
          f"scrape errors {errors}", failures)


def steps(lab, tools, exporter, failures):
    s = proc.wait_for("both of t1's sessions Established with their prefixes, BFD up",
                      lambda: established(tools), 30, 0.2)
    v4, v6, t2 = s[("t1", V4[1])], s[("t1", V6[1])], s[("t2", "169.254.45.2")]
    check(v4["remote_asn"] == 65002 and isinstance(v4["uptime_s"], int) and v4["bfd"] == "up",
          f"bgp --json: t1 {V4[1]}: {v4}", failures)
    check(v6["bfd"] is None and v6["prefixes_received"] == 1,
          f"bgp --json: t1 {V6[1]} (IPv6 unicast, no BFD): {v6}", failures)
    check(t2["state"] == "unknown" and t2["uptime_s"] is None,
          f"bgp --json: t2's neighbour unknown to FRR: {t2}", failures)
    text = tools.bgp()
    rows = [ln.split() for ln in text.stdout.splitlines()]
    check(text.returncode == 0 and rows[0][:4] == ["TUNNEL", "NEIGHBOUR", "AS", "STATE"]
          and ["t1", V4[1], "65002", "Established"] == rows[1][:4] and rows[1][-1] == "up"
          and rows[3][:4] == ["t2", "169.254.45.2", "65002", "unknown"],
          f"bgp (table):\n{text.stdout}{text.stderr}", failures)
    only = tools.bgp("t1", "--json")
    check(only.returncode == 0 and {x["tunnel"] for x in json.loads(only.stdout)["sessions"]}
          == {"t1"}, f"bgp t1: {only.stdout}", failures)
    bad = tools.bgp("t9")
    check(bad.returncode == 1 and "t9" in bad.stderr, f"bgp t9: exit {bad.returncode}, "
          f"{bad.stderr.strip()}", failures)

    tools.start_exporter(exporter)
    tools.start_prometheus(os.path.join(lab.workdir, "prometheus"))
    target = f"127.0.0.1:{tools.port}"
    m = tools.scrape()

    def val(name, tunnel="t1", neighbour=V4[1]):
        return prom_parse.value(m, name, tunnel=tunnel, neighbour=neighbour)

    flaps0 = v4["flaps"]
    check((val("espgw_bgp_session_up"), val("espgw_bgp_prefixes_received"),
           val("espgw_bgp_prefixes_sent"), val("espgw_bfd_up"),
           val("espgw_bgp_session_flaps_total")) == (1, 1, 1, 1, flaps0),
          "exporter: t1's IPv4 session up, 1 prefix each way, BFD up, its flaps", failures)
    check(val("espgw_bgp_session_up", neighbour=V6[1]) == 1
          and val("espgw_bfd_up", neighbour=V6[1]) is None
          and val("espgw_bgp_session_up", "t2", "169.254.45.2") == 0,
          "exporter: t1's IPv6 session up (no BFD series), t2's down", failures)
    check(prom_parse.value(m, "espgw_bgp_frr_up") == 1
          and prom_parse.value(m, "espgw_bgp_scrape_errors_total") == 0
          and prom_parse.value(m, "espgw_up") == 0,
          "exporter: FRR up, no scrape errors, espgw_up 0 (no espgw here)", failures)
    tools.prom.wait_ready()
    prom_state(lab, tools.prom, target, failures)

    before = per_session(tools.prom, "espgw_bgp_session_flaps_total").get(("t1", V4[1]))
    check(before == flaps0, f"prometheus: espgw_bgp_session_flaps_total {before} before the flap",
          failures)

    # A flap: r2 resets the session; r1 counts it and the session comes back.
    lab.frr["r2"].vtysh(f"clear bgp {V4[0]}")
    # One reset can count twice: when both ends reconnect at once, bgpd drops one of the two
    # connections (a collision, RFC 4271 6.8) and counts that too. So: counted at least once, and
    # the exporter and Prometheus say what espgwctl says.
    proc.wait_for("the flap counted and the session back", lambda: (
        lambda x: x["flaps"] > flaps0 and x["state"] == "Established")(
            tools.sessions()[("t1", V4[1])]), 20, 0.2)
    after = tools.sessions()[("t1", V4[1])]["flaps"]
    m = tools.scrape()
    check(val("espgw_bgp_session_flaps_total") == after,
          f"exporter: espgw_bgp_session_flaps_total {flaps0} -> {after}", failures)
    value, inc = prom_flaps(tools.prom, flaps0)
    check(value == after and inc is not None and inc >= 1,
          f"prometheus: espgw_bgp_session_flaps_total {flaps0} -> {value}, "
          f"increase[30s] {inc}", failures)

    # r1's bgpd gone: a clear error, a scrape that still answers.
    r1 = lab.frr["r1"]
    proc.stop_process(r1.procs.pop("bgpd"), signal.SIGTERM, 15)
    r = tools.bgp()
    check(r.returncode == 3 and "bgpd is not running" in r.stderr,
          f"bgp with bgpd stopped: exit {r.returncode}, {r.stderr.strip()}", failures)
    m = tools.scrape()
    check(prom_parse.value(m, "espgw_bgp_frr_up") == 0
          and prom_parse.value(m, "espgw_bgp_scrape_errors_total") >= 1
          and not prom_parse.family(m, "espgw_bgp_session_up"),
          "exporter with bgpd stopped: HTTP 200, espgw_bgp_frr_up 0, a scrape error, "
          "no session series", failures)
    prom_frr_down(tools.prom, target, failures)
    for daemon in ("bfdd", "zebra"):
        proc.stop_process(r1.procs.pop(daemon), signal.SIGTERM, 15)
    r = tools.bgp()
    check(r.returncode == 3 and "failed to connect to any daemons" in r.stderr,
          f"bgp with FRR stopped: exit {r.returncode}, {r.stderr.strip()}", failures)


def main():
    code = begin_test(1, __doc__, lambda: prom_kit.MISSING if prom_kit.binary() is None
                      else skip_reason())
    if code is not None:
        return code
    build = os.path.abspath(sys.argv[1])
    lab = FrrStateLab()
    failures = []
    tools = None
    try:
        lab.up()
        config = os.path.join(lab.workdir, "gw1.yaml")
        gateway_config(config, lab.frr["r1"].instance, lab.workdir)
        tools = Tools(build, config)
        steps(lab, tools, os.path.join(build, "metrics", "espgw-exporter"), failures)
    except LabError as e:
        failures.append(str(e))
        print(f"FAIL: {e}", file=sys.stderr)
        if tools and tools.last:
            print(f"espgwctl bgp's last view: {list(tools.last.values())}", file=sys.stderr)
        for f in lab.frr.values():
            for d in f.procs:
                print(f"--- {f.instance} {d}:\n{f.log_tail(d)}", file=sys.stderr)
    finally:
        if tools:
            tools.stop()
        lab.down()
    return verdict({}, failures)


if __name__ == "__main__":
    exit_with(main)
