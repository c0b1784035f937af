#!/usr/bin/env python3
"""espgw-ike against two real charons (strongSwan 5.9.8), no dataplane.

    [host ha] --lan-- [charon A] ==wan 192.0.2.0/24== [charon B] --lan-- [host hb]
    10.1.0.10           espgw-ike                    swanctl.conf        10.2.0.10
    10.11.0.10          drives it                                        10.12.0.10

Four network namespaces (vici-<tag>-a, -b, -ha, -hb). Each charon has kernel-libipsec (the kernel
here has no ESP) before kernel-netlink, and the vici plugin on a socket in the test's folder; a
private /run each (charon's pid file). Side A is driven by espgw-ike from an espgw config with two
tunnels: t2 (IKEv2) and t1 (IKEv1 main mode). Side B loads a hand-written swanctl.conf.

Proves, in order: connections and keys loaded (list-conns, get-shared, through a second VICI
implementation), both tunnels established with the configured proposals and if_ids, traffic
through both (ping between the hosts, again after the rekeys), events logged (up, rekeys
started from B), the status socket (mode 0600, espgwctl ike status; a second espgw-ike on it
refuses to start), no key in any log or answer; SIGHUP unchanged touches
nothing, a changed proposal reloads only that tunnel, a removed tunnel is unloaded; charon
restarted -> espgw-ike reloads; SIGTERM leaves charon's state alone. Every wait is bounded.
Exit 77 (skip) where root, charon, swanctl or /dev/net/tun are missing.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from labkit.control import tunnel_if_id
from vici_py import Vici

SKIP = 77
CHARON = "/usr/lib/ipsec/charon"
PLUGINS = "/usr/lib/ipsec/plugins"
PSK = {"t2": "lab-psk-t2-" + secrets.token_hex(8), "t1": "lab-psk-t1-" + secrets.token_hex(8)}


def log(msg):
    print("[ike_vici] " + msg, flush=True)


def run(cmd, check=True, ns=None, **kw):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


def wait_for(what, pred, timeout=20.0, interval=0.1):
    """Polls pred() until it returns something true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ConnectionError, KeyError, ValueError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s%s" %
                         (timeout, what, " (last error: %s)" % last_error if last_error else ""))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Lab:
    def __init__(self, work, tag):
        self.work = work
        self.tag = tag
        self.ns = {k: "vici-%s-%s" % (tag, k) for k in ("a", "b", "ha", "hb")}
        self.links = ["vici-%s-%s" % (tag, k) for k in ("aw", "bw", "al", "ha", "bl", "hb")]
        self.charons = {}
        self.ike = None
        self.ike_log = os.path.join(work, "espgw-ike.log")

    # ---- network ----------------------------------------------------------------------------
    def setup_network(self):
        for ns in self.ns.values():
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "set", "lo", "up"], ns=ns)
        t = self.tag

        def veth(a, ns_a, b, ns_b):
            run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
            run(["ip", "link", "set", a, "netns", self.ns[ns_a]])
            run(["ip", "link", "set", b, "netns", self.ns[ns_b]])

        veth("vici-%s-aw" % t, "a", "vici-%s-bw" % t, "b")
        veth("vici-%s-al" % t, "a", "vici-%s-ha" % t, "ha")
        veth("vici-%s-bl" % t, "b", "vici-%s-hb" % t, "hb")
        addrs = {
            ("a", "aw"): ["192.0.2.1/24", "192.0.2.11/24"],
            ("b", "bw"): ["192.0.2.2/24", "192.0.2.12/24"],
            ("a", "al"): ["10.1.0.1/24", "10.11.0.1/24"],
            ("ha", "ha"): ["10.1.0.10/24", "10.11.0.10/24"],
            ("b", "bl"): ["10.2.0.1/24", "10.12.0.1/24"],
            ("hb", "hb"): ["10.2.0.10/24", "10.12.0.10/24"],
        }
        for (ns, dev), prefixes in addrs.items():
            name = "vici-%s-%s" % (t, dev)
            for p in prefixes:
                run(["ip", "addr", "add", p, "dev", name], ns=self.ns[ns])
            run(["ip", "link", "set", name, "up"], ns=self.ns[ns])
        run(["ip", "route", "add", "default", "via", "10.1.0.1"], ns=self.ns["ha"])
        run(["ip", "route", "add", "default", "via", "10.2.0.1"], ns=self.ns["hb"])
        for gw in ("a", "b"):
            for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                        "net.ipv4.conf.default.rp_filter=0"):
                run(["sysctl", "-qw", key], ns=self.ns[gw])

    # ---- charon -----------------------------------------------------------------------------
    def side(self, s):
        return os.path.join(self.work, s)

    def vici_path(self, s):
        return os.path.join(self.side(s), "charon.vici")

    def write_strongswan_conf(self, s):
        d = self.side(s)
        os.makedirs(os.path.join(d, "run"), exist_ok=True)
        conf = os.path.join(d, "strongswan.conf")
        with open(conf, "w") as f:
            f.write("""charon {
  load_modular = no
  # kernel-libipsec first: it provides kernel-ipsec (the kernel has no ESP); kernel-netlink
  # then provides only kernel-net.
  load = random nonce aes sha1 sha2 hmac gcm kdf openssl pem pkcs1 curve25519 kernel-libipsec kernel-netlink socket-default vici
  plugins {
    vici {
      socket = unix://%(vici)s
    }
  }
  filelog {
    lab {
      path = %(dir)s/charon.log
      time_format = %%T
      default = 1
      cfg = 2
      ike = 2
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
""" % {"vici": self.vici_path(s), "dir": d})
        return conf

    def start_charon(self, s):
        conf = self.write_strongswan_conf(s)
        d = self.side(s)
        if os.path.exists(self.vici_path(s)):
            os.unlink(self.vici_path(s))
        out = open(os.path.join(d, "charon.stdout"), "a")
        env = dict(os.environ, STRONGSWAN_CONF=conf)
        # `ip netns exec` runs the command in a mount namespace of its own: /run there is ours.
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[s], "sh", "-c",
             "mount --bind '%s/run' /run && exec %s" % (d, CHARON)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.charons[s] = p

        def ready():
            if p.poll() is not None:
                raise AssertionError("charon %s exited with %d; see %s" % (s, p.returncode, d))
            v = Vici(self.vici_path(s), timeout=2)
            try:
                return v.request("version").get("version")
            finally:
                v.close()

        version = wait_for("charon %s on %s" % (s, self.vici_path(s)), ready, timeout=20)
        log("charon %s (strongSwan %s) is up" % (s, version))

    def stop_charon(self, s, timeout=15):
        p = self.charons.pop(s, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def vici(self, s):
        return Vici(self.vici_path(s))

    # ---- espgw-ike ----------------------------------------------------------------------------
    def start_ike(self, exe, config, extra=()):
        self.ike_out = open(self.ike_log, "a")
        self.ike = subprocess.Popen([exe, "--config", config, "--foreground"] + list(extra),
                                    stdout=self.ike_out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def ike_lines(self):
        with open(self.ike_log) as f:
            return f.read().splitlines()

    def wait_log(self, what, pattern, after=0, timeout=20.0):
        """The first espgw-ike log line after line number `after` that matches."""
        rx = re.compile(pattern)

        def find():
            lines = self.ike_lines()
            for i in range(after, len(lines)):
                if rx.search(lines[i]):
                    return (i + 1, lines[i])
            return None

        return wait_for(what, find, timeout=timeout)

    def stop_ike(self, timeout=10):
        if self.ike is None or self.ike.poll() is not None:
            return self.ike.returncode if self.ike else None
        self.ike.send_signal(signal.SIGTERM)
        try:
            return self.ike.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.ike.kill()
            self.ike.wait(timeout=5)
            raise AssertionError("espgw-ike did not stop within %d s of SIGTERM" % timeout)

    # ---- cleanup ------------------------------------------------------------------------------
    def cleanup(self):
        if self.ike is not None and self.ike.poll() is None:
            self.ike.kill()
            self.ike.wait(timeout=5)
        for s in list(self.charons):
            try:
                self.stop_charon(s, timeout=5)
            except Exception as e:  # keep cleaning up
                log("stopping charon %s: %s" % (s, e))
        for ns in self.ns.values():
            run(["ip", "netns", "del", ns], check=False)
        for link in self.links:  # a veth not yet moved into its namespace
            run(["ip", "link", "del", link], check=False)


# ---- configs -------------------------------------------------------------------------------

def espgw_config(lab, secrets_file, t2_ike_proposals, with_t1=True):
    t1 = """
  - name: t1
    local: 192.0.2.11
    remote: 192.0.2.12
    local_cidrs: [10.11.0.0/24]
    remote_cidrs: [10.12.0.0/24]
    ike:
      version: 1
      psk_ref: t1
      ike_proposals: [aes256-sha256-modp2048]
      esp_proposals: [aes256-sha256-modp2048]
"""
    return """# espgw-ike's lab config; the dataplane is not started, so the device is any string.
interfaces:
  - name: wan
    device: net_null0
    addresses: [192.0.2.1/24, 192.0.2.11/24]
    exception: none
tunnels:
  - name: t2
    local: 192.0.2.1
    remote: 192.0.2.2
    local_cidrs: [10.1.0.0/24]
    remote_cidrs: [10.2.0.0/24]
    ike:
      version: 2
      psk_ref: t2
      ike_proposals: [%(props)s]
      esp_proposals: [aes128gcm16-modp2048]
%(t1)s
ike:
  secrets_file: %(secrets)s
  vici_socket: %(vici)s
""" % {"props": t2_ike_proposals, "t1": t1 if with_t1 else "", "secrets": secrets_file,
       "vici": lab.vici_path("a")}


SWANCTL_B = """connections {
  t2 {
    version = 2
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes128-sha256-modp2048, aes256-sha256-modp2048
    local {
      auth = psk
      id = 192.0.2.2
    }
    remote {
      auth = psk
      id = 192.0.2.1
    }
    children {
      t2 {
        local_ts = 10.2.0.0/24
        remote_ts = 10.1.0.0/24
        esp_proposals = aes128gcm16-modp2048
      }
    }
  }
  t1 {
    version = 1
    local_addrs = 192.0.2.12
    remote_addrs = 192.0.2.11
    proposals = aes256-sha256-modp2048
    local {
      auth = psk
      id = 192.0.2.12
    }
    remote {
      auth = psk
      id = 192.0.2.11
    }
    children {
      t1 {
        local_ts = 10.12.0.0/24
        remote_ts = 10.11.0.0/24
        esp_proposals = aes256-sha256-modp2048
      }
    }
  }
}
secrets {
  ike-t2 {
    id-a = 192.0.2.1
    id-b = 192.0.2.2
    secret = "%(t2)s"
  }
  ike-t1 {
    id-a = 192.0.2.11
    id-b = 192.0.2.12
    secret = "%(t1)s"
  }
}
"""


# ---- checks --------------------------------------------------------------------------------

def established(v, conn):
    """The conn's ESTABLISHED IKE_SA with an INSTALLED CHILD_SA, or None."""
    for sa in v.ike_sas(conn).get(conn, []):
        if sa.get("state") != "ESTABLISHED":
            continue
        for child in sa.get("child-sas", {}).values():
            if child.get("state") == "INSTALLED":
                return sa, child
    return None


def wait_established(lab, conn, what, timeout=30):
    def up():
        v = lab.vici("a")
        try:
            return established(v, conn)
        finally:
            v.close()
    return wait_for(what, up, timeout=timeout)


def ping(lab, src, dst):
    """From host ha to host hb, through a tunnel."""
    r = run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", src, dst], check=False,
            ns=lab.ns["ha"])
    check(r.returncode == 0, "ping %s -> %s through the tunnel failed:\n%s" %
          (src, dst, r.stdout + r.stderr))


def sa_ids(lab, conn=None):
    """{conn: sorted IKE_SA unique ids} on side A."""
    v = lab.vici("a")
    try:
        return {n: sorted(s["uniqueid"] for s in sas) for n, sas in v.ike_sas(conn).items()}
    finally:
        v.close()


def ike_status(lab, espgwctl, args):
    r = run([espgwctl] + args + ["ike", "status", "--json"])
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--espgw-ike", required=True)
    ap.add_argument("--espgwctl", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the folder (logs) afterwards")
    args = ap.parse_args()

    if os.geteuid() != 0:
        log("skipped: needs root (network namespaces)")
        return SKIP
    for need in (CHARON, "/usr/sbin/swanctl", PLUGINS + "/libstrongswan-kernel-libipsec.so",
                 PLUGINS + "/libstrongswan-vici.so", "/dev/net/tun"):
        if not os.path.exists(need):
            log("skipped: %s is missing (strongswan-charon, strongswan-swanctl, "
                "libcharon-extra-plugins)" % need)
            return SKIP
    if shutil.which("ip") is None:
        log("skipped: no ip command")
        return SKIP

    work = tempfile.mkdtemp(prefix="vici-ike-")
    lab = Lab(work, secrets.token_hex(2))
    # meson stops a test that runs too long with SIGTERM: clean up then too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    ok = False
    try:
        test(lab, args)
        ok = True
        log("all checks passed")
        return 0
    finally:
        lab.cleanup()
        if not ok:
            for f in ("espgw-ike.log", "a/charon.log", "b/charon.log"):
                p = os.path.join(work, f)
                if os.path.exists(p):
                    with open(p) as fh:
                        tail = fh.read().splitlines()[-60:]
                    print("---- %s (last %d lines)\n%s" % (f, len(tail), "\n".join(tail)))
        if args.keep or not ok:
            log("logs kept in " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def test(lab, args):
    work = lab.work
    lab.setup_network()
    lab.start_charon("a")
    lab.start_charon("b")

    with open(os.path.join(work, "b", "swanctl.conf"), "w") as f:
        f.write(SWANCTL_B % PSK)
    run(["swanctl", "--load-all", "--noprompt", "--file", os.path.join(work, "b", "swanctl.conf"),
         "--uri", "unix://" + lab.vici_path("b")])

    secrets_file = os.path.join(work, "secrets.yaml")
    fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, ("psk:\n  t2: %s\n  t1: %s\n" % (PSK["t2"], PSK["t1"])).encode())
    os.close(fd)
    config = os.path.join(work, "espgw.yaml")

    def write_config(**kw):
        with open(config, "w") as f:
            f.write(espgw_config(lab, secrets_file, **kw))

    write_config(t2_ike_proposals="aes128-sha256-modp2048")
    lab.start_ike(args.espgw_ike, config)

    # 1. Both tunnels come up, with what the config asked for.
    sa2, child2 = wait_established(lab, "t2", "t2 (IKEv2) established")
    sa1, child1 = wait_established(lab, "t1", "t1 (IKEv1 main mode) established")
    log("t2 IKE_SA #%s and t1 IKE_SA #%s established" % (sa2["uniqueid"], sa1["uniqueid"]))
    check(sa2["version"] == "2" and sa1["version"] == "1", "IKE versions: %s %s" %
          (sa2["version"], sa1["version"]))
    check((sa2.get("encr-alg"), sa2.get("encr-keysize"), sa2.get("integ-alg"), sa2.get("dh-group"))
          == ("AES_CBC", "128", "HMAC_SHA2_256_128", "MODP_2048"), "t2 IKE proposal: %s" % sa2)
    check((child2.get("encr-alg"), child2.get("encr-keysize"), child2.get("dh-group", None))
          == ("AES_GCM_16", "128", None), "t2 ESP proposal: %s" % child2)
    check((sa1.get("encr-alg"), sa1.get("encr-keysize"), sa1.get("integ-alg")) ==
          ("AES_CBC", "256", "HMAC_SHA2_256_128"), "t1 IKE proposal: %s" % sa1)
    check((child1.get("encr-alg"), child1.get("encr-keysize"), child1.get("integ-alg")) ==
          ("AES_CBC", "256", "HMAC_SHA2_256_128"), "t1 ESP proposal: %s" % child1)
    for name, child in (("t2", child2), ("t1", child1)):
        want = "%08x" % tunnel_if_id(name)
        check(child.get("if-id-in") == want and child.get("if-id-out") == want,
              "%s if_ids %s/%s, expected %s" % (name, child.get("if-id-in"),
                                                 child.get("if-id-out"), want))
        check(child.get("mode") == "TUNNEL", "%s mode %s" % (name, child.get("mode")))
    check(child2["local-ts"] == ["10.1.0.0/24"] and child2["remote-ts"] == ["10.2.0.0/24"],
          "t2 traffic selectors %s === %s" % (child2["local-ts"], child2["remote-ts"]))
    # The peer agrees: its SPIs are ours mirrored.
    vb = lab.vici("b")
    b2 = established(vb, "t2")
    vb.close()
    check(b2 and b2[1]["spi-in"] == child2["spi-out"] and b2[1]["spi-out"] == child2["spi-in"],
          "B's t2 SPIs %s do not mirror A's %s/%s" % (b2, child2["spi-in"], child2["spi-out"]))

    # 2. What espgw-ike loaded, as charon lists it.
    va = lab.vici("a")
    conns = va.conns()
    shared = va.shared_ids()
    va.close()
    check(set(conns) == {"t2", "t1"}, "connections loaded: %s" % sorted(conns))
    check({"espgw-ike:t2", "espgw-ike:t1"} <= set(shared), "shared keys: %s" % shared)
    c2, c1 = conns["t2"], conns["t1"]
    check(c2["version"] == "IKEv2" and c1["version"] == "IKEv1", "versions %s %s" %
          (c2["version"], c1["version"]))
    check(c2["rekey_time"] == "28260" and c2["reauth_time"] == "0", "t2 rekey/reauth: %s/%s" %
          (c2["rekey_time"], c2["reauth_time"]))
    check(c1["reauth_time"] == "28260" and c1["rekey_time"] == "0", "t1 rekey/reauth: %s/%s" %
          (c1["rekey_time"], c1["reauth_time"]))
    check(c2.get("dpd_delay") == "10" and c1.get("dpd_timeout") == "30" and
          "dpd_timeout" not in c2, "DPD: t2 %s/%s t1 %s" %
          (c2.get("dpd_delay"), c2.get("dpd_timeout"), c1.get("dpd_timeout")))
    ch = c2["children"]["t2"]
    check(ch["rekey_time"] == "3060" and ch["mode"] == "TUNNEL" and ch["dpd_action"] == "start"  # charon names restart so
          and ch["local-ts"] == ["10.1.0.0/24"], "t2's child as loaded: %s" % ch)
    check(c2["local-1"]["class"] == "pre-shared key" and c2["remote-1"]["id"] == "192.0.2.2",
          "t2 auth: %s %s" % (c2["local-1"], c2["remote-1"]))

    # 3. Traffic through both tunnels (kernel-libipsec in both charons).
    ping(lab, "10.1.0.10", "10.2.0.10")
    ping(lab, "10.11.0.10", "10.12.0.10")
    va = lab.vici("a")
    _, c = established(va, "t2")
    va.close()
    check(int(c["packets-out"]) >= 3 and int(c["packets-in"]) >= 3,
          "t2 counters after ping: in %s out %s" % (c["packets-in"], c["packets-out"]))
    log("ping through t2 and t1: ok (t2 %s packets in, %s out)" % (c["packets-in"],
                                                                c["packets-out"]))

    # 4. Events, one line each, with the SPIs charon reports.
    lab.wait_log("ike-updown for t2", r"ike-updown: tunnel t2 IKE_SA #%s up, ESTABLISHED, IKEv2 "
                 r"192\.0\.2\.1\[\d+\] <-> 192\.0\.2\.2\[\d+\].*AES_CBC-128" % sa2["uniqueid"])
    lab.wait_log("child-updown for t2", r"child-updown: tunnel t2 IKE_SA #%s CHILD_SA t2 #%s up, "
                 r"INSTALLED, ESP in UDP, SPIs in 0x%s out 0x%s, AES_GCM_16-128, "
                 r"10\.1\.0\.0/24 === 10\.2\.0\.0/24" %
                 (sa2["uniqueid"], child2["uniqueid"], child2["spi-in"], child2["spi-out"]))
    lab.wait_log("child-updown for t1", r"child-updown: tunnel t1 IKE_SA #%s CHILD_SA t1 #%s up" %
                 (sa1["uniqueid"], child1["uniqueid"]))
    # Rekeys started by the peer.
    mark = len(lab.ike_lines())
    vb = lab.vici("b")
    check(vb.request("rekey", {"child": "t2"}).get("success") == "yes", "rekey child on B")
    _, line = lab.wait_log("child-rekey for t2", r"child-rekey: tunnel t2 IKE_SA #%s CHILD_SA t2 "
                           r"#%s -> #\d+, SPIs in 0x%s out 0x%s -> in 0x[0-9a-f]{8} out "
                           r"0x[0-9a-f]{8}" % (sa2["uniqueid"], child2["uniqueid"],
                                               child2["spi-in"], child2["spi-out"]), after=mark)
    log("logged: " + line.split(" info: ", 1)[-1])
    check(vb.request("rekey", {"ike": "t2"}).get("success") == "yes", "rekey IKE on B")
    vb.close()
    _, line = lab.wait_log("ike-rekey for t2", r"ike-rekey: tunnel t2 IKE_SA #%s -> #\d+, SPIs "
                           r"[0-9a-f]{16}_i [0-9a-f]{16}_r -> " % sa2["uniqueid"], after=mark)
    log("logged: " + line.split(" info: ", 1)[-1])
    wait_for("t2's old IKE_SA gone after the rekey",
             lambda: len(sa_ids(lab, "t2").get("t2", [])) == 1 and
             sa_ids(lab, "t2")["t2"] != [sa2["uniqueid"]])

    ping(lab, "10.1.0.10", "10.2.0.10")  # through the rekeyed CHILD_SA

    # 5. The status socket: mode 0600, answers with the SAs charon has.
    status_sock = os.path.join(work, "a", "espgw-ike.sock")  # default: next to the VICI socket
    mode = stat.S_IMODE(os.stat(status_sock).st_mode)
    check(mode == 0o600, "status socket mode %o" % mode)
    sa2, child2 = wait_established(lab, "t2", "t2 after the rekeys")
    st = ike_status(lab, args.espgwctl, ["-c", config])  # the socket path from the config
    check(st["ok"] and st["charon"]["connected"] and st["charon"]["version"] == "5.9.8",
          "status: %s" % st["charon"])
    by_name = {t["name"]: t for t in st["tunnels"]}
    t2 = by_name["t2"]
    check(t2["state"] == "ESTABLISHED" and t2["loaded"] and t2["if_id"] ==
          "0x%08x" % tunnel_if_id("t2"), "status t2: %s" % t2)
    s_sa = [s for s in t2["ike_sas"] if str(s["uniqueid"]) == sa2["uniqueid"]]
    check(len(s_sa) == 1, "status t2 IKE_SAs %s, charon's #%s" % (t2["ike_sas"], sa2["uniqueid"]))
    s_child = s_sa[0]["child_sas"]
    check(any(c["spi_in"] == "0x" + child2["spi-in"] and c["spi_out"] == "0x" + child2["spi-out"]
              and c["encryption"] == "AES_GCM_16-128" and c["bytes_in"] > 0 for c in s_child),
          "status t2 CHILD_SAs %s, charon's %s/%s" % (s_child, child2["spi-in"],
                                                       child2["spi-out"]))
    check(s_sa[0]["encryption"] == "AES_CBC-128" and s_sa[0]["established_s"] >= 0,
          "status t2 IKE_SA %s" % s_sa[0])
    check(by_name["t1"]["state"] == "ESTABLISHED", "status t1: %s" % by_name["t1"]["state"])
    text = run([args.espgwctl, "-s", status_sock, "ike", "status"]).stdout
    check(re.search(r"^t2: ESTABLISHED, IKEv2 192\.0\.2\.1 <-> 192\.0\.2\.2", text, re.M) and
          ("SPIs in 0x%s out 0x%s" % (child2["spi-in"], child2["spi-out"])) in text and
          "10.1.0.0/24 === 10.2.0.0/24" in text, "espgwctl ike status:\n" + text)
    log("espgwctl ike status:\n" + text)
    # A second espgw-ike on the same status socket refuses to start and leaves the first alone.
    r = subprocess.run([args.espgw_ike, "--config", config, "--foreground"], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 1 and "status socket %s: another espgw-ike is running there" %
          status_sock in r.stderr, "second espgw-ike: exit %d: %s" % (r.returncode, r.stderr))
    check(lab.ike.poll() is None and os.path.exists(status_sock), "the first espgw-ike suffered")

    # 6. SIGHUP, config unchanged: nothing is touched.
    ids_before = sa_ids(lab)
    mark = len(lab.ike_lines())
    lab.ike.send_signal(signal.SIGHUP)
    lab.wait_log("reload of an unchanged config", r"reloaded: unchanged t2, t1$", after=mark)
    ids_after = sa_ids(lab)
    check(ids_after == ids_before, "IKE_SAs changed on an unchanged reload: %s -> %s" %
          (ids_before, ids_after))
    check(not any(re.search(r"tunnel \S+: (loaded|changed|initiating|terminated|removed)", l)
                  for l in lab.ike_lines()[mark:]),
          "an unchanged reload sent something:\n" + "\n".join(lab.ike_lines()[mark:]))
    log("SIGHUP unchanged: same IKE_SAs %s" % ids_after)

    # 7. SIGHUP, t2's IKE proposal changed: only t2 is reloaded and renegotiated.
    t1_id = ids_before["t1"]
    old_t2 = ids_before["t2"]
    write_config(t2_ike_proposals="aes256-sha256-modp2048")
    mark = len(lab.ike_lines())
    lab.ike.send_signal(signal.SIGHUP)
    lab.wait_log("reload with t2 changed",
                 r"reloaded: unchanged t1; changed t2; initiated t2$", after=mark)

    def new_t2():
        v = lab.vici("a")
        try:
            up = established(v, "t2")
            return up if up and up[0]["uniqueid"] not in old_t2 else None
        finally:
            v.close()

    sa2, child2 = wait_for("t2 renegotiated with the new proposal", new_t2)
    check(sa2.get("encr-alg") == "AES_CBC" and sa2.get("encr-keysize") == "256",
          "t2 after the change: %s-%s" % (sa2.get("encr-alg"), sa2.get("encr-keysize")))
    now = sa_ids(lab)
    check(now.get("t1") == t1_id, "t1 was touched: %s -> %s" % (t1_id, now.get("t1")))
    wait_for("t2's old IKE_SA terminated",
             lambda: not set(old_t2) & set(sa_ids(lab, "t2").get("t2", [])))
    log("SIGHUP changed t2: t2 IKE_SA #%s (AES_CBC-256), t1 kept %s" % (sa2["uniqueid"], t1_id))

    # 8. SIGHUP, t1 removed: terminated, connection and key unloaded; t2 untouched.
    write_config(t2_ike_proposals="aes256-sha256-modp2048", with_t1=False)
    mark = len(lab.ike_lines())
    lab.ike.send_signal(signal.SIGHUP)
    lab.wait_log("reload with t1 removed", r"reloaded: unchanged t2; removed t1$", after=mark)
    va = lab.vici("a")
    conns, sas, shared = va.conns(), va.ike_sas(), va.shared_ids()
    va.close()
    check(set(conns) == {"t2"}, "connections after removing t1: %s" % sorted(conns))
    check("t1" not in sas, "t1 still has IKE_SAs: %s" % sas.get("t1"))
    check("espgw-ike:t1" not in shared and "espgw-ike:t2" in shared, "shared keys %s" % shared)
    check([s["uniqueid"] for s in sas["t2"]] == [sa2["uniqueid"]], "t2 touched: %s" % sas["t2"])
    log("SIGHUP removed t1: unloaded; t2 kept IKE_SA #%s" % sa2["uniqueid"])

    # 9. charon restarts: espgw-ike notices, reconnects and loads everything again.
    mark = len(lab.ike_lines())
    lab.stop_charon("a")
    lab.wait_log("espgw-ike noticing charon's stop", r"lost charon", after=mark)
    lab.start_charon("a")
    lab.wait_log("espgw-ike reconnecting", r"connected to charon 5\.9\.8", after=mark)
    lab.wait_log("reload after the restart", r"loaded into charon: added t2; initiated t2",
                 after=mark)
    sa2, _ = wait_established(lab, "t2", "t2 established again after charon's restart")
    va = lab.vici("a")
    check(set(va.conns()) == {"t2"} and "espgw-ike:t2" in va.shared_ids(),
          "after the restart charon has %s" % sorted(va.conns()))
    va.close()
    log("charon restarted: espgw-ike reloaded, t2 IKE_SA #%s" % sa2["uniqueid"])

    # 10. No key material anywhere espgw-ike writes or answers.
    everything = "\n".join(lab.ike_lines()) + json.dumps(
        ike_status(lab, args.espgwctl, ["-s", status_sock]))
    for name, psk in PSK.items():
        check(psk not in everything, "the PSK of %s appears in espgw-ike's log or status" % name)

    # 11. SIGTERM: espgw-ike exits 0, removes its socket, leaves charon's state alone.
    rc = lab.stop_ike()
    check(rc == 0, "espgw-ike exit status %s" % rc)
    check(not os.path.exists(status_sock), "status socket left behind")
    va = lab.vici("a")
    check(set(va.conns()) == {"t2"} and established(va, "t2"), "charon's state after SIGTERM")
    va.close()
    log("SIGTERM: exit 0, charon keeps t2")


if __name__ == "__main__":
    sys.exit(main())
