"""FRR (Debian's frr 8.4) in a lab's namespace: zebra, bgpd and, if asked, bfdd, and vtysh's JSON.

Each instance runs its daemons in the foreground inside one network namespace, with its own path
space (`-N <instance>`): vty sockets, zserv.api and pid files in /var/run/frr/<instance>/, where
`vtysh -N <instance>` finds them (docs/routing.md, the lab). The daemons drop to user frr before
they read their config and write their logs, and a lab's work folder is root's alone (0700), so
the configs and logs live in that folder too, owned by frr; stop() removes it (a copy goes to the
lab's work folder where the lab keeps it: LAB_KEEP_WORKDIR=1). TCP vty ports are
off (-P 0): instances in one namespace would clash on 2601/2605.
"""

import json
import os
import pwd
import shutil
import signal

from labkit import proc
from labkit.proc import LabError, run

FRR_BIN = "/usr/lib/frr"
FRR_RUN = "/var/run/frr"
VTYSH = "/usr/bin/vtysh"


def skip_reason():
    """Why FRR cannot run in a lab here, or None."""
    for daemon in ("zebra", "bgpd"):
        if not os.access(os.path.join(FRR_BIN, daemon), os.X_OK):
            return f"{FRR_BIN}/{daemon} is missing (Debian's frr)"
    if not os.access(VTYSH, os.X_OK):
        return f"{VTYSH} is missing (Debian's frr)"
    try:
        pwd.getpwnam("frr")
    except KeyError:
        return "no user frr (Debian's frr)"
    return None


class Frr:
    """One FRR instance (`instance`, also its path space) in namespace `ns` of `lab`.
    configs: {"zebra": text, "bgpd": text[, "bfdd": text]}; the daemons started are its keys, in
    zebra, bfdd, bgpd order."""

    ORDER = ("zebra", "bfdd", "bgpd")

    def __init__(self, lab, instance, ns, configs):
        self.lab, self.instance, self.ns = lab, instance, ns
        self.configs = dict(configs)
        self.dir = os.path.join(FRR_RUN, instance)
        self.procs = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, timeout=20):
        """The daemons, each once its vty socket answers."""
        if os.path.exists(self.dir):
            raise LabError(f"{self.dir} exists: another FRR instance {self.instance}?")
        frr = pwd.getpwnam("frr")
        os.makedirs(self.dir)
        os.chown(self.dir, frr.pw_uid, frr.pw_gid)
        for daemon in self.ORDER:
            if daemon not in self.configs:
                continue
            conf = self.path(f"{daemon}.conf")
            with open(conf, "w") as f:
                f.write(self.configs[daemon])
            os.chown(conf, frr.pw_uid, frr.pw_gid)
            argv = [os.path.join(FRR_BIN, daemon), "-N", self.instance, "-f", conf,
                    "-i", self.path(f"{daemon}.pid"), "-P", "0",
                    "--log", f"file:{self.path(daemon + '.log')}"]
            p = proc.start(self.lab.nsexec(self.ns, *argv), log=self.path(f"{daemon}.out"))
            self.procs[daemon] = p
            proc.wait_for(f"{daemon} of FRR {self.instance}",
                          lambda d=daemon: self._answers(d), timeout, 0.1)

    def _answers(self, daemon):
        proc.alive_or_raise(self.procs[daemon], f"{daemon} of FRR {self.instance}",
                            self.log_tail(daemon))
        return os.path.exists(self.path(f"{daemon}.vty")) and self.vtysh(
            "show version", check=False).returncode == 0

    def vtysh(self, *commands, check=True, timeout=20):
        args = [VTYSH, "-N", self.instance]
        for c in commands:
            args += ["-c", c]
        return run(args, check=check, timeout=timeout)

    def json(self, command):
        """vtysh's JSON answer to `command` ("show bgp summary json")."""
        out = self.vtysh(command).stdout
        try:
            return json.loads(out)
        except ValueError as e:
            raise LabError(f"vtysh -N {self.instance} -c '{command}': not JSON: {out!r}") from e

    def bgp_peer(self, neighbour, family="ipv4Unicast"):
        """The neighbour's entry of `show bgp summary json` ({} before bgpd knows it)."""
        return self.json("show bgp summary json").get(family, {}).get("peers", {}).get(
            neighbour, {})

    def bgp_routes(self, family="ipv4 unicast"):
        """{prefix: [paths]} of `show bgp <family> json`."""
        return self.json(f"show bgp {family} json").get("routes", {})

    def stop(self, timeout=15):
        """SIGTERM to each daemon, bgpd first; the folder goes. The errors."""
        errors = []
        for daemon in reversed(self.ORDER):
            p = self.procs.pop(daemon, None)
            if p is not None and proc.stop_process(p, signal.SIGTERM, timeout) is None:
                errors.append(f"{daemon} of FRR {self.instance} had to be killed")
        if self.lab.keep_workdir and os.path.isdir(self.dir):
            shutil.copytree(self.dir, os.path.join(self.lab.workdir, f"frr-{self.instance}"),
                            ignore=shutil.ignore_patterns("*.vty", "*.api"))
        shutil.rmtree(self.dir, ignore_errors=True)
        return errors

    def log_tail(self, daemon, lines=30):
        return proc.tail(self.path(f"{daemon}.log"), lines) + proc.tail(
            self.path(f"{daemon}.out"), lines)
