"""The IKE lab: charon with the kernel-espgw plugin in front of espgw, against a stock strongSwan.

    host A ------- gw1: espgw + charon (kernel-espgw) ------- gw2: charon (kernel-libipsec) ------- host B
    172.50.1.10    lan 172.50.1.1    wan 198.51.100.1          198.51.100.2    172.60.1.1          172.60.1.20

Four network namespaces joined by veth pairs; every name the lab makes starts with `plg-` (or the
`name_prefix` a test gives) and a random tag, so that labs never meet. gw1's veths carry no address and answer no ARP: espgw owns
them through net_af_packet, and gw1's kernel (charon) sees the wire only through espgw's exception
path, the `espgw-wan` and `espgw-lan` taps that hold the ports' addresses (FACTS.md). So charon's
IKE goes through the dataplane, and ESP never reaches gw1's kernel.

gw2 stands for the AWS VPN endpoint: a stock charon with kernel-libipsec (userspace ESP, in UDP),
listed before kernel-netlink, as FACTS.md describes.

Each charon runs in its own mount namespace (`ip netns exec` makes one; `unshare -m` makes sure)
with a private /run bound over the real one (charon's pid file path is fixed) and its own
strongswan.conf (STRONGSWAN_CONF). gw1's charon also gets a private plugin directory bound over
/usr/lib/ipsec/plugins (charon loads plugins only from there, by name): a copy of the system's
plugins plus the plugin under test. These mounts live and die with charon's mount namespace.

Lab.down() removes everything the lab made, whatever happened: processes (by the ids it started),
namespaces, the DPDK runtime folder, the work folder. Every wait is a bounded poll on a condition.
"""

import glob
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

A_IP = "172.50.1.10"
B_IP = "172.60.1.20"
GW1_LAN = "172.50.1.1"
GW1_WAN = "198.51.100.1"
GW2_WAN = "198.51.100.2"
GW2_LAN = "172.60.1.1"
NET_A = "172.50.0.0/16"
NET_B = "172.60.0.0/16"
TUNNEL = "to-gw2"  # espgw's tunnel, charon's connection and CHILD_SA on gw1

CHARON = "/usr/lib/ipsec/charon"
SYSTEM_PLUGINS = "/usr/lib/ipsec/plugins"
PLUGINS_GW1 = "random nonce openssl kdf kernel-espgw kernel-netlink socket-default vici"
PLUGINS_GW2 = "random nonce openssl kdf kernel-libipsec kernel-netlink socket-default vici"


class LabError(Exception):
    """A step failed; the message says which and why."""


class Interrupted(BaseException):
    """SIGTERM (meson's timeout) or SIGHUP: unwinds like Ctrl-C so that teardown runs."""


def on_signals_unwind():
    def handler(signum, _frame):
        raise Interrupted(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def say(msg):
    print(f"[ike] {msg}", flush=True)


def wait_for(what, predicate, timeout, interval=0.1):
    """Polls predicate until it returns something true; LabError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
        except LabError as e:
            value, last_error = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f" (last: {last_error})" if last_error else ""
            raise LabError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def run(cmd, check=True, timeout=60, env=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{' '.join(cmd)}: no result after {timeout} s") from e
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(cmd)}: exit {r.returncode}: {(r.stdout + r.stderr).strip()}")
    return r


def tunnel_if_id(name):
    """config::tunnel_if_id() (config/config.cpp): 32-bit FNV-1a of the name, 0 and 0xffffffff
    moved off (strongSwan reserves them)."""
    h = 2166136261
    for c in name.encode():
        h ^= c
        h = (h * 16777619) & 0xFFFFFFFF
    return 1 if h == 0 else 0xFFFFFFFE if h == 0xFFFFFFFF else h


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces, mounts, DPDK)"
    for tool in ("ip", "unshare", "mount", "ethtool", "ping", "swanctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/lib/common.sh ESPGW_PACKAGES)"
    if not os.access(CHARON, os.X_OK):
        return f"{CHARON} is missing (strongswan-charon)"
    for plugin in ("kernel-libipsec", "openssl", "vici", "kernel-netlink", "socket-default"):
        if not os.path.exists(f"{SYSTEM_PLUGINS}/libstrongswan-{plugin}.so"):
            return f"charon plugin {plugin} is missing (libcharon-extra-plugins, " \
                   "libstrongswan-standard-plugins)"
    return None


class Control:
    """espgw's control socket: one JSON request per line, one JSON answer per line."""

    def __init__(self, path):
        self.path = path

    def request(self, req, timeout=10):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.path)
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise LabError(f"{self.path}: closed before answering {req.get('cmd')}")
                buf += chunk
        resp = json.loads(buf)
        if not resp.get("ok"):
            raise LabError(f"espgw: {req.get('cmd')}: {resp.get('error')}")
        return resp

    def __call__(self, cmd, **kw):
        return self.request({"cmd": cmd, **kw})

    def sas(self, tunnel=TUNNEL):
        """The tunnel's SAs: {("in"|"out", spi as int): sa}."""
        return {(s["direction"], int(s["spi"], 16)): s for s in self("sas")["sas"]
                if s["tunnel"] == tunnel}


class Charon:
    """One charon in a namespace, with a private /run (and optionally plugin directory)."""

    def __init__(self, lab, name, ns, load, extra_conf="", plugin=None):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.dir = os.path.join(lab.workdir, name)
        self.run_dir = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        self.vici = f"unix://{self.dir}/charon.vici"
        self.log = os.path.join(self.dir, "charon.log")
        self.out = os.path.join(self.dir, "charon.out")
        self.plugin = plugin
        self.plugin_dir = os.path.join(self.dir, "plugins") if plugin else None
        self.proc = None
        os.makedirs(self.run_dir, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""# charon {name} of the IKE lab (tests/ike/ike_lab.py)
charon {{
  load = {load}
  install_routes = {'no' if plugin else 'yes'}
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 4
  plugins {{
    vici {{
      socket = {self.vici}
    }}
{extra_conf}
  }}
  filelog {{
    lab {{
      path = {self.log}
      time_format = %H:%M:%S
      flush_line = yes
      default = 1
      knl = 2
      ike = 1
      cfg = 1
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
""")
        if plugin:
            # The system's plugins and ours, in a folder bound over the system's one.
            os.makedirs(self.plugin_dir, exist_ok=True)
            for so in glob.glob(f"{SYSTEM_PLUGINS}/*.so"):
                shutil.copy(so, self.plugin_dir)
            shutil.copy(plugin, os.path.join(self.plugin_dir, "libstrongswan-kernel-espgw.so"))

    def start(self):
        mounts = f"mount --bind {self.run_dir} /run"
        if self.plugin_dir:
            mounts += f" && mount --bind {self.plugin_dir} {SYSTEM_PLUGINS}"
        charon = CHARON
        if self.plugin and os.environ.get("PLG_VALGRIND"):
            # A manual check of the plugin's memory use: PLG_VALGRIND=1 PLG_KEEP_WORKDIR=1.
            charon = f"valgrind -q --log-file={self.dir}/valgrind.%p.log {CHARON}"
        cmd = ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private",
               "sh", "-c", f"{mounts} && exec {charon}"]
        env = dict(os.environ, STRONGSWAN_CONF=self.conf)
        with open(self.out, "a") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
        wait_for(f"charon {self.name}'s VICI socket", self.ready, 30)

    def ready(self):
        if self.proc.poll() is not None:
            raise LabError(f"charon {self.name} exited with {self.proc.returncode}:\n"
                           + self.log_tail())
        r = self.swanctl("--stats", check=False)
        return r.returncode == 0

    def swanctl(self, *args, check=True, timeout=60):
        return run(["swanctl", *args, "--uri", self.vici], check=check, timeout=timeout)

    def load(self):
        self.swanctl("--load-all", "--file", self.swanctl_conf)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code, self.proc = self.proc.returncode, None
        return code

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "".join(self.log_text().splitlines(True)[-lines:])

    def child_sas(self, child=TUNNEL):
        """The named CHILD_SAs charon has, from `swanctl --list-sas --raw`: a list of dicts with
        state, spi_in, spi_out (ints), bytes/packets in/out, encr-alg and keysize."""
        out = self.swanctl("--list-sas", "--raw", "--noblock").stdout
        found = []
        for m in re.finditer(r"child-sas \{(.*?)\}\s*\}", out, re.S):
            pass
        # Each CHILD_SA is "NAME-N {k=v ... }"; values have no braces.
        for m in re.finditer(r"(\S+)-(\d+) \{([^{}]*)\}", out):
            fields = dict(re.findall(r"([\w-]+)=(\S+)", m.group(3)))
            if fields.get("name") != child:
                continue
            def num(k):
                return int(fields.get(k, "0"))
            found.append({
                "state": fields.get("state"),
                "spi_in": int(fields.get("spi-in", "0"), 16),
                "spi_out": int(fields.get("spi-out", "0"), 16),
                "bytes_in": num("bytes-in"), "packets_in": num("packets-in"),
                "bytes_out": num("bytes-out"), "packets_out": num("packets-out"),
                "encr": fields.get("encr-alg"), "keysize": fields.get("encr-keysize"),
                "encap": fields.get("encap"), "reqid": fields.get("reqid"),
            })
        return found

    def installed(self, child=TUNNEL):
        return [c for c in self.child_sas(child) if c["state"] == "INSTALLED"]


class Lab:
    def __init__(self, espgw, plugin, idle_sleep_us=200, name_prefix="plg"):
        self.espgw_bin = espgw
        self.plugin = plugin
        self.idle_sleep_us = idle_sleep_us
        self.tag = secrets.token_hex(2)
        self.workdir = tempfile.mkdtemp(prefix=f"{name_prefix}-{self.tag}-")
        os.chmod(self.workdir, 0o700)
        t = self.tag
        n = f"{name_prefix}-{t}"
        self.ns = {k: f"{n}-{k}" for k in ("a", "gw1", "gw2", "b")}
        self.dev = {"a": f"{n}-a", "gw1_lan": f"{n}-1l", "gw1_wan": f"{n}-1w",
                    "gw2_wan": f"{n}-2w", "gw2_lan": f"{n}-2l", "b": f"{n}-b"}
        self.mac = {k: f"02:50:1c:00:00:{i + 1:02x}" for i, k in enumerate(self.dev)}
        self.created_ns = []
        self.prefix = f"{n}-gw1"  # espgw's DPDK --file-prefix
        self.espgw_dir = os.path.join(self.workdir, "espgw")
        os.makedirs(self.espgw_dir)
        self.socket = os.path.join(self.espgw_dir, "espgw.sock")
        self.ctl = Control(self.socket)
        self.espgw_proc = None
        self.espgw_log = os.path.join(self.espgw_dir, "espgw.log")
        self.psk = secrets.token_urlsafe(24)
        self.if_id = tunnel_if_id(TUNNEL)
        self.gw1 = Charon(self, "gw1", self.ns["gw1"], PLUGINS_GW1, plugin=plugin,
                          extra_conf=f"""    kernel-espgw {{
      socket = {self.socket}
    }}
    kernel-netlink {{
      # no routes from charon here: espgw routes by the tunnel's CIDRs
      routing_table = 0
    }}""")
        self.gw2 = Charon(self, "gw2", self.ns["gw2"], PLUGINS_GW2)
        self.charons = (self.gw1, self.gw2)

    # ---- namespaces ----

    def sh(self, ns, *cmd, check=True, timeout=60):
        return run(["ip", "netns", "exec", self.ns[ns], *cmd], check=check, timeout=timeout)

    def _veth(self, end1, ns1, end2, ns2):
        run(["ip", "link", "add", self.dev[end1], "netns", self.ns[ns1], "address",
             self.mac[end1], "type", "veth", "peer", "name", self.dev[end2], "netns",
             self.ns[ns2], "address", self.mac[end2]])
        for end, ns in ((end1, ns1), (end2, ns2)):
            # FACTS.md: without this TCP and UDP arrive with bad checksums after af_packet.
            self.sh(ns, "ethtool", "-K", self.dev[end], "tx", "off", "rx", "off")

    def _address(self, ns, end, address):
        self.sh(ns, "ip", "addr", "add", address, "dev", self.dev[end])
        self.sh(ns, "ip", "link", "set", self.dev[end], "up")

    def up(self):
        say(f"lab {self.tag}: namespaces {', '.join(self.ns.values())}, work folder {self.workdir}")
        for key in ("a", "gw1", "gw2", "b"):
            run(["ip", "netns", "add", self.ns[key]])
            self.created_ns.append(self.ns[key])
            self.sh(key, "ip", "link", "set", "lo", "up")
            self.sh(key, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0")
        self._veth("a", "a", "gw1_lan", "gw1")
        self._veth("gw1_wan", "gw1", "gw2_wan", "gw2")
        self._veth("gw2_lan", "gw2", "b", "b")
        self._address("a", "a", f"{A_IP}/24")
        self.sh("a", "ip", "route", "add", "default", "via", GW1_LAN)
        self._address("b", "b", f"{B_IP}/24")
        self.sh("b", "ip", "route", "add", "default", "via", GW2_LAN)
        for end in ("gw1_lan", "gw1_wan"):
            # espgw's wires: no address, no ARP; gw1's kernel hears them only through the taps.
            self.sh("gw1", "ip", "link", "set", self.dev[end], "arp", "off", "up")
        self._address("gw2", "gw2_wan", f"{GW2_WAN}/24")
        self._address("gw2", "gw2_lan", f"{GW2_LAN}/24")
        self.sh("gw2", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.write_espgw_config()
        self.write_swanctl()

    # ---- espgw ----

    def write_espgw_config(self, tunnel=TUNNEL):
        """espgw's config; another tunnel name gives the tunnel another if_id than charon's."""
        secrets_file = os.path.join(self.espgw_dir, "secrets.yaml")
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"psk:\n  {tunnel}: {self.psk}\n")
        self.espgw_config = os.path.join(self.espgw_dir, "espgw.yaml")
        with open(self.espgw_config, "w") as f:
            f.write(f"""# gw1 of the IKE lab (tests/ike/ike_lab.py). The tunnel's SAs come from charon.
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
    addresses: [{GW1_LAN}/24]
    exception: tap
tunnels:
  - name: {tunnel}
    local: {GW1_WAN}
    remote: {GW2_WAN}
    local_cidrs: [{NET_A}]
    remote_cidrs: [{NET_B}]
    nat_t: true
    ike:
      psk_ref: {tunnel}
      ike_proposals: [aes128-sha256-modp2048]
      esp_proposals: [aes128gcm16-modp2048, aes256-sha256-modp2048]
ike:
  secrets_file: {secrets_file}
  vici_socket: {self.gw1.dir}/charon.vici
""")

    def start_espgw(self):
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
        cmd = ["ip", "netns", "exec", self.ns["gw1"], self.espgw_bin, "--no-pci", "--no-huge",
               "-m", "512", "--file-prefix", self.prefix, f"--lcores=0@({cpus}),1@({cpus})",
               "--log-level=lib.eal:warning", "--", "--config", self.espgw_config]
        with open(self.espgw_log, "a") as log:
            self.espgw_proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, start_new_session=True)

        def ready():
            if self.espgw_proc.poll() is not None:
                raise LabError(f"espgw exited with {self.espgw_proc.returncode}:\n"
                               + self.espgw_log_tail())
            try:
                return self.ctl("status")
            except (OSError, LabError):
                return None

        wait_for("espgw's control socket", ready, 60)
        # charon binds to the taps' addresses: wait until the kernel has them.
        wait_for("espgw-wan's address", lambda: GW1_WAN in self.sh(
            "gw1", "ip", "-4", "addr", "show", "dev", "espgw-wan", check=False).stdout, 20)

    def stop_espgw(self, timeout=30):
        if self.espgw_proc is None:
            return None
        if self.espgw_proc.poll() is None:
            try:
                self.ctl("stop")
            except (OSError, LabError, ValueError):
                self.espgw_proc.send_signal(signal.SIGTERM)
            try:
                self.espgw_proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.espgw_proc.kill()
                self.espgw_proc.wait()
        code, self.espgw_proc = self.espgw_proc.returncode, None
        return code

    def espgw_log_tail(self, lines=40):
        try:
            with open(self.espgw_log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # ---- charon configs ----

    def write_swanctl(self, esp="aes128gcm16-modp2048, aes256-sha256-modp2048", rekey_bytes=0,
                      rekey_time=0):
        """Hand-written for gw1 (what espgw-ike will generate from espgw.yaml) and gw2. gw1 may
        narrow its ESP proposals and set byte or time lifetimes, without jitter (rand_*), so that
        the soft limit is exactly what is asked."""
        limits = ""
        if rekey_bytes:
            limits += f"\n        rekey_bytes = {rekey_bytes}\n        life_bytes = " \
                      f"{rekey_bytes * 4}\n        rand_bytes = 0"
        if rekey_time:
            limits += f"\n        rekey_time = {rekey_time}s\n        life_time = " \
                      f"{rekey_time * 3}s\n        rand_time = 0"
        with open(self.gw1.swanctl_conf, "w") as f:
            f.write(f"""connections {{
  {TUNNEL} {{
    version = 2
    local_addrs = {GW1_WAN}
    remote_addrs = {GW2_WAN}
    proposals = aes128-sha256-modp2048
    encap = yes
    local {{
      auth = psk
      id = {GW1_WAN}
    }}
    remote {{
      auth = psk
      id = {GW2_WAN}
    }}
    children {{
      {TUNNEL} {{
        local_ts = {NET_A}
        remote_ts = {NET_B}
        esp_proposals = {esp}
        if_id_in = {self.if_id}
        if_id_out = {self.if_id}{limits}
      }}
    }}
  }}
}}
secrets {{
  ike-{TUNNEL} {{
    id-1 = {GW1_WAN}
    id-2 = {GW2_WAN}
    secret = "{self.psk}"
  }}
}}
""")
        with open(self.gw2.swanctl_conf, "w") as f:
            f.write(f"""connections {{
  to-gw1 {{
    version = 2
    local_addrs = {GW2_WAN}
    remote_addrs = {GW1_WAN}
    proposals = aes128-sha256-modp2048
    encap = yes
    local {{
      auth = psk
      id = {GW2_WAN}
    }}
    remote {{
      auth = psk
      id = {GW1_WAN}
    }}
    children {{
      to-gw1 {{
        local_ts = {NET_B}
        remote_ts = {NET_A}
        esp_proposals = aes128gcm16-modp2048, aes256-sha256-modp2048
      }}
    }}
  }}
}}
secrets {{
  ike-to-gw1 {{
    id-1 = {GW2_WAN}
    id-2 = {GW1_WAN}
    secret = "{self.psk}"
  }}
}}
""")

    # ---- traffic ----

    def ping(self, src="a", dst=B_IP, count=3, check=True):
        r = self.sh(src, "ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "2", dst,
                    check=False, timeout=30)
        ok = r.returncode == 0
        if check and not ok:
            raise LabError(f"ping {src} -> {dst} failed: {r.stdout.strip()}")
        return ok

    # ---- teardown ----

    def down(self):
        errors = []
        for c in self.charons:
            try:
                c.stop(signal.SIGKILL, timeout=10)
            except Exception as e:  # noqa: BLE001 - teardown goes on
                errors.append(f"charon {c.name}: {e}")
        try:
            self.stop_espgw(timeout=15)
        except Exception as e:  # noqa: BLE001
            errors.append(f"espgw: {e}")
        for ns in reversed(self.created_ns):
            r = run(["ip", "netns", "del", ns], check=False)
            if r.returncode != 0:
                errors.append(f"ip netns del {ns}: {r.stderr.strip()}")
        self.created_ns = []
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        if os.environ.get("PLG_KEEP_WORKDIR"):
            say(f"work folder kept: {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            print("teardown problems:\n  " + "\n  ".join(errors), file=sys.stderr)

    def dump_logs(self):
        for c in self.charons:
            print(f"---- charon {c.name} log (tail) ----\n{c.log_tail(60)}", file=sys.stderr)
        print(f"---- espgw log (tail) ----\n{self.espgw_log_tail()}", file=sys.stderr)
