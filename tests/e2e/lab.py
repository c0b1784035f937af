"""The two-gateway lab in network namespaces, on one machine.

    host A ---- gw1 (espgw) ---- internet ---- gw2 (espgw) ---- host B
    172.50.1.10  lan 172.50.1.1   router        wan 203.0.113.2   172.60.1.20
                 wan 198.51.100.1 .254 | .254   lan 172.60.1.1

Five namespaces joined by veth pairs. Each gateway runs espgw with two net_af_packet ports on its
veths; those veths carry no IP address, answer no ARP (`arp off`) and fail the reverse-path check,
so the gateway namespace's kernel sees the wire only through espgw's exception path (the
`espgw-wan` and `espgw-lan` taps, which hold the ports' MACs and addresses). The tunnel
has static SAs that mirror each other, ESP in UDP 4500 (NAT-T), AES-128-GCM; keys are drawn
afresh for every run.

Everything the lab creates is named after a random tag (`e2e-<tag>-gw1`, veths `e2e<tag>1w`), so
two labs never meet, and Lab.down() removes all of it: processes (by the ids it started),
namespaces, the work folder and the DPDK runtime folders. Should the lab's own process be killed
outright, its children get SIGTERM from the kernel (PR_SET_PDEATHSIG) and the next lab to start
removes the namespaces and folders it left (sweep_abandoned). Every wait is a bounded poll on a
condition that fails with a message saying what it waited for.

Used by tests/e2e/e2e_*.py and by scripts/demo (scripts/lib/demo.py). Needs root, iproute2,
procps, ethtool, iputils-ping, iperf3, tcpdump and /usr/bin/python3 with scapy and cryptography.
"""

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(ROOT, "tests", "labkit", "tools.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# The addressing plan; tests refer to these names.
A_IP = "172.50.1.10"
B_IP = "172.60.1.20"
GW1_LAN = "172.50.1.1"
GW1_WAN = "198.51.100.1"
GW2_WAN = "203.0.113.2"
GW2_LAN = "172.60.1.1"
INET1 = "198.51.100.254"
INET2 = "203.0.113.254"
NET_A = "172.50.0.0/16"
NET_B = "172.60.0.0/16"


class LabError(Exception):
    """A step of the lab failed; the message says which and why."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so that every `finally` runs."""


def on_signals_unwind():
    """SIGTERM (meson's timeout) and SIGHUP unwind the stack like Ctrl-C, so teardown runs."""

    def handler(signum, _frame):
        raise Interrupted(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def verdict(figures, failures):
    """Prints a test's figures and its verdict; the exit code."""
    print("figures: " + json.dumps(figures, sort_keys=True))
    if failures:
        print(f"FAILED: {len(failures)} check(s)")
        return 1
    print("PASS")
    return 0


def exit_with(main):
    """A test script's entry point: main()'s exit code; 1 when a signal or a lab step ends it."""
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"interrupted: {e}")
        sys.exit(1)
    except (LabError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}")
        sys.exit(1)


def wait_for(what, predicate, timeout, interval=0.02):
    """Polls `predicate` until it returns something true; LabError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def run(cmd, check=True, timeout=60, capture=True, env=None):
    """Runs a command to completion; LabError with its output when it fails."""
    try:
        r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{' '.join(cmd)}: no result after {timeout} s") from e
    if check and r.returncode != 0:
        out = ((r.stdout or "") + (r.stderr or "")).strip()
        raise LabError(f"{' '.join(cmd)}: exit {r.returncode}: {out}")
    return r


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the lab's process dies, however it dies (espgw
    stops cleanly on SIGTERM; its taps go with it)."""
    import ctypes  # noqa: PLC0415 - only in the child, between fork and exec

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


# Each running lab leaves a note here: its tag, its process (pid and start time) and its work
# folder. A lab that starts removes what labs whose process is gone left behind (a SIGKILL gives
# no chance to tear down), and nothing of a lab still running.
STATE_DIR = "/run/espgw-e2e"


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
    try:
        notes = os.listdir(STATE_DIR)
    except OSError:
        return
    for tag in notes:
        path = os.path.join(STATE_DIR, tag)
        try:
            with open(path) as f:
                note = json.load(f)
        except (OSError, ValueError):
            continue
        if _proc_start(note["pid"]) == note["start"]:
            continue  # still running
        names = run(["ip", "netns", "list"], check=False).stdout.split()
        for ns in [n for n in names if n.startswith(f"e2e-{tag}-")]:
            r = run(["ip", "netns", "pids", ns], check=False)
            for pid in (r.stdout or "").split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(note.get("workdir", "/nonexistent"), ignore_errors=True)
        for gw in ("gw1", "gw2"):
            shutil.rmtree(f"/var/run/dpdk/e2e-{tag}-{gw}", ignore_errors=True)
        os.unlink(path)
        say(f"removed what lab {tag} (process {note['pid']}, gone) left behind")


def espgw_binary(build):
    path = os.path.join(build, "dataplane", "espgw")
    if not os.access(path, os.X_OK):
        raise LabError(f"{path}: not built (ninja -C {build})")
    return path


def skip_reason():
    """Why this machine cannot run the lab, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veths, DPDK)"
    for tool in ("ip", "ss", "sysctl", "ethtool", "iperf3", "ping", "tcpdump"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/lib/common.sh ESPGW_PACKAGES)"
    for module, package in (("scapy", "python3-scapy"), ("cryptography", "python3-cryptography")):
        if importlib.util.find_spec(module) is None:
            return f"{sys.executable} has no {module} ({package})"
    return None


class Control:
    """espgw's control socket: one JSON request per line, one JSON answer per line."""

    def __init__(self, path):
        self.path = path

    def request(self, req, timeout=15):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.path)
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise LabError(f"{self.path}: connection closed before the answer to "
                                   f"{req.get('cmd')}")  # not the request: it may hold keys
                buf += chunk
        resp = json.loads(buf)
        if not resp.get("ok"):
            raise LabError(f"{self.path}: {req.get('cmd')}: {resp.get('error')}")
        return resp

    def __call__(self, cmd, **kw):
        return self.request({"cmd": cmd, **kw})

    def apply(self, *ops):
        return self.request({"cmd": "apply", "ops": list(ops)})

    def sas(self):
        """Every SA, keyed by (direction, spi as an int)."""
        return {(s["direction"], int(s["spi"], 16)): s for s in self("sas")["sas"]}

    def counters(self):
        return self("counters")


def new_key():
    """A fresh AES-128-GCM key with its salt: 20 bytes, as IKE derives them (RFC 4106 8.1)."""
    return secrets.token_bytes(20)


def sa_json(spi, key):
    return {"spi": spi, "algorithm": "aes128gcm16", "key": "0x" + key.hex()}


class Gateway:
    """One espgw process in its namespace."""

    def __init__(self, lab, name, ns, ports, addresses, route_via, tunnel):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.ports = ports  # {"wan": veth, "lan": veth}
        self.addresses = addresses  # {"wan": "198.51.100.1/24", ...}
        self.route_via = route_via
        self.tunnel = tunnel  # dict: name, local, remote, local_cidrs, remote_cidrs, out, in
        self.prefix = f"e2e-{lab.tag}-{name}"
        self.config = os.path.join(lab.workdir, f"{name}.yaml")
        self.socket = os.path.join(lab.workdir, f"{name}.sock")
        self.stats = os.path.join(lab.workdir, f"{name}.stats.json")
        self.log = os.path.join(lab.workdir, f"{name}.log")
        self.ctl = Control(self.socket)
        self.proc = None
        self.exit_code = None

    def write_config(self):
        t = self.tunnel
        out_spi, out_key = t["out"]
        in_spi, in_key = t["in"]
        lab = self.lab
        text = f"""# espgw lab gateway {self.name}, written by tests/e2e/lab.py for this run only.
# LAB ONLY: fresh random keys, in a file that is deleted when the lab goes down.
dataplane:
  workers: 1
  crypto: {lab.crypto}
  control_socket: {self.socket}
  idle_sleep_us: {lab.idle_sleep_us}
  exception_pps: {lab.exception_pps}
interfaces:
  - name: wan
    device: net_af_packet0,iface={self.ports['wan']},framecnt={lab.framecnt}
    addresses: [{self.addresses['wan']}]
  - name: lan
    device: net_af_packet1,iface={self.ports['lan']},framecnt={lab.framecnt}
    addresses: [{self.addresses['lan']}]
routes:
  - prefix: 0.0.0.0/0
    via: {self.route_via}
    interface: wan
tunnels:
  - name: {t['name']}
    local: {t['local']}
    remote: {t['remote']}
    local_cidrs: [{t['local_cidrs']}]
    remote_cidrs: [{t['remote_cidrs']}]
    nat_t: true
    static_sa:
      outbound: {{spi: 0x{out_spi:08x}, algorithm: aes128gcm16, key: 0x{out_key.hex()}}}
      inbound: {{spi: 0x{in_spi:08x}, algorithm: aes128gcm16, key: 0x{in_key.hex()}}}
"""
        with open(self.config, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(text)

    def start(self):
        cpus = sorted(os.sched_getaffinity(0))
        cpuset = ",".join(str(c) for c in cpus)
        # Both lcores may run on any CPU: two gateways and their hosts share the machine's cores
        # (a pinned busy-polling lcore takes a whole CPU: docs/platform-notes.md).
        cmd = [
            "ip", "netns", "exec", self.ns, espgw_binary(self.lab.build),
            "--no-pci", "--no-huge", "-m", "512", "--file-prefix", self.prefix,
            f"--lcores=0@({cpuset}),1@({cpuset})", "--log-level=lib.eal:warning",
            "--", "--config", self.config, "--control-socket", self.socket,
            "--stats-file", self.stats,
        ]  # fmt: skip
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_die_with_parent)

    def log_tail(self, lines=30):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            code = self.proc.returncode if self.proc else None
            raise LabError(f"espgw {self.name} is not running (exit {code}); its log:\n"
                           + self.log_tail())

    def wait_ready(self, timeout=60):
        def ready():
            self.check_alive()
            try:
                return self.ctl("status")
            except (OSError, LabError):
                return None

        return wait_for(f"espgw {self.name}'s control socket {self.socket}", ready, timeout, 0.05)

    def stop(self, timeout=20):
        """Asks espgw to stop and waits; returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.ctl.request({"cmd": "stop"}, timeout=5)
            except (OSError, LabError, ValueError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_code = None
                return None
        self.exit_code = self.proc.returncode
        return self.exit_code

    def final_stats(self):
        with open(self.stats) as f:
            return json.load(f)


class Lab:
    def __init__(self, build, *, crypto="ipsec-mb", idle_sleep_us=20, exception_pps=20000,
                 framecnt=4096, say=None, keep_workdir=False):
        self.build = os.path.abspath(build)
        self.crypto = crypto
        self.idle_sleep_us = idle_sleep_us
        self.exception_pps = exception_pps
        # af_packet ring frames per queue (the PMD's default is 512). On two shared vCPUs a
        # worker can be off its CPU for milliseconds; a deep ring rides that out. Packets that
        # overflow the ring are counted by the kernel only (DPDK 22.11's PMD reports no imissed).
        self.framecnt = framecnt
        self.say = say or (lambda msg: print(f"[lab] {msg}", flush=True))
        self.keep_workdir = keep_workdir
        self.tag = secrets.token_hex(2)
        self.workdir = tempfile.mkdtemp(prefix=f"e2e-{self.tag}-")
        t = self.tag
        self.ns = {n: f"e2e-{t}-{n}" for n in ("a", "gw1", "inet", "gw2", "b")}
        # veth names (15 characters at most): e2e<tag><end>
        self.dev = {
            "a": f"e2e{t}a", "gw1_lan": f"e2e{t}1l", "gw1_wan": f"e2e{t}1w",
            "inet1": f"e2e{t}i1", "inet2": f"e2e{t}i2", "gw2_wan": f"e2e{t}2w",
            "gw2_lan": f"e2e{t}2l", "b": f"e2e{t}b",
        }  # fmt: skip
        # Fixed MACs, so that crafted frames can be addressed without asking anyone.
        self.mac = {k: f"02:e2:e0:00:00:{i + 1:02x}" for i, k in enumerate(self.dev)}
        self.created_ns = []
        self.procs = []  # helper processes (traffic, capture), killed at teardown
        spi = lambda: secrets.randbelow(0xFFFF0000) + 0x1000  # noqa: E731
        self.spi_a2b, self.spi_b2a = spi(), spi()
        while self.spi_b2a == self.spi_a2b:
            self.spi_b2a = spi()
        self.key_a2b, self.key_b2a = new_key(), new_key()
        self.gw1 = Gateway(
            self, "gw1", self.ns["gw1"],
            {"wan": self.dev["gw1_wan"], "lan": self.dev["gw1_lan"]},
            {"wan": f"{GW1_WAN}/24", "lan": f"{GW1_LAN}/24"}, INET1,
            {"name": "to-gw2", "local": GW1_WAN, "remote": GW2_WAN, "local_cidrs": NET_A,
             "remote_cidrs": NET_B, "out": (self.spi_a2b, self.key_a2b),
             "in": (self.spi_b2a, self.key_b2a)})  # fmt: skip
        self.gw2 = Gateway(
            self, "gw2", self.ns["gw2"],
            {"wan": self.dev["gw2_wan"], "lan": self.dev["gw2_lan"]},
            {"wan": f"{GW2_WAN}/24", "lan": f"{GW2_LAN}/24"}, INET2,
            {"name": "to-gw1", "local": GW2_WAN, "remote": GW1_WAN, "local_cidrs": NET_B,
             "remote_cidrs": NET_A, "out": (self.spi_b2a, self.key_b2a),
             "in": (self.spi_a2b, self.key_a2b)})  # fmt: skip
        self.gateways = (self.gw1, self.gw2)

    # ---- commands in namespaces ----

    def nsexec(self, ns, *cmd):
        return ["ip", "netns", "exec", self.ns[ns], *cmd]

    def sh(self, ns, *cmd, check=True, timeout=60):
        return run(self.nsexec(ns, *cmd), check=check, timeout=timeout)

    def spawn(self, ns, *cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        """A helper process in a namespace; its own session, so Ctrl-C reaches only us."""
        p = subprocess.Popen(self.nsexec(ns, *cmd), stdout=stdout, stderr=stderr,
                             stdin=subprocess.DEVNULL, text=True, start_new_session=True,
                             preexec_fn=_die_with_parent)
        self.procs.append(p)
        return p

    def tool(self, ns, *args):
        """tests/e2e/tools.py in a namespace; waits for its "ready" line."""
        p = self.spawn(ns, PYTHON, TOOLS, *args)
        line = p.stdout.readline()
        if line.strip() != "ready":
            p.wait(10)
            raise LabError(f"tools.py {' '.join(args)} in {ns} did not start: {line}"
                           + p.stderr.read())
        return p

    @staticmethod
    def result(p, what, timeout):
        """Waits for a helper's JSON result (its last stdout line)."""
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            p.kill()
            p.communicate()
            raise LabError(f"{what}: no result after {timeout} s") from e
        if p.returncode != 0:
            raise LabError(f"{what}: exit {p.returncode}: {out}{err}")
        return json.loads(out.strip().splitlines()[-1])

    # ---- bring-up ----

    def _veth(self, end1, ns1, end2, ns2):
        run(["ip", "link", "add", self.dev[end1], "netns", self.ns[ns1], "address",
             self.mac[end1], "type", "veth", "peer", "name", self.dev[end2], "netns",
             self.ns[ns2], "address", self.mac[end2]])  # fmt: skip
        for end, ns in ((end1, ns1), (end2, ns2)):
            # Without this TCP and UDP arrive with bad checksums after af_packet
            # (docs/platform-notes.md).
            self.sh(ns, "ethtool", "-K", self.dev[end], "tx", "off", "rx", "off")

    def _host(self, ns, end, address, gateway):
        self.sh(ns, "ip", "addr", "add", address, "dev", self.dev[end])
        self.sh(ns, "ip", "link", "set", self.dev[end], "up")
        self.sh(ns, "ip", "route", "add", "default", "via", gateway)

    def _gateway_port(self, ns, end):
        # No address, no ARP, strict reverse-path check: the kernel of the gateway namespace
        # leaves this wire to espgw and hears it only through the tap.
        self.sh(ns, "sysctl", "-qw", f"net.ipv4.conf.{self.dev[end]}.rp_filter=1")
        self.sh(ns, "ip", "link", "set", self.dev[end], "arp", "off", "up")

    def up(self):
        sweep_abandoned(self.say)
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(os.path.join(STATE_DIR, self.tag), "w") as f:
            json.dump({"pid": os.getpid(), "start": _proc_start(os.getpid()),
                       "workdir": self.workdir}, f)
        self.say(f"lab {self.tag}: namespaces {', '.join(self.ns.values())}")
        for key in ("a", "gw1", "inet", "gw2", "b"):
            run(["ip", "netns", "add", self.ns[key]])
            self.created_ns.append(self.ns[key])
            self.sh(key, "ip", "link", "set", "lo", "up")
            # IPv4 only: no router solicitations, MLD or DAD chatter on the wires.
            self.sh(key, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0")  # fmt: skip
        self._veth("a", "a", "gw1_lan", "gw1")
        self._veth("gw1_wan", "gw1", "inet1", "inet")
        self._veth("inet2", "inet", "gw2_wan", "gw2")
        self._veth("gw2_lan", "gw2", "b", "b")
        self._host("a", "a", f"{A_IP}/24", GW1_LAN)
        self._host("b", "b", f"{B_IP}/24", GW2_LAN)
        self.sh("inet", "ip", "addr", "add", f"{INET1}/24", "dev", self.dev["inet1"])
        self.sh("inet", "ip", "addr", "add", f"{INET2}/24", "dev", self.dev["inet2"])
        self.sh("inet", "ip", "link", "set", self.dev["inet1"], "up")
        self.sh("inet", "ip", "link", "set", self.dev["inet2"], "up")
        self.sh("inet", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        # The router knows both gateways for good: its WAN wires then carry nothing but the
        # tunnel, and the per-hop accounting (direction_accounting) is exact.
        for ip, end, dev in ((GW1_WAN, "gw1_wan", "inet1"), (GW2_WAN, "gw2_wan", "inet2")):
            self.sh("inet", "ip", "neigh", "replace", ip, "lladdr", self.mac[end], "nud",
                    "permanent", "dev", self.dev[dev])
        for gw in self.gateways:
            # Strict reverse-path checks on the veths only (_gateway_port): the taps must accept
            # what arrives from the tunnel's remote CIDRs, which the kernel routes elsewhere.
            for end in (f"{gw.name}_wan", f"{gw.name}_lan"):
                self._gateway_port(gw.name, end)
        self.say("namespaces and veths up: A - gw1 - internet - gw2 - B")
        for gw in self.gateways:
            gw.write_config()
            gw.start()
        for gw in self.gateways:
            st = gw.wait_ready()
            self.say(f"espgw {gw.name} running: crypto {st['crypto']}, "
                     f"{st['tunnels']} tunnel, {st['inbound_sas']}+{st['outbound_sas']} SAs")
        return self

    def wait_tunnel(self, timeout=30):
        """Both gateways have their tunnel with an outbound SA, and the path carries a ping."""
        for gw in self.gateways:
            tunnels = gw.ctl("tunnels")["tunnels"]
            if not tunnels or not tunnels[0]["outbound_spi"]:
                raise LabError(f"{gw.name}: tunnel has no outbound SA: {tunnels}")
        # The first packets wait for ARP on both sides; one echo answered proves the path.
        wait_for("a first ping A -> B through the tunnel",
                 lambda: self.sh("a", "ping", "-c", "1", "-W", "1", B_IP, check=False)
                 .returncode == 0, timeout, 0)

    # ---- traffic ----

    def ping(self, src, dst, count=20, interval=0.05, size=56, pattern=None):
        """Pings from namespace `src`; {"sent", "received", "rtt_min/avg/max_ms"}."""
        cmd = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-s", str(size),
               "-W", "2"]
        if pattern:
            cmd += ["-p", pattern]
        r = self.sh(src, *cmd, dst, check=False, timeout=count * interval + 30)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
        if not m:
            raise LabError(f"ping {dst} from {src}: no summary: {r.stdout}{r.stderr}")
        out = {"sent": int(m.group(1)), "received": int(m.group(2))}
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", r.stdout)
        if m:
            out.update(rtt_min_ms=float(m.group(1)), rtt_avg_ms=float(m.group(2)),
                       rtt_max_ms=float(m.group(3)))
        return out

    def wait_listening(self, ns, port, proto="t", timeout=10):
        wait_for(f"a listener on {proto}cp port {port} in {self.ns[ns]}",
                 lambda: self.sh(ns, "ss", f"-Hln{proto}", f"sport = :{port}").stdout.strip(),
                 timeout)

    def iperf3(self, client, server, server_ip, seconds=5, reverse=False, port=5201, udp=None):
        """One iperf3 run; the parsed JSON summary."""
        srv = self.spawn(server, "iperf3", "-s", "-1", "-B", server_ip, "-p", str(port))
        self.wait_listening(server, port)
        cmd = ["iperf3", "-c", server_ip, "-p", str(port), "-t", str(seconds), "-J"]
        if reverse:
            cmd.append("-R")
        if udp:
            cmd += ["-u", "-b", udp]
        r = self.sh(client, *cmd, check=False, timeout=seconds + 60)
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
        try:
            j = json.loads(r.stdout)
        except json.JSONDecodeError as e:
            raise LabError(f"iperf3 {client} -> {server}: {r.stdout}{r.stderr}") from e
        if "error" in j:
            raise LabError(f"iperf3 {client} -> {server}: {j['error']}")
        end = j["end"]
        if udp:
            s = end["sum"]
            return {"bits_per_second": s["bits_per_second"], "lost": s["lost_packets"],
                    "packets": s["packets"]}
        return {"sent_bps": end["sum_sent"]["bits_per_second"],
                "received_bps": end["sum_received"]["bits_per_second"],
                "retransmits": end["sum_sent"].get("retransmits", 0),
                "bytes": end["sum_received"]["bytes"]}

    def tcp_transfer(self, src, dst, dst_ip, nbytes, port=5300, seed=1):
        """nbytes of pseudo-random data over TCP; both ends' SHA-256 must agree."""
        recv = self.tool(dst, "tcp-recv", "--bind", dst_ip, "--port", str(port))
        send = self.tool(src, "tcp-send", "--to", dst_ip, "--port", str(port), "--bytes",
                         str(nbytes), "--seed", str(seed))
        s = self.result(send, f"tcp-send {src} -> {dst}", 120)
        r = self.result(recv, f"tcp-recv in {dst}", 60)
        if r["bytes"] != nbytes or r["sha256"] != s["sha256"]:
            raise LabError(f"TCP {src} -> {dst}: sent {nbytes} bytes sha256 {s['sha256']}, "
                           f"received {r['bytes']} bytes sha256 {r['sha256']}")
        return {"bytes": nbytes, "sha256": s["sha256"], "seconds": s["seconds"],
                "bps": nbytes * 8 / s["seconds"]}

    def link_stats(self, ns, end):
        """The kernel's counters of one veth end."""
        j = json.loads(self.sh(ns, "ip", "-j", "-s", "link", "show", "dev", self.dev[end]).stdout)
        st = j[0]["stats64"]
        return {"rx_packets": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"],
                "tx_packets": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"]}

    def wires(self):
        """Kernel counters of every gateway veth and of the router's, by end name."""
        ends = {"gw1_wan": "gw1", "gw1_lan": "gw1", "gw2_wan": "gw2", "gw2_lan": "gw2",
                "inet1": "inet", "inet2": "inet", "a": "a", "b": "b"}
        return {end: self.link_stats(ns, end) for end, ns in ends.items()}

    # ---- teardown ----

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
        errors = []
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    errors.append(f"helper {p.args} did not exit")
        self.procs = []
        for gw in self.gateways:
            try:
                gw.stop()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                errors.append(f"{gw.name}: {e}")
            shutil.rmtree(f"/var/run/dpdk/{gw.prefix}", ignore_errors=True)
        for ns in reversed(self.created_ns):
            # Anything still inside was started by this lab (the namespaces are ours).
            r = run(["ip", "netns", "pids", ns], check=False)
            for pid in (r.stdout or "").split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            r = run(["ip", "netns", "del", ns], check=False)
            if r.returncode != 0:
                errors.append(f"ip netns del {ns}: {r.stderr.strip()}")
        self.created_ns = []
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if not errors:
            try:
                os.unlink(os.path.join(STATE_DIR, self.tag))
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

    # ---- counters ----

    def snapshot(self):
        """Counters and SAs of both gateways, and the kernel's counters of every veth."""
        snap = {gw.name: {"counters": gw.ctl.counters(), "sas": gw.ctl.sas()}
                for gw in self.gateways}
        snap["wires"] = self.wires()
        return snap

    def settle(self, what="the counters to settle", timeout=10):
        """Waits until no port of either gateway receives or sends for three polls in a row: the
        traffic of a phase has drained. Returns the last snapshot."""
        state = {"last": None, "same": 0}

        def quiet():
            snap = self.snapshot()
            key = json.dumps([snap[g.name]["counters"]["ports"] for g in self.gateways]
                             + [snap["wires"]], sort_keys=True)
            state["same"] = state["same"] + 1 if key == state["last"] else 0
            state["last"] = key
            return snap if state["same"] >= 2 else None

        return wait_for(what, quiet, timeout, 0.05)


def drops_delta(before, after):
    """{reason: n} for every drop reason that grew."""
    out = {}
    for reason, n in after["drops"].items():
        d = n - before["drops"].get(reason, 0)
        if d:
            out[reason] = d
    return out


def sa_packets(snap, gw, direction, spi):
    sa = snap[gw]["sas"].get((direction, spi))
    return sa["packets"] if sa else 0


def port_delta(before, after, gw, port, field):
    return (after[gw]["counters"]["ports"][port][field]
            - before[gw]["counters"]["ports"][port][field])


def wire_delta(before, after, end, field):
    return after["wires"][end][field] - before["wires"][end][field]


def direction_accounting(before, after, src_gw, dst_gw, out_spi):
    """Where the ESP packets of one direction went between two snapshots:
        sent by src_gw's SA == decrypted by dst_gw's SA + dropped there (per-SA reasons)
                               + lost in src_gw's af_packet TX + lost in the router
                               + lost in dst_gw's af_packet RX ring
    The losses come from the kernel's veth counters (the router namespace has static neighbours
    for both gateways, so its WAN wires carry ESP only). `closes` says whether the sum is exact."""
    sent = sa_packets(after, src_gw, "out", out_spi) - sa_packets(before, src_gw, "out", out_spi)
    got = sa_packets(after, dst_gw, "in", out_spi) - sa_packets(before, dst_gw, "in", out_spi)
    sa_b = before[dst_gw]["sas"].get(("in", out_spi), {"drops": {}})
    sa_a = after[dst_gw]["sas"].get(("in", out_spi), {"drops": {}})
    dropped = sum(n - sa_b["drops"].get(r, 0) for r, n in sa_a["drops"].items())
    src_wan, dst_wan = f"{src_gw}_wan", f"{dst_gw}_wan"
    inet_in, inet_out = ("inet1", "inet2") if src_gw == "gw1" else ("inet2", "inet1")
    tx_loss = (port_delta(before, after, src_gw, "wan", "tx_packets")
               - wire_delta(before, after, src_wan, "tx_packets"))
    router_loss = (wire_delta(before, after, inet_in, "rx_packets")
                   - wire_delta(before, after, inet_out, "tx_packets"))
    ring_loss = (wire_delta(before, after, dst_wan, "rx_packets")
                 - port_delta(before, after, dst_gw, "wan", "rx_packets"))
    return {"sent": sent, "decrypted": got, "dropped": dropped, "tx_loss": tx_loss,
            "router_loss": router_loss, "rx_ring_loss": ring_loss,
            "closes": sent == got + dropped + tx_loss + router_loss + ring_loss}


def lan_ring_loss(before, after, gw):
    """Frames the host sent that never reached espgw's LAN port (af_packet RX ring full)."""
    host = "a" if gw == "gw1" else "b"
    return (wire_delta(before, after, host, "tx_packets")
            - port_delta(before, after, gw, "lan", "rx_packets"))


def rx_identity(before, after, gw):
    """Every frame a gateway received was encrypted, decrypted, answered (ARP), handed to the
    kernel or dropped under a reason: (received, accounted for)."""
    cb, ca = before[gw]["counters"], after[gw]["counters"]
    rx = sum(ca["ports"][p]["rx_packets"] - cb["ports"][p]["rx_packets"] for p in ca["ports"])
    to_kernel = sum(ca["ports"][p]["to_kernel"] - cb["ports"][p]["to_kernel"] for p in ca["ports"])
    sas = sum(s["packets"] for s in after[gw]["sas"].values()) - sum(
        s["packets"] for s in before[gw]["sas"].values())
    arp = ca["workers"]["0"]["arp_nd_replies"] - cb["workers"]["0"]["arp_nd_replies"]
    drops = sum(drops_delta(cb, ca).values())
    return rx, sas + arp + to_kernel + drops
