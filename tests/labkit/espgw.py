"""One espgw process in a lab's namespace: start, wait until its control socket answers, stop.

Every espgw gets its own DPDK --file-prefix (Lab.dpdk_prefix, removed at teardown), runs without
PCI on net_af_packet ports, and may run its two lcores on any CPU the test may use: two gateways
and their hosts share the machine's cores, and a pinned busy-polling lcore takes a whole CPU
(docs/platform-notes.md). A lab's own espgw runs without huge pages (`--no-huge`); one under
espgw-up (tests/ike/stack_lab.py) on the lab's huge pages, with no `-m`, as espgw-up starts it
where it is deployed (labkit/hugepages.py).
"""

import os

from labkit import proc
from labkit.control import Control

EAL_MEMORY_MB = "512"  # two routing snapshots (old and new) live at once during a change


def lcores_arg(workers=1):
    """One main lcore and `workers` workers, all free to run on any CPU we may use."""
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return "--lcores=" + ",".join(f"{i}@({cpus})" for i in range(workers + 1))


def eal_args(file_prefix, workers=1, huge_dir=None):
    """espgw's (and espgw-up's pass-through) EAL arguments for a lab: on the huge pages of the
    hugetlbfs mount huge_dir (Lab.huge_dir(); files unlinked once mapped), or without."""
    memory = (["--huge-dir", huge_dir, "--huge-unlink"] if huge_dir else
              ["--no-huge", "-m", EAL_MEMORY_MB])
    return ["--no-pci", *memory, "--file-prefix", file_prefix, lcores_arg(workers),
            "--log-level=lib.eal:warning"]


def binary(build):
    path = os.path.join(build, "dataplane", "espgw")
    if not os.access(path, os.X_OK):
        raise proc.LabError(f"{path}: not built (ninja -C {build})")
    return path


class Espgw:
    """espgw `name` in namespace `ns` (a key of lab.ns) with its config and control socket."""

    def __init__(self, lab, name, ns, exe, config, socket, log, stats=None):
        self.lab, self.name, self.ns, self.exe = lab, name, ns, exe
        self.config, self.socket, self.log, self.stats = config, socket, log, stats
        self.prefix = lab.dpdk_prefix(name)
        self.ctl = Control(socket)
        self.proc = None
        self.exit_code = None

    def start(self):
        cmd = [self.exe, *eal_args(self.prefix), "--", "--config", self.config,
               "--control-socket", self.socket]
        if self.stats:
            cmd += ["--stats-file", self.stats]
        self.proc = proc.start(self.lab.nsexec(self.ns, *cmd), log=self.log)
        return self

    def log_tail(self, lines=30):
        return proc.tail(self.log, lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        proc.alive_or_raise(self.proc, f"espgw {self.name}", self.log_tail())

    def wait_ready(self, timeout=60):
        """espgw's `status` once its control socket answers; ProcessDied if it exits first."""

        def ready():
            self.check_alive()
            return self.ctl.answers()

        return proc.wait_for(f"espgw {self.name}'s control socket {self.socket}", ready, timeout)

    def stop(self, timeout=20):
        """Asks espgw to stop (SIGTERM if it cannot be asked) and waits; its exit code, None
        if it had to be killed."""
        if self.proc is None:
            return None
        self.exit_code = proc.stop_process(self.proc, timeout=timeout,
                                           ask=lambda: self.ctl.request({"cmd": "stop"}, 5))
        return self.exit_code

    def kill(self):
        """SIGKILL: no clean-up of its own."""
        self.proc.kill()
        self.proc.wait()
        self.proc = None
