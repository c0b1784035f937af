"""The HA lab: ike_lab's gateways under load, for the rekey, failover and restart tests.

    host A -- gw1: espgw, charon (kernel-espgw), espgw-ike -- gw2: charon (libipsec) -- host B
    172.50.1.10     wan 198.51.100.1                         198.51.100.2 (t1)      172.60.1.20
                                                             198.51.100.3 (t2)

ike_lab.Lab with `ha-` names, and with gw1's charon driven the production way: espgw-ike loads
the tunnels of espgw's config (their `ike:` sections: lifetimes, DPD) into it and initiates them.
gw2, the stand-in for an AWS VPN endpoint, is a stock charon with a hand-written swanctl.conf:
one connection per tunnel, from its own address (two tunnels: two addresses, one charon).

Traffic: two sequence-numbered UDP streams, A -> B and B -> A, from tests/e2e/tools.py
(udp-seq-send), received by ha_traffic.py, which also notes when each datagram arrived, so that an
outage is measured in seconds (last datagram before it, first after) as well as in datagrams.

Dead peer detection (dpd=True) as AWS does it: DPD after 10 s without traffic from the peer, the
peer declared dead 30 s after its last packet. charon reads dpd_timeout for IKEv1 only; an IKEv2
peer is dead when the retransmissions of the DPD request run out, after
retransmit_timeout * (1 + base + base^2 + ... + base^tries) = 1.8 * (1 + 1.4 + ... + 1.4^4) =
19.7 s. Together with dpd_delay that is about 30 s, so the lab appends

    charon { retransmit_timeout = 1.8, retransmit_base = 1.4, retransmit_tries = 4 }

to both charons' strongswan.conf (a later value of a key overrides an earlier one). gw2 runs DPD
too (AWS's side does, with action clear); gw1 has espgw-ike's default, dpd_action restart.

A path is cut on gw2 with policy routing: the local table's rule moves behind two blackhole rules
for the address, so that gw2 neither accepts nor sends anything on it, while ARP and the address
itself stay (charon sees no address change and does not roam).
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ike_vici"))
import ike_lab  # noqa: E402
from ike_lab import (A_IP, B_IP, GW1_WAN, GW2_WAN, NET_A, NET_B, LabError,  # noqa: E402,F401
                     say, wait_for)
from vici_py import Vici  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(ROOT, "tests", "labkit", "tools.py")
RECV = os.path.join(ROOT, "tests", "labkit", "seq_recv.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

GW2_WAN2 = "198.51.100.3"
PEER_ADDRESS = {"t1": GW2_WAN, "t2": GW2_WAN2}
PORT_AB = 6000
PORT_BA = 6001
END_MARKERS = 3  # tools.py udp-seq-send sends three

DPD_RETRANSMITS = """
# tests/ike/ha_lab.py: an IKEv2 peer is dead ~30 s after its last packet (dpd_delay 10 s, then
# 1.8 * (1 + 1.4 + 1.4^2 + 1.4^3 + 1.4^4) = 19.7 s of retransmissions).
charon {
  retransmit_timeout = 1.8
  retransmit_base = 1.4
  retransmit_tries = 4
}
"""


def skip_reason(espgw_ike):
    reason = ike_lab.skip_reason()
    if reason:
        return reason
    if not os.access(espgw_ike, os.X_OK):
        return f"{espgw_ike} is not built"
    return None


def result(p, what, timeout):
    """A helper's JSON result (its last line of output)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        p.kill()
        p.communicate()
        raise LabError(f"{what}: no result after {timeout} s") from e
    if p.returncode != 0:
        raise LabError(f"{what}: exit {p.returncode}: {out}{err}")
    return json.loads(out.strip().splitlines()[-1])


def ready(p, what):
    """p once it has printed "ready" (its socket is bound)."""
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        p.wait(10)
        raise LabError(f"{what} did not start: {line}{p.stderr.read()}")
    return p


class Stream:
    """One sequence-numbered UDP stream between the hosts, while it runs. spawn(ns, script,
    *args) starts a traffic helper in a namespace and returns it once ready."""

    def __init__(self, spawn, src, dst_ip, dst, bind_ip, port, rate):
        self.name = f"{src.upper()} -> {dst.upper()}"
        self.recv = spawn(dst, RECV, "udp-seq-recv", "--bind", bind_ip, "--port", str(port),
                          "--timeout", "300")
        self.send = spawn(src, TOOLS, "udp-seq-send", "--to", dst_ip, "--port", str(port),
                          "--rate", str(rate))

    def stop(self):
        self.send.send_signal(signal.SIGTERM)

    def collect(self):
        sent = result(self.send, f"udp-seq-send {self.name}", 30)
        got = result(self.recv, f"udp-seq-recv {self.name}", 60)
        got["sender"] = sent
        return got


def streams(spawn, rate):
    """Both streams, A -> B and B -> A, at `rate` datagrams per second each (receivers first)."""
    return (Stream(spawn, "a", B_IP, "b", B_IP, PORT_AB, rate),
            Stream(spawn, "b", A_IP, "a", A_IP, PORT_BA, rate))


def stack_spawn(lab):
    """Stream's spawn for an ike_lab.StackLab (gw1 under scripts/espgw-up)."""
    def spawn(ns, script, *args):
        return ready(lab.spawn(ns, PYTHON, script, *args),
                     f"{os.path.basename(script)} {' '.join(args)} in {ns}")
    return spawn


class HaLab(ike_lab.Lab):
    def __init__(self, espgw, plugin, espgw_ike, tunnels=("t1",), failback=None, ike="",
                 peer_conn="", peer_child="", dpd=False, idle_sleep_us=200):
        """tunnels: gw1's tunnels, in preference order, "t1" to 198.51.100.2 and "t2" to
        198.51.100.3; with two and `failback` not None, a peer groups them. `ike`: YAML lines
        added to each tunnel's ike section (lifetimes, DPD); `peer_conn`, `peer_child`: lines
        for gw2's connections and children. `dpd`: False, or DPD on gw2 (10 s; True: action
        clear, or the action named) and the ~30 s retransmissions on both charons."""
        self.tunnels = list(tunnels)
        self.failback = failback
        self.ike_extra = ike
        self.peer_conn = peer_conn
        self.peer_child = peer_child
        self.dpd = dpd
        self.espgw_ike_bin = espgw_ike
        self.ike_proc = None
        self.helpers = []
        self.local_rule_moved = False
        self.psks = {t: secrets.token_urlsafe(24) for t in self.tunnels}
        super().__init__(espgw, plugin, idle_sleep_us=idle_sleep_us, name_prefix="ha")
        self.ike_log = os.path.join(self.gw1.dir, "espgw-ike.log")
        self.ike_status = ike_lab.Control(os.path.join(self.gw1.dir, "espgw-ike.sock"))
        if dpd:
            for c in self.charons:
                with open(c.conf, "a") as f:
                    f.write(DPD_RETRANSMITS)

    # ---- configs ----

    def up(self):
        super().up()
        if "t2" in self.tunnels:
            self.sh("gw2", "ip", "addr", "add", f"{GW2_WAN2}/24", "dev", self.dev["gw2_wan"])

    def write_espgw_config(self, tunnel=None):
        """espgw's config, read by espgw and espgw-ike alike."""
        secrets_file = os.path.join(self.espgw_dir, "secrets.yaml")
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("psk:\n" + "".join(f"  {t}: {k}\n" for t, k in self.psks.items()))
        extra = "".join(f"\n      {line.strip()}" for line in self.ike_extra.splitlines()
                        if line.strip())
        tunnels = "".join(f"""
  - name: {t}
    local: {GW1_WAN}
    remote: {PEER_ADDRESS[t]}
    local_cidrs: [{NET_A}]
    remote_cidrs: [{NET_B}]
    nat_t: true
    ike:
      psk_ref: {t}
      ike_proposals: [aes128-sha256-modp2048]
      esp_proposals: [aes128gcm16-modp2048]{extra}""" for t in self.tunnels)
        peers = ""
        if self.failback is not None:
            peers = f"""
peers:
  - name: gw2
    tunnels: [{', '.join(self.tunnels)}]
    failback: {'true' if self.failback else 'false'}"""
        self.espgw_config = os.path.join(self.espgw_dir, "espgw.yaml")
        with open(self.espgw_config, "w") as f:
            f.write(f"""# gw1 of the HA lab (tests/ike/ha_lab.py): SAs from charon and espgw-ike.
dataplane:
  workers: 1
  control_socket: {self.socket}
  idle_sleep_us: {self.idle_sleep_us}
interfaces:
  - name: wan
    device: net_af_packet0,iface={self.dev['gw1_wan']}
    addresses: [{GW1_WAN}/24]
    exception: tap
  - name: lan
    device: net_af_packet1,iface={self.dev['gw1_lan']}
    addresses: [172.50.1.1/24]
    exception: tap
tunnels:{tunnels}{peers}
ike:
  secrets_file: {secrets_file}
  vici_socket: {self.gw1.dir}/charon.vici
""")

    def write_swanctl(self, **_):
        """gw2's swanctl.conf: one connection per tunnel of gw1, each from its own address."""
        dpd = "\n    dpd_delay = 10s" if self.dpd else ""
        action = self.dpd if isinstance(self.dpd, str) else "clear"
        child_dpd = f"\n        dpd_action = {action}" if self.dpd else ""
        conn_extra = "".join(f"\n    {line.strip()}" for line in self.peer_conn.splitlines()
                             if line.strip())
        child_extra = "".join(f"\n        {line.strip()}"
                              for line in self.peer_child.splitlines() if line.strip())
        conns, keys = "", ""
        for t in self.tunnels:
            conns += f"""
  {t} {{
    version = 2
    local_addrs = {PEER_ADDRESS[t]}
    remote_addrs = {GW1_WAN}
    proposals = aes128-sha256-modp2048
    encap = yes
    mobike = no{dpd}{conn_extra}
    local {{
      auth = psk
      id = {PEER_ADDRESS[t]}
    }}
    remote {{
      auth = psk
      id = {GW1_WAN}
    }}
    children {{
      {t} {{
        local_ts = {NET_B}
        remote_ts = {NET_A}
        esp_proposals = aes128gcm16-modp2048{child_dpd}{child_extra}
      }}
    }}
  }}"""
            keys += f"""
  ike-{t} {{
    id-1 = {PEER_ADDRESS[t]}
    id-2 = {GW1_WAN}
    secret = "{self.psks[t]}"
  }}"""
        with open(self.gw2.swanctl_conf, "w") as f:
            f.write(f"connections {{{conns}\n}}\nsecrets {{{keys}\n}}\n")

    # ---- processes ----

    def start(self):
        """espgw, both charons, espgw-ike; returns once every tunnel is established."""
        self.start_espgw()
        self.gw2.start()
        self.gw2.load()
        self.gw1.start()
        self.start_ike()
        return {t: self.established(t) for t in self.tunnels}

    def start_ike(self):
        cmd = ["ip", "netns", "exec", self.ns["gw1"], self.espgw_ike_bin, "--config",
               self.espgw_config, "--foreground"]
        with open(self.ike_log, "a") as log:
            self.ike_proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)

        def ready():
            if self.ike_proc.poll() is not None:
                raise LabError(f"espgw-ike exited with {self.ike_proc.returncode}:\n"
                               + self.ike_log_tail())
            try:
                st = self.ike_status("status")
            except (OSError, LabError, ValueError):
                return None
            return st["charon"]["connected"] and all(t["loaded"] for t in st["tunnels"])

        wait_for("espgw-ike to load the tunnels into charon", ready, 30)

    def stop_ike(self, sig=signal.SIGTERM, timeout=15):
        code, self.ike_proc = ike_lab.stop_process(self.ike_proc, sig, timeout), None
        return code

    def kill_espgw(self):
        """SIGKILL to espgw: no clean-up of its own."""
        self.espgw_proc.kill()
        self.espgw_proc.wait()
        self.espgw_proc = None

    def ike_log_tail(self, lines=30):
        try:
            with open(self.ike_log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def spawn(self, ns, script, *args):
        """A traffic helper in a namespace; waits for its "ready" line."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[ns], PYTHON, script, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        self.helpers.append(p)
        return ready(p, f"{os.path.basename(script)} {' '.join(args)} in {ns}")

    # ---- state ----

    def child(self, gw, tunnel):
        """The INSTALLED CHILD_SA of `tunnel` on gw ("gw1" or "gw2"), or None (several: None)."""
        c = (self.gw1 if gw == "gw1" else self.gw2).installed(tunnel)
        return c[0] if len(c) == 1 else None

    def established(self, tunnel, timeout=60, not_spi=None):
        """gw1's and gw2's CHILD_SA of the tunnel installed with matching SPIs (and, with
        not_spi, an inbound SPI other than that), and espgw holding both SAs; gw1's CHILD_SA."""

        def check():
            mine = self.child("gw1", tunnel)
            if mine is None or mine["spi_in"] == not_spi:
                return None
            theirs = self.gw2.installed(tunnel)
            if not any(t["spi_in"] == mine["spi_out"] and t["spi_out"] == mine["spi_in"]
                       for t in theirs):
                return None
            sas = self.ctl.sas(tunnel)
            if ("in", mine["spi_in"]) not in sas or ("out", mine["spi_out"]) not in sas:
                return None
            return mine

        return wait_for(f"tunnel {tunnel} established on both gateways and in espgw", check,
                        timeout, 0.2)

    def clean(self, tunnel, timeout=15):
        """espgw holds exactly the SAs of the tunnel's one INSTALLED CHILD_SA, the outbound one
        in use: charon's rekeyed SAs are gone (charon keeps a rekeyed inbound SA for
        delete_rekeyed_delay, 5 s, for packets in flight). Returns gw1's CHILD_SA."""

        def check():
            mine = self.child("gw1", tunnel)
            if mine is None:
                return None
            sas = self.ctl.sas(tunnel)
            want = {("in", mine["spi_in"]), ("out", mine["spi_out"])}
            if set(sas) != want or not sas[("out", mine["spi_out"])]["in_use"]:
                return None
            return mine

        return wait_for(f"espgw to hold only the SAs of {tunnel}'s CHILD_SA", check, timeout, 0.2)

    def stale_sas(self):
        """espgw's IKE SAs that no CHILD_SA of gw1's charon has (any state)."""
        known = set()
        for t in self.tunnels:
            for c in self.gw1.child_sas(t):
                known |= {("in", c["spi_in"]), ("out", c["spi_out"])}
        return sorted(f"{sa['direction']} {sa['spi']} ({sa['tunnel']})"
                      for sa in self.ctl("sas")["sas"]
                      if sa.get("origin") == "ike" and
                      (sa["direction"], int(sa["spi"], 16)) not in known)

    def drops(self):
        return self.ctl("counters")["drops"]

    @staticmethod
    def drops_grown(before, after):
        """{reason: n} for each of espgw's drop reasons that grew."""
        return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}

    def out_packets(self, tunnel):
        """Packets sent under the tunnel's outbound SAs that espgw holds now."""
        return sum(sa["packets"] for (d, _), sa in self.ctl.sas(tunnel).items() if d == "out")

    # ---- traffic ----

    def streams(self, rate):
        return streams(self.spawn, rate)

    # ---- paths ----

    def cut_path(self, address):
        """gw2 neither takes nor sends anything on `address` from now on."""
        if not self.local_rule_moved:
            # The local table first in the rule list would deliver before any blackhole rule.
            self.sh("gw2", "ip", "rule", "add", "pref", "100", "lookup", "local")
            self.sh("gw2", "ip", "rule", "del", "pref", "0")
            self.local_rule_moved = True
        self.sh("gw2", "ip", "rule", "add", "pref", "10", "to", address, "blackhole")
        self.sh("gw2", "ip", "rule", "add", "pref", "11", "from", address, "blackhole")

    def restore_path(self, address):
        self.sh("gw2", "ip", "rule", "del", "pref", "10", "to", address, "blackhole")
        self.sh("gw2", "ip", "rule", "del", "pref", "11", "from", address, "blackhole")

    # ---- VICI ----

    def vici(self, gw):
        c = self.gw1 if gw == "gw1" else self.gw2
        return Vici(c.vici[len("unix://"):])

    def at_once(self, requests):
        """Sends [(gw, cmd, msg), ...] to the charons at the same moment (one thread and VICI
        connection each, released together); their answers in order."""
        conns = [self.vici(gw) for gw, _, _ in requests]
        barrier = threading.Barrier(len(requests))
        answers = [None] * len(requests)

        def go(i):
            barrier.wait()
            try:
                answers[i] = conns[i].request(requests[i][1], requests[i][2])
            except (OSError, ConnectionError, KeyError) as e:
                answers[i] = {"error": str(e)}

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for c in conns:
            c.close()
        return answers

    # ---- teardown ----

    def down(self):
        for p in self.helpers:
            if p.poll() is None:
                p.kill()
            try:
                p.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError):
                pass
        try:
            self.stop_ike(signal.SIGKILL, timeout=10)
        except Exception as e:  # noqa: BLE001 - teardown goes on
            print(f"teardown: espgw-ike: {e}", file=sys.stderr)
        super().down()

    def dump_logs(self):
        super().dump_logs()
        print(f"---- espgw-ike log (tail) ----\n{self.ike_log_tail()}", file=sys.stderr)


def now():
    return time.monotonic()


def fmt_gap(g):
    s = f"{g['missing']} datagrams (#{g['first_missing']}..#{g['last_missing']})"
    if "seconds" in g:
        s += f", {g['seconds'] * 1000:.0f} ms between the last before and the first after"
    return s


def stop_streams(streams):
    for s in streams:
        s.stop()
    return [s.collect() for s in streams]


def check_stream(r, name, failures, allow_missing=False):
    """Every datagram exactly once (or, with allow_missing, none twice); the lines for the
    report."""
    lines = []
    ok_sent = r["ended"] and r["sent"] == r["sender"]["sent"]
    lines.append((ok_sent, f"{name}: {r['sent']} datagrams in {r['sender']['seconds']:.1f} s, "
                           f"end marker received"))
    if not allow_missing:
        lines.append((r["missing_count"] == 0,
                      f"{name}: none missing ({r['missing_count']}"
                      + (": " + "; ".join(fmt_gap(g) for g in r["gaps"][:5]) if r["gaps"] else "")
                      + ")"))
    lines.append((r["duplicate_count"] == 0,
                  f"{name}: none twice ({r['duplicate_count']}: {r['duplicates'][:10]})"))
    lines.append((r["foreign"] == 0 and r["beyond_end"] == 0,
                  f"{name}: nothing else arrived ({r['foreign']}, {r['beyond_end']})"))
    for ok, msg in lines:
        check(ok, msg, failures)


def check(cond, msg, failures):
    print(("  ok    " if cond else "  FAIL  ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond
