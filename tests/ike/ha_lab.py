"""The HA lab: ike_lab's gateways under load, for the rekey, failover and restart tests.

    host A -- gw1: espgw, charon (kernel-espgw), espgw-ike -- gw2: charon (libipsec) -- host B
    172.50.1.10     wan 198.51.100.1                         198.51.100.2 (t1)      172.60.1.20
                                                             198.51.100.3 (t2)

ike_lab.Lab with `ha-` names, and with gw1's charon driven the production way: espgw-ike loads
the tunnels of espgw's config (their `ike:` sections: lifetimes, DPD) into it and initiates them.
gw2, the stand-in for an AWS VPN endpoint, is a stock charon with a hand-written swanctl.conf:
one connection per tunnel, from its own address (two tunnels: two addresses, one charon).

Traffic: two sequence-numbered UDP streams, A -> B and B -> A (streams(): labkit.traffic.Stream,
whose receiver (labkit/tools.py udp-seq-recv) notes when each datagram arrived, so that an outage is
measured in seconds (last datagram before it, first after) as well as in datagrams.

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

import os
import secrets
import signal
import sys
import threading

import ike_lab
from ike_lab import (A_IP, B_IP, GW1_WAN, GW2_WAN, NET_A, NET_B, swanctl_connection,
                     swanctl_secret, teardown, tunnel_yaml, wait_for, write_swanctl)
from ike_vici.vici_py import Vici
from labkit import proc
from labkit.charon import skip_reason as charon_skip_reason
from labkit.control import Control
from labkit.traffic import Stream

GW2_WAN2 = "198.51.100.3"
PEER_ADDRESS = {"t1": GW2_WAN, "t2": GW2_WAN2}
PORT_AB = 6000
PORT_BA = 6001

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
    reason = charon_skip_reason()
    if reason:
        return reason
    if not os.access(espgw_ike, os.X_OK):
        return f"{espgw_ike} is not built"
    return None


def streams(lab, rate):
    """Both streams, A -> B and B -> A, at `rate` datagrams per second each (receivers first),
    running; labkit.traffic.stop_streams() ends them."""
    return (Stream(lab, "a", "b", B_IP, PORT_AB, rate).start(),
            Stream(lab, "b", "a", A_IP, PORT_BA, rate).start())


def drops_grown(before, after):
    """{reason: n} for each of espgw's drop reasons that grew."""
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


class Gw1State:
    """What gw1's espgw holds and counts, in a lab with `ctl` (gw1's espgw), `gw1` (its charon)
    and `tunnels` (gw1's tunnels)."""

    def drops(self):
        return self.ctl("counters")["drops"]

    def out_packets(self, tunnel):
        """Packets sent under the tunnel's outbound SAs that espgw holds now."""
        return sum(sa["packets"] for (d, _), sa in self.ctl.sas(tunnel).items() if d == "out")

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


class HaLab(Gw1State, ike_lab.Lab):
    def __init__(self, espgw, plugin, espgw_ike, tunnels=("t1",), failback=None, ike="",
                 peer_conn="", peer_child="", dpd=False, idle_sleep_us=200, gw1_env=None):
        """tunnels: gw1's tunnels, in preference order, "t1" to 198.51.100.2 and "t2" to
        198.51.100.3; with two and `failback` not None, a peer groups them. `ike`: YAML lines
        added to each tunnel's ike section (lifetimes, DPD); `peer_conn`, `peer_child`: lines
        for gw2's connections and children. `dpd`: False, or DPD on gw2 (10 s; True: action
        clear, or the action named) and the ~30 s retransmissions on both charons. `gw1_env`:
        {name: value} added to the environment of what starts in gw1's namespace (nsexec):
        espgw, charon and espgw-ike (test_clock_jump.py: libfaketime); None: none."""
        self.gw1_env = dict(gw1_env or {})
        self.tunnels = list(tunnels)
        self.failback = failback
        self.ike_extra = ike
        self.peer_conn = peer_conn
        self.peer_child = peer_child
        self.dpd = dpd
        self.espgw_ike_bin = espgw_ike
        self.ike_proc = None
        self.local_rule_moved = False
        self.psks = {t: secrets.token_urlsafe(24) for t in self.tunnels}
        super().__init__(espgw, plugin, idle_sleep_us=idle_sleep_us, name_prefix="ha")
        self.ike_log = os.path.join(self.gw1.dir, "espgw-ike.log")
        self.ike_status = Control(os.path.join(self.gw1.dir, "espgw-ike.sock"))
        if dpd:
            for c in self.charons:
                with open(c.conf, "a") as f:
                    f.write(DPD_RETRANSMITS)

    def nsexec(self, ns, *cmd):
        """A command to start in a namespace (the daemons, helpers; not lab.sh's): in gw1's,
        under `env` with gw1_env, if any."""
        if ns == "gw1" and self.gw1_env:
            cmd = ("env", *(f"{k}={v}" for k, v in self.gw1_env.items()), *cmd)
        return super().nsexec(ns, *cmd)

    # ---- configs ----

    def up(self):
        super().up()
        if "t2" in self.tunnels:
            self.sh("gw2", "ip", "addr", "add", f"{GW2_WAN2}/24", "dev", self.dev["gw2_wan"])
        return self

    def write_espgw_config(self, tunnel=None):
        """espgw's config, read by espgw and espgw-ike alike."""
        extra = lines(self.ike_extra, 6)
        peers = ""
        if self.failback is not None:
            peers = f"""peers:
  - name: gw2
    tunnels: [{', '.join(self.tunnels)}]
    failback: {'true' if self.failback else 'false'}
"""
        self.write_gw1_config(
            self.psks, "".join(tunnel_yaml(t, GW1_WAN, PEER_ADDRESS[t], NET_A, NET_B, t,
                                           extra_ike=extra) for t in self.tunnels),
            "gw1 of the HA lab (tests/ike/ha_lab.py): SAs from charon and espgw-ike.", peers)

    def write_swanctl(self, **_):
        """gw2's swanctl.conf: one connection per tunnel of gw1, each from its own address."""
        dpd = "\n    dpd_delay = 10s" if self.dpd else ""
        action = self.dpd if isinstance(self.dpd, str) else "clear"
        child_dpd = f"\n        dpd_action = {action}" if self.dpd else ""
        write_swanctl(self.gw2.swanctl_conf,
                      [swanctl_connection(t, PEER_ADDRESS[t], GW1_WAN, NET_B, NET_A,
                                          "aes128gcm16-modp2048",
                                          conn_extra="\n    mobike = no" + dpd
                                          + lines(self.peer_conn, 4),
                                          child_extra=child_dpd + lines(self.peer_child, 8))
                       for t in self.tunnels],
                      [swanctl_secret(t, PEER_ADDRESS[t], GW1_WAN, self.psks[t])
                       for t in self.tunnels])

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
        self.ike_proc = proc.start(self.nsexec("gw1", self.espgw_ike_bin, "--config",
                                               self.espgw_config, "--foreground"),
                                   log=self.ike_log)

        def ready():
            proc.alive_or_raise(self.ike_proc, "espgw-ike", proc.tail(self.ike_log, 30))
            st = self.ike_status.answers()
            return st and st["charon"]["connected"] and all(t["loaded"] for t in st["tunnels"])

        wait_for("espgw-ike to load the tunnels into charon", ready, 30)

    def stop_ike(self, sig=signal.SIGTERM, timeout=15):
        code, self.ike_proc = proc.stop_process(self.ike_proc, sig, timeout), None
        return code

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
        return Vici((self.gw1 if gw == "gw1" else self.gw2).vici)

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

    def stop_daemons(self):
        return teardown([("espgw-ike", lambda: self.stop_ike(signal.SIGKILL, timeout=10))]) \
            + super().stop_daemons()

    def dump_logs(self):
        super().dump_logs()
        print(f"---- espgw-ike log (tail) ----\n{proc.tail(self.ike_log, 30)}", file=sys.stderr)


def lines(text, indent):
    """Each non-empty line of `text` on a line of its own, indented (config text to append)."""
    return "".join(f"\n{' ' * indent}{line.strip()}" for line in text.splitlines()
                   if line.strip())
