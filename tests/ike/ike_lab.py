"""The IKE labs: two gateways between two hosts, on labkit (tests/labkit), and what they share.

    host A ------- gw1 ------------------------------ gw2 ------- host B
    172.50.1.10    lan 172.50.1.1   wan 198.51.100.1   198.51.100.2    172.60.1.1   172.60.1.20

Four network namespaces joined by veths (Topology); with nat, gw1 sits behind a fifth, "inet",
a router with a 1:1 NAT as an EC2 instance behind its Elastic IP: gw1's WAN port has 172.31.1.10,
the peer knows it as 203.0.113.10. Each gateway that runs espgw has its veths as espgw's wires
(labkit.netns.Net.gateway_port): its kernel, and so charon, hears them only through espgw's
exception path, the `espgw-wan` and `espgw-lan` taps that hold the ports' addresses; IKE goes
through the dataplane and ESP never reaches the gateway's kernel. A gateway without espgw is a
plain router with its addresses on the veths.

The labs, one file each:
    ike_lab.py    this file, and Lab: gw1 runs espgw and charon with the kernel-espgw plugin (a
                  hand-written swanctl.conf), gw2 a stock charon with kernel-libipsec, standing for
                  the AWS VPN endpoint (test_charon_espgw.py; HaLab's base)
    stack_lab.py  Stack (espgw, charon and espgw-ike under scripts/espgw-up) and StackLab (gw1 a
                  Stack, gw2 a stock charon or a Stack)
    ha_lab.py     HaLab: Lab with espgw-ike driving gw1's charon, under load (rekey, failover)

Stack, StackLab and stack_skip_reason are importable from here too (`ike_lab.StackLab`).

Every name a lab makes starts with its prefix and a random tag; labkit.lab.Lab.down() removes it
all however the test ends (LAB_KEEP_WORKDIR=1 keeps the work folder: configs and logs).
"""

import os
import secrets
import signal
import sys
import time

from labkit import lab as labkit_lab
from labkit.charon import Charon
from labkit.control import tunnel_if_id
from labkit.espgw import Espgw
from labkit.lab import teardown
from labkit.proc import LabError, on_signals_unwind, write_secret
from labkit.proc import wait_for as labkit_wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

A_IP = "172.50.1.10"
B_IP = "172.60.1.20"
GW1_LAN = "172.50.1.1"
GW1_WAN = "198.51.100.1"
GW2_WAN = "198.51.100.2"
GW2_LAN = "172.60.1.1"
NET_A = "172.50.0.0/16"
NET_B = "172.60.0.0/16"
TUNNEL = "to-gw2"  # espgw's tunnel, charon's connection and CHILD_SA on gw1

# nat=True: gw1 behind a 1:1 NAT, as an EC2 instance behind its Elastic IP. gw1's WAN port has
# the private address; the "inet" namespace routes and translates it to the public one.
GW1_PRIVATE = "172.31.1.10"
GW1_EIP = "203.0.113.10"
INET_PRIVATE = "172.31.1.1"  # the VPC router, as gw1 sees it
INET_PUBLIC = "198.51.100.254"
EIP_NAT = f"""table ip eip {{
  chain pre {{ type nat hook prerouting priority -100; ip daddr {GW1_EIP} dnat to {GW1_PRIVATE}; }}
  chain post {{ type nat hook postrouting priority 100; ip saddr {GW1_PRIVATE} snat to {GW1_EIP}; }}
}}
"""  # addresses translated, ports kept where they can be

PLUGINS_GW1 = "random nonce openssl kdf kernel-espgw kernel-netlink socket-default vici"
PLUGINS_GW2 = "random nonce openssl kdf kernel-libipsec kernel-netlink socket-default vici"
IKE_PROPOSAL = "aes128-sha256-modp2048"

# Every ESP proposal the interop matrix negotiates, as espgw's config and strongSwan write them,
# with the algorithm espgw's `sas` shows and charon's encr-alg/keysize/integ-alg.
ESP_CASES = {
    "aes128gcm16": ("AES_GCM_16", "128", None),
    "aes256gcm16": ("AES_GCM_16", "256", None),
    "aes128-sha256": ("AES_CBC", "128", "HMAC_SHA2_256_128"),
    "aes256-sha256": ("AES_CBC", "256", "HMAC_SHA2_256_128"),
    "aes128-sha1": ("AES_CBC", "128", "HMAC_SHA1_96"),
}


def say(msg):
    print(f"[ike] {msg}", flush=True)


def wait_for(what, predicate, timeout, interval=0.1):
    """labkit's wait_for as the IKE labs wait: a LabError from the predicate (a daemon that does
    not answer yet, a swanctl that fails while charon restarts, an inner wait that timed out)
    counts as "not yet"; a ProcessDied ends the wait at once."""
    return labkit_wait_for(what, predicate, timeout, interval, retry=True)


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


# ---- config text ----

def tunnel_yaml(name, local, remote, local_cidrs, remote_cidrs, psk_ref, *, version=2,
                esp=("aes128gcm16-modp2048",), ike=(IKE_PROPOSAL,),
                replay_window=None, start_action="start", nat_t=True, extra_ike="", mss=None,
                lanes=1):
    """One tunnel of espgw's config with an ike section (DPD and lifetimes at their defaults,
    AWS's; extra_ike: more lines of it, each "\n      key: value"). lanes > 1: that many lanes
    to an espgw peer (docs/lanes.md)."""
    rw = f"\n    replay_window: {replay_window}" if replay_window is not None else ""
    if mss is not None:
        rw += f"\n    mss: {mss}"
    if lanes > 1:
        rw += f"\n    lanes: {lanes}\n    peer_kind: espgw"
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


def write_espgw_config(path, secrets_file, psks, *, title, socket, idle_sleep_us, ports, wan,
                       lan, tunnels, vici, framecnt=None, routes="", peers=""):
    """A gateway's espgw config (read by espgw and espgw-ike) and its secrets file (psks: name ->
    pre-shared key). ports: {"wan": veth, "lan": veth}; wan, lan: the ports' addresses
    ("198.51.100.1/24"); tunnels: tunnel_yaml()s; routes, peers: YAML sections, or "". framecnt:
    af_packet ring frames per queue (the PMD's default is 512); on two shared vCPUs a deep ring
    rides out a worker that is off its CPU."""
    write_secret(secrets_file, "psk:\n" + "".join(f"  {k}: {v}\n" for k, v in psks.items()))
    ring = f",framecnt={framecnt}" if framecnt else ""
    with open(path, "w") as f:
        f.write(f"""# {title}
dataplane:
  workers: 1
  control_socket: {socket}
  idle_sleep_us: {idle_sleep_us}
interfaces:
  - name: wan
    device: net_af_packet0,iface={ports['wan']}{ring}
    addresses: [{wan}]
    exception: tap
  - name: lan
    device: net_af_packet1,iface={ports['lan']}{ring}
    addresses: [{lan}]
    exception: tap
{routes}tunnels:
{tunnels}{peers}ike:
  secrets_file: {secrets_file}
  vici_socket: {vici}
""")


def swanctl_connection(name, local, remote, local_ts, remote_ts, esp, *, version=2,
                       ike=IKE_PROPOSAL, conn_extra="", child_extra=""):
    """One connection of a swanctl.conf: PSK, identities the addresses, one child of the same
    name; conn_extra, child_extra: more lines ("\n    key = value", "\n        key = value")."""
    return f"""  {name} {{
    version = {version}
    local_addrs = {local}
    remote_addrs = {remote}
    proposals = {ike}
    encap = yes{conn_extra}
    local {{
      auth = psk
      id = {local}
    }}
    remote {{
      auth = psk
      id = {remote}
    }}
    children {{
      {name} {{
        local_ts = {local_ts}
        remote_ts = {remote_ts}
        esp_proposals = {esp}{child_extra}
      }}
    }}
  }}
"""


def swanctl_secret(name, local, remote, psk):
    return f"""  ike-{name} {{
    id-1 = {local}
    id-2 = {remote}
    secret = "{psk}"
  }}
"""


def write_swanctl(path, connections, keys):
    """A swanctl.conf of swanctl_connection()s and swanctl_secret()s."""
    with open(path, "w") as f:
        f.write("connections {\n" + "".join(connections) + "}\nsecrets {\n" + "".join(keys)
                + "}\n")


# ---- the network ----

class Topology(labkit_lab.Lab):
    """A - gw1 - [inet] - gw2 - B; see the module's comment. espgw_on: the gateways whose veths
    are espgw's wires (the others route with their addresses on the veths)."""

    stacks = ()  # the lab's Stacks (stack_lab.py), stopped by run_lab

    def __init__(self, prefix, nat=False, espgw_on=("gw1",)):
        super().__init__(prefix, say=say)
        self.nat = nat
        self.espgw_on = espgw_on
        # gw1's WAN address, and the address (and IKE identity) the peer knows it by.
        self.gw1_wan = GW1_PRIVATE if nat else GW1_WAN
        self.gw1_public = GW1_EIP if nat else GW1_WAN
        self.net.declare(*(("a", "gw1", "inet", "gw2", "b") if nat else ("a", "gw1", "gw2", "b")))
        for end in ("a", "gw1_lan", "gw1_wan", "gw2_wan", "gw2_lan", "b") + (
                ("inet1", "inet2") if nat else ()):
            self.net.end(end)

    def ports(self, gw):
        """A gateway's veths as espgw's config names them: {"wan": veth, "lan": veth}."""
        return {"wan": self.dev[f"{gw}_wan"], "lan": self.dev[f"{gw}_lan"]}

    def up(self):
        net = self.net
        self.up_namespaces(*self.ns)
        net.veth("a", "a", "gw1_lan", "gw1")
        if self.nat:
            net.veth("gw1_wan", "gw1", "inet1", "inet")
            net.veth("inet2", "inet", "gw2_wan", "gw2")
            net.address("inet", "inet1", f"{INET_PRIVATE}/24")
            net.address("inet", "inet2", f"{INET_PUBLIC}/24")
            net.router("inet")
            self.sh("inet", "nft", "-f", "-", stdin=EIP_NAT)
        else:
            net.veth("gw1_wan", "gw1", "gw2_wan", "gw2")
        net.veth("gw2_lan", "gw2", "b", "b")
        net.host("a", "a", f"{A_IP}/24", GW1_LAN)
        net.host("b", "b", f"{B_IP}/24", GW2_LAN)
        for gw in self.espgw_on:
            for end in (f"{gw}_lan", f"{gw}_wan"):
                net.gateway_port(gw, end)
        if "gw2" not in self.espgw_on:
            net.address("gw2", "gw2_wan", f"{GW2_WAN}/24")
            net.address("gw2", "gw2_lan", f"{GW2_LAN}/24")
            net.router("gw2")
            if self.nat:
                self.sh("gw2", "ip", "route", "add", f"{GW1_EIP}/32", "via", INET_PUBLIC)
        return self


# ---- the plugin lab ----

class Lab(Topology):
    """gw1: espgw, and charon with kernel-espgw from a hand-written swanctl.conf (what espgw-ike
    would load); gw2: a stock charon with kernel-libipsec (userspace ESP, in UDP), listed before
    kernel-netlink (docs/platform-notes.md). Each charon runs in its own mount namespace with a
    private /run, gw1's with the plugin bound over the system's plugin folder
    (labkit.charon)."""

    mac_prefix = "02:50:1c:00:00"

    def __init__(self, espgw, plugin, idle_sleep_us=200, name_prefix="plg"):
        super().__init__(name_prefix)
        self.plugin = plugin
        self.idle_sleep_us = idle_sleep_us
        self.espgw_dir = os.path.join(self.workdir, "espgw")
        os.makedirs(self.espgw_dir)
        self.socket = os.path.join(self.espgw_dir, "espgw.sock")
        self.espgw_config = os.path.join(self.espgw_dir, "espgw.yaml")
        self.espgw = Espgw(self, "gw1", "gw1", espgw, self.espgw_config, self.socket,
                           os.path.join(self.espgw_dir, "espgw.log"))
        self.ctl = self.espgw.ctl
        self.psk = secrets.token_urlsafe(24)
        self.if_id = tunnel_if_id(TUNNEL)
        self.gw1 = Charon(self, "gw1", "gw1", PLUGINS_GW1, plugin=plugin,
                          extra_conf=f"""    kernel-espgw {{
      socket = {self.socket}
    }}
    kernel-netlink {{
      # no routes from charon here: espgw routes by the tunnel's CIDRs
      routing_table = 0
    }}""")
        self.gw2 = Charon(self, "gw2", "gw2", PLUGINS_GW2)
        self.charons = (self.gw1, self.gw2)

    def up(self):
        super().up()
        self.write_espgw_config()
        self.write_swanctl()
        return self

    # ---- espgw ----

    def write_espgw_config(self, tunnel=TUNNEL):
        """espgw's config; another tunnel name gives the tunnel another if_id than charon's."""
        self.write_gw1_config(
            {tunnel: self.psk},
            tunnel_yaml(tunnel, GW1_WAN, GW2_WAN, NET_A, NET_B, tunnel,
                        esp=("aes128gcm16-modp2048", "aes256-sha256-modp2048")),
            "gw1 of the IKE lab (tests/ike/ike_lab.py). The tunnel's SAs come from charon.")

    def write_gw1_config(self, psks, tunnels, title, peers=""):
        write_espgw_config(self.espgw_config, os.path.join(self.espgw_dir, "secrets.yaml"), psks,
                           title=title, socket=self.socket, idle_sleep_us=self.idle_sleep_us,
                           ports=self.ports("gw1"), wan=f"{GW1_WAN}/24", lan=f"{GW1_LAN}/24",
                           tunnels=tunnels, vici=self.gw1.vici, peers=peers)

    def start_espgw(self):
        self.espgw.start()
        self.espgw.wait_ready(60)
        # charon binds to the taps' addresses: wait until the kernel has them.
        wait_for("espgw-wan's address", lambda: GW1_WAN in self.sh(
            "gw1", "ip", "-4", "addr", "show", "dev", "espgw-wan", check=False).stdout, 20)

    def stop_espgw(self, timeout=30):
        return self.espgw.stop(timeout)

    # ---- charon configs ----

    def write_swanctl(self, esp="aes128gcm16-modp2048, aes256-sha256-modp2048", rekey_bytes=0,
                      rekey_time=0):
        """Hand-written for gw1 (what espgw-ike generates from espgw.yaml) and gw2. gw1 may
        narrow its ESP proposals and set byte or time lifetimes, without jitter (rand_*), so that
        the soft limit is exactly what is asked."""
        limits = f"\n        if_id_in = {self.if_id}\n        if_id_out = {self.if_id}"
        if rekey_bytes:
            limits += f"\n        rekey_bytes = {rekey_bytes}\n        life_bytes = " \
                      f"{rekey_bytes * 4}\n        rand_bytes = 0"
        if rekey_time:
            limits += f"\n        rekey_time = {rekey_time}s\n        life_time = " \
                      f"{rekey_time * 3}s\n        rand_time = 0"
        write_swanctl(self.gw1.swanctl_conf,
                      [swanctl_connection(TUNNEL, GW1_WAN, GW2_WAN, NET_A, NET_B, esp,
                                          child_extra=limits)],
                      [swanctl_secret(TUNNEL, GW1_WAN, GW2_WAN, self.psk)])
        write_swanctl(self.gw2.swanctl_conf,
                      [swanctl_connection("to-gw1", GW2_WAN, GW1_WAN, NET_B, NET_A,
                                          "aes128gcm16-modp2048, aes256-sha256-modp2048")],
                      [swanctl_secret("to-gw1", GW2_WAN, GW1_WAN, self.psk)])

    # ---- teardown ----

    def stop_daemons(self):
        return teardown([(f"charon {c.name}", lambda c=c: c.stop(signal.SIGKILL, timeout=10))
                         for c in self.charons] + [("espgw", lambda: self.espgw.stop(15))])

    def dump_logs(self):
        for c in self.charons:
            print(f"---- charon {c.name} log (tail) ----\n{c.log_tail(60)}", file=sys.stderr)
        print(f"---- espgw log (tail) ----\n{self.espgw.log_tail(40)}", file=sys.stderr)


def __getattr__(name):
    """Stack, StackLab and stack_skip_reason live in stack_lab.py (which imports this module)."""
    if name in ("Stack", "StackLab", "stack_skip_reason"):
        import stack_lab  # noqa: PLC0415 - on first use: stack_lab imports this module

        return getattr(stack_lab, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
