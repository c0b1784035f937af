"""charon (strongSwan's IKE daemon) in a lab's namespace, and what swanctl says about it.

Each charon runs in its own mount namespace (`ip netns exec` makes one; `unshare -m` makes sure)
with a private /run bound over the real one (charon's pid file path is fixed) and its own
strongswan.conf (STRONGSWAN_CONF). A charon that loads the plugin under test also gets a private
plugin folder bound over /usr/lib/ipsec/plugins (charon loads plugins only from there, by name):
a copy of the system's plugins plus the plugin (plugin_overlay). These mounts live and die with
charon's mount namespace.
"""

import glob
import os
import re
import shutil
import signal

from labkit import proc, sanitizer
from labkit.lab import check_tools
from labkit.proc import run

CHARON = "/usr/lib/ipsec/charon"
SYSTEM_PLUGINS = "/usr/lib/ipsec/plugins"

# Quick retransmissions (1 + 1.4 + ... s, 4 tries): a lost IKE packet costs a second, not four.
LAB_RETRANSMITS = "retransmit_timeout = 1.0\n  retransmit_base = 1.4\n  retransmit_tries = 4"
LOG_LEVELS = "default = 1\n      knl = 2\n      ike = 1\n      cfg = 1"


def skip_reason():
    """Why charon cannot run in a lab here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, mounts, DPDK)"
    reason = check_tools("ip", "unshare", "mount", "ethtool", "ping", "swanctl")
    if reason:
        return reason
    if not os.access(CHARON, os.X_OK):
        return f"{CHARON} is missing (strongswan-charon)"
    for plugin in ("kernel-libipsec", "openssl", "vici", "kernel-netlink", "socket-default"):
        if not os.path.exists(f"{SYSTEM_PLUGINS}/libstrongswan-{plugin}.so"):
            return f"charon plugin {plugin} is missing (libcharon-extra-plugins, " \
                   "libstrongswan-standard-plugins)"
    return None


def plugin_overlay(folder, plugin):
    """The system's charon plugins plus the one under test, in a folder to bind over
    /usr/lib/ipsec/plugins."""
    os.makedirs(folder, exist_ok=True)
    for so in glob.glob(f"{SYSTEM_PLUGINS}/*.so"):
        shutil.copy(so, folder)
    shutil.copy(plugin, os.path.join(folder, "libstrongswan-kernel-espgw.so"))


def in_mount_namespace(ns_cmd, run_dir, plugin_dir, argv):
    """argv under `ns_cmd` (ip netns exec ...) in a private mount namespace with run_dir over
    /run and, if given, plugin_dir over the system's plugin folder."""
    mounts = f"mount --bind {run_dir} /run"
    if plugin_dir:
        mounts += f" && mount --bind {plugin_dir} {SYSTEM_PLUGINS}"
    return [*ns_cmd, "unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"{mounts} && exec \"$@\"", "sh", *argv]


def parse_child_sas(out, child):
    """The named CHILD_SAs in `swanctl --list-sas --raw` output: dicts with state, spi_in,
    spi_out (ints), bytes/packets in/out, encr, keysize, encap, reqid, integ, esn."""
    found = []
    # Each CHILD_SA is "NAME-N {k=v ... }"; values have no braces.
    for m in re.finditer(r"(\S+)-(\d+) \{([^{}]*)\}", out):
        fields = dict(re.findall(r"([\w-]+)=(\S+)", m.group(3)))
        if fields.get("name") != child:
            continue

        def num(k, fields=fields):
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
        })  # fmt: skip
    return found


class Swanctl:
    """swanctl against a charon's VICI socket (self.vici: a path)."""

    vici = None

    def swanctl(self, *args, check=True, timeout=60):
        return run(["swanctl", *args, "--uri", f"unix://{self.vici}"], check=check,
                   timeout=timeout)

    def answers(self):
        return self.swanctl("--stats", check=False).returncode == 0

    def child_sas(self, child):
        return parse_child_sas(self.swanctl("--list-sas", "--raw", "--noblock").stdout, child)

    def installed(self, child):
        return [c for c in self.child_sas(child) if c["state"] == "INSTALLED"]

    def ike_sas(self, conn):
        """charon's IKE_SAs of a connection: [{"version", "state", "uniqueid"}, and
        "initiator": "yes" where this side initiated]."""
        out = self.swanctl("--list-sas", "--raw", "--noblock", "--ike", conn).stdout
        return [dict(re.findall(r"\b(uniqueid|version|state|initiator)=(\S+)", m.group(1)))
                for m in re.finditer(r"\b" + re.escape(conn) + r" \{(.*?)child-sas", out)]


class Charon(Swanctl):
    """One charon in a namespace, with a private /run (and, with `plugin`, plugin folder)."""

    def __init__(self, lab, name, ns, load, extra_conf="", plugin=None):
        self.lab, self.name, self.ns = lab, name, ns
        self.load_list = load.split()
        self.dir = os.path.join(lab.workdir, name)
        self.run_dir = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        self.vici = os.path.join(self.dir, "charon.vici")
        self.log = os.path.join(self.dir, "charon.log")
        self.out = os.path.join(self.dir, "charon.out")
        self.plugin = plugin
        self.plugin_dir = os.path.join(self.dir, "plugins") if plugin else None
        self.proc = None
        os.makedirs(self.run_dir, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""# charon {name} of a lab (tests/labkit/charon.py)
charon {{
  load = {load}
  install_routes = {'no' if plugin else 'yes'}
  {LAB_RETRANSMITS}
  plugins {{
    vici {{
      socket = unix://{self.vici}
    }}
{extra_conf}
  }}
  filelog {{
    lab {{
      path = {self.log}
      time_format = %H:%M:%S
      flush_line = yes
      {LOG_LEVELS}
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
            plugin_overlay(self.plugin_dir, plugin)

    def start(self):
        charon = [CHARON]
        if self.plugin and os.environ.get("PLG_VALGRIND"):
            # A manual check of the plugin's memory use: PLG_VALGRIND=1 LAB_KEEP_WORKDIR=1.
            charon = ["valgrind", "-q", f"--log-file={self.dir}/valgrind.%p.log", CHARON]
        if self.plugin:
            charon = sanitizer.charon_argv(charon)
        if "kernel-libipsec" in self.load_list:
            # A stand-in peer does ESP in user space (libipsec), reading it from a UDP socket of
            # the default 208 KiB. Two labs side by side on 2 cores (meson runs two tests at once)
            # starved it for 100 ms and more and that socket overflowed: ike_rekey's missing
            # datagrams were gw2's UDP RcvbufErrors, not espgw's (nice -10 still lost some). A
            # real peer is a box of its own; here it runs ahead of the lab's other processes:
            # round-robin real-time priority (it blocks when idle; the kernel's RT throttling
            # bounds it), or nice -10 where that is refused.
            charon = ["sh", "-c", 'if chrt -r 10 true 2>/dev/null; then exec chrt -r 10 "$@"; '
                      'else exec nice -n -10 "$@"; fi', "sh"] + charon
        cmd = in_mount_namespace(self.lab.nsexec(self.ns), self.run_dir, self.plugin_dir, charon)
        self.proc = proc.start(cmd, log=self.out, env=dict(os.environ, STRONGSWAN_CONF=self.conf))
        proc.wait_for(f"charon {self.name}'s VICI socket", self.ready, 30)

    def ready(self):
        proc.alive_or_raise(self.proc, f"charon {self.name}", self.log_tail())
        return self.answers()

    def load(self):
        self.swanctl("--load-all", "--file", self.swanctl_conf)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        code, self.proc = proc.stop_process(self.proc, sig, timeout), None
        return code

    def log_text(self):
        return proc.read_text(self.log)

    def log_tail(self, lines=40):
        return proc.tail(self.log, lines)
