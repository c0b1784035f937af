"""The full stack: espgw, charon with kernel-espgw and espgw-ike, started by scripts/espgw-up.

    host A ------- gw1: espgw-up (espgw, charon, espgw-ike) ------- gw2 ------- host B
    172.50.1.10    lan 172.50.1.1   wan 198.51.100.1         198.51.100.2   172.60.1.1  172.60.1.20

StackLab is ike_lab.Topology with gw1 a Stack; gw2 is a stock strongSwan with kernel-libipsec
(peer="strongswan", standing for the AWS VPN endpoint) or the full stack again (peer="espgw");
nat=True puts gw1 behind a 1:1 NAT (ike_lab's comment). Each Stack runs scripts/espgw-up inside
its namespace, in a mount namespace of its own with a private /run (charon's pid file) and the
plugin folder overlay (labkit.charon.in_mount_namespace); what espgw-up starts inherits both.
espgw-up supervises: tests kill its children (Stack.kill) and watch them come back
(Stack.pids). espgw runs on huge pages of the lab's (Lab.huge_dir), as espgw-up's default EAL
options have it where it is deployed.
"""

import functools
import json
import os
import secrets
import signal
import sys

from ike_lab import (ESP_CASES, GW1_EIP, GW1_LAN, GW2_LAN, GW2_WAN, IKE_PROPOSAL, INET_PRIVATE,
                     INET_PUBLIC, NET_A, NET_B, PLUGINS_GW2, ROOT, TUNNEL, Topology,
                     swanctl_connection, swanctl_secret, teardown, tunnel_yaml, wait_for,
                     write_espgw_config, write_swanctl)
from labkit import proc, sanitizer
from labkit.charon import (LAB_RETRANSMITS, LOG_LEVELS, Charon, Swanctl, in_mount_namespace,
                           plugin_overlay, skip_reason)
from labkit.control import Control
from labkit.espgw import eal_args
from labkit.lab import check_tools
from labkit.proc import PYTHON, LabError

ESPGW_UP = os.path.join(ROOT, "scripts", "espgw-up")


def stack_skip_reason(build, nat=False):
    """Why the full stack cannot run here, or None (on top of labkit.charon.skip_reason())."""
    reason = skip_reason() or check_tools(*(("iperf3", "nft") if nat else ("iperf3",)))
    if reason:
        return reason
    for rel in ("dataplane/espgw", "ike-bridge/espgw_ike/espgw-ike", "config/espgw-config-check",
                "dataplane/espgwctl"):
        if not os.access(os.path.join(build, rel), os.X_OK):
            return f"{rel} is not built in {build}"
    return None


class Stack(Swanctl):
    """One gateway's espgw + charon (kernel-espgw) + espgw-ike, under scripts/espgw-up, in
    namespace `ns` of `lab` (a labkit Lab with `plugin` and `build`). ports, wan, lan: as
    ike_lab.write_espgw_config; psk: {psk_ref: pre-shared key}."""

    workers = 1  # the config's dataplane.workers: espgw gets one lcore more

    def __init__(self, lab, name, ns, ports, wan, lan, psk, idle_sleep_us=200,
                 lab_retransmits=True):
        self.lab = lab
        self.name = name
        self.ns = ns  # a key of lab.ns
        self.ports = ports
        self.wan, self.lan = wan, lan  # "198.51.100.1/24"
        self.psk = psk
        self.idle_sleep_us = idle_sleep_us
        self.dir = os.path.join(lab.workdir, name)
        at = functools.partial(os.path.join, self.dir)
        self.run_dir, self.plugin_dir, self.log_dir = at("run"), at("plugins"), at("log")
        for d in (self.run_dir, self.log_dir):
            os.makedirs(d, exist_ok=True)
        self.config, self.secrets = at("espgw.yaml"), at("secrets.yaml")
        self.include = at("charon-lab.conf")  # the lab's charon settings
        # espgw's control socket, charon's VICI socket, espgw-ike's status socket
        self.socket, self.vici, self.ike_socket = at("espgw.sock"), at("charon.vici"), \
            at("espgw-ike.sock")
        self.state_file = at("espgw-up.json")
        self.up_log = os.path.join(self.log_dir, "espgw-up.log")
        self.prefix = lab.dpdk_prefix(name)  # espgw's DPDK --file-prefix
        self.ctl = Control(self.socket)
        self.proc = None
        plugin_overlay(self.plugin_dir, lab.plugin)
        # The lab's charon settings on top of espgw-up's: a detailed log and, unless the lab runs
        # charon's shipped retransmits (lab_retransmits=False), quick retransmits.
        retransmits = LAB_RETRANSMITS if lab_retransmits else ""
        with open(self.include, "w") as f:
            f.write(f"""charon {{
  {retransmits}
  filelog {{
    espgw {{
      path = {self.log_dir}/charon.log
      time_format = %H:%M:%S
      {LOG_LEVELS}
    }}
  }}
}}
""")

    # ---- config ----

    def write_config(self, tunnels_yaml, routes_yaml=""):
        write_espgw_config(self.config, self.secrets, self.psk,
                           title=f"{self.name} of the IKE lab (tests/ike/stack_lab.py, Stack): "
                                 "SAs from charon.",
                           socket=self.socket, idle_sleep_us=self.idle_sleep_us, ports=self.ports,
                           wan=self.wan, lan=self.lan, tunnels=tunnels_yaml, vici=self.vici,
                           framecnt=4096, routes=routes_yaml)

    # ---- processes ----

    def start(self, timeout=120):
        """espgw-up in the namespace; returns once it says all its children are up."""
        up = [PYTHON, ESPGW_UP, "run", "-c", self.config, "--build", self.lab.build,
              "--log-dir", self.log_dir, "--state-file", self.state_file, *self.up_options(),
              *sanitizer.espgw_up_options(self.dir),
              "--", *eal_args(self.prefix, self.workers, self.lab.huge_dir())]
        mark = self.log_size()
        self.proc = proc.start(in_mount_namespace(self.lab.nsexec(self.ns), self.run_dir,
                                                  self.plugin_dir, up), log=self.up_log)

        def up_now():
            proc.alive_or_raise(self.proc, f"espgw-up on {self.name}", self.tail("espgw-up"))
            # "all three are up; ...", or "all N are up; ..." where espgw-up also runs FRR
            return " are up; supervising" in self.log_text("espgw-up")[mark:]

        wait_for(f"espgw-up on {self.name} to start espgw, charon and espgw-ike", up_now, timeout,
                 0.2)

    def up_options(self):
        """espgw-up's options that change what it runs: the lab's quick back-off and charon
        include (a subclass without them runs the product's defaults)."""
        return ["--run-dir", self.run_dir, "--charon-include", self.include,
                "--backoff-initial", "0.5", "--backoff-max", "4"]

    def log_size(self):
        try:
            return os.path.getsize(self.up_log)
        except OSError:
            return 0

    def stop(self, timeout=60):
        """SIGTERM to espgw-up: it stops espgw-ike, charon and espgw in that order."""
        code, self.proc = proc.stop_process(self.proc, timeout=timeout), None
        return code

    def hup(self):
        """SIGHUP to espgw-up: espgw-ike reloads the config."""
        self.proc.send_signal(signal.SIGHUP)

    def pids(self):
        """{"espgw": pid or None, "charon": ..., "espgw-ike": ...} and restart counts."""
        try:
            with open(self.state_file) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return {}, {}
        ch = state["children"]
        return ({n: c["pid"] for n, c in ch.items()}, {n: c["restarts"] for n, c in ch.items()})

    def espgw_on_huge_pages(self):
        """Whether the running espgw maps DPDK's memory from the lab's hugetlbfs (the files are
        unlinked once mapped: `(deleted)` in /proc/PID/maps)."""
        pid = self.pids()[0].get("espgw")
        try:
            with open(f"/proc/{pid}/maps") as f:
                return any(self.lab.huge_dir() + "/" in line for line in f)
        except OSError:
            return False

    def kill(self, child, sig=signal.SIGKILL):
        """Kills `child`. espgw only once its state file holds every SA it has: an SA installed
        less than an interval (100 ms) before a crash has no saved state, and charon rekeys it
        (docs/sa-state.md); the labs kill espgw under SAs that had that time."""
        pid = self.pids()[0].get(child)
        if not pid:
            raise LabError(f"{self.name}: {child} is not running")
        if child == "espgw":
            wait_for(f"{self.name}'s SA state file to hold its SAs", self.sas_saved, 10, 0.05)
        os.kill(pid, sig)
        return pid

    def sas_saved(self):
        """Whether espgw's state file (status.sa_state.path) holds each of its SAs."""
        path = self.ctl("status")["sa_state"]["path"]
        try:
            with open(path) as f:
                saved = {(s["direction"], int(s["spi"], 16)) for s in json.load(f)["sas"]}
        except (OSError, ValueError, KeyError):
            return False
        return set(self.ctl.sas()) <= saved

    def wait_restarted(self, child, old_pid, timeout=60):
        """espgw-up started `child` again and it is ready."""
        def back():
            pid = self.pids()[0].get(child)
            return pid if pid and pid != old_pid else None

        pid = wait_for(f"espgw-up on {self.name} to start {child} again", back, timeout, 0.1)
        # FRR's daemons: what they do once back is the caller's to check (routes, sessions).
        ready = {"espgw": self.ctl.answers, "charon": self.answers,
                 "espgw-ike": Control(self.ike_socket).answers}.get(child)
        if ready:
            wait_for(f"{child} on {self.name} ready again", ready, timeout, 0.1)
        return pid

    def ike_status(self):
        return Control(self.ike_socket)("status")

    # ---- logs ----

    def log_text(self, which):
        return proc.read_text(os.path.join(self.log_dir, f"{which}.log"))

    def tail(self, which, lines=40):
        return proc.tail(os.path.join(self.log_dir, f"{which}.log"), lines)

    def dump_logs(self):
        for which in ("espgw-up", "espgw", "charon", "espgw-ike"):
            print(f"---- {self.name} {which}.log (tail) ----\n{self.tail(which, 50)}",
                  file=sys.stderr)


class StackLab(Topology):
    """A - gw1 (Stack) - gw2 (stock strongSwan or a Stack) - B; see the module's comment.

    gw1's tunnel is TUNNEL; on a stock peer gw2 has one connection per IKE version (v2, v1) whose
    child takes every proposal of ESP_CASES, so that gw1 picks the proposal by its config."""

    gw1_class = Stack  # a subclass may run gw1 another way (test_aws_failover.py)
    mac_prefix = "02:50:1d:00:00"

    def __init__(self, build, plugin, peer="strongswan", prefix="ii", idle_sleep_us=200,
                 nat=False):
        super().__init__(prefix, nat=nat,
                         espgw_on=("gw1", "gw2") if peer == "espgw" else ("gw1",))
        self.build = os.path.abspath(build)
        self.plugin = os.path.abspath(plugin)
        self.peer = peer
        self.psk = secrets.token_urlsafe(24)
        self.gw1 = self.gw1_class(self, "gw1", "gw1", self.ports("gw1"), f"{self.gw1_wan}/24",
                                  f"{GW1_LAN}/24", {TUNNEL: self.psk}, idle_sleep_us)
        if peer == "espgw":
            self.gw2 = Stack(self, "gw2", "gw2", self.ports("gw2"), f"{GW2_WAN}/24",
                             f"{GW2_LAN}/24", {"to-gw1": self.psk}, idle_sleep_us)
        else:
            self.gw2 = Charon(self, "gw2", "gw2", PLUGINS_GW2)
        self.stacks = [s for s in (self.gw1, self.gw2) if isinstance(s, Stack)]

    # ---- configs ----

    def configure_gw1(self, **kw):
        """gw1's config with TUNNEL; keyword arguments go to tunnel_yaml()."""
        routes = ""
        if self.nat:
            # To the peer through the VPC router; the tap gets the route too (IKE).
            routes = (f"routes:\n  - prefix: {GW2_WAN}/32\n    via: {INET_PRIVATE}\n"
                      "    interface: wan\n")
            kw["extra_ike"] = kw.get("extra_ike", "") + f"\n      local_id: {GW1_EIP}"
        self.gw1.write_config(tunnel_yaml(TUNNEL, self.gw1_wan, GW2_WAN, NET_A, NET_B, TUNNEL,
                                          **kw), routes)

    def configure_gw2(self, **kw):
        """A Stack gw2: the mirror of gw1's tunnel, responder by default."""
        kw.setdefault("start_action", "none")
        routes = ""
        if self.nat:
            routes = (f"routes:\n  - prefix: {GW1_EIP}/32\n    via: {INET_PUBLIC}\n"
                      "    interface: wan\n")
        self.gw2.write_config(tunnel_yaml("to-gw1", GW2_WAN, self.gw1_public, NET_B, NET_A,
                                          "to-gw1", **kw), routes)

    def write_peer_swanctl(self, ike=(IKE_PROPOSAL,), esp=None):
        """The stock peer's swanctl.conf: a connection for IKEv2 and one for IKEv1, each child
        with every ESP proposal of ESP_CASES (one child, all proposals: a responder picks the child
        by traffic selectors, docs/platform-notes.md)."""
        esp = esp or [f"{p}-modp2048" for p in ESP_CASES]
        write_swanctl(self.gw2.swanctl_conf,
                      [swanctl_connection(f"v{version}", GW2_WAN, self.gw1_public, NET_B, NET_A,
                                          ", ".join(esp), version=version, ike=", ".join(ike))
                       for version in (2, 1)],
                      [swanctl_secret("gw1", GW2_WAN, self.gw1_public, self.psk)])

    def start(self):
        """Everything after up() and the configs: the peer first (it answers), then gw1."""
        if self.peer == "espgw":
            self.gw2.start()
        else:
            self.write_peer_swanctl()
            self.gw2.start()
            self.gw2.load()
        self.gw1.start()

    # ---- checks ----

    def established(self, algorithm, timeout=45, old_spis=()):
        """gw1's CHILD_SA installed and its two SAs in gw1's espgw with `algorithm`, origin ike,
        UDP-encapsulated; on a Stack gw2, the mirror SAs in its espgw too. SPIs in old_spis do
        not count (a renegotiation). Returns gw1's CHILD_SA."""

        def check():
            mine = [c for c in self.gw1.installed(TUNNEL) if c["spi_in"] not in old_spis]
            if len(mine) != 1:
                return None
            c = mine[0]
            sas = self.gw1.ctl.sas(TUNNEL)
            sa_in, sa_out = sas.get(("in", c["spi_in"])), sas.get(("out", c["spi_out"]))
            if not sa_in or not sa_out or not sa_out.get("in_use"):
                return None
            for sa in (sa_in, sa_out):
                if sa["algorithm"] != algorithm or sa.get("origin") != "ike" or not sa["nat_t"]:
                    raise LabError(f"gw1's SA {sa['spi']}: {sa['algorithm']}, origin "
                                   f"{sa.get('origin')}, nat_t {sa['nat_t']}; want {algorithm}, "
                                   "ike, true")
                if (sa["local"], sa["remote"]) != (self.gw1_wan, GW2_WAN):
                    raise LabError(f"gw1's SA {sa['spi']}: outer {sa['local']} -> "
                                   f"{sa['remote']}, want {self.gw1_wan} -> {GW2_WAN}")
            if isinstance(self.gw2, Stack):
                theirs = self.gw2.ctl.sas("to-gw1")
                if ("in", c["spi_out"]) not in theirs or ("out", c["spi_in"]) not in theirs:
                    return None
            return c

        return wait_for(f"a CHILD_SA with {algorithm} in charon and espgw on gw1", check, timeout,
                        0.2)

    def only_current_sas(self, child, timeout=15):
        """gw1's espgw holds the SAs of this CHILD_SA and no other (rekeyed ones drained)."""
        want = {("in", child["spi_in"]), ("out", child["spi_out"])}
        wait_for("only the current CHILD_SA's SAs in gw1's espgw",
                 lambda: set(self.gw1.ctl.sas(TUNNEL)) == want, timeout, 0.2)

    def mirrors_charon(self, child, timeout=15):
        """gw1's espgw holds only SAs that gw1's charon knows (a rekeyed CHILD_SA's inbound SA
        may stay: IKEv1 keeps it until it expires, IKEv2 a few seconds), this CHILD_SA's two
        among them, and its outbound SA is the one in use."""

        def check():
            children = self.gw1.child_sas(TUNNEL)
            known = {("in", c["spi_in"]) for c in children} | {("out", c["spi_out"])
                                                                 for c in children}
            sas = self.gw1.ctl.sas(TUNNEL)
            return (set(sas) <= known and ("in", child["spi_in"]) in sas
                    and sas.get(("out", child["spi_out"]), {}).get("in_use"))

        wait_for("gw1's espgw holding the SAs charon has, the current one in use", check,
                 timeout, 0.2)

    # ---- teardown ----

    def stop_daemons(self):
        steps = [(s.name, lambda s=s: s.stop(timeout=60)) for s in self.stacks]
        if isinstance(self.gw2, Charon):
            steps.append(("charon gw2", lambda: self.gw2.stop(signal.SIGKILL, timeout=10)))
        return teardown(steps)

    def dump_logs(self):
        for s in self.stacks:
            s.dump_logs()
        if isinstance(self.gw2, Charon):
            print(f"---- charon gw2 log (tail) ----\n{self.gw2.log_tail(60)}", file=sys.stderr)
