"""A real espgw on virtual ports for the control tests, and espgwctl to talk to it.

Each Gateway gets its own folder, --file-prefix and control socket; it is stopped, and its DPDK
runtime folder removed, whatever happens. Should the test's process be killed outright, espgw gets
SIGTERM from the kernel (labkit.proc.die_with_parent), and the next Gateway or lab to start removes
the folder and the runtime folder (a note under labkit.lab.STATE_DIR, labkit.lab.sweep_abandoned). Every text a test sees (espgwctl's stdout and stderr,
raw socket answers, telemetry answers, espgw's own output) is kept, so that the test can check at
the end that no key appears in any of it.

Ports: net_pcap devices. "lan" reads a pcap of UDP packets bound into tunnel "east" (or an empty
one), "wan" reads nothing; both write to files. exception: none; static neighbours, so that nothing
depends on ARP timing.
"""

import hashlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from labkit import lab
from labkit.control import Control
from labkit.espgw import EAL_MEMORY_MB, lcores_arg
from labkit.proc import die_with_parent

START_TIMEOUT_S = 60  # the socket appears within this, or the test fails
STOP_TIMEOUT_S = 30


def skip_unless_runnable():
    """Exit 77 (meson's skip) where espgw cannot run."""
    if os.geteuid() != 0:
        print("SKIP: espgw's DPDK runtime folder /var/run/dpdk needs root")
        sys.exit(77)


def test_key(label, nbytes):
    """Deterministic key material, as hex, different for every label."""
    out = b""
    counter = 0
    while len(out) < nbytes:
        out += hashlib.sha256(f"espgw-ctl-test {label} {counter}".encode()).digest()
        counter += 1
    return out[:nbytes].hex()


# The tunnel of the base config and its static SAs.
EAST_OUT_KEY = test_key("east out", 20)  # aes128gcm16: key || salt
EAST_IN_KEY = test_key("east in", 20)
BASE_KEYS = [EAST_OUT_KEY, EAST_IN_KEY]

LAN_MAC = "02:00:00:00:01:01"
WAN_MAC = "02:00:00:00:02:01"
HOST_MAC = "02:00:00:00:01:99"
ROUTER_MAC = "02:00:00:00:02:fe"

CONFIG = """\
dataplane:
  workers: 1
  rx_ring: 64
  tx_ring: 64
  idle_sleep_us: 1000
  control_socket: {socket}
interfaces:
  - name: lan
    device: net_pcap{n0},rx_pcap={dir}/lan_in.pcap,tx_pcap={dir}/lan_out.pcap
    mac: "{lan_mac}"
    addresses: [172.50.1.1/24]
    exception: none
    neighbours: [{{address: 172.50.1.10, mac: "{host_mac}"}}]
  - name: wan
    device: net_pcap{n1},rx_pcap={dir}/wan_in.pcap,tx_pcap={dir}/wan_out.pcap
    mac: "{wan_mac}"
    addresses: [198.51.100.1/24]
    exception: none
    neighbours: [{{address: 198.51.100.254, mac: "{router_mac}"}}]
routes:
  - {{prefix: 203.0.113.0/24, via: 198.51.100.254, interface: wan}}
tunnels:
  - name: east
    local: 198.51.100.1
    remote: 203.0.113.2
    local_cidrs: [172.50.0.0/16]
    remote_cidrs: [172.60.0.0/16]
    nat_t: true
    static_sa:
      outbound: {{spi: 0x1001, algorithm: aes128gcm16, key: 0x{out_key}}}
      inbound: {{spi: 0x2001, algorithm: aes128gcm16, key: 0x{in_key}}}
"""


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(a):
    return bytes(int(x) for x in a.split("."))


def ipv4_checksum(header):
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, ip_bytes(src),
                     ip_bytes(dst))
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    return mac_bytes(LAN_MAC) + mac_bytes(HOST_MAC) + b"\x08\x00" + ip + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)))
            f.write(fr)


# What the lan port reads when traffic=True: packets into tunnel "east".
LAN_PACKETS = 5
LAN_PACKET_BYTES = [len(udp_frame("172.50.1.10", "172.60.1.20", 1000 + i, 5201, bytes(range(100))))
                    for i in range(LAN_PACKETS)]


class Result:
    def __init__(self, args, rc, stdout, stderr):
        self.args, self.rc, self.stdout, self.stderr = args, rc, stdout, stderr

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return f"espgwctl {' '.join(self.args)} -> {self.rc}\nstdout: {self.stdout}\nstderr: {self.stderr}"


class Gateway:
    """One espgw. Use as a context manager, or call start() and close()."""

    _count = 0

    def __init__(self, espgw, espgwctl, name, traffic=False, socket_path=None, config=None,
                 keys=(), file_limit=None):
        """file_limit: no file espgw writes grows past this many bytes (RLIMIT_FSIZE, SIGXFSZ
        ignored: a write past it fails, and a net_pcap tx_pcap stops growing there)."""
        Gateway._count += 1
        self.espgw = espgw
        self.espgwctl = espgwctl
        self.file_limit = file_limit
        tag = f"{name}-{os.getpid()}-{Gateway._count}"
        self.prefix = f"ctl-{tag}"
        lab.sweep_abandoned(lambda msg: print(f"[ctl] {msg}", flush=True))
        self.dir = tempfile.mkdtemp(prefix=f"espgw-{self.prefix}-")
        self.note = lab.leave_note("ctl", tag, self.dir, [self.prefix])
        self.socket = socket_path or os.path.join(self.dir, "run", "espgw.sock")
        self.client = Control(self.socket)
        self.proc = None
        self.log_path = os.path.join(self.dir, "espgw.log")
        self.transcript = []  # every text seen, for the key check
        self.keys = list(BASE_KEYS) + list(keys)
        frames = [udp_frame("172.50.1.10", "172.60.1.20", 1000 + i, 5201, bytes(range(100)))
                  for i in range(LAN_PACKETS)] if traffic else []
        write_pcap(os.path.join(self.dir, "lan_in.pcap"), frames)
        write_pcap(os.path.join(self.dir, "wan_in.pcap"), [])
        self.config_path = os.path.join(self.dir, "espgw.yaml")
        with open(self.config_path, "w") as f:
            f.write(config or CONFIG.format(
                socket=self.socket, dir=self.dir, n0=2 * Gateway._count, n1=2 * Gateway._count + 1,
                lan_mac=LAN_MAC, wan_mac=WAN_MAC, host_mac=HOST_MAC, router_mac=ROUTER_MAC,
                out_key=EAST_OUT_KEY, in_key=EAST_IN_KEY))

    # ---- life cycle ----

    def command(self):
        return [self.espgw, "--no-huge", "-m", EAL_MEMORY_MB, "--no-pci", "--file-prefix",
                self.prefix, lcores_arg(), "--log-level", "*:warning", "--",
                "--config", self.config_path]

    def launch(self):
        """Starts espgw without waiting for it."""
        self.log = open(self.log_path, "w")
        limit = self.file_limit

        def child():
            die_with_parent()
            if limit:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=child)
        return self

    def start(self):
        self.launch()
        self.wait_for_socket()
        return self

    def wait_for_socket(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"espgw exited with {self.proc.returncode} before serving "
                                     f"{self.socket}:\n{self.output()}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.socket)
                return
            except OSError:
                time.sleep(0.05)  # polling for the socket, bounded by the deadline
        raise AssertionError(f"no control socket {self.socket} after {START_TIMEOUT_S} s:\n"
                             f"{self.output()}")

    def wait_exit(self, timeout=STOP_TIMEOUT_S):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"espgw did not exit within {timeout} s:\n{self.output()}")

    def close(self):
        """Stops espgw (SIGTERM, then SIGKILL) and removes what it left."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
            self.transcript.append(self.output())
        shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.note:
            try:
                os.unlink(self.note)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        self.cleanup()
        return False

    def output(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- talking to it ----

    def ctl(self, *args, stdin=None, socket_args=None, expect=0):
        """Runs espgwctl against this gateway; checks its exit status unless expect is None."""
        argv = [self.espgwctl] + (["-s", self.socket] if socket_args is None else socket_args)
        argv += list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
        r = Result(list(args), p.returncode, p.stdout, p.stderr)
        self.transcript += [p.stdout, p.stderr]
        if expect is not None and r.rc != expect:
            raise AssertionError(f"expected exit {expect}: {r!r}")
        return r

    def ctl_json(self, *args):
        return self.ctl("--json", *args).json()

    def raw(self, line):
        """One request line as it is (the newline added), the answer line back as text; kept
        for the key check."""
        text = self.client.raw(line + "\n", timeout=60)
        self.transcript.append(text)
        return text

    def request(self, obj):
        """The answer to one request, parsed, whether it says ok or not."""
        return json.loads(self.raw(json.dumps(obj)))

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def wait_packets(self, n):
        """Waits (bounded) until the workers have handled n packets and every worker has finished
        the loop it was in then, and one more: a worker adds its port TX counters at the end of a
        loop, after the packets, and sends what the control thread queued for it (the gratuitous
        ARP at start) in its next one. A worker off its CPU a while on a loaded machine is waited
        for, not taken for settled."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.request({"cmd": "status"})["packets"] < n:
            if time.monotonic() >= deadline:
                raise AssertionError(f"espgw did not handle {n} packets in {START_TIMEOUT_S} s")
            time.sleep(0.05)
        then = self.loops()
        while not all(now >= then[w] + 2 for w, now in self.loops().items()):
            if time.monotonic() >= deadline:
                raise AssertionError(f"espgw's workers did not loop twice more in "
                                     f"{START_TIMEOUT_S} s: {then} -> {self.loops()}")
            time.sleep(0.01)  # polling the loop counters, bounded by the deadline

    def loops(self):
        """Each worker's loop count, by worker index."""
        return {w: c["loops"] for w, c in self.request({"cmd": "counters"})["workers"].items()}

    def state(self):
        """What a failed change must leave exactly as it was."""
        return {
            "sas": self.ctl_json("show", "sas")["sas"],
            "routes": self.ctl_json("show", "routes")["routes"],
            "tunnels": self.ctl_json("show", "tunnels")["tunnels"],
            "generation": self.ctl_json("status")["generation"],
        }

    # ---- the key check ----

    def assert_no_key_material(self, extra_texts=()):
        """No key given to this gateway, nor any 6-byte piece of one that holds a letter (a
        decimal counter could hold all-digit pieces by chance), appears in anything seen."""
        texts = [t for t in self.transcript + list(extra_texts) if t]
        blob = "\n".join(texts).lower().replace(":", "")
        leaks = []
        for key in self.keys:
            k = key.lower().replace(":", "").removeprefix("0x")
            for i in range(len(k) - 11):
                piece = k[i:i + 12]
                if any(c in "abcdef" for c in piece) and piece in blob:
                    leaks.append(f"{piece} (of a {len(k) // 2}-byte key)")
                    break
        if leaks:
            raise AssertionError("key material in the output: " + ", ".join(leaks))
        return len(texts)


class Events:
    """A connection subscribed to espgw's events."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.sock.sendall(b'{"cmd": "subscribe"}\n')
        resp = self.next(10)
        assert resp.get("ok"), resp

    def next(self, timeout):
        """The next line as JSON, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("espgw closed the event connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def next_event(self, kind, timeout):
        """The next event of that kind (others are skipped); AssertionError after timeout s."""
        deadline = time.monotonic() + timeout
        while True:
            e = self.next(max(0.0, deadline - time.monotonic()))
            if e is None:
                raise AssertionError(f"no {kind} event in {timeout} s")
            if e.get("event") == kind:
                return e

    def close(self):
        self.sock.close()


class GatewayTest(unittest.TestCase):
    """A test class over one espgw, cls.gw: started before the tests, stopped after them, when no
    key it was given may appear in anything it, espgwctl or the tests' requests showed (nor in
    seen()). Set ESPGW, ESPGWCTL, NAME, KEYS (the keys the tests put in, never to be printed),
    TRAFFIC (its lan port reads LAN_PACKETS packets into tunnel "east") and PACKETS (how many
    packets it must have handled before the tests start); or override gateway(). prepare() may
    change its files before it starts."""

    KEYS = ()
    TRAFFIC = False
    PACKETS = 0

    @classmethod
    def gateway(cls):
        return Gateway(cls.ESPGW, cls.ESPGWCTL, cls.NAME, traffic=cls.TRAFFIC, keys=cls.KEYS)

    @classmethod
    def prepare(cls):
        """Before espgw starts."""

    @classmethod
    def seen(cls):
        """What else the tests saw, for the key check."""
        return ()

    @classmethod
    def setUpClass(cls):
        cls.gw = cls.gateway()
        cls.addClassCleanup(cls.gw.cleanup)
        cls.addClassCleanup(cls.gw.close)
        cls.prepare()
        cls.gw.start()
        if cls.PACKETS:
            cls.gw.wait_packets(cls.PACKETS)

    @classmethod
    def tearDownClass(cls):
        cls.gw.close()
        cls.gw.assert_no_key_material(cls.seen())


class FloodTest(GatewayTest):
    """A GatewayTest whose lan port reads an endless flood (net_pcap infinite_rx) from
    172.50.1.10 to each of DESTINATIONS, COPIES datagrams each: set DESTINATIONS and COPIES too.
    The ports' tx pcaps grow at line rate: no file espgw writes goes past FILE_LIMIT bytes (after
    that its frames are counted and sent, but no longer written; 64 MiB is written in about a
    second). The bound holds for the EAL's own files too: fbarray_nohugemem is about 6 MB."""

    COPIES = 32
    FILE_LIMIT = 64 << 20

    @classmethod
    def gateway(cls):
        return Gateway(cls.ESPGW, cls.ESPGWCTL, cls.NAME, traffic=cls.TRAFFIC, keys=cls.KEYS,
                       file_limit=cls.FILE_LIMIT)

    @classmethod
    def prepare(cls):
        flood(cls.gw, cls.DESTINATIONS, cls.COPIES)

    def ok(self, req):
        resp = self.gw.request(req)
        self.assertTrue(resp.get("ok"), resp)
        return resp

    def tunnels(self):
        return {t["name"]: t for t in self.ok({"cmd": "tunnels"})["tunnels"]}


def flood(gw, destinations, copies):
    """Before gw starts: its lan port reads an endless flood (net_pcap infinite_rx) from
    172.50.1.10 to each of `destinations`, `copies` datagrams each (source ports 1000 up). Give
    the Gateway a file_limit (FloodTest.FILE_LIMIT): its tx pcaps grow at line rate."""
    frames = [udp_frame("172.50.1.10", dst, 1000 + i, 5201, bytes(range(64)))
              for i in range(copies) for dst in destinations]
    write_pcap(os.path.join(gw.dir, "flood.pcap"), frames)
    with open(gw.config_path) as f:
        text = f.read()
    lan = f"rx_pcap={gw.dir}/lan_in.pcap"
    assert lan in text
    with open(gw.config_path, "w") as f:
        f.write(text.replace(lan, f"rx_pcap={gw.dir}/flood.pcap,infinite_rx=1"))


def main_args():
    """espgw and espgwctl paths from the command line (meson passes them)."""
    if len(sys.argv) < 3:
        print(f"usage: {sys.argv[0]} ESPGW ESPGWCTL [unittest args]", file=sys.stderr)
        sys.exit(2)
    espgw, espgwctl = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    return espgw, espgwctl
