#!/usr/bin/env python3
"""espgw-up's SIGHUP path for FRR: a changed bgpd config applied live, without a session reset.

    test_frr_reload.py BUILD ESPGW_UP

r1 (AS 65001) is the gateway: its zebra, bfdd and bgpd run under espgw-up's own Supervisor (the
script imported; its FRR children only, each in r1's namespace), their configs rendered by
espgw-config-check from a gateway config whose tunnel t1 has inside 169.254.44.1/30 and BGP with
BFD towards 169.254.44.2. r2 (AS 65002) is a plain FRR instance (frr_kit) peering over a veth.
No espgw, charon or espgw-ike: Supervisor.reload_frr is what SIGHUP runs for FRR once the
config is read again (scripts/espgw-up Supervisor.reload).

 1. Session Established, 10.1.0.0/16 at r2, BFD up.
 2. 10.11.0.0/16 added to bgp.announce, reload_frr: applied live (r1's bgpd keeps its pid); r2
    has the prefix within 5 s; r2's connectionsEstablished and connectionsDropped unchanged, its
    session uptime went on, the BFD session too; bgpd.conf in /var/run/frr/<instance> is the new
    rendering; `show running-config` has the new lines.
 3. 10.1.0.0/16 removed (10.11.0.0/16 stays): withdrawn at r2, no reset either.
 4. bgp.maximum_paths and BFD's interval changed: bgpd and bfdd applied live, BFD still up with
    r2 seeing the new interval, no reset.
 5. bgp.router_id changed: cannot be applied live; bgpd is restarted (a new pid) and r2 sees the
    session come back with the new router id.
 6. `espgw-up frr-reload bgpd -c gw.yaml` (systemd's ExecReload) after 10.13.0.0/16 is added:
    applied live against the bgpd.conf on disk, which it rewrites (bfdd.conf untouched); r2 has
    the prefix, no reset.
 7. `espgw-up frr-apply --dry-run`: the commands of an announce change; exit 3 for an ASN change.

Exit 77 (skip) without root or FRR.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from frr_kit import Frr, skip_reason
from labkit import proc
from labkit.lab import Lab
from labkit.proc import LabError, begin_test, check, exit_with, load_script, verdict

R1, R2 = "169.254.44.1", "169.254.44.2"
BFD = "bfd\n profile espgw\n  receive-interval 100\n  transmit-interval 100\n"


def gateway_yaml(workdir, instance, announce=("10.1.0.0/16",), router_id="10.1.0.1",
                 maximum_paths=8, interval_ms=100, asn=65001):
    return f"""dataplane:
  workers: 1
  control_socket: {workdir}/no-espgw.sock
interfaces:
  - name: wan
    device: "0000:00:06.0"
    addresses: [192.0.2.1/24]
bgp:
  asn: {asn}
  router_id: {router_id}
  announce: [{", ".join(announce)}]
  maximum_paths: {maximum_paths}
  bfd: {{interval_ms: {interval_ms}, multiplier: 3}}
  frr_instance: {instance}
tunnels:
  - name: t1
    local: 192.0.2.1
    remote: 192.0.2.2
    local_cidrs: [0.0.0.0/0]
    remote_cidrs: [0.0.0.0/0]
    inside: [{R1}/30]
    peer_kind: espgw
    bgp: {{remote_asn: 65002, keepalive_s: 1, hold_s: 3, bfd: true}}
    ike: {{version: 2, psk_ref: t1}}
ike:
  secrets_file: {workdir}/secrets.yaml
"""


R2_BGPD = f"""router bgp 65002
 bgp router-id 10.2.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {R1} remote-as 65001
 neighbor {R1} timers 1 3
 neighbor {R1} timers connect 1
 neighbor {R1} bfd profile espgw
 address-family ipv4 unicast
  network 10.2.0.0/16
 exit-address-family
"""


class ReloadLab(Lab):
    prefix = "frrrl"
    mac_prefix = "02:1a:f6:00:00"

    def __init__(self, up, build):
        super().__init__()
        self.net.declare("r1", "r2")
        self.up_mod, self.build = up, build
        self.sup = None
        self.r2 = None
        self.instance = self.name("r1")

    def render(self, name="gw", **kw):
        """The gateway config `name`.yaml and espgw-config-check's summary of it (one file,
        rewritten, as an operator edits it before a SIGHUP: the renderings' comments name it)."""
        path = os.path.join(self.workdir, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(gateway_yaml(self.workdir, self.instance, **kw))
        r = proc.run([os.path.join(self.build, "config", "espgw-config-check"), "--json", path])
        return json.loads(r.stdout)

    def up(self):
        self.up_namespaces("r1", "r2")
        self.net.veth("a", "r1", "b", "r2")
        self.net.address("r1", "a", f"{R1}/30")
        self.net.address("r2", "b", f"{R2}/30")
        proc.write_secret(os.path.join(self.workdir, "secrets.yaml"),
                          'psk:\n  t1: "0123456789abcdef0123456789abcdef"\n')
        self.r2 = Frr(self, self.name("r2"), "r2", {"zebra": "", "bfdd": BFD, "bgpd": R2_BGPD})
        self.r2.start()
        up, lab = self.up_mod, self
        frr_argv = up.frr_argv
        # r1's FRR as espgw-up runs it, inside r1's namespace.
        up.frr_argv = lambda name, cfg, frr_bin=up.FRR_BIN: lab.nsexec(
            "r1", *frr_argv(name, cfg, frr_bin))
        args = argparse.Namespace(frr_bin=up.FRR_BIN, log_dir=self.workdir, ready_timeout=30,
                                  stop_timeout=15, state_file=None)
        self.sup = up.Supervisor.__new__(up.Supervisor)
        self.sup.args, self.sup.cfg, self.sup.children = args, self.render(), {}
        self.sup.stopping = False
        self.sup.add_frr()
        self.sup.start_all()

    def reload(self, **kw):
        """What SIGHUP does for FRR after gw.yaml is rewritten; espgw-up's log lines of it."""
        new = self.render(**kw)
        old = self.sup.cfg["frr"]
        self.sup.cfg = new
        log = os.path.join(self.workdir, "reload.log")
        saved = sys.stderr
        with open(log, "w") as sys.stderr:
            try:
                self.sup.reload_frr(old, new["frr"])
            finally:
                sys.stderr = saved
        text = proc.read_text(log)
        print("  " + text.strip().replace("\n", "\n  "))
        return text

    def bgpd_pid(self):
        return self.sup.children["bgpd"].proc.pid

    def stop_daemons(self):
        errors = []
        if self.sup is not None:
            self.sup.stop_all()
            shutil.rmtree(os.path.join(self.up_mod.FRR_RUN, self.instance), ignore_errors=True)
        if self.r2 is not None:
            errors += self.r2.stop()
        return errors


def peer(lab):
    """r2's view of the session with r1: `show bgp neighbors R1 json`."""
    return lab.r2.json(f"show bgp neighbors {R1} json").get(R1, {})


def bfd_peer(lab):
    got = lab.r2.json("show bfd peers json")
    return next((p for p in got if p.get("peer") == R1), {})


def received(lab):
    """The prefixes r2 has from r1."""
    return {p for p, paths in lab.r2.bgp_routes().items()
            if any(x.get("peerId") == R1 for x in paths)}


def no_reset(lab, before, what, failures):
    """The session and its BFD session as they were: no new connection, none dropped, the uptime
    went on (FRR counts it in whole seconds: not back to 0)."""
    now, bfd = peer(lab), bfd_peer(lab)
    check(now.get("bgpState") == "Established"
          and now.get("connectionsEstablished") == before["est"]
          and now.get("connectionsDropped") == before["drop"]
          and now.get("bgpTimerUpMsec", 0) >= before["up_ms"] > 0,
          f"{what}: no session reset at r2 (established {before['est']} -> "
          f"{now.get('connectionsEstablished')}, dropped {before['drop']} -> "
          f"{now.get('connectionsDropped')}, up {before['up_ms']} -> "
          f"{now.get('bgpTimerUpMsec')} ms)", failures)
    check(bfd.get("status") == "up" and bfd.get("uptime", 0) >= before["bfd_up"],
          f"{what}: BFD up all along (uptime {before['bfd_up']} -> {bfd.get('uptime')} s)",
          failures)


def snapshot(lab):
    p, b = peer(lab), bfd_peer(lab)
    return {"est": p.get("connectionsEstablished"), "drop": p.get("connectionsDropped"),
            "up_ms": p.get("bgpTimerUpMsec", 0), "bfd_up": b.get("uptime", 0)}


def steps(lab, espgw_up, figures, failures):
    up = lab.up_mod
    proc.wait_for("r2: the session with r1 Established, 10.1.0.0/16 received, BFD up",
                  lambda: peer(lab).get("bgpState") == "Established"
                  and "10.1.0.0/16" in received(lab) and bfd_peer(lab).get("status") == "up",
                  30, 0.2)
    check(True, "r1 (under espgw-up's Supervisor) and r2 peer: 10.1.0.0/16 at r2, BFD up",
          failures)
    pid = lab.bgpd_pid()
    conf = os.path.join(up.FRR_RUN, lab.instance, "bgpd.conf")

    # 2. An announce added.
    before = snapshot(lab)
    text = lab.reload(announce=("10.1.0.0/16", "10.11.0.0/16"))
    t0 = time.monotonic()
    check("bgpd's config changed: applied live" in text and lab.bgpd_pid() == pid
          and "restarting" not in text,
          "announce + 10.11.0.0/16: applied live, nothing restarted", failures)
    proc.wait_for("r2 to receive 10.11.0.0/16", lambda: "10.11.0.0/16" in received(lab), 5,
                  0.05)
    figures["announce_add_s"] = round(time.monotonic() - t0, 2)
    check(received(lab) == {"10.1.0.0/16", "10.11.0.0/16"},
          f"r2 has 10.11.0.0/16 after {figures['announce_add_s']} s", failures)
    no_reset(lab, before, "announce +", failures)
    check(proc.read_text(conf) == lab.sup.cfg["frr"]["bgpd"],
          f"{conf} is the new rendering (a later restart reads it)", failures)
    running = lab.up_mod.frr_vtysh(lab.instance, ["-c", "show running-config bgpd"])[1]
    check("  network 10.11.0.0/16" in running and
          "ip prefix-list espgw-announce-v4 seq 10 permit 10.11.0.0/16" in running,
          "bgpd's running config has the new network and prefix-list lines", failures)

    # 3. An announce removed.
    before = snapshot(lab)
    text = lab.reload(announce=("10.11.0.0/16",))
    t0 = time.monotonic()
    check("applied live" in text and lab.bgpd_pid() == pid,
          "announce - 10.1.0.0/16: applied live, bgpd not restarted", failures)
    proc.wait_for("r2 to lose 10.1.0.0/16", lambda: received(lab) == {"10.11.0.0/16"}, 5, 0.05)
    figures["announce_remove_s"] = round(time.monotonic() - t0, 2)
    check(True, f"r2 lost 10.1.0.0/16 after {figures['announce_remove_s']} s, keeps "
          "10.11.0.0/16", failures)
    no_reset(lab, before, "announce -", failures)

    # 4. maximum-paths and BFD's interval.
    before = snapshot(lab)
    text = lab.reload(announce=("10.11.0.0/16",), maximum_paths=4, interval_ms=200)
    check("bgpd's config changed: applied live" in text
          and "bfdd's config changed: applied live" in text and lab.bgpd_pid() == pid,
          "maximum_paths 4, BFD 200 ms: bgpd and bfdd applied live", failures)
    proc.wait_for("r2's BFD session to see r1's 200 ms", lambda: bfd_peer(lab).get(
        "remote-receive-interval") == 200, 10, 0.1)
    no_reset(lab, before, "maximum_paths and BFD interval", failures)

    # 5. router-id: a restart.
    before = snapshot(lab)
    text = lab.reload(announce=("10.11.0.0/16",), maximum_paths=4, interval_ms=200,
                      router_id="10.1.0.9")
    check("not applied live" in text and "router-id" in text and lab.bgpd_pid() != pid,
          "router_id changed: not applied live, bgpd restarted (a new pid)", failures)
    proc.wait_for("r2: the session back, with router id 10.1.0.9, BFD up again, 1 s of uptime",
                  lambda: (lambda p: p.get("bgpState") == "Established"
                           and p.get("remoteRouterId") == "10.1.0.9"
                           and p.get("bgpTimerUpMsec", 0) > 0)(peer(lab))
                  and bfd_peer(lab).get("status") == "up", 30, 0.2)
    check(peer(lab).get("connectionsEstablished") == before["est"] + 1,
          "r2 counts the new session", failures)

    # 6. frr-reload (systemd's ExecReload): gw.yaml's change against the bgpd.conf on disk.
    before = snapshot(lab)
    bfdd_conf = proc.read_text(os.path.join(up.FRR_RUN, lab.instance, "bfdd.conf"))
    new_cfg = lab.render(announce=("10.11.0.0/16", "10.13.0.0/16"), maximum_paths=4,
                         interval_ms=200, router_id="10.1.0.9")
    r = subprocess.run([espgw_up, "frr-reload", "bgpd", "-c", os.path.join(lab.workdir, "gw.yaml"),
                        "--build", lab.build], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "applied live (2 commands)" in r.stderr,
          f"frr-reload bgpd: exit {r.returncode}, {r.stderr.strip()}", failures)
    proc.wait_for("r2 to receive 10.13.0.0/16", lambda: "10.13.0.0/16" in received(lab), 5, 0.05)
    no_reset(lab, before, "frr-reload", failures)
    check(proc.read_text(conf) == new_cfg["frr"]["bgpd"] and proc.read_text(os.path.join(
        up.FRR_RUN, lab.instance, "bfdd.conf")) == bfdd_conf,
        "frr-reload bgpd wrote bgpd.conf only (bfdd's is for its own reload)", failures)

    # 7. frr-apply.
    old, new = (os.path.join(lab.workdir, f"{n}.bgpd") for n in ("old", "new"))
    with open(old, "w") as f:
        f.write(lab.render("x")["frr"]["bgpd"])
    with open(new, "w") as f:
        f.write(lab.render("y", announce=("10.1.0.0/16", "10.12.0.0/16"))["frr"]["bgpd"])
    r = subprocess.run([espgw_up, "frr-apply", "bgpd", old, new, "-N", lab.instance, "-n"],
                       capture_output=True, text=True, timeout=30)
    want = ["router bgp 65001 > address-family ipv4 unicast > network 10.12.0.0/16",
            "ip prefix-list espgw-announce-v4 seq 10 permit 10.12.0.0/16"]
    check(r.returncode == 0 and r.stdout.splitlines() == want,
          f"frr-apply --dry-run: {r.stdout.splitlines()} {r.stderr.strip()}", failures)
    with open(new, "w") as f:
        f.write(lab.render("z", asn=65009)["frr"]["bgpd"])
    r = subprocess.run([espgw_up, "frr-apply", "bgpd", old, new, "-N", lab.instance, "-n"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 3 and "router bgp 65009" in r.stderr,
          f"frr-apply on an ASN change: exit {r.returncode}, {r.stderr.strip()}", failures)


def main():
    code = begin_test(2, __doc__, lambda: "needs root (namespaces, FRR)" if os.geteuid() != 0
                      else skip_reason())
    if code is not None:
        return code
    build, espgw_up = (os.path.abspath(a) for a in sys.argv[1:])
    lab = ReloadLab(load_script(espgw_up, "espgw_up"), build)
    failures, figures = [], {}
    try:
        lab.up()
        steps(lab, espgw_up, figures, failures)
    except LabError as e:
        failures.append(str(e))
        print(f"FAIL: {e}", file=sys.stderr)
        for d in lab.r2.procs if lab.r2 else ():
            print(f"--- r2 {d}:\n{lab.r2.log_tail(d)}", file=sys.stderr)
        for d in ("bgpd", "bfdd"):
            print(f"--- r1 {d}:\n{proc.tail(os.path.join(lab.workdir, d + '.log'))}",
                  file=sys.stderr)
    finally:
        lab.down()
    return verdict(figures, failures)


if __name__ == "__main__":
    exit_with(main)
