"""zebra's routes over FPM into a real espgw (docs/routing.md "Design: espgw takes zebra's routes
over FPM"), with a Python FPM client (labkit/fpm_client.py, frames as zebra 8.4 writes them)
instead of FRR, so that every step is timed by the test.

    host 10.1.0.10 --- lan 10.1.0.1  gw (espgw)  wan 192.0.2.1 --- peer 192.0.2.11/.12/.13
                                      FPM on 127.0.0.1:2620

Three route-based static-SA tunnels t1, t2, t3 (selectors 0/0, inside 169.254.10.1/30, .5/30,
.9/30; their peers' inside addresses .2, .6, .10) lead to three addresses of one peer namespace,
which reads every ESP packet with a raw socket: the SPI names the tunnel, the packet's length the
inner flow (flow k sends UDP payloads of 16 + 4k bytes, so each flow's ESP packets have a length
of their own). No second espgw is needed to tell which tunnel carried which flow.

What it proves:
  - The client's frames are zebra's: byte for byte the captures of tests/routing/fpm_samples.jsonl
    (but for nlmsg_pid).
  - Routes from FPM are installed: `routes` shows them with origin fpm, the configured distance
    (30), selected, resolved by inside address; the ECMP route over t1, t2, t3 with its members'
    bucket counts (1024 split 342/341/341); so do `espgwctl show routes` and `espgwctl status`.
  - A config route (10.7.0.0/16 tunnel t3) and an FPM route (10.7.0.0/16 via t1) for one prefix:
    both in the report, the config one selected; its traffic goes into t3.
  - ECMP: 96 UDP flows to 10.9.0.1 spread over the three tunnels, each flow on exactly the tunnel
    that the model of the hash gives (labkit.lanes.ecmp_bucket, BucketTable), each tunnel a fair
    share; the SAs' counters agree with what the wire saw.
  - Removing one path (zebra's DEL + NEW in one frame, t2 left out) moves only t2's flows (to t1
    and t3 as LaneMap's rules say); the flows on t1 and t3 stay where they were. The path coming
    back takes back exactly its own flows.
  - A withdraw is gone in the first answer after espgw read it (the `all` answer whose decoder
    counted the delete no longer holds the route); the time from send to that answer is bounded.
  - Disconnect: the routes stay and carry traffic during grace_s; a reconnect whose dump leaves
    10.6.0.0/16 out sweeps that one when the grace period that the close started ends (not
    earlier: zebra dumps before bgpd has refilled it) and keeps the others.
    A second disconnect: every FPM route goes once grace_s (2 s) is over, not before.

Exit 0: pass; 1: fail; 77: cannot run here (not root, tools missing).
"""

import json
import os
import re
import subprocess
import sys
import time

from e2e import lab as L
from labkit import fpm_client as fpm
from labkit import lab as labkit_lab
from labkit import lanes
from labkit.control import new_gcm_key
from labkit.espgw import Espgw, binary as espgw_binary
from labkit import proc
from labkit.proc import PYTHON, check, exit_with, on_signals_unwind, wait_for, write_secret

GW_LAN, HOST, GW_WAN = "10.1.0.1", "10.1.0.10", "192.0.2.1"
TUNNELS = ("t1", "t2", "t3")
REMOTE = {"t1": "192.0.2.11", "t2": "192.0.2.12", "t3": "192.0.2.13"}
INSIDE = {"t1": "169.254.10.1/30", "t2": "169.254.10.5/30", "t3": "169.254.10.9/30"}
PEER_INSIDE = {"t1": "169.254.10.2", "t2": "169.254.10.6", "t3": "169.254.10.10"}
FPM_PORT = 2620
GRACE_S = 2
DISTANCE = 30
ECMP_PREFIX, ECMP_DST = "10.9.0.0/16", "10.9.0.1"
FLOWS = 96  # to ECMP_DST, source ports SPORT.., UDP to DPORT
SPORT, DPORT = 40000, 7000
PACKETS_PER_FLOW = 3

# Sends each flow's datagrams (argv[1]: JSON [[dst, sport, size], ...]), round robin, paced.
SENDER = """
import json, socket, sys, time
flows, count = json.loads(sys.argv[1]), int(sys.argv[2])
socks = []
for dst, sport, size in flows:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", sport))
    socks.append((s, dst, bytes(size)))
for _ in range(count):
    for s, dst, payload in socks:
        s.sendto(payload, (dst, %d))
        time.sleep(0.0002)
print(json.dumps({"sent": count * len(socks)}), flush=True)
""" % DPORT

# Every ESP packet that reaches the peer namespace, as (SPI, IP total length); on each line of
# stdin "N T": waits until N packets arrived since the last such line (at most T seconds), then
# prints them as JSON and starts over.
CAPTURE = """
import json, select, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
got = []
print("ready", flush=True)
for line in sys.stdin:
    n, t = line.split()
    end = time.monotonic() + float(t)
    while len(got) < int(n) and time.monotonic() < end:
        if select.select([s], [], [], max(0.0, end - time.monotonic()))[0]:
            p = s.recv(65535)
            ihl = (p[0] & 15) * 4
            got.append([struct.unpack_from("!I", p, ihl)[0], struct.unpack_from("!H", p, 2)[0]])
    print(json.dumps(got), flush=True)
    got = []
"""


def say(msg):
    print(f"[fpm] {msg}", flush=True)


class Gateway(Espgw):
    def __init__(self, lab):
        super().__init__(lab, "gw", "gw", espgw_binary(lab.build),
                         os.path.join(lab.workdir, "gw.yaml"),
                         os.path.join(lab.workdir, "gw.sock"),
                         os.path.join(lab.workdir, "gw.log"))
        self.spi = {t: 0x1000 * (i + 1) + int.from_bytes(os.urandom(1), "big")
                    for i, t in enumerate(TUNNELS)}

    def write_config(self):
        lab = self.lab
        tunnels = ""
        for t in TUNNELS:
            tunnels += f"""  - name: {t}
    local: {GW_WAN}
    remote: {REMOTE[t]}
    local_cidrs: [0.0.0.0/0]
    remote_cidrs: [0.0.0.0/0]
    inside: [{INSIDE[t]}]
    static_sa:
      outbound: {{spi: 0x{self.spi[t]:08x}, algorithm: aes128gcm16, key: 0x{new_gcm_key().hex()}}}
      inbound: {{spi: 0x{self.spi[t] + 0x100000:08x}, algorithm: aes128gcm16, key: 0x{new_gcm_key().hex()}}}
"""
        neighbours = ", ".join(f'{{address: {REMOTE[t]}, mac: "{lab.mac["b"]}"}}'
                               for t in TUNNELS)
        write_secret(self.config, f"""# espgw lab gateway, tests/e2e/e2e_fpm.py: LAB ONLY keys
dataplane:
  workers: 1
  crypto: {lab.crypto}
  control_socket: {self.socket}
  idle_sleep_us: 20
interfaces:
  - name: lan
    device: net_af_packet0,iface={lab.dev['gw1_lan']},framecnt=4096
    addresses: [{GW_LAN}/24]
    neighbours: [{{address: {HOST}, mac: "{lab.mac['a']}"}}]
  - name: wan
    device: net_af_packet1,iface={lab.dev['gw1_wan']},framecnt=4096
    addresses: [{GW_WAN}/24]
    neighbours: [{neighbours}]
routing:
  fpm: {{address: 127.0.0.1, port: {FPM_PORT}, grace_s: {GRACE_S}, distance: {DISTANCE}}}
routes:
  - {{prefix: 10.7.0.0/16, tunnel: t3}}
tunnels:
{tunnels}""")


class FpmLab(labkit_lab.Lab):
    prefix = "fpm"
    mac_prefix = "02:e2:f0:00:00"

    def __init__(self, build, crypto):
        super().__init__(say=say)
        self.build = os.path.abspath(build)
        self.crypto = crypto
        self.net.declare("host", "gw", "peer")
        self.gw = Gateway(self)
        self.capture = None

    def up(self):
        net = self.net
        self.up_namespaces("host", "gw", "peer")
        net.veth("a", "host", "gw1_lan", "gw")
        net.veth("gw1_wan", "gw", "b", "peer")
        net.host("host", "a", f"{HOST}/24", GW_LAN)
        net.neighbour("host", GW_LAN, "gw1_lan", "a")
        for t in TUNNELS:
            net.address("peer", "b", f"{REMOTE[t]}/24")
        net.gateway_port("gw", "gw1_lan")
        net.gateway_port("gw", "gw1_wan")
        self.gw.write_config()
        self.gw.start()
        self.gw.wait_ready()
        # Its stdin takes the test's requests: not a labkit tool (those read nothing).
        with open(os.path.join(self.workdir, "capture.log"), "a") as err:
            p = subprocess.Popen(self.nsexec("peer", PYTHON, "-c", CAPTURE), text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                 start_new_session=True, preexec_fn=proc.die_with_parent)
        self.procs.append(p)
        self.capture = proc.ready(p, "the ESP capture in the peer namespace")
        return self

    def stop_daemons(self):
        return labkit_lab.teardown([("gw", self.gw.stop)])

    def client(self):
        return fpm.FpmClient("127.0.0.1", FPM_PORT, netns=self.ns["gw"]).connect()

    def send_flows(self, flows, timeout=10):
        """Sends PACKETS_PER_FLOW datagrams of each (dst, sport, size) from the host; the ESP
        packets the peer got, [[spi, length], ...] (waits for all of them, at most `timeout`)."""
        expected = len(flows) * PACKETS_PER_FLOW
        self.capture.stdin.write(f"{expected} {timeout}\n")
        self.capture.stdin.flush()
        r = self.sh("host", PYTHON, "-c", SENDER, json.dumps(flows), str(PACKETS_PER_FLOW))
        check_sent = json.loads(r.stdout)["sent"]
        got = json.loads(self.capture.stdout.readline())
        return got, check_sent


def route_of(routes, prefix, origin):
    for r in routes:
        if r["prefix"] == prefix and r["origin"] == origin:
            return r
    return None


def fpm_routes(gw):
    return {r["prefix"]: r for r in gw.ctl("routes")["routes"] if r["origin"] == "fpm"}


def check_frames_are_zebras(failures):
    samples = {}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "routing",
                        "fpm_samples.jsonl")
    with open(path) as f:
        for line in f:
            s = json.loads(line)
            samples[s["what"].split(":")[0]] = bytes.fromhex(s["frame_hex"])

    def same(mine, captured):
        mine = bytearray(mine)
        off = 4
        while off + 16 <= len(mine):  # nlmsg_pid is zebra's
            mine[off + 12:off + 16] = captured[off + 12:off + 16]
            off += int.from_bytes(mine[off:off + 4], "little")
        return bytes(mine) == captured

    for what, mine in (
            ("BGP route, no nhg", fpm.add("10.3.0.0/16", ["169.254.44.2"], 2)),
            ("BGP ECMP, no nhg", fpm.add("10.2.0.0/16", ["169.254.44.2", "169.254.44.6"], [2, 3])),
            ("BGP route update, no nhg", fpm.replace("10.2.0.0/16", ["169.254.44.6"], 3)),
            ("BGP withdraw", fpm.delete("10.3.0.0/16"))):
        check(same(mine, samples[what]), f"the client's frame equals zebra's capture: {what}",
              failures)


class Flows:
    """The ECMP flows and three probes, each with a payload size of its own."""

    PROBES = {"10.7.0.1": "config 10.7.0.0/16 -> t3 beats fpm -> t1",
              "10.8.0.1": "fpm 10.8.0.0/16 -> t1",
              "10.6.0.1": "fpm 10.6.0.0/16 -> t2"}

    def __init__(self, gw):
        self.gw = gw
        self.list = [[ECMP_DST, SPORT + i, 16 + 4 * i] for i in range(FLOWS)]
        for k, dst in enumerate(self.PROBES):
            self.list.append([dst, SPORT + FLOWS + k, 16 + 4 * (FLOWS + k)])
        self.tunnel_of_spi = {gw.spi[t]: t for t in TUNNELS}

    def buckets(self):
        return [lanes.ecmp_bucket(HOST, ECMP_DST, 17, SPORT + i, DPORT) for i in range(FLOWS)]

    def observe(self, got, failures, what):
        """{flow index: tunnel} from the ESP the peer saw; checks each flow took one tunnel."""
        base = min(length for _, length in got) if got else 0
        seen = {}
        for spi, length in got:
            k = (length - base) // 4
            seen.setdefault(k, set()).add(self.tunnel_of_spi.get(spi, f"spi {spi:#x}"))
        split = {k: v for k, v in seen.items() if len(v) != 1}
        check(not split, f"{what}: every flow on one tunnel ({split})", failures)
        return {k: sorted(v)[0] for k, v in seen.items()}


def prove(lab, failures, figures):
    gw = lab.gw
    check_frames_are_zebras(failures)
    flows = Flows(gw)
    members = [PEER_INSIDE[t] for t in TUNNELS]

    # ---- routes installed, and precedence ----
    c = lab.client()
    c.send(fpm.add(ECMP_PREFIX, members),
           fpm.add("10.8.0.0/16", [PEER_INSIDE["t1"]]),
           fpm.add("10.7.0.0/16", [PEER_INSIDE["t1"]]),
           fpm.add("10.6.0.0/16", [PEER_INSIDE["t2"]]))
    routes = wait_for("four FPM routes in `routes`", lambda: (lambda r: r if len(
        [x for x in r if x["origin"] == "fpm"]) == 4 else None)(gw.ctl("routes")["routes"]), 5)
    st = gw.ctl("status")["fpm"]
    check(st["connected"] and st["routes"] == 4 and st["distance"] == DISTANCE,
          f"status.fpm: connected, 4 routes, distance {DISTANCE}: {st}", failures)
    e = route_of(routes, ECMP_PREFIX, "fpm")
    check(e["distance"] == DISTANCE and e["selected"] and e["ecmp"] and e["protocol"] == 186,
          f"{ECMP_PREFIX}: fpm, distance {DISTANCE}, selected, ECMP, BGP: {e}", failures)
    hops = [(h.get("tunnel"), h.get("by"), h.get("buckets")) for h in e["next_hops"]]
    check(hops == [("t1", "inside address", 342), ("t2", "inside address", 341),
                   ("t3", "inside address", 341)],
          f"{ECMP_PREFIX}: members t1, t2, t3 by inside address, 342/341/341 buckets: {hops}",
          failures)
    cfg, dyn = route_of(routes, "10.7.0.0/16", "static"), route_of(routes, "10.7.0.0/16", "fpm")
    check(cfg is not None and cfg["selected"] and cfg["distance"] == 1 and cfg["tunnel"] == "t3",
          f"10.7.0.0/16: the config route (tunnel t3, distance 1) is selected: {cfg}", failures)
    check(dyn is not None and not dyn["selected"] and dyn["distance"] == DISTANCE,
          f"10.7.0.0/16: the FPM route is reported, not selected: {dyn}", failures)

    # espgwctl's views of the same: a line per ECMP member with its buckets; the connection.
    text = espgwctl(lab, "show", "routes")
    say("espgwctl show routes:\n" + text)
    lines = [re.split(r"\s{2,}", x.strip()) for x in text.splitlines()]
    check(["10.9.0.0/16", "169.254.10.2", "tunnel t1", "fpm", str(DISTANCE), "yes", "342"] in lines
          and ["169.254.10.6", "tunnel t2", "341"] in lines
          and ["10.7.0.0/16", "169.254.10.2", "tunnel t1", "fpm", str(DISTANCE), "no", "-"]
          in lines and ["10.7.0.0/16", "-", "tunnel t3", "static", "1", "yes", "-"] in lines,
          "espgwctl show routes: origin, distance, selected, ECMP members' buckets", failures)
    status = espgwctl(lab, "status")
    check(re.search(r"^fpm +connected from 127\.0\.0\.1:\d+, 4 routes$", status, re.M)
          is not None, f"espgwctl status shows the FPM connection: {status!r}", failures)

    # ---- ECMP spread: each flow where the model of the hash puts it ----
    table = lanes.BucketTable(3)
    buckets = flows.buckets()

    def expected():
        return {i: TUNNELS[table.member_of(b)] for i, b in enumerate(buckets)}

    def run_flows(what, skip=()):
        before = sas_out(gw)
        got, sent = lab.send_flows([f for f in flows.list if f[0] not in skip])
        check(len(got) == sent, f"{what}: the peer got every ESP packet ({len(got)}/{sent})",
              failures)
        on = flows.observe(got, failures, what)
        after = sas_out(gw)
        per_wire = {t: sum(1 for spi, _ in got if flows.tunnel_of_spi.get(spi) == t)
                    for t in TUNNELS}
        per_sa = {t: after[t] - before[t] for t in TUNNELS}
        check(per_wire == per_sa, f"{what}: SA counters {per_sa} = the wire's {per_wire}",
              failures)
        return on

    on = run_flows("all paths")
    first = {i: on.get(i) for i in range(FLOWS)}
    want = expected()
    wrong = {i: (first[i], want[i]) for i in range(FLOWS) if first[i] != want[i]}
    check(not wrong, f"all paths: each flow on the tunnel the hash model gives "
          f"({len(wrong)} not: {dict(list(wrong.items())[:5])})", failures)
    share = {t: sum(1 for i in range(FLOWS) if first[i] == t) for t in TUNNELS}
    figures["ecmp_flows_per_tunnel"] = share
    check(all(n >= FLOWS // 3 * 0.6 for n in share.values()),
          f"every tunnel a fair share of {FLOWS} flows: {share}", failures)
    probes = [on.get(FLOWS + k) for k in range(3)]
    check(probes == ["t3", "t1", "t2"],
          f"probes 10.7 (config wins) / 10.8 / 10.6 went into t3/t1/t2: {probes}", failures)

    # ---- one path goes (DEL + NEW without t2), then comes back ----
    c.send(fpm.replace(ECMP_PREFIX, [PEER_INSIDE["t1"], PEER_INSIDE["t3"]]))
    wait_for("t2 gone from the ECMP route", lambda: [h.get("tunnel") for h in fpm_routes(gw)[
        ECMP_PREFIX]["next_hops"]] == ["t1", "t3"], 5)
    table.set_up(1, False)
    on = run_flows("t2 gone")
    second = {i: on.get(i) for i in range(FLOWS)}
    moved_wrong = {i for i in range(FLOWS) if first[i] != "t2" and second[i] != first[i]}
    check(not moved_wrong, f"t2 gone: flows on t1 and t3 stayed ({len(moved_wrong)} moved)",
          failures)
    want = expected()
    wrong = {i for i in range(FLOWS) if second[i] != want[i]}
    check(not wrong and "t2" not in second.values(),
          f"t2 gone: t2's flows went where LaneMap's rules say ({len(wrong)} not)", failures)
    figures["flows_moved_when_t2_went"] = sum(1 for i in range(FLOWS) if second[i] != first[i])

    c.send(fpm.replace(ECMP_PREFIX, members))
    wait_for("t2 back in the ECMP route", lambda: [h.get("tunnel") for h in fpm_routes(gw)[
        ECMP_PREFIX]["next_hops"]] == list(TUNNELS), 5)
    table.set_up(1, True)
    on = run_flows("t2 back")
    third = {i: on.get(i) for i in range(FLOWS)}
    back = {i for i in range(FLOWS) if third[i] != first[i]}
    check(not back, f"t2 back: every flow on its first tunnel again ({len(back)} not)", failures)

    # ---- a withdraw is gone in the first answer after espgw read it ----
    deleted_before = gw.ctl("status")["fpm"]["decoder"]["routes_deleted"]
    t0 = time.monotonic()
    c.send(fpm.delete("10.8.0.0/16"))
    answers = []

    def read_the_delete():
        a = gw.ctl("all")
        answers.append(a)
        return a if a["status"]["fpm"]["decoder"]["routes_deleted"] > deleted_before else None

    a = wait_for("espgw to read the withdraw", read_the_delete, 5, interval=0.001)
    figures["withdraw_gone_ms"] = round((time.monotonic() - t0) * 1000, 1)
    figures["withdraw_answers_polled"] = len(answers)
    check(route_of(a["routes"], "10.8.0.0/16", "fpm") is None,
          "the withdraw is gone in the answer that counted it", failures)
    check(figures["withdraw_gone_ms"] < 200,
          f"withdraw gone within 200 ms ({figures['withdraw_gone_ms']} ms)", failures)

    # ---- disconnect: kept during the grace; a reconnect's dump sweeps what it left out ----
    c.close()
    t_close = time.monotonic()
    st = wait_for("status.fpm to see the close", lambda: (lambda s: s if not s["connected"]
                                                          else None)(gw.ctl("status")["fpm"]), 5)
    check(st["routes"] == 3 and st["grace_left_ms"] is not None,
          f"closed: 3 routes kept, grace running: {st}", failures)
    on = run_flows("in the grace period", skip=("10.8.0.1",))  # withdrawn above
    kept = {i for i in range(FLOWS) if on.get(i) != first[i]}
    check(not kept and on.get(FLOWS + 2) == "t2",
          f"in the grace period the routes still carry traffic ({len(kept)} flows off)", failures)
    check(time.monotonic() - t_close < GRACE_S,
          "the checks above ran within the grace period", failures)

    c = lab.client()
    t_dump = time.monotonic()
    c.send(fpm.add(ECMP_PREFIX, members), fpm.add("10.7.0.0/16", [PEER_INSIDE["t1"]]))
    wait_for("10.6.0.0/16 swept", lambda: "10.6.0.0/16" not in fpm_routes(gw), GRACE_S + 5,
             interval=0.01)
    figures["stale_swept_after_dump_ms"] = round((time.monotonic() - t_dump) * 1000)
    swept = time.monotonic() - t_close
    figures["stale_swept_after_close_s"] = round(swept, 2)
    check(GRACE_S - 0.1 <= swept <= GRACE_S + 1.0,
          f"the stale route went {swept:.2f} s after the close (grace {GRACE_S} s)", failures)
    r = fpm_routes(gw)
    check(sorted(r) == ["10.7.0.0/16", ECMP_PREFIX] and not any(x["stale"] for x in r.values()),
          f"after the sweep: the dumped routes stay, not stale: {sorted(r)}", failures)
    st = gw.ctl("status")["fpm"]
    check(st["swept_stale"] == 1 and st["connected"] and st["connections"] == 2,
          f"status.fpm: 1 swept, connected, 2 connections: {st}", failures)

    # ---- disconnect for good: gone once the grace is over, not before ----
    c.close()
    t_close = time.monotonic()
    wait_for("the FPM routes gone after the grace", lambda: not fpm_routes(gw), GRACE_S + 5,
             interval=0.02)
    gone = time.monotonic() - t_close
    figures["grace_clear_after_close_s"] = round(gone, 2)
    check(GRACE_S - 0.1 <= gone <= GRACE_S + 1.0,
          f"routes removed {gone:.2f} s after the close (grace {GRACE_S} s)", failures)
    st = gw.ctl("status")["fpm"]
    check(st["cleared_after_grace"] == 2 and st["routes"] == 0,
          f"status.fpm: 2 cleared after the grace: {st}", failures)
    cfg = route_of(gw.ctl("routes")["routes"], "10.7.0.0/16", "static")
    check(cfg is not None and cfg["selected"], "the config route stays", failures)


def espgwctl(lab, *args):
    exe = os.path.join(lab.build, "dataplane", "espgwctl")
    return proc.run([exe, "-s", lab.gw.socket, *args]).stdout


def sas_out(gw):
    """Outbound packets per tunnel."""
    out = {t: 0 for t in TUNNELS}
    for sa in gw.ctl("sas")["sas"]:
        if sa["direction"] == "out":
            out[sa["tunnel"]] += sa["packets"]
    return out


def main():
    args = L.arguments()
    on_signals_unwind()
    failures, figures = [], {}
    started = time.monotonic()
    with FpmLab(args.build, args.crypto) as lab:
        try:
            lab.up()
            figures["up_s"] = round(time.monotonic() - started, 1)
            prove(lab, failures, figures)
        except Exception:
            print(f"--- gw log:\n{lab.gw.log_tail()}")
            raise
    figures["total_s"] = round(time.monotonic() - started, 1)
    return L.verdict(figures, failures)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    exit_with(main)
