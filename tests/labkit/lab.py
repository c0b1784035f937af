"""A lab: a random tag, a work folder, namespaces and the processes it started, torn down as one.

A topology subclasses Lab: its constructor names the namespaces (self.net.declare), up() makes
them (up_namespaces, then veths and addresses through self.net), and stop_daemons() stops what it
runs (espgw, charon, ...) before the namespaces go. Lab.down() removes everything the lab made,
whatever happened, and is safe to call twice: helper processes (by the ids it started), daemons,
whatever is left inside its namespaces, the namespaces, the DPDK runtime folders of the file
prefixes it named, the work folder.

Should the test's own process be killed outright, its children get SIGTERM from the kernel
(proc.die_with_parent) and the next lab to start removes what it left: each running lab keeps a
note under STATE_DIR (its prefix and tag, its process and start time, its work folder and DPDK
prefixes, the huge pages it took), and sweep_abandoned() acts on the notes of labs whose process
is gone.
"""

import json
import os
import secrets
import shutil
import signal
import tempfile

from labkit import hugepages, proc
from labkit.netns import Net, remove_namespace
from labkit.proc import PYTHON, run

STATE_DIR = "/run/espgw-labs"
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools.py")
DPDK_RUNTIME = "/var/run/dpdk"


def _proc_start(pid):
    """The process's start time, or None when it is gone. A zombie counts as gone: a lab killed
    outright stays one until its parent reaps it, and its namespaces are abandoned already."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if len(fields) < 20 or fields[0] == "Z" else fields[19]


def sweep_abandoned(say=print):
    """Removes what labs whose process is gone left behind; nothing of a lab still running."""
    try:
        notes = os.listdir(STATE_DIR)
    except OSError:
        return
    for name in notes:
        path = os.path.join(STATE_DIR, name)
        try:
            with open(path) as f:
                note = json.load(f)
        except (OSError, ValueError):
            continue
        if _proc_start(note["pid"]) == note["start"]:
            continue  # still running
        mine = f"{note['prefix']}-{note['tag']}-"
        for ns in run(["ip", "netns", "list"], check=False).stdout.split():
            if ns.startswith(mine):
                remove_namespace(ns)
        for prefix in note.get("dpdk", []):
            shutil.rmtree(os.path.join(DPDK_RUNTIME, prefix), ignore_errors=True)
        if note.get("huge"):
            hugepages.umount(note["huge"]["dir"])
            hugepages.remove(note["huge"]["pages"])
        shutil.rmtree(note.get("workdir", "/nonexistent"), ignore_errors=True)
        os.unlink(path)
        say(f"removed what lab {note['prefix']}-{note['tag']} (process {note['pid']}, gone) "
            "left behind")


def leave_note(prefix, tag, workdir, dpdk=(), huge=None):
    """The note sweep_abandoned() acts on once this process is gone: its work folder and DPDK
    prefixes go, its huge pages (huge: {"dir", "pages"}) are given back, and its namespaces
    (those named `<prefix>-<tag>-...`) go. Also for a test that is not a Lab
    (tests/control/ctl_harness.py). Its path, or None where STATE_DIR cannot be made."""
    try:
        os.makedirs(STATE_DIR, exist_ok=True)
        path = os.path.join(STATE_DIR, f"{prefix}-{tag}")
        with open(path, "w") as f:
            json.dump({"prefix": prefix, "tag": tag, "pid": os.getpid(),
                       "start": _proc_start(os.getpid()), "workdir": workdir,
                       "dpdk": list(dpdk), "huge": huge}, f)
        return path
    except OSError:
        return None


def teardown(steps):
    """Runs each (what, stop) of a lab's stop_daemons(), whatever the others do; the errors: what a
    stop raised, as "what: error", and the errors a stop returned as a list (one that gets past
    its own, as frr_kit.Frr.stop does)."""
    errors = []
    for what, stop in steps:
        try:
            got = stop()
        except Exception as e:  # noqa: BLE001 - teardown goes on
            errors.append(f"{what}: {e}")
        else:
            if isinstance(got, list):
                errors += got
    return errors


class Lab:
    """The base of every namespace lab; see the module's comment."""

    prefix = "lab"
    mac_prefix = "02:1a:b0:00:00"

    def __init__(self, prefix=None, say=None, keep_workdir=None):
        self.prefix = prefix or self.prefix
        self.tag = secrets.token_hex(2)
        self.say = say or (lambda msg: print(f"[{self.prefix}] {msg}", flush=True))
        if keep_workdir is None:
            keep_workdir = bool(os.environ.get("LAB_KEEP_WORKDIR"))
        self.keep_workdir = keep_workdir
        self.workdir = tempfile.mkdtemp(prefix=f"{self.prefix}-{self.tag}-")
        os.chmod(self.workdir, 0o700)
        self.net = Net(self.prefix, self.tag, self.mac_prefix)
        self.ns, self.dev, self.mac = self.net.ns, self.net.dev, self.net.mac
        self.procs = []  # helper processes (traffic, capture), killed at teardown
        self.dpdk_prefixes = []
        self.huge = None  # hugepages.Hugepages, once huge_dir() was asked for

    def name(self, short):
        """A name of this lab's: `<prefix>-<tag>-<short>` (DPDK file prefixes, for one)."""
        return self.net.name(short)

    def dpdk_prefix(self, short):
        """A DPDK --file-prefix of this lab's; its runtime folder goes at teardown."""
        prefix = self.name(short)
        self.dpdk_prefixes.append(prefix)
        self._write_note()
        return prefix

    # How many 2 MiB pages a lab takes for its espgw processes on huge pages: one espgw with the
    # labs' configs uses about 16 (its mbuf pools and DPDK's heap), a lab runs at most a few.
    HUGE_PAGES = 128

    def huge_dir(self):
        """A hugetlbfs mount of this lab's with HUGE_PAGES more pages in the kernel's pool, made
        on first use; both go at teardown. For DPDK processes started as they are deployed (on
        huge pages; labkit.espgw.eal_args). LabError when the pages cannot be had."""
        if self.huge is None:
            try:
                self.huge = hugepages.Hugepages(self.HUGE_PAGES, parent=self.workdir).open()
            except RuntimeError as e:
                raise proc.LabError(f"huge pages for espgw: {e}") from None
            self._write_note()
        return self.huge.dir

    # ---- commands in namespaces ----

    def nsexec(self, ns, *cmd):
        return self.net.nsexec(ns, *cmd)

    def sh(self, ns, *cmd, check=True, timeout=60, stdin=None):
        return self.net.sh(ns, *cmd, check=check, timeout=timeout, stdin=stdin)

    def spawn(self, ns, *cmd, log=None):
        """A helper process in a namespace, output piped (or appended to `log`); killed at
        teardown."""
        p = proc.start(self.nsexec(ns, *cmd), log=log, pipe=log is None)
        self.procs.append(p)
        return p

    def tool(self, ns, *args, script=TOOLS):
        """A traffic helper (labkit/tools.py) in a namespace, once it has said "ready"."""
        return proc.ready(self.spawn(ns, PYTHON, script, *args),
                          f"{os.path.basename(script)} {' '.join(args)} in {self.ns[ns]}")

    # ---- bring-up ----

    def _write_note(self):
        if os.path.isdir(STATE_DIR):
            huge = self.huge and {"dir": self.huge.dir, "pages": self.huge.added}
            leave_note(self.prefix, self.tag, self.workdir, self.dpdk_prefixes, huge)

    def up_namespaces(self, *names):
        """Sweeps abandoned labs, leaves this lab's note, makes the namespaces."""
        sweep_abandoned(self.say)
        os.makedirs(STATE_DIR, exist_ok=True)
        self._write_note()
        self.say(f"lab {self.tag}: namespaces {', '.join(self.name(n) for n in names)}, "
                 f"work folder {self.workdir}")
        self.net.add(*names)

    # ---- teardown ----

    def stop_daemons(self):
        """A topology's daemons, stopped before the namespaces go; the errors."""
        return []

    def down(self):
        """Removes everything the lab made; safe to call twice and after any failure. A second
        Ctrl-C (or SIGTERM) while it runs is ignored, so that teardown finishes."""
        try:
            saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread
            saved = {}
        try:
            return self._down()
        finally:
            for s, h in saved.items():
                signal.signal(s, h)

    def _down(self):
        errors = [f"helper {p.args} did not exit" for p in self.procs if not proc.kill_group(p)]
        self.procs = []
        try:
            errors += self.stop_daemons()
        except Exception as e:  # noqa: BLE001 - teardown goes on
            errors.append(f"stopping the daemons: {e}")
        errors += self.net.down()
        for prefix in self.dpdk_prefixes:
            shutil.rmtree(os.path.join(DPDK_RUNTIME, prefix), ignore_errors=True)
        if self.huge is not None:
            self.huge.close()
            self.huge = None
        if self.keep_workdir:
            self.say(f"work folder kept: {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if not errors:
            try:
                os.unlink(os.path.join(STATE_DIR, f"{self.prefix}-{self.tag}"))
            except FileNotFoundError:
                pass
        if errors:
            self.say("teardown: " + "; ".join(errors))
        return errors

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()
        return False


def check_tools(*tools):
    """Why these commands cannot run here, or None."""
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/lib/common.sh ESPGW_PACKAGES)"
    return None
