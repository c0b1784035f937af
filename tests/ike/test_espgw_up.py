#!/usr/bin/env python3
"""scripts/espgw-up without a lab (no root, no DPDK, no charon).

    test_espgw_up.py ESPGW_UP ESPGW_CONFIG_CHECK EXAMPLES_DIR [UNITS_DIR TARGET_FILE]

 1. `espgw-config-check --json` on the AWS example: the sockets with their defaults, the taps'
    names, the tunnels, and never a pre-shared key.
 2. `espgw-up charon-conf`: kernel-espgw loaded before kernel-netlink, the VICI socket from
    ike.vici_socket, kernel-espgw's socket = dataplane.control_socket, install_routes and
    install_virtual_ip off, charon's retransmissions giving up after the IKEv2 dpd_timeout_s
    (and the warning when two tunnels ask for different ones), includes last; a config that does not load: exit 2 with its error.
    Optional plugins that are not installed (curve25519 without libstrongswan-extra-plugins) are
    left out of `load` with one log line; required ones stay (charon_plugins() over made-up
    plugin folders).
 3. `espgw-up run` over stand-ins of espgw, charon and espgw-ike (this script in another role,
    each serving the socket the real one would): started in order, each after the previous one
    answers; a killed child is started again after the back-off while the others stay; SIGHUP
    after an IKE-only change reaches espgw-ike only, after a change of the dataplane's part
    (a tunnel's MSS) restarts espgw first; SIGTERM stops espgw-ike, charon, espgw in that order
    and exits 0.
 4. The systemd units as meson configured them: charon BindsTo and follows espgw, espgw-ike
    Requires and follows charon; FRR's zebra, bfdd and bgpd follow espgw-ike, bfdd and bgpd are
    bound to zebra, each runs only with a bgp section (ExecCondition frr-enabled) and execs its
    daemon through espgw-up frr-exec; every service restarts on failure and is part of
    espgw.target, which wants all six; no @VARIABLE@ left; `systemd-analyze verify` (where there is one)
    finds nothing but the binaries not being installed yet.
"""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

from labkit.proc import load_script


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def wait_for(what, pred, timeout=20, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            fail(f"espgw-up exited with {proc.returncode} while waiting for {what}")
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# ---- the stand-ins: this file run as espgw, charon or espgw-ike ---------------------------------

def stand_in(role):
    """Serves the socket the real process would (answers every line with {"ok": true}) and
    records its start, SIGHUP and SIGTERM in $FAKE_EVENTS."""
    paths = json.loads(os.environ["FAKE_PATHS"])
    path = {"espgw": paths["control_socket"], "charon": paths["vici_socket"],
            "espgw-ike": paths["ike_status_socket"]}[role]

    def event(what):
        with open(os.environ["FAKE_EVENTS"], "a") as f:
            f.write(f"{role} {what} {os.getpid()}\n")

    def on_term(*_):
        event("term")
        try:
            os.unlink(path)
        except OSError:
            pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, lambda *_: event("hup"))
    if role == "charon":
        event("conf " + os.environ.get("STRONGSWAN_CONF", "-"))
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    event("start")
    while True:
        try:
            conn, _ = srv.accept()
        except InterruptedError:
            continue
        with conn, conn.makefile("rb") as f:
            data = f.readline()
            if data:
                conn.sendall(b'{"ok": true}\n')
                if b'"stop"' in data and role == "espgw":
                    on_term()


# ---- the checks -------------------------------------------------------------------------------

def make_config(tmp, examples):
    """The AWS example with its secrets file at mode 0600 (git keeps no modes) and its sockets in
    tmp."""
    secrets = os.path.join(tmp, "aws-vpn.secrets.yaml")
    shutil.copy(os.path.join(examples, "aws-vpn.secrets.yaml"), secrets)
    os.chmod(secrets, 0o600)
    with open(os.path.join(examples, "aws-vpn.yaml")) as f:
        text = f.read()
    text = text.replace("/etc/espgw/aws-vpn.secrets.yaml", secrets)
    text = text.replace("/run/espgw/espgw.sock", os.path.join(tmp, "espgw.sock"))
    text = text.replace("/run/espgw/charon.vici", os.path.join(tmp, "ike", "charon.vici"))
    path = os.path.join(tmp, "espgw.yaml")
    with open(path, "w") as f:
        f.write(text)
    with open(secrets) as f:
        psks = re.findall(r"^\s+[\w-]+:\s*(\S{8,})\s*$", f.read(), re.M)
    return path, psks


def check_summary(check, config, psks, tmp):
    r = subprocess.run([check, "--json", config], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"espgw-config-check --json: exit {r.returncode}: {r.stderr}")
    j = json.loads(r.stdout)
    want = {"control_socket": os.path.join(tmp, "espgw.sock"),
            "vici_socket": os.path.join(tmp, "ike", "charon.vici"),
            "ike_status_socket": os.path.join(tmp, "ike", "espgw-ike.sock"),
            "workers": 2, "ike_tunnels": 2}
    for k, v in want.items():
        if j.get(k) != v:
            fail(f"--json {k}: {j.get(k)!r}, want {v!r}")
    names = [(i["name"], i.get("kernel_name"), i["exception"]) for i in j["interfaces"]]
    if names != [("wan", "espgw-wan", "tap"), ("lan", "espgw-lan", "tap")]:
        fail(f"--json interfaces: {names}")
    if [(t["name"], t["keys"], t.get("ike_version")) for t in j["tunnels"]] != [
            ("aws-tunnel1", "ike", 2), ("aws-tunnel2", "ike", 2)]:
        fail(f"--json tunnels: {j['tunnels']}")
    # charon's retransmissions from the tunnels' dpd_timeout_s (10 s: five waits from 0.914 s).
    rt = j.get("charon_retransmit") or {}
    if (rt.get("gives_up_after_s"), rt.get("tunnel"), rt.get("tries"), rt.get("base")) != (
            10, "aws-tunnel1", 4, 1.4) or abs(rt.get("timeout_s", 0) * 10.9456 - 10) > 1e-3:
        fail(f"--json charon_retransmit: {rt}")
    if j.get("warnings") != [] or r.stderr:
        fail(f"--json warnings: {j.get('warnings')}, stderr {r.stderr!r}")
    for psk in psks:
        if psk in r.stdout:
            fail("--json prints a pre-shared key")
    print("ok 1: espgw-config-check --json")
    return j


def check_plugin_choice(m, tmp):
    """charon_plugins() over plugin folders made up here: an optional plugin that is not
    installed is left out and logged once; a required one stays listed, installed or not."""
    full = m.CHARON_PLUGINS.split()
    folder = os.path.join(tmp, "plugins")
    os.makedirs(folder)
    for p in full:
        if p not in ("curve25519", "gcm", "openssl"):
            open(os.path.join(folder, f"libstrongswan-{p}.so"), "w").close()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        first = m.charon_plugins(folder).split()
        again = m.charon_plugins(folder).split()
    if first != [p for p in full if p not in ("curve25519", "gcm")] or again != first:
        fail(f"charon_plugins without curve25519, gcm and openssl: {first}, then {again}")
    said = err.getvalue().splitlines()
    if len(said) != 1 or not said[0].endswith("left out (optional: openssl has their "
                                              "algorithms): gcm curve25519"):
        fail(f"charon_plugins logged {said}, want one line naming gcm curve25519")
    for p in ("curve25519", "gcm"):
        open(os.path.join(folder, f"libstrongswan-{p}.so"), "w").close()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        everything = m.charon_plugins(folder).split()
    if everything != full or err.getvalue():
        fail(f"charon_plugins with every plugin: {everything}, logged {err.getvalue()!r}")


def check_retransmit_warning(up, bindir, config, tmp):
    """Tunnel 2 asks for 30 s: charon's retransmissions are global, so 10 s stays for both and
    espgw-up passes espgw-config-check's warning on, naming the file, line and key."""
    with open(config) as f:
        text = f.read()
    head, tail = text.rsplit("dpd_timeout_s: 10", 1)
    slow = os.path.join(tmp, "slow.yaml")
    with open(slow, "w") as f:
        f.write(head + "dpd_timeout_s: 30" + tail)
    line = (head + "dpd_timeout_s").count("\n") + 1
    r = subprocess.run([sys.executable, up, "charon-conf", "-c", slow, "--bindir", bindir],
                       capture_output=True, text=True)
    want = (f"espgw-up: warning: {slow}:{line}: tunnels[1].ike.dpd_timeout_s: charon's "
            "retransmissions are global: every IKEv2 exchange gives up after 10 s")
    if r.returncode != 0 or "retransmit_timeout = 0.914" not in r.stdout or \
            not any(ln.startswith(want) for ln in r.stderr.splitlines()):
        fail(f"charon-conf with tunnel 2 at 30 s: exit {r.returncode}, stderr {r.stderr!r}")


def check_half_open(m):
    """Lanes raise charon's half-open limits per peer address to 2 x the lanes towards it (over
    its tunnels) + 1, the busiest address's; configs without lanes keep charon's defaults."""
    def tun(remote, lanes):
        return {"keys": "ike", "remote": remote, "lanes": lanes}
    if m.half_open_conf({"tunnels": [tun("192.0.2.1", 1), tun("192.0.2.1", 1)]}):
        fail("charon-conf: half-open limits changed without lanes")
    conf = m.half_open_conf({"tunnels": [tun("192.0.2.1", 4), tun("192.0.2.1", 2),
                                         tun("192.0.2.2", 8), tun("192.0.2.3", 1)]})
    if "block_threshold = 17\n" not in conf or "cookie_threshold_ip = 17\n" not in conf:
        fail(f"charon-conf: 8 lanes towards one address: {conf!r}")
    conf = m.half_open_conf({"tunnels": [tun("192.0.2.1", 2)]})
    if "block_threshold = 5\n" not in conf or "cookie_threshold_ip = 5\n" not in conf:
        fail(f"charon-conf: 2 lanes: {conf!r}")


def check_charon_conf(up, check, config, tmp):
    bindir = os.path.dirname(check)
    inc = os.path.join(tmp, "extra.conf")
    open(inc, "w").close()
    r = subprocess.run([sys.executable, up, "charon-conf", "-c", config, "--bindir", bindir,
                        "--charon-include", inc], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"charon-conf: exit {r.returncode}: {r.stderr}")
    conf = r.stdout
    load = re.search(r"^\s*load = (.*)$", conf, re.M).group(1).split()
    if load.index("kernel-espgw") > load.index("kernel-netlink") or "vici" not in load or \
            "kernel-libipsec" in load or "socket-default" not in load:
        fail(f"charon-conf: load = {load}")
    # The optional plugins that this host has, in CHARON_PLUGINS' order; those it lacks named
    # once on stderr (curve25519 where libstrongswan-extra-plugins is not installed).
    m = load_script(up, "espgw_up")
    missing = [p for p in m.CHARON_PLUGINS.split() if p in m.OPTIONAL_CHARON_PLUGINS
               and not os.path.exists(f"{m.CHARON_PLUGIN_DIR}/libstrongswan-{p}.so")]
    if load != [p for p in m.CHARON_PLUGINS.split() if p not in missing]:
        fail(f"charon-conf: load = {load}, missing here {missing}")
    said = [line for line in r.stderr.splitlines() if "left out" in line]
    if (len(said) != 1 or not said[0].endswith(" ".join(missing))) if missing else said:
        fail(f"charon-conf: plugins left out {missing}, espgw-up said {said}")
    check_plugin_choice(m, tmp)
    check_half_open(m)
    for want in (f"socket = unix://{tmp}/ike/charon.vici", f"socket = {tmp}/espgw.sock",
                 "install_routes = no", "install_virtual_ip = no", "load_modular = no"):
        if want not in conf:
            fail(f"charon-conf lacks {want!r}:\n{conf}")
    # IKEv2 gives up after dpd_timeout_s (10 s), not charon's 165 s: in the charon section,
    # before the plugins and the include (which may override them).
    retransmit = re.findall(r"^  (retransmit_\w+) = (\S+)$", conf[:conf.index("  plugins {")],
                            re.M)
    if retransmit != [("retransmit_timeout", "0.914"), ("retransmit_base", "1.4"),
                      ("retransmit_tries", "4")]:
        fail(f"charon-conf: retransmissions {retransmit}:\n{conf}")
    check_retransmit_warning(up, bindir, config, tmp)
    if not conf.rstrip().endswith(f"include {inc}"):
        fail(f"charon-conf: the include is not last:\n{conf}")
    if conf.count("{") != conf.count("}"):
        fail(f"charon-conf: unbalanced braces:\n{conf}")
    out = os.path.join(tmp, "out", "strongswan.conf")
    r = subprocess.run([sys.executable, up, "charon-conf", "-c", config, "--bindir", bindir,
                        "-o", out], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(out):
        fail(f"charon-conf -o: exit {r.returncode}: {r.stderr}")
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("interfaces: []\nbogus: 1\n")
    r = subprocess.run([sys.executable, up, "charon-conf", "-c", bad, "--bindir", bindir],
                       capture_output=True, text=True)
    if r.returncode != 2 or "bogus" not in r.stderr:
        fail(f"charon-conf on a bad config: exit {r.returncode}: {r.stderr}")
    print("ok 2: espgw-up charon-conf")


def events(path):
    try:
        with open(path) as f:
            return [line.split() for line in f]
    except FileNotFoundError:
        return []


def check_run(up, check, config, summary, tmp):
    fakes = os.path.join(tmp, "bin")
    os.makedirs(fakes)
    me = os.path.abspath(__file__)
    for role in ("espgw", "espgw-ike", "charon"):
        p = os.path.join(fakes, role)
        with open(p, "w") as f:
            f.write(f"#!/bin/sh\nexec {sys.executable} {me} --stand-in {role}\n")
        os.chmod(p, os.stat(p).st_mode | stat.S_IEXEC)
    os.symlink(os.path.abspath(check), os.path.join(fakes, "espgw-config-check"))
    ev = os.path.join(tmp, "events")
    state = os.path.join(tmp, "state.json")
    env = dict(os.environ, FAKE_PATHS=json.dumps(summary), FAKE_EVENTS=ev)
    log = open(os.path.join(tmp, "espgw-up.log"), "w")
    p = subprocess.Popen([sys.executable, up, "run", "-c", config, "--bindir", fakes,
                          "--charon", os.path.join(fakes, "charon"), "--run-dir",
                          os.path.join(tmp, "run"), "--state-file", state,
                          "--backoff-initial", "0.3", "--backoff-max", "1", "--", "--no-huge"],
                         env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("espgw-up to start all three", lambda: os.path.exists(state) and all(
            json.load(open(state))["children"][n]["pid"] for n in ("espgw", "charon",
                                                                     "espgw-ike")), proc=p)
        starts = [e[0] for e in events(ev) if e[1] == "start"]
        if starts != ["espgw", "charon", "espgw-ike"]:
            fail(f"start order {starts}")
        conf = [e[2] for e in events(ev) if e[1] == "conf"][0]
        if conf != os.path.join(tmp, "run", "strongswan.conf") or not os.path.exists(conf):
            fail(f"charon's STRONGSWAN_CONF {conf}")
        st = json.load(open(state))["children"]
        if st["espgw"]["argv"][1:] != ["--no-huge", "--", "--config", config]:
            fail(f"espgw's command line {st['espgw']['argv']}")
        # A killed charon comes back; the others keep their pids.
        pids = {n: c["pid"] for n, c in st.items()}
        os.kill(pids["charon"], signal.SIGKILL)
        wait_for("charon started again", lambda: json.load(open(state))["children"]["charon"][
            "restarts"] == 1 and json.load(open(state))["children"]["charon"]["pid"])
        st = json.load(open(state))["children"]
        # espgw-up records the pid when it forks; the stand-in is up once it says so (a loaded
        # machine takes a while to start Python).
        wait_for("the new charon to serve", lambda: ["charon", "start", str(st["charon"]["pid"])]
                 in events(ev))
        if st["espgw"]["pid"] != pids["espgw"] or st["espgw-ike"]["pid"] != pids["espgw-ike"]:
            fail(f"killing charon touched the others: {pids} -> {st}")
        # The first restart is at once; killed again at once, the back-off starts (0.3 s).
        t0 = time.monotonic()
        os.kill(st["charon"]["pid"], signal.SIGKILL)
        wait_for("charon started a second time", lambda: json.load(open(state))["children"][
            "charon"]["restarts"] == 2 and json.load(open(state))["children"]["charon"]["pid"])
        again = json.load(open(state))["children"]["charon"]["pid"]
        wait_for("the third charon to serve", lambda: ["charon", "start", str(again)] in events(ev))
        if time.monotonic() - t0 < 0.25:
            fail("the second restart in a row came before the back-off")
        logged = open(log.name).read()
        if "starting it again in 0 s" not in logged or "starting it again in 0.3 s" not in logged:
            fail("espgw-up's log does not show a restart at once, then the back-off")
        # SIGHUP, only IKE settings changed: espgw-ike reloads, nothing else is touched.
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("dpd_delay_s: 10", "dpd_delay_s: 12", 1))
        pids = {n: c["pid"] for n, c in json.load(open(state))["children"].items()}
        p.send_signal(signal.SIGHUP)
        wait_for("espgw-ike's SIGHUP", lambda: sum(e[:2] == ["espgw-ike", "hup"]
                                                   for e in events(ev)) == 1)
        if any(e[1] == "hup" and e[0] != "espgw-ike" for e in events(ev)) or \
                {n: c["pid"] for n, c in json.load(open(state))["children"].items()} != pids:
            fail(f"an IKE-only reload touched more than espgw-ike: {events(ev)}")
        # SIGHUP, the dataplane's part changed (a tunnel's MSS): espgw restarted first.
        with open(config, "w") as f:
            f.write(text.replace("mss: 1379", "mss: 1380", 1))
        p.send_signal(signal.SIGHUP)
        wait_for("espgw-ike's second SIGHUP", lambda: sum(e[:2] == ["espgw-ike", "hup"]
                                                          for e in events(ev)) == 2)
        got = [e[:2] for e in events(ev)][-3:]
        if got != [["espgw", "term"], ["espgw", "start"], ["espgw-ike", "hup"]]:
            fail(f"a dataplane change: events {events(ev)}")
        now = {n: c["pid"] for n, c in json.load(open(state))["children"].items()}
        if now["espgw"] == pids["espgw"] or now["charon"] != pids["charon"] or \
                now["espgw-ike"] != pids["espgw-ike"]:
            fail(f"a dataplane change: pids {pids} -> {now}")
        # SIGTERM: reverse order, exit 0.
        mark = len(events(ev))
        p.send_signal(signal.SIGTERM)
        code = p.wait(30)
        stops = [e[0] for e in events(ev)[mark:] if e[1] == "term"]
        if code != 0 or stops != ["espgw-ike", "charon", "espgw"]:
            fail(f"exit {code}, stop order {stops}:\n{open(log.name).read()}")
        if os.path.exists(state):
            fail("the state file stayed behind")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for e in events(ev):  # a stand-in left over would hold its socket
            if e[1] == "start":
                try:
                    os.kill(int(e[2]), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    # espgw-up killed outright: its children get SIGTERM (PR_SET_PDEATHSIG) and stop.
    os.unlink(ev)
    p = subprocess.Popen([sys.executable, up, "run", "-c", config, "--bindir", fakes,
                          "--charon", os.path.join(fakes, "charon"), "--run-dir",
                          os.path.join(tmp, "run"), "--state-file", state], env=env,
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("espgw-up to start all three again", lambda: len(
            [e for e in events(ev) if e[1] == "start"]) == 3, proc=p)
        p.kill()
        p.wait()
        wait_for("the children's SIGTERM after espgw-up's death", lambda: sorted(
            e[0] for e in events(ev) if e[1] == "term") == ["charon", "espgw", "espgw-ike"])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for e in events(ev):
            if e[1] == "start":
                try:
                    os.kill(int(e[2]), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    print("ok 3: espgw-up run: order, restart with back-off, SIGHUP (IKE-only and dataplane "
          "changes), stop order, children stopped when espgw-up is killed")


def unit_file(path):
    """{section: {key: [values]}} of a systemd unit file."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = out.setdefault(line.strip("[]"), {})
                continue
            k, _, v = line.partition("=")
            section.setdefault(k, []).append(v)
    return out


def check_units(units_dir, target):
    services = ("espgw.service", "espgw-charon.service", "espgw-ike.service",
                "espgw-zebra.service", "espgw-bfdd.service", "espgw-bgpd.service")
    frr = services[3:]
    u = {n: unit_file(os.path.join(units_dir, n)) for n in services}
    u["espgw.target"] = unit_file(target)

    def words(unit, section, key):
        return " ".join(u[unit].get(section, {}).get(key, [])).split()

    want = [("espgw-charon.service", "BindsTo", "espgw.service"),
            ("espgw-charon.service", "After", "espgw.service"),
            ("espgw-ike.service", "Requires", "espgw-charon.service"),
            ("espgw-ike.service", "After", "espgw-charon.service"),
            # FRR after the IKE stack (so stopped before it), bfdd before bgpd, both bound to
            # zebra; zebra wants espgw (its FPM port) but outlives espgw's restarts.
            ("espgw-zebra.service", "After", "espgw-ike.service"),
            ("espgw-zebra.service", "Wants", "espgw.service"),
            ("espgw-bfdd.service", "BindsTo", "espgw-zebra.service"),
            ("espgw-bgpd.service", "BindsTo", "espgw-zebra.service"),
            ("espgw-bgpd.service", "After", "espgw-bfdd.service")]
    for unit, key, dep in want:
        if dep not in words(unit, "Unit", key):
            fail(f"{unit}: {key} lacks {dep}")
    for n in services:
        if words(n, "Service", "Restart") != ["on-failure"] or "espgw.target" not in words(
                n, "Unit", "PartOf"):
            fail(f"{n}: Restart {words(n, 'Service', 'Restart')}, PartOf "
                 f"{words(n, 'Unit', 'PartOf')}")
        for k in ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecCondition"):
            for cmd in u[n]["Service"].get(k, []):
                if "@" in cmd or not cmd.startswith("/"):
                    fail(f"{n}: {k}={cmd}")
    for n in frr:
        daemon = n.split("-")[1].split(".")[0]
        s = u[n]["Service"]
        if not (any("espgw-up frr-enabled" in c for c in s.get("ExecCondition", [])) and any(
                f"espgw-up frr-exec {daemon} " in c for c in s["ExecStart"]) and any(
                "espgw-up frr-conf" in c for c in s.get("ExecStartPre", [])) and any(
                f"espgw-up wait {daemon} " in c for c in s.get("ExecStartPost", []))):
            fail(f"{n}: not frr-enabled / frr-conf / frr-exec {daemon} / wait {daemon}: {s}")
    if set(words("espgw.target", "Unit", "Wants")) != set(services):
        fail(f"espgw.target wants {words('espgw.target', 'Unit', 'Wants')}")
    if "espgw-up charon-conf" not in " ".join(u["espgw-charon.service"]["Service"][
            "ExecStartPre"]) or not any("STRONGSWAN_CONF=" in e for e in u[
                "espgw-charon.service"]["Service"]["Environment"]):
        fail("espgw-charon.service does not write and use charon's strongswan.conf")
    analyze = shutil.which("systemd-analyze")
    if analyze:
        tmp = tempfile.mkdtemp(prefix="espgw-units-")
        try:
            for n in services:
                shutil.copy(os.path.join(units_dir, n), tmp)
            shutil.copy(target, tmp)
            r = subprocess.run([analyze, "verify", "--man=no"] + [
                os.path.join(tmp, n) for n in services + ("espgw.target",)],
                capture_output=True, text=True, timeout=60)
            other = [line for line in (r.stdout + r.stderr).splitlines()
                     if line.strip() and "is not executable" not in line]
            if other:
                fail("systemd-analyze verify:\n" + "\n".join(other))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("ok 4: the systemd units" + ("" if analyze else " (no systemd-analyze here)"))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--stand-in":
        stand_in(sys.argv[2])
        return 0
    up, check, examples = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="espgw-up-test-")
    try:
        config, psks = make_config(tmp, examples)
        summary = check_summary(check, config, psks, tmp)
        check_charon_conf(up, check, config, tmp)
        check_run(up, check, config, summary, tmp)
        if len(sys.argv) == 6:
            check_units(sys.argv[4], sys.argv[5])
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
