"""The IKE lab: charon with the kernel-espgw plugin in front of espgw, against a stock strongSwan.

    host A ------- gw1: espgw + charon (kernel-espgw) ------- gw2: charon (kernel-libipsec) ------- host B
    172.50.1.10    lan 172.50.1.1    wan 198.51.100.1          198.51.100.2    172.60.1.1          172.60.1.20

Four network namespaces joined by veth pairs; every name the lab makes starts with `plg-` (or the
`name_prefix` a test gives) and a random tag, so that labs never meet. gw1's veths carry no
address, answer no ARP and fail the reverse-path check (Lab._gateway_port): espgw owns them
through net_af_packet, and gw1's kernel (charon) sees the wire only through espgw's exception
path, the `espgw-wan` and `espgw-lan` taps that hold the ports' addresses. So
charon's IKE goes through the dataplane, and ESP never reaches gw1's kernel.

gw2 stands for the AWS VPN endpoint: a stock charon with kernel-libipsec (userspace ESP, in UDP),
listed before kernel-netlink (docs/platform-notes.md).

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

# One lab library for the e2e and IKE tests: its errors, commands and control-socket client.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
import lab  # noqa: E402
# The IKE tests take these from here.
from lab import Interrupted, LabError, on_signals_unwind, run  # noqa: E402,F401

CHARON = "/usr/lib/ipsec/charon"
SYSTEM_PLUGINS = "/usr/lib/ipsec/plugins"
PLUGINS_GW1 = "random nonce openssl kdf kernel-espgw kernel-netlink socket-default vici"
PLUGINS_GW2 = "random nonce openssl kdf kernel-libipsec kernel-netlink socket-default vici"


def say(msg):
    print(f"[ike] {msg}", flush=True)


def run_lab(lab, steps):
    """lab.up(), steps(lab), then every Stack of the lab stopped (espgw-up must exit 0); on any
    failure FAIL and the logs' tails; lab.down() however it ends. Returns the exit code."""
    on_signals_unwind()
    started = time.monotonic()
    try:
        lab.up()
        steps(lab)
        for s in lab.stacks:
            code = s.stop()
            if code != 0:
                raise LabError(f"espgw-up on {s.name} exited with {code}")
        say(f"all checks passed in {time.monotonic() - started:.0f} s")
        return 0
    except (LabError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {e}", file=sys.stderr)
        lab.dump_logs()
        return 1
    finally:
        lab.down()


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


def stop_process(proc, sig=signal.SIGTERM, timeout=30, ask=None):
    """Stops proc (a Popen, or None): ask() if given (a polite request that may raise), else
    `sig`; SIGKILL after `timeout` s. Returns its exit code, or None when there was no process."""
    if proc is None:
        return None
    if proc.poll() is None:
        asked = False
        if ask is not None:
            try:
                ask()
                asked = True
            except (OSError, LabError, ValueError):
                pass
        if not asked:
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


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


class Control(lab.Control):
    """espgw's control socket (tests/e2e/lab.py's client), with the IKE tests' view of SAs."""

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
        code, self.proc = stop_process(self.proc, sig, timeout), None
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
                "integ": fields.get("integ-alg"), "esn": fields.get("esn"),
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
            # Without this TCP and UDP arrive with bad checksums after af_packet
            # (docs/platform-notes.md).
            self.sh(ns, "ethtool", "-K", self.dev[end], "tx", "off", "rx", "off")

    def _address(self, ns, end, address):
        self.sh(ns, "ip", "addr", "add", address, "dev", self.dev[end])
        self.sh(ns, "ip", "link", "set", self.dev[end], "up")

    def _gateway_port(self, ns, end):
        """One of espgw's wires (net_af_packet): no address, no ARP, and no IP for the gateway
        namespace's kernel, which hears the wire only through espgw's tap.

        The veth stays a kernel interface in the same namespace as the tap, and af_packet takes
        a copy of each frame without stealing it: the kernel's own IPv4 receive path still gets
        every frame sent to the port's MAC (which is also the tap's). No address on the veth does
        not stop it: the route lookup finds the destination local (the address is on the tap, in
        the same namespace), and with rp_filter 0 (up() sets all and default to 0) the source is
        not checked. So IKE reached charon twice, from the veth and from the tap ("ignoring
        request with ID 1, already processing", "received retransmit of request with ID 0,
        retransmitting response", then duplicate responses at the initiator), and every
        ESP-in-UDP packet went up the kernel's UDP path as well as through espgw. `arp off`
        covers ARP only.

        Linux has no switch that turns IPv4 off on one interface; a strict reverse-path check
        (rp_filter=1) on it does that here: the route back to any source leaves through a tap
        (or nowhere), never through this veth, which has no address and no route, so the
        kernel's input route lookup drops whatever arrives on it (unicast, broadcast, multicast)
        before local delivery or forwarding, counted as TcpExtIPReversePathFilter. The kernel
        takes the larger of conf.all and conf.<dev>, so all=0 does not undo it, and it needs no
        firewall (an nft or tc ingress drop on the veth would work too, as af_packet takes its
        copy before those hooks, but adds a tool and rules to keep). tests/e2e/lab.py does the
        same. IPv6 goes off on the veth too (the labs' default already; explicit for the wire).
        watch_wire() and check_wire_unheard() prove it: nothing is taken from the veth."""
        dev = self.dev[end]
        self.sh(ns, "sysctl", "-qw", f"net.ipv4.conf.{dev}.rp_filter=1",
                f"net.ipv6.conf.{dev}.disable_ipv6=1")
        self.sh(ns, "ip", "link", "set", dev, "arp", "off", "up")

    def watch_wire(self, gw):
        """nft counters in gateway `gw`'s namespace (gw1, or gw2 where it runs espgw) of what its
        kernel takes from espgw's veths, to deliver locally or to forward; for
        check_wire_unheard(). Needs nft (scripts/lib/common.sh ESPGW_PACKAGES)."""
        ends = ", ".join(f'"{self.dev[e]}"' for e in (f"{gw}_wan", f"{gw}_lan"))
        self.sh(gw, "nft", "; ".join(
            ["add table inet espgw_wire"]
            + [f"add chain inet espgw_wire {h} {{ type filter hook {h} priority 0; }}; "
               f"add rule inet espgw_wire {h} iifname {{ {ends} }} counter"
               for h in ("input", "forward")]))

    def check_wire_unheard(self, gw):
        """LabError unless gw's kernel took nothing from espgw's veths since watch_wire(gw): all
        it hears (IKE, ICMP to it) came through the taps, once (_gateway_port)."""
        out = self.sh(gw, "nft", "list", "table", "inet", "espgw_wire").stdout
        heard = sum(int(n) for n in re.findall(r"counter packets (\d+)", out))
        if heard:
            raise LabError(f"{gw}'s kernel took {heard} packet(s) from espgw's veths, not only "
                           f"from the taps (IKE reaches charon twice):\n{out}")

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
            # espgw's wires: gw1's kernel hears them only through the taps.
            self._gateway_port("gw1", end)
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
        code = stop_process(self.espgw_proc, timeout=timeout, ask=lambda: self.ctl("stop"))
        self.espgw_proc = None
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


# ==== The full stack: espgw, charon with kernel-espgw and espgw-ike, started by espgw-up ========
#
#     host A ------- gw1: espgw-up (espgw, charon, espgw-ike) ------- gw2 ------- host B
#     172.50.1.10    lan 172.50.1.1   wan 198.51.100.1         198.51.100.2   172.60.1.1  172.60.1.20
#
# gw2 is a stock strongSwan with kernel-libipsec (StackLab(peer="strongswan"), standing for the AWS
# VPN endpoint) or the full stack again (peer="espgw"). Each stack runs scripts/espgw-up inside
# its namespace, in a mount namespace of its own with a private /run (charon's pid file) and the
# plugin folder overlay (Charon above); what espgw-up starts inherits both. espgw-up supervises:
# tests kill its children (Stack.kill) and watch them come back (Stack.pids).

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ESPGW_UP = os.path.join(ROOT, "scripts", "espgw-up")
E2E_TOOLS = os.path.join(ROOT, "tests", "labkit", "tools.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# StackLab(nat=True): gw1 behind a 1:1 NAT, as an EC2 instance behind its Elastic IP. gw1's WAN
# port has the private address; the "inet" namespace routes and translates it to the public one.
GW1_PRIVATE = "172.31.1.10"
GW1_EIP = "203.0.113.10"
INET_PRIVATE = "172.31.1.1"  # the VPC router, as gw1 sees it
INET_PUBLIC = "198.51.100.254"

# Every ESP proposal the interop matrix negotiates, as espgw's config and strongSwan write them,
# with the algorithm espgw's `sas` shows and charon's encr-alg/keysize/integ-alg.
ESP_CASES = {
    "aes128gcm16": ("AES_GCM_16", "128", None),
    "aes256gcm16": ("AES_GCM_16", "256", None),
    "aes128-sha256": ("AES_CBC", "128", "HMAC_SHA2_256_128"),
    "aes256-sha256": ("AES_CBC", "256", "HMAC_SHA2_256_128"),
    "aes128-sha1": ("AES_CBC", "128", "HMAC_SHA1_96"),
}


def stack_skip_reason(build, nat=False):
    """Why the full stack cannot run here, or None (on top of skip_reason())."""
    reason = skip_reason()
    if reason:
        return reason
    for tool in ("iperf3", "nft") if nat else ("iperf3",):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/lib/common.sh ESPGW_PACKAGES)"
    for rel in ("dataplane/espgw", "ike-bridge/espgw_ike/espgw-ike", "config/espgw-config-check",
                "dataplane/espgwctl"):
        if not os.access(os.path.join(build, rel), os.X_OK):
            return f"{rel} is not built in {build}"
    return None


def plugin_overlay(folder, plugin):
    """The system's charon plugins plus the one under test, in a folder to bind over
    /usr/lib/ipsec/plugins (charon loads plugins only from there, by name)."""
    os.makedirs(folder, exist_ok=True)
    for so in glob.glob(f"{SYSTEM_PLUGINS}/*.so"):
        shutil.copy(so, folder)
    shutil.copy(plugin, os.path.join(folder, "libstrongswan-kernel-espgw.so"))


def tunnel_yaml(name, local, remote, local_cidrs, remote_cidrs, psk_ref, *, version=2,
                esp=("aes128gcm16-modp2048",), ike=("aes128-sha256-modp2048",),
                replay_window=None, start_action="start", nat_t=True, extra_ike="", mss=None):
    """One tunnel of espgw's config with an ike section (DPD and lifetimes at their defaults,
    AWS's; extra_ike: more lines of it, each "\n      key: value")."""
    rw = f"\n    replay_window: {replay_window}" if replay_window is not None else ""
    if mss is not None:
        rw += f"\n    mss: {mss}"
    return f"""  - name: {name}
    local: {local}
    remote: {remote}
    local_cidrs: [{local_cidrs}]
    remote_cidrs: [{remote_cidrs}]
    nat_t: {'true' if nat_t else 'false'}{rw}
    ike:
      version: {version}
      psk_ref: {psk_ref}
      ike_proposals: [{', '.join(ike)}]
      esp_proposals: [{', '.join(esp)}]
      start_action: {start_action}{extra_ike}
"""


class Stack:
    """One gateway's espgw + charon (kernel-espgw) + espgw-ike, under scripts/espgw-up."""

    CHARON_LOG_SETTINGS = "default = 1\n      knl = 2\n      ike = 1\n      cfg = 1"

    def __init__(self, lab, name, ns, ports, wan, lan, psk, idle_sleep_us=200):
        self.lab = lab
        self.name = name
        self.ns = ns
        self.ports = ports  # {"wan": veth, "lan": veth}
        self.wan, self.lan = wan, lan  # "198.51.100.1/24"
        self.psk = psk
        self.idle_sleep_us = idle_sleep_us
        self.dir = os.path.join(lab.workdir, name)
        self.run_dir = os.path.join(self.dir, "run")
        self.plugin_dir = os.path.join(self.dir, "plugins")
        self.log_dir = os.path.join(self.dir, "log")
        for d in (self.run_dir, self.log_dir):
            os.makedirs(d, exist_ok=True)
        self.config = os.path.join(self.dir, "espgw.yaml")
        self.secrets = os.path.join(self.dir, "secrets.yaml")
        self.socket = os.path.join(self.dir, "espgw.sock")
        self.vici = os.path.join(self.dir, "charon.vici")
        self.ike_socket = os.path.join(self.dir, "espgw-ike.sock")
        self.state_file = os.path.join(self.dir, "espgw-up.json")
        self.up_log = os.path.join(self.log_dir, "espgw-up.log")
        self.include = os.path.join(self.dir, "charon-lab.conf")
        self.prefix = f"{lab.prefix}-{lab.tag}-{name}"  # DPDK --file-prefix
        self.ctl = Control(self.socket)
        self.proc = None
        plugin_overlay(self.plugin_dir, lab.plugin)
        # The lab's charon settings on top of espgw-up's: quick retransmits, a detailed log.
        with open(self.include, "w") as f:
            f.write(f"""charon {{
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 4
  filelog {{
    espgw {{
      path = {self.log_dir}/charon.log
      time_format = %H:%M:%S
      {self.CHARON_LOG_SETTINGS}
    }}
  }}
}}
""")

    # ---- config ----

    def write_config(self, tunnels_yaml, routes_yaml=""):
        # framecnt: af_packet ring frames per queue (the PMD's default is 512); on two shared
        # vCPUs a deep ring rides out a worker that is off its CPU (tests/e2e/lab.py).
        fd = os.open(self.secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("psk:\n" + "".join(f"  {k}: {v}\n" for k, v in self.psk.items()))
        with open(self.config, "w") as f:
            f.write(f"""# {self.name} of the IKE lab (tests/ike/ike_lab.py, Stack): SAs from charon.
dataplane:
  workers: 1
  control_socket: {self.socket}
  idle_sleep_us: {self.idle_sleep_us}
interfaces:
  - name: wan
    device: net_af_packet0,iface={self.ports['wan']},framecnt=4096
    addresses: [{self.wan}]
    exception: tap
  - name: lan
    device: net_af_packet1,iface={self.ports['lan']},framecnt=4096
    addresses: [{self.lan}]
    exception: tap
{routes_yaml}tunnels:
{tunnels_yaml}
ike:
  secrets_file: {self.secrets}
  vici_socket: {self.vici}
""")

    # ---- processes ----

    def start(self, timeout=120):
        """espgw-up in the namespace; returns once it says all three are up."""
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
        up = [PYTHON, ESPGW_UP, "run", "-c", self.config, "--build", self.lab.build,
              "--log-dir", self.log_dir, "--state-file", self.state_file, *self.up_options(),
              "--",
              "--no-pci", "--no-huge", "-m", "512", "--file-prefix", self.prefix,
              f"--lcores=0@({cpus}),1@({cpus})", "--log-level=lib.eal:warning"]
        mounts = (f"mount --bind {self.run_dir} /run && "
                  f"mount --bind {self.plugin_dir} {SYSTEM_PLUGINS}")
        cmd = ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private",
               "sh", "-c", f"{mounts} && exec \"$@\"", "sh", *up]
        mark = self.log_size()
        with open(self.up_log, "a") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

        def up_now():
            if self.proc.poll() is not None:
                raise LabError(f"espgw-up on {self.name} exited with {self.proc.returncode}:\n"
                               + self.tail("espgw-up"))
            return "all three are up" in self.log_text("espgw-up")[mark:]

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
        code, self.proc = stop_process(self.proc, timeout=timeout), None
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

    def kill(self, child, sig=signal.SIGKILL):
        pid = self.pids()[0].get(child)
        if not pid:
            raise LabError(f"{self.name}: {child} is not running")
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, child, old_pid, timeout=60):
        """espgw-up started `child` again and it is ready."""
        def back():
            pid = self.pids()[0].get(child)
            return pid if pid and pid != old_pid else None

        pid = wait_for(f"espgw-up on {self.name} to start {child} again", back, timeout, 0.1)
        ready = {"espgw": lambda: self.ask(self.socket), "charon": lambda: self.swanctl(
            "--stats", check=False).returncode == 0,
            "espgw-ike": lambda: self.ask(self.ike_socket)}[child]
        wait_for(f"{child} on {self.name} ready again", ready, timeout, 0.1)
        return pid

    @staticmethod
    def ask(path):
        try:
            return Control(path)("status")
        except (OSError, LabError, ValueError):
            return None

    # ---- charon and espgw-ike ----

    def swanctl(self, *args, check=True, timeout=60):
        return run(["swanctl", *args, "--uri", f"unix://{self.vici}"], check=check,
                   timeout=timeout)

    def child_sas(self, child):
        """charon's CHILD_SAs of that name (Charon.child_sas)."""
        return Charon.child_sas(self, child)

    def installed(self, child):
        return [c for c in self.child_sas(child) if c["state"] == "INSTALLED"]

    def ike_status(self):
        return Control(self.ike_socket)("status")

    def ike_sas(self, conn):
        """charon's IKE_SAs of a connection: [{"version", "state", "uniqueid"}, and
        "initiator": "yes" where this side initiated]."""
        out = self.swanctl("--list-sas", "--raw", "--noblock", "--ike", conn).stdout
        return [dict(re.findall(r"\b(uniqueid|version|state|initiator)=(\S+)", m.group(1)))
                for m in re.finditer(r"\b" + re.escape(conn) + r" \{(.*?)child-sas", out)]

    # ---- logs ----

    def log_text(self, which):
        try:
            with open(os.path.join(self.log_dir, f"{which}.log")) as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, which, lines=40):
        return "".join(self.log_text(which).splitlines(True)[-lines:])

    def dump_logs(self):
        for which in ("espgw-up", "espgw", "charon", "espgw-ike"):
            print(f"---- {self.name} {which}.log (tail) ----\n{self.tail(which, 50)}",
                  file=sys.stderr)


class StackLab:
    """A - gw1 (Stack) - gw2 (stock strongSwan or a Stack) - B; see the comment above Stack.

    gw1's tunnel is TUNNEL; on a stock peer gw2 has one connection per IKE version (v2, v1) whose
    child takes every proposal of ESP_CASES, so that gw1 picks the proposal by its config."""

    gw1_class = Stack  # a subclass may run gw1 another way (test_aws_failover.py)

    def __init__(self, build, plugin, peer="strongswan", prefix="ii", idle_sleep_us=200,
                 nat=False):
        self.build = os.path.abspath(build)
        self.plugin = os.path.abspath(plugin)
        self.peer = peer
        self.nat = nat
        # gw1's WAN address, and the address (and IKE identity) the peer knows it by.
        self.gw1_wan = GW1_PRIVATE if nat else GW1_WAN
        self.gw1_public = GW1_EIP if nat else GW1_WAN
        self.prefix = prefix
        self.tag = secrets.token_hex(2)
        self.workdir = tempfile.mkdtemp(prefix=f"{prefix}-{self.tag}-")
        os.chmod(self.workdir, 0o700)
        t = self.tag
        names = ("a", "gw1", "inet", "gw2", "b") if nat else ("a", "gw1", "gw2", "b")
        self.ns = {n: f"{prefix}-{t}-{n}" for n in names}
        self.dev = {"a": f"{prefix}-{t}-a", "gw1_lan": f"{prefix}-{t}-1l",
                    "gw1_wan": f"{prefix}-{t}-1w", "gw2_wan": f"{prefix}-{t}-2w",
                    "gw2_lan": f"{prefix}-{t}-2l", "b": f"{prefix}-{t}-b"}
        if nat:
            self.dev.update(inet1=f"{prefix}-{t}-i1", inet2=f"{prefix}-{t}-i2")
        self.mac = {k: f"02:50:1d:00:00:{i + 1:02x}" for i, k in enumerate(self.dev)}
        self.created_ns = []
        self.procs = []
        self.psk = secrets.token_urlsafe(24)
        self.gw1 = self.gw1_class(self, "gw1", self.ns["gw1"],
                                  {"wan": self.dev["gw1_wan"], "lan": self.dev["gw1_lan"]},
                                  f"{self.gw1_wan}/24", f"{GW1_LAN}/24", {TUNNEL: self.psk},
                                  idle_sleep_us)
        if peer == "espgw":
            self.gw2 = Stack(self, "gw2", self.ns["gw2"],
                             {"wan": self.dev["gw2_wan"], "lan": self.dev["gw2_lan"]},
                             f"{GW2_WAN}/24", f"{GW2_LAN}/24", {"to-gw1": self.psk},
                             idle_sleep_us)
        else:
            self.gw2 = Charon(self, "gw2", self.ns["gw2"], PLUGINS_GW2)
        self.stacks = [s for s in (self.gw1, self.gw2) if isinstance(s, Stack)]

    # ---- namespaces (as Lab) ----

    sh = Lab.sh
    _veth = Lab._veth
    _address = Lab._address
    _gateway_port = Lab._gateway_port
    watch_wire = Lab.watch_wire
    check_wire_unheard = Lab.check_wire_unheard

    def up(self):
        say(f"lab {self.tag}: namespaces {', '.join(self.ns.values())}, work folder "
            f"{self.workdir}")
        for key in self.ns:
            run(["ip", "netns", "add", self.ns[key]])
            self.created_ns.append(self.ns[key])
            self.sh(key, "ip", "link", "set", "lo", "up")
            self.sh(key, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0")
        self._veth("a", "a", "gw1_lan", "gw1")
        if self.nat:
            self._veth("gw1_wan", "gw1", "inet1", "inet")
            self._veth("inet2", "inet", "gw2_wan", "gw2")
            self._address("inet", "inet1", f"{INET_PRIVATE}/24")
            self._address("inet", "inet2", f"{INET_PUBLIC}/24")
            self.sh("inet", "sysctl", "-qw", "net.ipv4.ip_forward=1")
            # A 1:1 NAT as an Elastic IP's: addresses translated, ports kept where they can be.
            r = subprocess.run(["ip", "netns", "exec", self.ns["inet"], "nft", "-f", "-"],
                               input=f"""table ip eip {{
  chain pre {{ type nat hook prerouting priority -100; ip daddr {GW1_EIP} dnat to {GW1_PRIVATE}; }}
  chain post {{ type nat hook postrouting priority 100; ip saddr {GW1_PRIVATE} snat to {GW1_EIP}; }}
}}
""", capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise LabError(f"nft in {self.ns['inet']}: {r.stderr.strip()}")
        else:
            self._veth("gw1_wan", "gw1", "gw2_wan", "gw2")
        self._veth("gw2_lan", "gw2", "b", "b")
        self._address("a", "a", f"{A_IP}/24")
        self.sh("a", "ip", "route", "add", "default", "via", GW1_LAN)
        self._address("b", "b", f"{B_IP}/24")
        self.sh("b", "ip", "route", "add", "default", "via", GW2_LAN)
        for gw in ("gw1", "gw2") if self.peer == "espgw" else ("gw1",):
            for end in (f"{gw}_lan", f"{gw}_wan"):
                # espgw's wires: the kernel hears them only through the taps.
                self._gateway_port(gw, end)
        if self.peer != "espgw":
            self._address("gw2", "gw2_wan", f"{GW2_WAN}/24")
            self._address("gw2", "gw2_lan", f"{GW2_LAN}/24")
            self.sh("gw2", "sysctl", "-qw", "net.ipv4.ip_forward=1")
            if self.nat:
                self.sh("gw2", "ip", "route", "add", f"{GW1_EIP}/32", "via", INET_PUBLIC)
        return self

    # ---- configs ----

    def configure_gw1(self, **kw):
        """gw1's config with TUNNEL; keyword arguments go to tunnel_yaml()."""
        routes = ""
        if self.nat:
            # To the peer through the VPC router; the tap gets the route too (IKE).
            routes = f"routes:\n  - prefix: {GW2_WAN}/32\n    via: {INET_PRIVATE}\n    interface: wan\n"
            kw["extra_ike"] = kw.get("extra_ike", "") + f"\n      local_id: {GW1_EIP}"
        self.gw1.write_config(tunnel_yaml(TUNNEL, self.gw1_wan, GW2_WAN, NET_A, NET_B, TUNNEL,
                                          **kw), routes)

    def configure_gw2(self, **kw):
        """A Stack gw2: the mirror of gw1's tunnel, responder by default."""
        kw.setdefault("start_action", "none")
        routes = ""
        if self.nat:
            routes = f"routes:\n  - prefix: {GW1_EIP}/32\n    via: {INET_PUBLIC}\n    interface: wan\n"
        self.gw2.write_config(tunnel_yaml("to-gw1", GW2_WAN, self.gw1_public, NET_B, NET_A,
                                          "to-gw1", **kw), routes)

    def write_peer_swanctl(self, ike=("aes128-sha256-modp2048",), esp=None):
        """The stock peer's swanctl.conf: a connection for IKEv2 and one for IKEv1, each child
        with every ESP proposal of ESP_CASES (one child, all proposals: a responder picks the child
        by traffic selectors, docs/platform-notes.md)."""
        esp = esp or [f"{p}-modp2048" for p in ESP_CASES]
        conns = ""
        for version in (2, 1):
            conns += f"""  v{version} {{
    version = {version}
    local_addrs = {GW2_WAN}
    remote_addrs = {self.gw1_public}
    proposals = {', '.join(ike)}
    encap = yes
    local {{
      auth = psk
      id = {GW2_WAN}
    }}
    remote {{
      auth = psk
      id = {self.gw1_public}
    }}
    children {{
      v{version} {{
        local_ts = {NET_B}
        remote_ts = {NET_A}
        esp_proposals = {', '.join(esp)}
      }}
    }}
  }}
"""
        with open(self.gw2.swanctl_conf, "w") as f:
            f.write(f"""connections {{
{conns}}}
secrets {{
  ike-gw1 {{
    id-1 = {GW2_WAN}
    id-2 = {self.gw1_public}
    secret = "{self.psk}"
  }}
}}
""")

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
            sas = self.gw1.ctl.sas()
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
                 lambda: set(self.gw1.ctl.sas()) == want, timeout, 0.2)

    def mirrors_charon(self, child, timeout=15):
        """gw1's espgw holds only SAs that gw1's charon knows (a rekeyed CHILD_SA's inbound SA
        may stay: IKEv1 keeps it until it expires, IKEv2 a few seconds), this CHILD_SA's two
        among them, and its outbound SA is the one in use."""

        def check():
            children = self.gw1.child_sas(TUNNEL)
            known = {("in", c["spi_in"]) for c in children} | {("out", c["spi_out"])
                                                                 for c in children}
            sas = self.gw1.ctl.sas()
            return (set(sas) <= known and ("in", child["spi_in"]) in sas
                    and sas.get(("out", child["spi_out"]), {}).get("in_use"))

        wait_for("gw1's espgw holding the SAs charon has, the current one in use", check,
                 timeout, 0.2)

    # ---- traffic ----

    def ping(self, src="a", dst=B_IP, count=3, check=True, interval=0.2):
        r = self.sh(src, "ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "2",
                    dst, check=False, timeout=30 + count)
        ok = r.returncode == 0
        if check and not ok:
            raise LabError(f"ping {src} -> {dst} failed: {r.stdout.strip()}")
        return ok

    def wait_ping(self, timeout=30):
        """The path carries a ping (ARP on every hop first)."""
        wait_for("a ping A -> B through the tunnel",
                 lambda: self.ping(count=1, check=False), timeout, 0)

    def spawn(self, ns, *cmd):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[ns], *cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def _result(self, p, what, timeout):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            p.kill()
            p.communicate()
            raise LabError(f"{what}: no result after {timeout} s") from e
        if p.returncode != 0:
            raise LabError(f"{what}: exit {p.returncode}: {out}{err}")
        return json.loads(out.strip().splitlines()[-1])

    def tcp_transfer(self, nbytes, src="a", dst="b", dst_ip=B_IP, port=5300, seed=1):
        """nbytes of pseudo-random data over TCP (tests/e2e/tools.py); the SHA-256 of what was
        sent and of what arrived must agree."""
        recv = self.spawn(dst, PYTHON, E2E_TOOLS, "tcp-recv", "--bind", dst_ip, "--port",
                          str(port))
        if recv.stdout.readline().strip() != "ready":
            raise LabError(f"tcp-recv in {dst} did not start: {recv.stderr.read()}")
        send = self.spawn(src, PYTHON, E2E_TOOLS, "tcp-send", "--to", dst_ip, "--port",
                          str(port), "--bytes", str(nbytes), "--seed", str(seed))
        if send.stdout.readline().strip() != "ready":
            raise LabError(f"tcp-send in {src} did not start: {send.stderr.read()}")
        s = self._result(send, f"tcp-send {src} -> {dst}", 120)
        r = self._result(recv, f"tcp-recv in {dst}", 60)
        if r["bytes"] != nbytes or r["sha256"] != s["sha256"]:
            raise LabError(f"TCP {src} -> {dst}: sent {nbytes} bytes sha256 {s['sha256']}, "
                           f"received {r['bytes']} bytes sha256 {r['sha256']}")
        return {"bytes": nbytes, "sha256": s["sha256"], "seconds": s["seconds"]}

    def iperf3(self, seconds=3, reverse=False, client="a", server="b", server_ip=B_IP,
               port=5201):
        """One TCP iperf3 run; {"bps", "retransmits", "bytes"} at the receiver."""
        srv = self.spawn(server, "iperf3", "-s", "-1", "-B", server_ip, "-p", str(port))
        wait_for(f"iperf3 listening in {server}", lambda: self.sh(
            server, "ss", "-Hlnt", f"sport = :{port}").stdout.strip(), 10)
        cmd = ["iperf3", "-c", server_ip, "-p", str(port), "-t", str(seconds), "-J"]
        if reverse:
            cmd.append("-R")
        r = self.sh(client, *cmd, check=False, timeout=seconds + 60)
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
        try:
            j = json.loads(r.stdout)
        except ValueError as e:
            raise LabError(f"iperf3 {client} -> {server}: {r.stdout}{r.stderr}") from e
        if "error" in j:
            raise LabError(f"iperf3 {client} -> {server}: {j['error']}")
        end = j["end"]
        return {"bps": end["sum_received"]["bits_per_second"],
                "retransmits": end["sum_sent"].get("retransmits", 0),
                "bytes": end["sum_received"]["bytes"]}

    # ---- teardown ----

    def down(self):
        errors = []
        try:
            saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread
            saved = {}
        try:
            for p in self.procs:
                if p.poll() is None:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait(10)
            self.procs = []
            for s in self.stacks:
                try:
                    s.stop(timeout=60)
                except Exception as e:  # noqa: BLE001 - teardown goes on
                    errors.append(f"{s.name}: {e}")
            if isinstance(self.gw2, Charon):
                try:
                    self.gw2.stop(signal.SIGKILL, timeout=10)
                except Exception as e:  # noqa: BLE001
                    errors.append(f"charon gw2: {e}")
            for ns in reversed(self.created_ns):
                # Whatever is left inside was started by this lab (the namespaces are ours).
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
            for s in self.stacks:
                shutil.rmtree(f"/var/run/dpdk/{s.prefix}", ignore_errors=True)
            if os.environ.get("PLG_KEEP_WORKDIR"):
                say(f"work folder kept: {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
            if errors:
                print("teardown problems:\n  " + "\n  ".join(errors), file=sys.stderr)
        finally:
            for s, h in saved.items():
                signal.signal(s, h)
        return errors

    def dump_logs(self):
        for s in self.stacks:
            s.dump_logs()
        if isinstance(self.gw2, Charon):
            print(f"---- charon gw2 log (tail) ----\n{self.gw2.log_tail(60)}", file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()
        return False
