#!/usr/bin/env python3
"""A key pasted into the wrong place of a config is never repeated by the daemons that read the
config, at start-up or while they run (common/redact.h: the one rule for repeating input in a
message). secret_echo_test.py does the same for espgw-config-check; this test takes its
placements (each value and key of an example config or its secrets file replaced by a secret of
each shape) in the examples with IKE and BGP (bgp.yaml, aws-vpn.yaml), one shape per placement
in turn, and gives each to:

  - espgw --config and espgw-ike --config, at start-up, for every third placement that
    espgw-config-check refuses: each must refuse it too (a non-zero exit status and a message),
    without the secret;
  - espgw-ike while it runs: one espgw-ike started on bgp.yaml as shipped (charon absent; it
    retries), each placement written over its config and a SIGHUP sent; every reload's log
    lines, refused or not, must not hold the secret;
  - espgw-exporter -c (it reads the control socket's path and, at each scrape, the tunnels' BGP
    neighbours from the config): one exporter started on bgp.yaml, each placement written over
    its config and /metrics scraped; neither the answer nor its log may hold the secret.

The pre-shared keys of the secrets files, where they belong, must not show up in any of it
either. The run counts the refusals, so that a daemon that accepted everything cannot pass for
one that hides secrets.

Run by meson: daemon_config_secret_test.py ESPGW ESPGW_IKE ESPGW_EXPORTER CONFIG_CHECK EXAMPLES
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from secret_echo_test import SECRETS, leaked, placements  # noqa: E402

EXAMPLES = ("bgp.yaml", "aws-vpn.yaml")
RELOADED = re.compile(r"SIGHUP: reloading")


def wait_until(what, done, timeout=10):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class LogFile:
    """A daemon's output, written to a file; what it added since the last look."""

    def __init__(self, path):
        self.path, self.seen = path, 0

    def text(self):
        with open(path_or_empty(self.path), errors="replace") as f:
            return f.read()

    def new(self):
        t = self.text()
        out, self.seen = t[self.seen:], len(t)
        return out


def path_or_empty(path):
    return path if os.path.exists(path) else os.devnull


def psks(examples):
    """The pre-shared keys the example secrets files hold where they belong."""
    found = []
    for name in os.listdir(examples):
        if name.endswith(".secrets.yaml"):
            with open(os.path.join(examples, name)) as f:
                found += [str(v) for v in (yaml.safe_load(f).get("psk") or {}).values()]
    return found


def main():
    espgw, ike, exporter, check, examples = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="espgw-daemon-config-secret-")
    shipped_keys = psks(examples)
    failures = []
    counts = {"placements": 0, "refused": 0, "start runs": 0, "reloads": 0, "scrapes": 0}

    def look(what, out):
        if leaked(out) or any(k in out for k in shipped_keys):
            failures.append(f"{what}: a secret in the output: {out.strip()[:300]}")

    # The running daemons, on bgp.yaml as shipped (its secrets file in tmp).
    live = os.path.join(tmp, "live")
    os.makedirs(live)
    shipped = os.path.join(live, "espgw.yaml")
    with open(os.path.join(examples, "bgp.yaml")) as f:
        doc = yaml.safe_load(f)
    secrets_file = os.path.join(live, "bgp.secrets.yaml")
    shutil.copy(os.path.join(examples, "bgp.secrets.yaml"), secrets_file)
    os.chmod(secrets_file, 0o600)
    doc["ike"]["secrets_file"] = secrets_file
    doc["ike"]["vici_socket"] = os.path.join(live, "absent", "charon.vici")
    with open(shipped, "w") as f:
        yaml.safe_dump(doc, f)
    ike_log = LogFile(os.path.join(live, "espgw-ike.log"))
    exp_log = LogFile(os.path.join(live, "exporter.log"))
    procs = []
    try:
        with open(ike_log.path, "w") as out:
            procs.append(subprocess.Popen(
                [ike, "--config", shipped, "--foreground", "--status-socket",
                 os.path.join(live, "espgw-ike.sock")],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        with open(exp_log.path, "w") as out:
            procs.append(subprocess.Popen(
                [exporter, "-c", shipped, "--listen", "127.0.0.1:0", "--timeout", "1"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        wait_until("espgw-exporter to listen", lambda: "listening on" in exp_log.text())
        port = re.search(r"127\.0\.0\.1:(\d+)", exp_log.text()).group(1)
        wait_until("espgw-ike to start", lambda: ike_log.text().strip())
        look("espgw-ike at start, bgp.yaml as shipped", ike_log.new())
        look("espgw-exporter at start, bgp.yaml as shipped", exp_log.new())

        placed_dir = os.path.join(tmp, "placed")
        os.makedirs(placed_dir)
        for i, (what, config) in enumerate(placements(examples, placed_dir, EXAMPLES)):
            if i % len(SECRETS) != (i // len(SECRETS)) % len(SECRETS):
                continue  # one shape per placement, in turn
            counts["placements"] += 1
            refused = subprocess.run([check, config], capture_output=True,
                                     timeout=30).returncode != 0
            if refused:
                counts["refused"] += 1
            # espgw and espgw-ike print the config loader's message as espgw-config-check does:
            # every third refused placement is enough to hold them to it (espgw's start alone,
            # DPDK's libraries linked in, takes a tenth of a second).
            if refused and counts["refused"] % 3 == 1:
                for name, argv in (("espgw", [espgw, "--", "--config", config]),
                                   ("espgw-ike", [ike, "--config", config, "--foreground"])):
                    r = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                       stdin=subprocess.DEVNULL)
                    counts["start runs"] += 1
                    out = r.stdout + r.stderr
                    if r.returncode == 0 or not out.strip():
                        failures.append(f"{name} {what}: exit status {r.returncode} and "
                                        f"{'a' if out.strip() else 'no'} message")
                    look(f"{name} at start, {what}", out)
            # The same placement, read by the running daemons.
            shutil.copy(config, shipped)
            placed_secrets = os.path.join(placed_dir, os.path.basename(secrets_file))
            if os.path.exists(placed_secrets):
                with open(shipped) as f:
                    text = f.read().replace(placed_secrets, secrets_file)
                with open(shipped, "w") as f:
                    f.write(text)
                shutil.copy(placed_secrets, secrets_file)
            before = len(RELOADED.findall(ike_log.text()))
            procs[0].send_signal(signal.SIGHUP)
            # Its first line; what follows it is read at the next placement, and the whole log
            # again at the end.
            wait_until(f"espgw-ike's reload of {what}",
                       lambda: len(RELOADED.findall(ike_log.text())) > before)
            counts["reloads"] += 1
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                body = r.read().decode(errors="replace")
            counts["scrapes"] += 1
            look(f"espgw-exporter's /metrics, {what}", body)
            look(f"espgw-exporter's log, {what}", exp_log.new())
            look(f"espgw-ike's reload, {what}", ike_log.new())
        for p in procs:
            if p.poll() is not None:
                failures.append(f"{p.args[0]} exited ({p.returncode}) during the run")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        look("espgw-ike, its whole log", ike_log.text())
        look("espgw-exporter, its whole log", exp_log.text())
        shutil.rmtree(tmp, ignore_errors=True)

    print(", ".join(f"{v} {k}" for k, v in counts.items()) + f"; {len(failures)} failures")
    for f in failures[:40]:
        print("FAIL:", f)
    if failures:
        return 1
    if counts["refused"] < counts["placements"] // 4 or counts["reloads"] == 0:
        print("too few placements refused: the daemons do not look at the values")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
